/**
 * The in-memory broker's topic storage: topics and their partition logs, validation and placement of
 * produced records (Java-compatible key hashing, round-robin for null keys), fixture appends, fetches and
 * the JSON-able view of the logs. Fault injection, consumer groups and the public API live in
 * `_broker_faults.ts`, `_broker_groups.ts` and `_broker.ts`.
 *
 * @module
 */
import { type Clock, VirtualClock } from "../streaming/_clock.ts";
import type { OutgoingRecord, SourceRecord } from "../streaming/_transport.ts";
import { partitionForKey } from "../kafka/_murmur2.ts";
import { bytesToBase64 } from "./_base64.ts";
import {
  type AppendRecord,
  type CreateTopicOptions,
  InMemoryBrokerError,
  type InMemoryBrokerOptions,
  SimulatedBrokerError,
  type SnapshotPartition,
  type StagedWrite,
} from "./_broker_types.ts";

/** One partition: its records in offset order and the offset the next record gets. */
export interface PartitionLog {
  /** Stored records (frozen), offsets increasing (gaps allowed). */
  readonly records: SourceRecord[];
  /** The end offset. */
  next: number;
}

/** One topic: its partitions, the round-robin position for null keys and its record size limit. */
export interface TopicState {
  /** Partition logs, by partition number. */
  readonly partitions: PartitionLog[];
  /** How many null-key records were placed round-robin so far. */
  roundRobin: number;
  /** Largest record (key + value bytes) accepted. */
  maxMessageBytes: number;
}

/** A validated produce request: where each record goes, with its copied headers. */
export interface PreparedWrite {
  /** Topic of the request. */
  readonly topic: string;
  /** The topic's state. */
  readonly state: TopicState;
  /** The records as given. */
  readonly records: readonly OutgoingRecord[];
  /** Partition of each record. */
  readonly targets: readonly number[];
  /** Copied headers of each record. */
  readonly headers: readonly Readonly<Record<string, Uint8Array>>[];
}

const PREPARED = Symbol("prepared");

/**
 * Wraps a prepared request as a {@link StagedWrite} for a transaction.
 *
 * @param prepared the validated request
 * @returns the staged write (frozen)
 */
export function stagedWrite(prepared: PreparedWrite): StagedWrite {
  return Object.freeze({ topic: prepared.topic, [PREPARED]: prepared }) as StagedWrite;
}

/**
 * The prepared request of a staged write.
 *
 * @param write a staged write
 * @returns its prepared request, or `undefined` if `write` was not made by {@link stagedWrite}
 */
export function preparedWrite(write: StagedWrite): PreparedWrite | undefined {
  return (write as unknown as { [PREPARED]: PreparedWrite })[PREPARED];
}

const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

/**
 * Whether `v` is a safe integer >= 0 (offsets, partitions, timestamps, fault counts).
 *
 * @param v the value
 * @returns whether it is a non-negative safe integer
 */
export function isNonNegativeInt(v: unknown): v is number {
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

/** The topics of an {@link InMemoryBroker}; its public methods document the behaviour. */
export class BrokerLog {
  readonly #clock: Clock;
  readonly #defaultPartitions: number;
  readonly #autoCreate: boolean;
  readonly #sends = new Map<string, number>();
  readonly #topics = new Map<string, TopicState>();

  /**
   * Creates empty storage.
   *
   * @param options clock, default partition count and auto-creation
   */
  constructor(options: InMemoryBrokerOptions) {
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

  /**
   * See {@link InMemoryBroker.createTopic}.
   *
   * @param name topic name
   * @param options partition count and record size limit
   */
  createTopic(name: string, options: CreateTopicOptions): void {
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
   */
  topics(): string[] {
    return [...this.#topics.keys()].sort();
  }

  /**
   * Whether the topic exists.
   *
   * @param name topic name
   * @returns whether it exists
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
   */
  partitions(topic: string): number {
    return this.#topic(topic, "partitions").partitions.length;
  }

  /**
   * Validates a produce request as {@link InMemoryBroker.produce} does (after its injected send failures)
   * without writing it: a transaction's records wait until {@link InMemoryBroker.commitTransaction}.
   *
   * @param topic topic name
   * @param records records to write
   * @returns the validated request, for {@link BrokerLog.write}
   */
  prepare(topic: string, records: readonly OutgoingRecord[]): PreparedWrite {
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

  /**
   * Writes a prepared request (one produce request of the topic).
   *
   * @param w the request
   * @returns the stored records, in input order
   */
  write(w: PreparedWrite): SourceRecord[] {
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
   * See {@link InMemoryBroker.append}.
   *
   * @param record the record
   * @returns the stored record
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
   * How many produce requests a topic received.
   *
   * @param topic topic name
   * @returns the number of writes (0 for an unknown topic)
   */
  sends(topic: string): number {
    return this.#sends.get(topic) ?? 0;
  }

  /**
   * See {@link InMemoryBroker.fetch} (after its injected fetch failures).
   *
   * @param topic topic name
   * @param partition partition
   * @param fromOffset first offset wanted
   * @param maxRecords maximum number of records
   * @returns the records
   */
  fetch(topic: string, partition: number, fromOffset: number, maxRecords: number): SourceRecord[] {
    const log = this.partition(topic, partition, "fetch");
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
   * All records of a topic, ordered by partition then offset.
   *
   * @param topic topic name
   * @returns the records (a new array)
   * @throws {InMemoryBrokerError} for an unknown topic
   */
  records(topic: string): SourceRecord[] {
    const out: SourceRecord[] = [];
    for (const log of this.#topic(topic, "records").partitions) {
      for (const r of log.records) out.push(r);
    }
    return out;
  }

  /**
   * A plain JSON-able view of every topic (sorted by name; partitions in order; bytes as base64).
   *
   * @returns the topics part of {@link InMemoryBroker.snapshot}
   */
  snapshot(): Record<string, SnapshotPartition[]> {
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
    return topics;
  }

  /**
   * The log of one partition.
   *
   * @param topic topic name
   * @param partition partition
   * @param where the operation, for error messages
   * @returns the partition's log
   * @throws {InMemoryBrokerError} for an unknown topic/partition
   */
  partition(topic: string, partition: number, where: string): PartitionLog {
    const state = this.#topic(topic, where);
    this.#checkPartition(topic, state, partition, where);
    return state.partitions[partition];
  }

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

  #checkTimestamp(ts: number | null | undefined, where: string): void {
    if (ts !== null && ts !== undefined && !isNonNegativeInt(ts)) {
      throw new InMemoryBrokerError(
        `${where}: timestampMs must be a non-negative integer (ms since the epoch) or null, got ${
          String(ts)
        }`,
      );
    }
  }
}
