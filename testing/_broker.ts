/**
 * {@link InMemoryBroker}: in-memory Kafka topics for the deterministic simulator. Records carry real
 * bytes (so codec bugs show up), topics have real partitions with Java-compatible key placement, offsets
 * and consumer-group commits are plain data, and sends / fetches / commits can be made to fail on demand.
 *
 * Everything is synchronous and deterministic: no wall-clock time (timestamps come from the injected
 * {@link Clock}), no randomness (null-key records are spread round-robin from partition 0).
 *
 * This file is the broker's public API: one class whose public methods (the in-memory Kafka API tests
 * call) each carry a checked example, and delegate to the parts that hold the state: the topics and
 * their partition logs (`_broker_log.ts`), consumer-group commits (`_broker_groups.ts`) and injected
 * failures (`_broker_faults.ts`). Its types and errors live in `_broker_types.ts`.
 *
 * @module
 */

import type { Clock } from "../streaming/_clock.ts";
import type {
  OutgoingRecord,
  ProducerPort,
  SourceRecord,
  TopicPartitionOffset,
} from "../streaming/_transport.ts";
import { MemoryTransactionalProducer } from "./_memory_transactions.ts";
import { BrokerFaults } from "./_broker_faults.ts";
import { BrokerGroups } from "./_broker_groups.ts";
import { BrokerLog, type PreparedWrite, preparedWrite, stagedWrite } from "./_broker_log.ts";

export * from "./_broker_types.ts";
import {
  type AppendRecord,
  type BrokerOperation,
  type BrokerSnapshot,
  type CommitLogEntry,
  type CreateTopicOptions,
  InMemoryBrokerError,
  type InMemoryBrokerOptions,
  type StagedWrite,
} from "./_broker_types.ts";

/**
 * In-memory topics with real bytes, real partitions and consumer-group commits, for deterministic tests.
 *
 * - Keyed records land on `toPositive(murmur2(key)) % partitions`, like the Java client and KafkaJS;
 *   null-key records go round-robin per topic starting at partition 0; an explicit partition wins.
 * - Offsets start at 0 per partition and increase by 1 (`append` may leave gaps, like compaction).
 * - Stored bytes are copies: mutating a buffer after `produce` does not change what was stored.
 * - Stored records are frozen and shared between fetches; do not mutate their bytes.
 *
 * @example
 * ```ts
 * import { InMemoryBroker } from "@loom/streaming/testing";
 * import { VirtualClock } from "@loom/streaming";
 *
 * const broker = new InMemoryBroker({ clock: new VirtualClock(1_000) });
 * broker.createTopic("orders", { partitions: 3 });
 * const [stored] = broker.produce("orders", [
 *   { key: new TextEncoder().encode("k1"), value: new Uint8Array([1]), headers: {}, timestampMs: null },
 * ]);
 * broker.fetch("orders", stored.partition, 0, 100); // [stored]
 * broker.commit("billing", [{ topic: "orders", partition: stored.partition, offset: 1 }]);
 * broker.committed("billing", "orders", stored.partition); // 1
 * ```
 */
export class InMemoryBroker {
  readonly #log: BrokerLog;
  readonly #faults: BrokerFaults = new BrokerFaults();
  readonly #groups: BrokerGroups;

  /**
   * Creates an empty broker.
   *
   * @param options clock, default partition count and auto-creation
   */
  constructor(options: InMemoryBrokerOptions = {}) {
    this.#log = new BrokerLog(options);
    this.#groups = new BrokerGroups(this.#log, this.#faults);
  }

  /** The clock used for record timestamps and commit times. */
  get clock(): Clock {
    return this.#log.clock;
  }

  // -------------------------------------------------------------------------------------------------------
  // topics

  /**
   * Creates a topic. Creating an existing topic with the same partition count is a no-op.
   *
   * @param name topic name (Kafka's legal characters: `a-z A-Z 0-9 . _ -`, at most 249)
   * @param options partition count (default 1)
   * @throws {InMemoryBrokerError} when the topic exists with another partition count, or on a bad name/count
   *
   * @example
   * ```ts
   * import { InMemoryBroker } from "@loom/streaming/testing";
   * const broker = new InMemoryBroker();
   * broker.createTopic("orders", { partitions: 6 });
   * broker.partitions("orders"); // 6
   * ```
   */
  createTopic(name: string, options: CreateTopicOptions = {}): void {
    this.#log.createTopic(name, options);
  }

  /**
   * Names of all topics, sorted.
   *
   * @returns topic names
   *
   * @example
   * ```ts
   * import { InMemoryBroker } from "@loom/streaming/testing";
   * const broker = new InMemoryBroker();
   * broker.createTopic("b");
   * broker.createTopic("a");
   * broker.topics(); // ["a", "b"]
   * ```
   */
  topics(): string[] {
    return this.#log.topics();
  }

  /**
   * Whether the topic exists.
   *
   * @param name topic name
   * @returns `true` if it was created explicitly or by a produce/append
   *
   * @example
   * ```ts
   * import { InMemoryBroker } from "@loom/streaming/testing";
   * new InMemoryBroker().hasTopic("orders"); // false
   * ```
   */
  hasTopic(name: string): boolean {
    return this.#log.hasTopic(name);
  }

  /**
   * The partition count of a topic.
   *
   * @param topic topic name
   * @returns the partition count
   * @throws {InMemoryBrokerError} for an unknown topic
   *
   * @example
   * ```ts
   * import { InMemoryBroker } from "@loom/streaming/testing";
   * const broker = new InMemoryBroker({ defaultPartitions: 4 });
   * broker.produce("events", []);
   * broker.partitions("events"); // 4
   * ```
   */
  partitions(topic: string): number {
    return this.#log.partitions(topic);
  }

  // -------------------------------------------------------------------------------------------------------
  // producing

  /**
   * Appends records like a Kafka producer would (all or nothing). Partition: an explicit `partition` wins
   * (range-checked), a key (even empty) is hashed like the Java client, a null key goes round-robin per topic
   * from partition 0. Timestamp: `record.timestampMs ?? clock.now()`. Unknown topics are auto-created with
   * the default partition count unless `autoCreateTopics` is off.
   *
   * @param topic topic name
   * @param records records to append, in order
   * @returns the stored records, in input order
   * @throws {SimulatedBrokerError} when a failure was injected with {@link InMemoryBroker.failSends}
   *   (nothing is appended)
   * @throws {InMemoryBrokerError} on a bad partition, timestamp or value (nothing is appended)
   *
   * @example
   * ```ts
   * import { InMemoryBroker } from "@loom/streaming/testing";
   * const broker = new InMemoryBroker();
   * const [r] = broker.produce("orders", [{ key: null, value: new Uint8Array([7]), headers: {}, timestampMs: 5 }]);
   * r.offset; // 0
   * ```
   */
  produce(topic: string, records: readonly OutgoingRecord[]): SourceRecord[] {
    return this.#log.write(this.#prepare(topic, records));
  }

  /**
   * Validates a produce request as {@link InMemoryBroker.produce} does (injected send failures included)
   * without writing it: a transaction's records wait until {@link InMemoryBroker.commitTransaction}.
   */
  #prepare(topic: string, records: readonly OutgoingRecord[]): PreparedWrite {
    this.#faults.inject("send", topic);
    return this.#log.prepare(topic, records);
  }

  /**
   * Loads one record exactly as given (fixtures, recorded topics). A given offset is kept if it is >= the
   * partition's next offset (gaps are allowed, like compacted topics); a given timestamp is kept. Not
   * subject to {@link InMemoryBroker.failSends}.
   *
   * @param record the record; `partition`, `offset`, `headers` and `timestampMs` are optional
   * @returns the stored record
   * @throws {InMemoryBrokerError} when the offset goes backwards, the partition is out of range, or the
   *   topic is unknown and auto-creation is off
   *
   * @example
   * ```ts
   * import { InMemoryBroker } from "@loom/streaming/testing";
   * const broker = new InMemoryBroker();
   * broker.createTopic("orders", { partitions: 2 });
   * broker.append({ topic: "orders", partition: 1, offset: 10, key: null, value: null, timestampMs: 1 });
   * broker.endOffset("orders", 1); // 11
   * ```
   */
  append(record: AppendRecord): SourceRecord {
    return this.#log.append(record);
  }

  /**
   * How many produce requests (successful `produce` / `producer().send` calls) a topic received: lets tests
   * check that a flow batches its writes (one send per fetched batch and topic), as it does on Kafka.
   *
   * @param topic topic name
   * @returns the number of accepted produce calls (0 for an unknown topic)
   *
   * @example
   * ```ts
   * import { InMemoryBroker } from "@loom/streaming/testing";
   * const broker = new InMemoryBroker();
   * const r = { key: null, value: new Uint8Array(1), headers: {}, timestampMs: 1 };
   * broker.produce("orders", [r, r, r]);
   * broker.sends("orders"); // 1
   * ```
   */
  sends(topic: string): number {
    return this.#log.sends(topic);
  }

  /**
   * A {@link ProducerPort} backed by {@link InMemoryBroker.produce}: `send` resolves once the records are
   * stored, or rejects (storing nothing) on an injected or validation failure.
   *
   * @returns a producer port
   *
   * @example
   * ```ts
   * import { InMemoryBroker } from "@loom/streaming/testing";
   * const broker = new InMemoryBroker();
   * await broker.producer().send("out", [{ key: null, value: new Uint8Array(1), headers: {}, timestampMs: null }]);
   * ```
   */
  producer(): ProducerPort {
    return {
      send: (topic: string, records: readonly OutgoingRecord[]): Promise<void> => {
        try {
          this.produce(topic, records);
          return Promise.resolve();
        } catch (e) {
          return Promise.reject(e);
        }
      },
    };
  }

  /**
   * Validates a produce request (injected send failures apply) and holds it for a transaction: nothing
   * is written, so no reader sees it, until {@link InMemoryBroker.commitTransaction}. Used by
   * {@link MemoryTransactionalProducer}; an aborted transaction simply drops its staged writes.
   *
   * @param topic topic name
   * @param records records to write later
   * @returns the staged request
   * @throws {SimulatedBrokerError} / {@link InMemoryBrokerError} as {@link InMemoryBroker.produce}
   *
   * @example
   * ```ts
   * import { InMemoryBroker } from "@loom/streaming/testing";
   * const broker = new InMemoryBroker();
   * broker.createTopic("out");
   * const w = broker.stage("out", [{ key: null, value: new Uint8Array(1), headers: {}, timestampMs: null }]);
   * broker.endOffset("out", 0); // 0: not visible yet
   * broker.commitTransaction([w], "g", []);
   * broker.endOffset("out", 0); // 1
   * ```
   */
  stage(topic: string, records: readonly OutgoingRecord[]): StagedWrite {
    return stagedWrite(this.#prepare(topic, records));
  }

  /**
   * Commits a transaction atomically: writes every staged request, in order, and commits `offsets` for
   * `group` (the group's commit log gets them like {@link InMemoryBroker.commit}). Injected commit
   * failures of the group apply first (then nothing is written).
   *
   * @param writes staged requests of the transaction
   * @param group consumer group id
   * @param offsets offsets to commit with the writes (may be empty)
   * @throws {SimulatedBrokerError} when a commit failure was injected for the group
   *
   * @example
   * ```ts
   * import { InMemoryBroker } from "@loom/streaming/testing";
   * const broker = new InMemoryBroker();
   * broker.createTopic("in");
   * broker.commitTransaction([], "g", [{ topic: "in", partition: 0, offset: 0 }]);
   * broker.committed("g", "in", 0); // 0
   * ```
   */
  commitTransaction(
    writes: readonly StagedWrite[],
    group: string,
    offsets: readonly TopicPartitionOffset[],
  ): void {
    this.commit(group, offsets); // validates and injects faults before anything is written
    for (const w of writes) {
      const prepared = preparedWrite(w);
      if (prepared === undefined) {
        throw new InMemoryBrokerError("commitTransaction: a write was not staged by stage()");
      }
      this.#log.write(prepared);
    }
  }

  /**
   * A transactional producer over this broker (exactly-once flows in the simulator): see
   * {@link MemoryTransactionalProducer}.
   *
   * @returns a new producer with its own transactions
   *
   * @example
   * ```ts
   * import { InMemoryBroker } from "@loom/streaming/testing";
   * const broker = new InMemoryBroker();
   * const producer = broker.transactionalProducer();
   * await producer.transactions.begin();
   * await producer.send("out", [{ key: null, value: new Uint8Array(1), headers: {}, timestampMs: null }]);
   * await producer.transactions.abort();
   * broker.endOffset("out", 0); // 0
   * ```
   */
  transactionalProducer(): MemoryTransactionalProducer {
    return new MemoryTransactionalProducer(this);
  }

  // -------------------------------------------------------------------------------------------------------
  // reading

  /**
   * Reads up to `maxRecords` records of one partition whose offset is >= `fromOffset`, in offset order.
   * Fetching at the end offset returns `[]`.
   *
   * @param topic topic name
   * @param partition partition
   * @param fromOffset first offset wanted (`0..endOffset`)
   * @param maxRecords maximum number of records (positive integer)
   * @returns the records (a new array; the record objects are shared and frozen)
   * @throws {SimulatedBrokerError} when a failure was injected with {@link InMemoryBroker.failFetches}
   * @throws {InMemoryBrokerError} for an unknown topic/partition or `fromOffset > endOffset`
   *
   * @example
   * ```ts
   * import { InMemoryBroker } from "@loom/streaming/testing";
   * const broker = new InMemoryBroker();
   * broker.produce("t", [{ key: null, value: new Uint8Array(1), headers: {}, timestampMs: null }]);
   * broker.fetch("t", 0, 0, 500).length; // 1
   * ```
   */
  fetch(topic: string, partition: number, fromOffset: number, maxRecords: number): SourceRecord[] {
    this.#faults.inject("fetch", topic);
    return this.#log.fetch(topic, partition, fromOffset, maxRecords);
  }

  /**
   * The end offset (high watermark) of a partition: the offset the next record will get.
   *
   * @param topic topic name
   * @param partition partition
   * @returns the end offset (0 for an empty partition)
   * @throws {InMemoryBrokerError} for an unknown topic/partition
   *
   * @example
   * ```ts
   * import { InMemoryBroker } from "@loom/streaming/testing";
   * const broker = new InMemoryBroker();
   * broker.createTopic("t");
   * broker.endOffset("t", 0); // 0
   * ```
   */
  endOffset(topic: string, partition: number): number {
    return this.#log.partition(topic, partition, "endOffset").next;
  }

  /**
   * All records of a topic, ordered by partition then offset.
   *
   * @param topic topic name
   * @returns the records (a new array)
   * @throws {InMemoryBrokerError} for an unknown topic
   *
   * @example
   * ```ts
   * import { InMemoryBroker } from "@loom/streaming/testing";
   * const broker = new InMemoryBroker();
   * broker.produce("t", [{ key: null, value: new Uint8Array(1), headers: {}, timestampMs: null }]);
   * broker.records("t").map((r) => r.offset); // [0]
   * ```
   */
  records(topic: string): SourceRecord[] {
    return this.#log.records(topic);
  }

  // -------------------------------------------------------------------------------------------------------
  // consumer groups

  /**
   * Commits offsets for a group (each is the next offset the group will read). Rewinds are allowed, as in
   * Kafka; every commit is appended to the group's {@link InMemoryBroker.commitLog} with the clock time.
   *
   * @param group consumer group id
   * @param offsets offsets to commit
   * @throws {SimulatedBrokerError} when a failure was injected with {@link InMemoryBroker.failCommits}
   *   (nothing is committed)
   * @throws {InMemoryBrokerError} for an unknown topic/partition or a bad offset (nothing is committed)
   *
   * @example
   * ```ts
   * import { InMemoryBroker } from "@loom/streaming/testing";
   * const broker = new InMemoryBroker();
   * broker.createTopic("orders");
   * broker.commit("billing", [{ topic: "orders", partition: 0, offset: 3 }]);
   * broker.commitLog("billing"); // [{ topic: "orders", partition: 0, offset: 3, atMs: 0 }]
   * ```
   */
  commit(group: string, offsets: readonly TopicPartitionOffset[]): void {
    this.#groups.commit(group, offsets);
  }

  /**
   * The latest committed offset of a group for a partition.
   *
   * @param group consumer group id
   * @param topic topic name
   * @param partition partition
   * @returns the offset, or `null` if the group never committed this partition
   *
   * @example
   * ```ts
   * import { InMemoryBroker } from "@loom/streaming/testing";
   * new InMemoryBroker().committed("billing", "orders", 0); // null
   * ```
   */
  committed(group: string, topic: string, partition: number): number | null {
    return this.#groups.committed(group, topic, partition);
  }

  /**
   * Every commit of a group, in order (one entry per partition per commit call).
   *
   * @param group consumer group id
   * @returns the entries (a new array; empty for an unknown group)
   *
   * @example
   * ```ts
   * import { InMemoryBroker } from "@loom/streaming/testing";
   * new InMemoryBroker().commitLog("billing"); // []
   * ```
   */
  commitLog(group: string): CommitLogEntry[] {
    return this.#groups.commitLog(group);
  }

  /**
   * Groups that committed at least once, sorted.
   *
   * @returns group ids
   *
   * @example
   * ```ts
   * import { InMemoryBroker } from "@loom/streaming/testing";
   * new InMemoryBroker().groups(); // []
   * ```
   */
  groups(): string[] {
    return this.#groups.groups();
  }

  // -------------------------------------------------------------------------------------------------------
  // fault injection

  /**
   * Makes the next `times` {@link InMemoryBroker.produce} calls (and `producer().send` calls) to `topic`
   * throw, appending nothing. Calls queue up: `failSends(t, 1, a); failSends(t, 1, b)` fails with `a` then `b`.
   *
   * @param topic topic name (need not exist yet)
   * @param times number of calls to fail (non-negative integer)
   * @param error the error to throw; default a {@link SimulatedBrokerError}
   *
   * @example
   * ```ts
   * import { InMemoryBroker } from "@loom/streaming/testing";
   * const broker = new InMemoryBroker();
   * broker.failSends("out", 2);
   * broker.pendingFaults("send", "out"); // 2
   * ```
   */
  failSends(topic: string, times: number, error?: Error): void {
    this.#faults.add("send", topic, times, error);
  }

  /**
   * Makes the next `times` {@link InMemoryBroker.fetch} calls on `topic` (any partition) throw.
   *
   * @param topic topic name (need not exist yet)
   * @param times number of calls to fail (non-negative integer)
   * @param error the error to throw; default a {@link SimulatedBrokerError}
   *
   * @example
   * ```ts
   * import { InMemoryBroker } from "@loom/streaming/testing";
   * const broker = new InMemoryBroker();
   * broker.failFetches("orders", 1);
   * ```
   */
  failFetches(topic: string, times: number, error?: Error): void {
    this.#faults.add("fetch", topic, times, error);
  }

  /**
   * Makes the next `times` {@link InMemoryBroker.commit} calls of `group` throw, committing nothing.
   *
   * @param group consumer group id
   * @param times number of calls to fail (non-negative integer)
   * @param error the error to throw; default a {@link SimulatedBrokerError}
   *
   * @example
   * ```ts
   * import { InMemoryBroker } from "@loom/streaming/testing";
   * const broker = new InMemoryBroker();
   * broker.failCommits("billing", 1);
   * ```
   */
  failCommits(group: string, times: number, error?: Error): void {
    this.#faults.add("commit", group, times, error);
  }

  /**
   * How many injected failures are still queued.
   *
   * @param operation `"send"`, `"fetch"` or `"commit"`
   * @param target topic (send, fetch) or group (commit)
   * @returns the number of calls that will still fail
   *
   * @example
   * ```ts
   * import { InMemoryBroker } from "@loom/streaming/testing";
   * new InMemoryBroker().pendingFaults("fetch", "orders"); // 0
   * ```
   */
  pendingFaults(operation: BrokerOperation, target: string): number {
    return this.#faults.pending(operation, target);
  }

  // -------------------------------------------------------------------------------------------------------
  // snapshot

  /**
   * A plain JSON-able view of every topic (sorted by name; partitions in order; bytes as base64) and of the
   * latest committed offsets per group, for golden comparisons.
   *
   * @returns the snapshot
   *
   * @example
   * ```ts
   * import { InMemoryBroker } from "@loom/streaming/testing";
   * const broker = new InMemoryBroker();
   * broker.produce("t", [{ key: null, value: new Uint8Array([1]), headers: {}, timestampMs: 9 }]);
   * JSON.stringify(broker.snapshot());
   * // {"topics":{"t":[{"partition":0,"endOffset":1,"records":[{"offset":0,"timestampMs":9,"key":null,"headers":{},"value":"AQ=="}]}]},"groups":{}}
   * ```
   */
  snapshot(): BrokerSnapshot {
    return { topics: this.#log.snapshot(), groups: this.#groups.snapshot() };
  }
}
