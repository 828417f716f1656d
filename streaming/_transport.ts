/**
 * Transport-level records shared by every transport (in-memory simulator, Kafka).
 *
 * @module
 */

/**
 * A record as fetched from a topic partition.
 *
 * @example
 * ```ts
 * import type { SourceRecord } from "@loom/streaming";
 * const record: SourceRecord = {
 *   topic: "orders",
 *   partition: 0,
 *   offset: 42,
 *   key: new TextEncoder().encode("o-1"),
 *   value: null, // a tombstone
 *   headers: {},
 *   timestampMs: 1_700_000_000_000,
 * };
 * ```
 */
export interface SourceRecord {
  /** Topic. */
  readonly topic: string;
  /** Partition. */
  readonly partition: number;
  /** Offset in the partition. */
  readonly offset: number;
  /** Kafka key, or null. */
  readonly key: Uint8Array | null;
  /** `null` for a tombstone. */
  readonly value: Uint8Array | null;
  /** Kafka headers (later duplicates win). */
  readonly headers: Readonly<Record<string, Uint8Array>>;
  /** Broker/record timestamp in ms, or `null` when unknown. */
  readonly timestampMs: number | null;
}

/**
 * Consecutive records of one topic partition, as one fetch returned them.
 *
 * @example
 * ```ts
 * import type { RecordBatch } from "@loom/streaming";
 * const batch: RecordBatch = { topic: "orders", partition: 0, records: [] };
 * ```
 */
export interface RecordBatch {
  /** Topic. */
  readonly topic: string;
  /** Partition. */
  readonly partition: number;
  /** The records, in offset order. */
  readonly records: readonly SourceRecord[];
}

/**
 * A record to produce. `partition` is set only when the producer chose it explicitly.
 *
 * @example
 * ```ts
 * import type { OutgoingRecord } from "@loom/streaming";
 * const record: OutgoingRecord = { key: null, value: new Uint8Array([0x80]), headers: {}, timestampMs: null };
 * ```
 */
export interface OutgoingRecord {
  /** Kafka key, or null. */
  readonly key: Uint8Array | null;
  /** Encoded value. */
  readonly value: Uint8Array;
  /** Kafka headers. */
  readonly headers: Readonly<Record<string, Uint8Array>>;
  /** Record timestamp in ms, or null to let the producer set it. */
  readonly timestampMs: number | null;
  /** Explicit partition (else the producer's partitioner picks one). */
  readonly partition?: number;
}

/**
 * A topic partition.
 *
 * @example
 * ```ts
 * import type { TopicPartition } from "@loom/streaming";
 * const tp: TopicPartition = { topic: "orders", partition: 3 };
 * ```
 */
export interface TopicPartition {
  /** Topic. */
  readonly topic: string;
  /** Partition. */
  readonly partition: number;
}

/**
 * An offset to commit: the next offset to read for the partition.
 *
 * @example
 * ```ts
 * import type { TopicPartitionOffset } from "@loom/streaming";
 * const commit: TopicPartitionOffset = { topic: "orders", partition: 3, offset: 128 };
 * ```
 */
export interface TopicPartitionOffset extends TopicPartition {
  /** Next offset to read. */
  readonly offset: number;
}

/**
 * Produces batches of records. One call per topic per processed batch.
 *
 * @example
 * ```ts
 * import type { OutgoingRecord, ProducerPort } from "@loom/streaming";
 * const sent: [string, readonly OutgoingRecord[]][] = [];
 * const producer: ProducerPort = {
 *   send: (topic, records) => {
 *     sent.push([topic, records]);
 *     return Promise.resolve();
 *   },
 * };
 * ```
 */
export interface ProducerPort {
  /**
   * Resolves once the broker acknowledged every record (or rejects: none may be assumed written).
   * A rejection whose error has `recordSpecific: true` says the broker refused the records' content
   * (too large, invalid), not the connection: smaller sends may succeed, so the driver isolates the
   * refused records instead of dead-lettering the whole batch.
   */
  send(topic: string, records: readonly OutgoingRecord[]): Promise<void>;
}

/**
 * True when a producer error says the broker refused the records themselves (see {@link ProducerPort.send}).
 *
 * @example
 * ```ts
 * import { isRecordSpecificFailure } from "@loom/streaming";
 * isRecordSpecificFailure(Object.assign(new Error("too large"), { recordSpecific: true })); // true
 * ```
 */
export function isRecordSpecificFailure(e: unknown): boolean {
  return typeof e === "object" && e !== null && (e as { recordSpecific?: unknown }).recordSpecific === true;
}
