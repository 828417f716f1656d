/**
 * {@link InMemoryBroker}: in-memory Kafka topics for the deterministic simulator. Records carry real
 * bytes (so codec bugs show up), topics have real partitions with Java-compatible key placement, offsets
 * and consumer-group commits are plain data, and sends / fetches / commits can be made to fail on demand.
 *
 * Everything is synchronous and deterministic: no wall-clock time (timestamps come from the injected
 * {@link Clock}), no randomness (null-key records are spread round-robin from partition 0).
 *
 * This file stays above ~600 lines for one reason: it is one class, and each public method of the broker
 * (the in-memory Kafka API tests call) carries its own checked example. Its types and errors live in
 * `_broker_types.ts`.
 *
 * @module
 */

import { type Clock, VirtualClock } from "../streaming/_clock.ts";
import type {
  OutgoingRecord,
  ProducerPort,
  SourceRecord,
  TopicPartitionOffset,
} from "../streaming/_transport.ts";
import { partitionForKey } from "../kafka/_murmur2.ts";
import { bytesToBase64 } from "./_base64.ts";
import { MemoryTransactionalProducer } from "./_memory_transactions.ts";

export * from "./_broker_types.ts";
import {
  type AppendRecord,
  type BrokerOperation,
  type BrokerSnapshot,
  type CommitLogEntry,
  type CreateTopicOptions,
  InMemoryBrokerError,
  type InMemoryBrokerOptions,
  SimulatedBrokerError,
  type SnapshotPartition,
} from "./_broker_types.ts";

interface PartitionLog {
  readonly records: SourceRecord[];
  next: number;
}

interface TopicState {
  readonly partitions: PartitionLog[];
  roundRobin: number;
  maxMessageBytes: number;
}

interface PreparedWrite {
  readonly topic: string;
  readonly state: TopicState;
  readonly records: readonly OutgoingRecord[];
  readonly targets: readonly number[];
  readonly headers: readonly Readonly<Record<string, Uint8Array>>[];
}

/**
 * A validated produce request held by an open transaction of {@link InMemoryBroker.transactionalProducer}.
 *
 * @example
 * ```ts
 * import type { StagedWrite } from "@loom/streaming/testing";
 * const pending: StagedWrite[] = [];
 * ```
 */
export interface StagedWrite {
  /** Topic of the request. */
  readonly topic: string;
}

interface Fault {
  remaining: number;
  readonly error: Error | undefined;
}

const PREPARED = Symbol("prepared");

const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;
const FAULT_METHOD: Readonly<Record<BrokerOperation, string>> = {
  send: "failSends",
  fetch: "failFetches",
  commit: "failCommits",
};

function isNonNegativeInt(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function copyHeaders(
  headers: Readonly<Record<string, Uint8Array>> | undefined,
  where: string,
): Readonly<Record<string, Uint8Array>> {
  const entries: [string, Uint8Array][] = [];
  if (headers !== undefined && headers !== null) {
    for (const name of Object.keys(headers)) {
      const v = headers[name];
      if (!(v instanceof Uint8Array)) {
        throw new InMemoryBrokerError(`${where}: header ${JSON.stringify(name)} must be a Uint8Array`);
      }
      entries.push([name, v.slice()]);
    }
  }
  return Object.freeze(Object.fromEntries(entries)) as Readonly<Record<string, Uint8Array>>;
}

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
  readonly #clock: Clock;
  readonly #defaultPartitions: number;
  readonly #autoCreate: boolean;
  readonly #sends = new Map<string, number>();
  readonly #topics = new Map<string, TopicState>();
  readonly #commitLogs = new Map<string, CommitLogEntry[]>();
  readonly #committed = new Map<string, Map<string, TopicPartitionOffset>>();
  readonly #faults: Record<BrokerOperation, Map<string, Fault[]>> = {
    send: new Map(),
    fetch: new Map(),
    commit: new Map(),
  };

  /**
   * Creates an empty broker.
   *
   * @param options clock, default partition count and auto-creation
   */
  constructor(options: InMemoryBrokerOptions = {}) {
    const partitions = options.defaultPartitions ?? 1;
    if (!Number.isSafeInteger(partitions) || partitions < 1) {
      throw new InMemoryBrokerError(
        `InMemoryBroker: defaultPartitions must be a positive integer, got ${String(partitions)}`,
      );
    }
    this.#clock = options.clock ?? new VirtualClock(0);
    this.#defaultPartitions = partitions;
    this.#autoCreate = options.autoCreateTopics ?? true;
  }

  /** The clock used for record timestamps and commit times. */
  get clock(): Clock {
    return this.#clock;
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
    const partitions = options.partitions ?? 1;
    this.#checkTopicName(name, "createTopic");
    if (!Number.isSafeInteger(partitions) || partitions < 1) {
      throw new InMemoryBrokerError(
        `createTopic(${JSON.stringify(name)}): partitions must be a positive integer, got ${
          String(partitions)
        }`,
      );
    }
    const existing = this.#topics.get(name);
    if (existing !== undefined) {
      if (existing.partitions.length !== partitions) {
        throw new InMemoryBrokerError(
          `createTopic(${
            JSON.stringify(name)
          }): the topic already exists with ${existing.partitions.length} ` +
            `partition(s), not ${partitions}; create it once, before producing to it`,
        );
      }
      return;
    }
    const max = options.maxMessageBytes ?? Infinity;
    if (!(max > 0)) {
      throw new InMemoryBrokerError(
        `createTopic(${JSON.stringify(name)}): maxMessageBytes must be a positive number, got ${String(max)}`,
      );
    }
    this.#create(name, partitions).maxMessageBytes = max;
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
    return [...this.#topics.keys()].sort();
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
    return this.#topics.has(name);
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
    return this.#topic(topic, "partitions").partitions.length;
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
    return this.#write(this.#prepare(topic, records));
  }

  /**
   * Validates a produce request as {@link InMemoryBroker.produce} does (injected send failures included)
   * without writing it: a transaction's records wait until {@link InMemoryBroker.commitTransaction}.
   */
  #prepare(topic: string, records: readonly OutgoingRecord[]): PreparedWrite {
    this.#injectFault("send", topic);
    const state = this.#topicForWrite(topic, "produce");
    const n = state.partitions.length;
    // validate everything first so that a bad record leaves the topic untouched
    const targets = new Array<number>(records.length);
    const headers = new Array<Readonly<Record<string, Uint8Array>>>(records.length);
    let rr = state.roundRobin;
    for (let i = 0; i < records.length; i++) {
      const r = records[i];
      const where = `produce(${JSON.stringify(topic)}) record #${i}`;
      if (!(r.value instanceof Uint8Array)) {
        throw new InMemoryBrokerError(`${where}: value must be a Uint8Array (the encoded message)`);
      }
      if (r.key !== null && !(r.key instanceof Uint8Array)) {
        throw new InMemoryBrokerError(`${where}: key must be a Uint8Array or null`);
      }
      this.#checkTimestamp(r.timestampMs, where);
      const size = r.value.length + (r.key?.length ?? 0);
      if (size > state.maxMessageBytes) {
        throw new SimulatedBrokerError(
          "send",
          topic,
          `MESSAGE_TOO_LARGE: ${where} has ${size} bytes, over the topic's max.message.bytes (${state.maxMessageBytes})`,
          true,
        );
      }
      headers[i] = copyHeaders(r.headers, where);
      if (r.partition !== undefined && r.partition !== null) {
        this.#checkPartition(topic, state, r.partition, where);
        targets[i] = r.partition;
      } else if (r.key !== null) {
        targets[i] = partitionForKey(r.key, n);
      } else {
        targets[i] = rr % n;
        rr++;
      }
    }
    state.roundRobin = rr;
    return { topic, state, records, targets, headers };
  }

  #write(w: PreparedWrite): SourceRecord[] {
    const { topic, state, records, targets, headers } = w;
    const now = this.#clock.now();
    this.#sends.set(topic, (this.#sends.get(topic) ?? 0) + 1);
    const out = new Array<SourceRecord>(records.length);
    for (let i = 0; i < records.length; i++) {
      const r = records[i];
      const log = state.partitions[targets[i]];
      const stored: SourceRecord = Object.freeze({
        topic,
        partition: targets[i],
        offset: log.next,
        key: r.key === null ? null : r.key.slice(),
        value: r.value.slice(),
        headers: headers[i],
        timestampMs: r.timestampMs ?? now,
      });
      log.records.push(stored);
      log.next++;
      out[i] = stored;
    }
    return out;
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
    const topic = record.topic;
    const state = this.#topicForWrite(topic, "append");
    const { key, value } = record;
    const where = `append(${JSON.stringify(topic)})`;
    if (key !== null && !(key instanceof Uint8Array)) {
      throw new InMemoryBrokerError(`${where}: key must be a Uint8Array or null`);
    }
    if (value !== null && !(value instanceof Uint8Array)) {
      throw new InMemoryBrokerError(`${where}: value must be a Uint8Array or null (tombstone)`);
    }
    this.#checkTimestamp(record.timestampMs, where);
    let partition: number;
    if (record.partition !== undefined && record.partition !== null) {
      this.#checkPartition(topic, state, record.partition, where);
      partition = record.partition;
    } else if (key !== null) {
      partition = partitionForKey(key, state.partitions.length);
    } else {
      partition = state.roundRobin % state.partitions.length;
    }
    const log = state.partitions[partition];
    let offset = log.next;
    if (record.offset !== undefined && record.offset !== null) {
      if (!isNonNegativeInt(record.offset)) {
        throw new InMemoryBrokerError(
          `${where}: offset must be a non-negative integer or null, got ${String(record.offset)}`,
        );
      }
      if (record.offset < log.next) {
        throw new InMemoryBrokerError(
          `${where}: offset ${record.offset} of ${topic}/${partition} is below the partition's next offset ` +
            `${log.next}; offsets must increase within a partition (gaps are allowed) — sort the fixture by ` +
            `offset or drop the explicit offsets`,
        );
      }
      offset = record.offset;
    }
    const headers = copyHeaders(record.headers, where);
    if ((record.partition === undefined || record.partition === null) && key === null) state.roundRobin++;
    const stored: SourceRecord = Object.freeze({
      topic,
      partition,
      offset,
      key: key === null ? null : key.slice(),
      value: value === null ? null : value.slice(),
      headers,
      timestampMs: record.timestampMs ?? this.#clock.now(),
    });
    log.records.push(stored);
    log.next = offset + 1;
    return stored;
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
    return this.#sends.get(topic) ?? 0;
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
    const prepared = this.#prepare(topic, records);
    return Object.freeze({ topic, [PREPARED]: prepared }) as StagedWrite;
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
      const prepared = (w as unknown as { [PREPARED]: PreparedWrite })[PREPARED];
      if (prepared === undefined) {
        throw new InMemoryBrokerError("commitTransaction: a write was not staged by stage()");
      }
      this.#write(prepared);
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
    this.#injectFault("fetch", topic);
    const log = this.#partition(topic, partition, "fetch");
    if (!isNonNegativeInt(fromOffset) || fromOffset > log.next) {
      throw new InMemoryBrokerError(
        `fetch(${JSON.stringify(topic)}, ${partition}): offset ${String(fromOffset)} is out of range ` +
          `(valid: 0..${log.next}, the end offset)`,
      );
    }
    if (!Number.isSafeInteger(maxRecords) || maxRecords < 1) {
      throw new InMemoryBrokerError(
        `fetch(${JSON.stringify(topic)}, ${partition}): maxRecords must be a positive integer, got ${
          String(maxRecords)
        }`,
      );
    }
    const records = log.records;
    // first index whose offset >= fromOffset (offsets are increasing, possibly with gaps)
    let lo = 0, hi = records.length;
    if (hi > 0 && records[hi - 1].offset - records[0].offset === hi - 1) {
      lo = hi = Math.max(0, Math.min(hi, fromOffset - records[0].offset));
    } else {
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (records[mid].offset < fromOffset) lo = mid + 1;
        else hi = mid;
      }
    }
    return records.slice(lo, lo + maxRecords);
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
    return this.#partition(topic, partition, "endOffset").next;
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
    const out: SourceRecord[] = [];
    for (const log of this.#topic(topic, "records").partitions) {
      for (const r of log.records) out.push(r);
    }
    return out;
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
    if (typeof group !== "string" || group.length === 0) {
      throw new InMemoryBrokerError(`commit: group must be a non-empty string, got ${JSON.stringify(group)}`);
    }
    this.#injectFault("commit", group);
    for (const o of offsets) {
      const where = `commit(${JSON.stringify(group)})`;
      this.#partition(o.topic, o.partition, where);
      if (!isNonNegativeInt(o.offset)) {
        throw new InMemoryBrokerError(
          `${where}: offset for ${o.topic}/${o.partition} must be a non-negative integer, got ${
            String(o.offset)
          }`,
        );
      }
    }
    const atMs = this.#clock.now();
    let log = this.#commitLogs.get(group);
    let latest = this.#committed.get(group);
    if (log === undefined || latest === undefined) {
      log = [];
      latest = new Map();
      this.#commitLogs.set(group, log);
      this.#committed.set(group, latest);
    }
    for (const o of offsets) {
      log.push(Object.freeze({ topic: o.topic, partition: o.partition, offset: o.offset, atMs }));
      latest.set(
        `${o.partition}:${o.topic}`,
        Object.freeze({ topic: o.topic, partition: o.partition, offset: o.offset }),
      );
    }
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
    return this.#committed.get(group)?.get(`${partition}:${topic}`)?.offset ?? null;
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
    return [...(this.#commitLogs.get(group) ?? [])];
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
    return [...this.#committed.keys()].sort();
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
    this.#addFault("send", topic, times, error);
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
    this.#addFault("fetch", topic, times, error);
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
    this.#addFault("commit", group, times, error);
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
    let n = 0;
    for (const f of this.#faults[operation].get(target) ?? []) n += f.remaining;
    return n;
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
    const topics: Record<string, SnapshotPartition[]> = {};
    for (const name of this.topics()) {
      topics[name] = this.#topics.get(name)!.partitions.map((log, partition) => ({
        partition,
        endOffset: log.next,
        records: log.records.map((r) => ({
          offset: r.offset,
          timestampMs: r.timestampMs,
          key: r.key === null ? null : bytesToBase64(r.key),
          headers: Object.fromEntries(Object.keys(r.headers).map((h) => [h, bytesToBase64(r.headers[h])])),
          value: r.value === null ? null : bytesToBase64(r.value),
        })),
      }));
    }
    const groups: Record<string, TopicPartitionOffset[]> = {};
    for (const group of this.groups()) {
      groups[group] = [...this.#committed.get(group)!.values()]
        .sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition))
        .map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset }));
    }
    return { topics, groups };
  }

  // -------------------------------------------------------------------------------------------------------
  // internals

  #create(name: string, partitions: number): TopicState {
    const state: TopicState = {
      partitions: Array.from({ length: partitions }, () => ({ records: [], next: 0 })),
      roundRobin: 0,
      maxMessageBytes: Infinity,
    };
    this.#topics.set(name, state);
    return state;
  }

  #checkTopicName(name: string, where: string): void {
    if (typeof name !== "string" || !TOPIC_NAME.test(name) || name === "." || name === "..") {
      throw new InMemoryBrokerError(
        `${where}: invalid topic name ${JSON.stringify(name)}; Kafka topic names are 1-249 characters of ` +
          `a-z A-Z 0-9 . _ - (and not "." or "..")`,
      );
    }
  }

  #topic(name: string, where: string): TopicState {
    const state = this.#topics.get(name);
    if (state === undefined) {
      const known = this.topics();
      throw new InMemoryBrokerError(
        `${where}: unknown topic ${JSON.stringify(name)} (known: ${
          known.length === 0 ? "none" : known.map((t) => JSON.stringify(t)).join(", ")
        }); create it with createTopic(name, { partitions }) or produce to it first`,
      );
    }
    return state;
  }

  #topicForWrite(name: string, where: string): TopicState {
    const state = this.#topics.get(name);
    if (state !== undefined) return state;
    if (!this.#autoCreate) return this.#topic(name, `${where} (autoCreateTopics is off)`);
    this.#checkTopicName(name, where);
    return this.#create(name, this.#defaultPartitions);
  }

  #checkPartition(topic: string, state: TopicState, partition: unknown, where: string): void {
    if (!isNonNegativeInt(partition) || partition >= state.partitions.length) {
      throw new InMemoryBrokerError(
        `${where}: partition ${String(partition)} is out of range for topic ${JSON.stringify(topic)} with ` +
          `${state.partitions.length} partition(s) (valid: 0..${state.partitions.length - 1}); create the ` +
          `topic with more partitions via createTopic(name, { partitions }) before producing`,
      );
    }
  }

  #partition(topic: string, partition: number, where: string): PartitionLog {
    const state = this.#topic(topic, where);
    this.#checkPartition(topic, state, partition, where);
    return state.partitions[partition];
  }

  #checkTimestamp(ts: number | null | undefined, where: string): void {
    if (ts !== null && ts !== undefined && !isNonNegativeInt(ts)) {
      throw new InMemoryBrokerError(
        `${where}: timestampMs must be a non-negative integer (ms since the epoch) or null, got ${
          String(ts)
        }`,
      );
    }
  }

  #addFault(operation: BrokerOperation, target: string, times: number, error: Error | undefined): void {
    if (!isNonNegativeInt(times)) {
      throw new InMemoryBrokerError(
        `${FAULT_METHOD[operation]}(${JSON.stringify(target)}): times must be a non-negative integer, got ${
          String(times)
        }`,
      );
    }
    if (times === 0) return;
    const map = this.#faults[operation];
    let queue = map.get(target);
    if (queue === undefined) map.set(target, queue = []);
    queue.push({ remaining: times, error });
  }

  #injectFault(operation: BrokerOperation, target: string): void {
    const queue = this.#faults[operation].get(target);
    if (queue === undefined || queue.length === 0) return;
    const fault = queue[0];
    fault.remaining--;
    if (fault.remaining === 0) queue.shift();
    if (fault.error !== undefined) throw fault.error;
    const left = this.pendingFaults(operation, target);
    const what = operation === "commit"
      ? `group ${JSON.stringify(target)}`
      : `topic ${JSON.stringify(target)}`;
    throw new SimulatedBrokerError(
      operation,
      target,
      `simulated ${operation} failure on ${what} (injected by ${
        FAULT_METHOD[operation]
      }; ${left} more queued)`,
    );
  }
}
