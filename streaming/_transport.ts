/**
 * Transport-level records shared by every transport (in-memory simulator, Kafka).
 *
 * @module
 */

/** A record as fetched from a topic partition. */
export interface SourceRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
  readonly key: Uint8Array | null;
  /** `null` for a tombstone. */
  readonly value: Uint8Array | null;
  readonly headers: Readonly<Record<string, Uint8Array>>;
  /** Broker/record timestamp in ms, or `null` when unknown. */
  readonly timestampMs: number | null;
}

/** Consecutive records of one topic partition, as one fetch returned them. */
export interface RecordBatch {
  readonly topic: string;
  readonly partition: number;
  readonly records: readonly SourceRecord[];
}

/** A record to produce. `partition` is set only when the producer chose it explicitly. */
export interface OutgoingRecord {
  readonly key: Uint8Array | null;
  readonly value: Uint8Array;
  readonly headers: Readonly<Record<string, Uint8Array>>;
  readonly timestampMs: number | null;
  readonly partition?: number;
}

/** A topic partition. */
export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

/** An offset to commit: the next offset to read for the partition. */
export interface TopicPartitionOffset extends TopicPartition {
  readonly offset: number;
}

/** Produces batches of records. One call per topic per processed batch. */
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
