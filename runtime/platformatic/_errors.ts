/**
 * Error helpers of the @platformatic/kafka adapter. The error classes are the kafkajs adapter's
 * ({@link KafkaDeliveryError}, {@link KafkaConsumerError}, ...), so callers handle both adapters alike.
 *
 * @module
 */

import { KafkaDeliveryError } from "../kafkajs/mod.ts";

/** Kafka error ids that reject the records of a produce request rather than the request. */
const RECORD_ERRORS: ReadonlySet<string> = new Set([
  "MESSAGE_TOO_LARGE",
  "RECORD_LIST_TOO_LARGE",
  "INVALID_RECORD",
  "CORRUPT_MESSAGE",
  "INVALID_TIMESTAMP",
]);

/** Error ids of platformatic protocol errors, searched through `errors` and `cause` (depth-limited). */
export const errorIds = (e: unknown, out: string[] = [], depth = 0): string[] => {
  if (typeof e !== "object" || e === null || depth > 6) return out;
  const x = e as { apiId?: unknown; errors?: unknown; cause?: unknown };
  if (typeof x.apiId === "string") out.push(x.apiId);
  if (Array.isArray(x.errors)) { for (const c of x.errors) errorIds(c, out, depth + 1); }
  if (x.cause !== undefined && x.cause !== e) errorIds(x.cause, out, depth + 1);
  return out;
};

/** True when every protocol error of `e` refuses the records themselves (and there is at least one). */
export const refusesRecords = (e: unknown): boolean => {
  const ids = errorIds(e);
  return ids.length > 0 && ids.every((id) => RECORD_ERRORS.has(id));
};

/** True when a group operation failed because a rebalance is under way or this member's generation is old. */
export const isRebalancing = (e: unknown): boolean =>
  errorIds(e).some((id) =>
    id === "REBALANCE_IN_PROGRESS" || id === "ILLEGAL_GENERATION" || id === "UNKNOWN_MEMBER_ID" ||
    id === "FENCED_INSTANCE_ID"
  );

/** Error ids of a coordinator that moved or is loading. */
export const COORDINATOR_MOVED: ReadonlySet<string> = new Set([
  "NOT_COORDINATOR",
  "COORDINATOR_NOT_AVAILABLE",
  "COORDINATOR_LOAD_IN_PROGRESS",
]);

/** True when the coordinator moved or is loading: retry after looking it up again. */
export const isCoordinatorMoved = (e: unknown): boolean =>
  errorIds(e).some((id) => COORDINATOR_MOVED.has(id));

const rootCause = (e: unknown): unknown => {
  let cur = e;
  for (let i = 0; i < 10; i++) {
    if (!(cur instanceof Error)) break;
    const next = cur.cause ??
      (Array.isArray((cur as { errors?: unknown }).errors)
        ? (cur as unknown as { errors: unknown[] }).errors[0]
        : undefined);
    if (next === undefined || next === cur) break;
    cur = next;
  }
  return cur;
};

/** `Name: message (cause: Name: message)`, naming the innermost cause (platformatic nests errors). */
export const describeError = (e: unknown): string => {
  const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  const root = rootCause(e);
  if (root !== e && root instanceof Error && !msg.includes(root.message)) {
    const ids = errorIds(e);
    const id = ids.length > 0 && !root.message.includes(ids[0]) ? ` [${ids[0]}]` : "";
    return `${msg} (cause: ${root.name}: ${root.message}${id})`;
  }
  return msg;
};

/** A {@link KafkaDeliveryError} whose `recordSpecific` reads platformatic's error ids. */
export const deliveryError = (
  message: string,
  topics: readonly string[],
  recordCount: number,
  cause: unknown,
): KafkaDeliveryError => {
  const err = new KafkaDeliveryError(message, topics, recordCount, cause);
  Object.defineProperty(err, "recordSpecific", { value: refusesRecords(cause), enumerable: true });
  return err;
};
