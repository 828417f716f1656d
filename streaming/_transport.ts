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
 * import type { SourceRecord } from "@loom/streaming/engine";
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
 * import type { RecordBatch } from "@loom/streaming/engine";
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
  /** End offset (high watermark) of the partition when the fetch returned, if the adapter knows it. */
  readonly highWatermark?: number;
}

/**
 * A record to produce. `partition` is set only when the producer chose it explicitly.
 *
 * @example
 * ```ts
 * import type { OutgoingRecord } from "@loom/streaming/engine";
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
 * import type { TopicPartition } from "@loom/streaming/engine";
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
 * import type { TopicPartitionOffset } from "@loom/streaming/engine";
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
 * import type { OutgoingRecord, ProducerPort } from "@loom/streaming/engine";
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
 * A producer client with a connection (Kafka adapters); the run loop connects and disconnects it.
 *
 * @example
 * ```ts
 * import type { ProducerClientPort } from "@loom/streaming/engine";
 * const sent: string[] = [];
 * const producer: ProducerClientPort = {
 *   connect: () => Promise.resolve(),
 *   send: (topic) => Promise.resolve(void sent.push(topic)),
 *   sendMany: (batches) => Promise.resolve(void sent.push(...batches.keys())),
 *   disconnect: () => Promise.resolve(),
 * };
 * await producer.connect();
 * await producer.send("orders", []);
 * await producer.disconnect();
 * ```
 */
export interface ProducerClientPort extends ProducerPort {
  /** Connects to the cluster (rejects when it cannot). */
  connect(): Promise<void>;
  /** Sends several topics' records in one request round (see `send`); resolves when all were acknowledged. */
  sendMany(batches: ReadonlyMap<string, readonly OutgoingRecord[]>): Promise<void>;
  /** Disconnects (idempotent). */
  disconnect(): Promise<void>;
  /**
   * The producer's transactions, when it was built with a transactional id (exactly-once processing);
   * absent on plain producers.
   */
  readonly transactions?: TransactionPort;
}

/**
 * The group membership a transactional offset commit is checked against (KIP-447): the broker refuses
 * the offsets of a member whose generation is over, so a zombie worker cannot commit its old batches.
 *
 * @example
 * ```ts
 * import type { ConsumerGroupMetadata } from "@loom/streaming/engine";
 * const group: ConsumerGroupMetadata = { groupId: "billing", generationId: 3, memberId: "m-1" };
 * ```
 */
export interface ConsumerGroupMetadata {
  /** Consumer group id. */
  readonly groupId: string;
  /** Generation of the group this member joined (-1 when unknown). */
  readonly generationId: number;
  /** Member id ("" when unknown). */
  readonly memberId: string;
  /** Broker id of the group coordinator, when the adapter knows it. */
  readonly coordinatorId?: number | null;
}

/**
 * Transactions of a producer (exactly-once processing): every `send` between {@link TransactionPort.begin}
 * and {@link TransactionPort.commit} / {@link TransactionPort.abort} belongs to the transaction, and the
 * commit stores the consumer group's offsets with it, atomically: `read_committed` readers see the
 * transaction's records only once it committed, and never those of an aborted one.
 *
 * @example
 * ```ts
 * import type { TransactionPort } from "@loom/streaming/engine";
 * const log: string[] = [];
 * const tx: TransactionPort = {
 *   begin: () => Promise.resolve(void log.push("begin")),
 *   commit: (offsets, group) => Promise.resolve(void log.push(`commit ${group.groupId} ${offsets.length}`)),
 *   abort: () => Promise.resolve(void log.push("abort")),
 *   get active() {
 *     return log.at(-1) === "begin";
 *   },
 * };
 * await tx.begin();
 * await tx.commit([{ topic: "orders", partition: 0, offset: 10 }], { groupId: "g", generationId: 1, memberId: "m" });
 * ```
 */
export interface TransactionPort {
  /** Begins a transaction (the first call also registers the transactional id, fencing older instances). */
  begin(): Promise<void>;
  /**
   * Adds `offsets` (next offsets to read) for `group` to the open transaction and commits it. Rejects
   * when the transaction could not commit (fenced, the member's generation is over, broker down): it
   * must then be aborted, and nothing of it is visible.
   */
  commit(offsets: readonly TopicPartitionOffset[], group: ConsumerGroupMetadata): Promise<void>;
  /** Aborts the open transaction (no-op when none is open). */
  abort(): Promise<void>;
  /** True between `begin` and the end of the transaction. */
  readonly active: boolean;
}

/**
 * Per-batch controls handed to {@link ConsumerHandler.onBatch}.
 *
 * @example
 * ```ts
 * import type { BatchControl, RecordBatch } from "@loom/streaming/engine";
 * const onBatch = async (batch: RecordBatch, ctl: BatchControl) => {
 *   for (const r of batch.records) {
 *     if (!ctl.isRunning() || ctl.isStale()) return;
 *     await ctl.heartbeat();
 *   }
 * };
 * ```
 */
export interface BatchControl {
  /**
   * Sends a group heartbeat if one is due (call it during long processing). A rebalance reported by
   * the coordinator does not reject: it makes {@link BatchControl.isStale} true. Other failures reject
   * with an error of the transport.
   */
  heartbeat(): Promise<void>;
  /** False once the consumer is stopping: finish or abandon the batch quickly. */
  isRunning(): boolean;
  /**
   * True when the batch's partitions are about to be (or were) revoked: a rebalance was announced, or
   * kafkajs has a pending seek for the partition. Records of a stale batch may be processed, but their
   * partitions will be handed to {@link ConsumerHandler.onRevoked} once this batch returns.
   */
  isStale(): boolean;
}

/**
 * Callbacks of a running consumer.
 *
 * @example
 * ```ts
 * import type { ConsumerHandler } from "@loom/streaming/engine";
 * const handler: ConsumerHandler = {
 *   onBatch: async (batch) => console.log(batch.topic, batch.partition, batch.records.length),
 *   onAssigned: (tps) => console.log("assigned", tps),
 *   onRevoked: async (tps) => console.log("revoked", tps),
 *   onError: (e) => console.error(e.message),
 * };
 * ```
 */
export interface ConsumerHandler {
  /**
   * Receives one fetched batch of one partition. The next batch of the same partition is fetched only
   * after this resolves (batches of different partitions may run concurrently with
   * `partitionsConsumedConcurrently` > 1). Resolving advances the fetch position past the batch; it
   * does NOT commit. A rejection is fatal: the consumer stops and `onError` is called.
   */
  onBatch(batch: RecordBatch, ctl: BatchControl): Promise<void>;
  /** The partitions this member owns after a group join (possibly empty). Synchronous. */
  onAssigned?(tps: readonly TopicPartition[]): void;
  /**
   * The partitions this member gives up, before it rejoins the group or leaves it on `stop()`. The adapter documents
   * the exact guarantee. A rejection is logged and the rebalance goes on.
   */
  onRevoked?(tps: readonly TopicPartition[]): Promise<void>;
  /** An asynchronous, fatal consumer failure (crash or onBatch rejection); the consumer is stopped. */
  onError?(error: Error): void;
}

/**
 * Options of {@link ConsumerPort.run}.
 *
 * @example
 * ```ts
 * import type { ConsumerRunOptions } from "@loom/streaming/engine";
 * const options: ConsumerRunOptions = { partitionsConsumedConcurrently: 3 };
 * ```
 */
export interface ConsumerRunOptions {
  /** How many partitions' batches may be processed at once (default 1). */
  readonly partitionsConsumedConcurrently?: number;
}

/**
 * A group consumer as the run loop sees it: the in-memory broker's consumer (`@loom/streaming/testing`) and
 * the Kafka adapters (`@loom/streaming/runtime`) implement it.
 *
 * @example
 * ```ts
 * import type { ConsumerPort } from "@loom/streaming/engine";
 * import { InMemoryBroker, MemoryConsumer } from "@loom/streaming/testing";
 * const broker = new InMemoryBroker();
 * broker.createTopic("orders");
 * const consumer: ConsumerPort = new MemoryConsumer(broker, "g");
 * await consumer.connect();
 * await consumer.subscribe(["orders"], true);
 * await consumer.run({ onBatch: async (batch) => console.log(batch.records.length) });
 * ```
 */
export interface ConsumerPort {
  /** Connects to the cluster. */
  connect(): Promise<void>;
  /** Subscribes to topics before `run`; `fromBeginning` applies to partitions without committed offset. */
  subscribe(topics: readonly string[], fromBeginning: boolean): Promise<void>;
  /** Joins the group and delivers batches; resolves after the first join. */
  run(handler: ConsumerHandler, options?: ConsumerRunOptions): Promise<void>;
  /** Current assignment (empty before the first join and while a revocation runs). */
  assignment(): readonly TopicPartition[];
  /** Commits `offset` = next offset to read, per partition. */
  commit(offsets: readonly TopicPartitionOffset[]): Promise<void>;
  /** Stops fetching these partitions (cleared by the next group join). */
  pause(tps: readonly TopicPartition[]): void;
  /** Resumes fetching these partitions. */
  resume(tps: readonly TopicPartition[]): void;
  /** Drains in-flight batches, revokes the owned partitions and leaves the group. */
  stop(): Promise<void>;
  /** Stops, then closes the connections. */
  disconnect(): Promise<void>;
  /**
   * The member's current group membership, for transactional offset commits (exactly-once processing);
   * absent on adapters without transactions.
   */
  groupMetadata?(): ConsumerGroupMetadata;
}

/**
 * True when a producer error says the broker refused the records themselves (see {@link ProducerPort.send}).
 *
 * @example
 * ```ts
 * import { isRecordSpecificFailure } from "@loom/streaming/engine";
 * isRecordSpecificFailure(Object.assign(new Error("too large"), { recordSpecific: true })); // true
 * ```
 */
export function isRecordSpecificFailure(e: unknown): boolean {
  return typeof e === "object" && e !== null && (e as { recordSpecific?: unknown }).recordSpecific === true;
}
