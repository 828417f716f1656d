/**
 * The kafkajs adapter's errors ({@link KafkaConfigError}, {@link KafkaDeliveryError},
 * {@link KafkaConsumerError}, {@link KafkaCommitError}) and how it describes kafkajs errors.
 *
 * @module
 */
import type { TopicPartitionOffset } from "../../streaming/_transport.ts";

/**
 * The Kafka settings cannot be mapped onto kafkajs (unknown or unsupported `extra` key, bad value,
 * incomplete security section). Raised when a client is built.
 *
 * @example
 * ```ts
 * import { KafkaConfigError, KafkaProducerClient } from "@loom/streaming/runtime";
 * try {
 *   new KafkaProducerClient({
 *     brokers: ["127.0.0.1:9092"], clientId: null, topic: null, security: null, extra: { "linger.ms": 5 },
 *   });
 * } catch (e) {
 *   if (e instanceof KafkaConfigError) console.error(e.message);
 * }
 * ```
 */
export class KafkaConfigError extends Error {
  /** The offending configuration key (`extra` key or settings field), when there is one. */
  readonly key: string | null;
  /**
   * Creates the error.
   *
   * @param message What is wrong and how to fix it.
   * @param key The offending key, when there is one.
   */
  constructor(message: string, key: string | null = null) {
    super(message);
    this.name = "KafkaConfigError";
    this.key = key;
  }
}

/**
 * The broker did not acknowledge a send (or the producer could not connect): none of the records of
 * the failed call may be assumed written. `cause` holds the kafkajs error.
 *
 * @example
 * ```ts
 * import type { OutgoingRecord } from "@loom/streaming";
 * import { KafkaDeliveryError, type KafkaProducerClient } from "@loom/streaming/runtime";
 * declare const producer: KafkaProducerClient;
 * declare const records: OutgoingRecord[];
 * try {
 *   await producer.send("orders", records);
 * } catch (e) {
 *   if (e instanceof KafkaDeliveryError) console.error(e.topics, e.recordCount, e.cause);
 * }
 * ```
 */
export class KafkaDeliveryError extends Error {
  /** The topics of the failed call (empty for a connection failure). */
  readonly topics: readonly string[];
  /** How many records the failed call carried. */
  readonly recordCount: number;
  /**
   * Creates the error.
   *
   * @param message What failed.
   * @param topics The topics of the failed call.
   * @param recordCount How many records the failed call carried.
   * @param cause The underlying kafkajs error.
   */
  constructor(message: string, topics: readonly string[], recordCount: number, cause: unknown) {
    super(message, { cause });
    this.name = "KafkaDeliveryError";
    this.topics = topics;
    this.recordCount = recordCount;
    this.recordSpecific = refusesRecords(cause);
  }
  /**
   * The broker refused the records' content (too large, invalid, bad timestamp), not the connection:
   * a send without the offending records may succeed (see `ProducerPort.send`).
   */
  readonly recordSpecific: boolean;
}

/** Kafka error types that reject the records of a produce request rather than the request. */
const RECORD_ERRORS: ReadonlySet<string> = new Set([
  "MESSAGE_TOO_LARGE",
  "RECORD_LIST_TOO_LARGE",
  "INVALID_RECORD",
  "CORRUPT_MESSAGE",
  "INVALID_TIMESTAMP",
]);

function refusesRecords(e: unknown, depth = 0): boolean {
  if (typeof e !== "object" || e === null || depth > 5) return false;
  const x = e as { type?: unknown; cause?: unknown; errors?: unknown };
  if (typeof x.type === "string" && RECORD_ERRORS.has(x.type)) return true;
  if (Array.isArray(x.errors) && x.errors.length > 0) {
    return x.errors.every((c) => refusesRecords(c, depth + 1));
  }
  return refusesRecords(x.cause, depth + 1);
}

/**
 * The consumer failed: it could not connect or join its group, it crashed (broker gone, retries
 * exhausted), or a handler threw. After an asynchronous failure (reported through
 * {@link ConsumerHandler.onError}) the consumer is stopped and its partitions are lost.
 *
 * @example
 * ```ts
 * import type { KafkaConsumerClient, KafkaConsumerError } from "@loom/streaming/runtime";
 * declare const consumer: KafkaConsumerClient;
 * await consumer.run({
 *   onBatch: async (batch) => console.log(batch.records.length),
 *   onError: (e: KafkaConsumerError) => console.error(e.message, e.cause),
 * });
 * ```
 */
export class KafkaConsumerError extends Error {
  /** The consumer group of the failing consumer. */
  readonly groupId: string;
  /**
   * Creates the error.
   *
   * @param message What failed.
   * @param groupId The consumer group.
   * @param cause The underlying error.
   */
  constructor(message: string, groupId: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "KafkaConsumerError";
    this.groupId = groupId;
  }
}

/**
 * An offset commit failed or could not be attempted: the offsets were NOT committed.
 *
 * @example
 * ```ts
 * import { KafkaCommitError, type KafkaConsumerClient } from "@loom/streaming/runtime";
 * declare const consumer: KafkaConsumerClient;
 * try {
 *   await consumer.commit([{ topic: "orders", partition: 0, offset: 42 }]);
 * } catch (e) {
 *   if (e instanceof KafkaCommitError) console.error(e.offsets, e.cause);
 * }
 * ```
 */
export class KafkaCommitError extends KafkaConsumerError {
  /** The offsets that were not committed. */
  readonly offsets: readonly TopicPartitionOffset[];
  /**
   * Creates the error.
   *
   * @param message What failed.
   * @param groupId The consumer group.
   * @param offsets The offsets that were not committed.
   * @param cause The underlying error, if any.
   */
  constructor(message: string, groupId: string, offsets: readonly TopicPartitionOffset[], cause?: unknown) {
    super(message, groupId, cause);
    this.name = "KafkaCommitError";
    this.offsets = offsets;
  }
}

/** The innermost `cause` of an error chain (at most 10 levels). */
export const rootCause = (e: unknown): unknown => {
  let cur = e;
  for (let i = 0; i < 10 && cur instanceof Error && cur.cause !== undefined && cur.cause !== cur; i++) {
    cur = cur.cause;
  }
  return cur;
};

/** `name: message` of an error, plus its root cause when that says something more. */
export const describeError = (e: unknown): string => {
  const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  const root = rootCause(e);
  if (root !== e && root instanceof Error && !msg.includes(root.message)) {
    return `${msg} (cause: ${root.name}: ${root.message})`;
  }
  return msg;
};

/** True for the group coordinator errors that mean "a rebalance is under way". */
export const isRebalancing = (e: unknown): boolean => {
  const type = (e as { type?: unknown } | null)?.type;
  return type === "REBALANCE_IN_PROGRESS" || type === "NOT_COORDINATOR_FOR_GROUP" ||
    type === "ILLEGAL_GENERATION";
};
