/**
 * kafkajs 2.2.4's request queue schedules `setTimeout(check, throttledUntil - Date.now())` with
 * throttledUntil = 0 when it is not throttled; the runtime clamps the delay to 1 ms (which is what kafkajs
 * means) but prints a TimeoutNegativeWarning on every client — as plain text on stderr, breaking the JSON
 * lines. {@link installWarningFilter} (called when the first client is built; importing the adapter patches
 * nothing) does two things:
 * - it makes the request queue pass a delay of at least 0 (same timing: the runtimes turn both into 1 ms),
 *   so the warning is never raised — Bun and Deno raise it inside their timers, where a patched
 *   `process.emitWarning` cannot see it;
 * - it wraps `process.emitWarning` to drop that warning where it does go through it (Node).
 *
 * @module
 */
import { createRequire } from "node:module";
import process from "node:process";

type Filtered = { loomFiltered?: boolean };

type Queue = {
  throttledUntil: number;
  pending: unknown[];
  throttleCheckTimeoutId: unknown;
  checkPendingRequests(): void;
};
type QueueClass = { prototype: Queue & { scheduleCheckPendingRequests(): void } & Filtered };

/** kafkajs's `CHECK_PENDING_REQUESTS_INTERVAL` (src/network/requestQueue/index.js). */
const CHECK_PENDING_REQUESTS_INTERVAL = 10;

/**
 * Replaces kafkajs's `RequestQueue.prototype.scheduleCheckPendingRequests` by the same logic with the
 * delay clamped at 0 (idempotent). kafkajs's own modules are loaded with `require`, so the queue class
 * resolved here is the one its connections use.
 */
function patchRequestQueue(): void {
  const RequestQueue = createRequire(import.meta.url)(
    "kafkajs/src/network/requestQueue/index.js",
  ) as QueueClass;
  const proto = RequestQueue.prototype;
  if (proto.loomFiltered) return;
  proto.scheduleCheckPendingRequests = function (this: Queue): void {
    let scheduleAt = this.throttledUntil - Date.now();
    if (!this.throttleCheckTimeoutId) {
      if (this.pending.length > 0) scheduleAt = scheduleAt > 0 ? scheduleAt : CHECK_PENDING_REQUESTS_INTERVAL;
      this.throttleCheckTimeoutId = setTimeout(() => {
        this.throttleCheckTimeoutId = null;
        this.checkPendingRequests();
      }, Math.max(0, scheduleAt));
    }
  };
  proto.loomFiltered = true;
}

/** Keeps kafkajs's TimeoutNegativeWarning off stderr (see the module documentation; idempotent). */
export function installWarningFilter(): void {
  patchRequestQueue();
  const emit = process.emitWarning;
  if ((emit as Filtered).loomFiltered) return;
  const filtered = function (this: unknown, warning: string | Error, ...rest: unknown[]): void {
    const name = typeof warning === "string" ? rest[0] : warning?.name;
    if (
      name === "TimeoutNegativeWarning" ||
      (typeof rest[0] === "object" && (rest[0] as { type?: string })?.type === "TimeoutNegativeWarning")
    ) return;
    (emit as (...a: unknown[]) => void).call(process, warning, ...rest);
  };
  (filtered as Filtered).loomFiltered = true;
  process.emitWarning = filtered as typeof process.emitWarning;
}
