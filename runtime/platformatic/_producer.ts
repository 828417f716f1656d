/**
 * The @platformatic/kafka producer behind the core's {@link ProducerClientPort}.
 *
 * @module
 */

import type { Buffer } from "node:buffer";
import { type MessageToProduce, Producer } from "./_kafka.ts";
import type { ProducerSettings } from "../../streaming/_settings.ts";
import type { OutgoingRecord, ProducerClientPort, TransactionPort } from "../../streaming/_transport.ts";
import { murmur2, toPositive } from "../../kafka/_murmur2.ts";
import { type KafkaClientOptions, KafkaConfigError } from "../kafkajs/mod.ts";
import { deliveryError, describeError } from "./_errors.ts";
import { type PlatformaticProducerOptions, settingsToPlatformatic } from "./_settings.ts";
import { PlatformaticTransactions } from "./_transactions.ts";
import { ownProduceEncoder, ProduceTap } from "./_produce_request.ts";
import { headerName } from "./_header_names.ts";
import { RecordRun } from "./_record_run.ts";
import { EncodedRecord } from "../../streaming/_encoded_record.ts";

type Message = MessageToProduce<Buffer, Buffer, Buffer, Buffer>;

/**
 * `bytes` as platformatic's Buffer-typed message fields take it, without a Buffer view per piece: the
 * adapter's produce encoder (`_produce_request.ts`) copies any Uint8Array into the request, and
 * platformatic's own (compressed batches) only reads `length` and hands the pieces to `Buffer.concat`,
 * which takes any Uint8Array; the produce round trips of tests/kafka_adapter_conformance_test.ts cover
 * both. A Buffer view per value and header value (five per flow output) cost about 1.5 % of a flow's CPU
 * on Deno.
 */
const asBuffer = (bytes: Uint8Array): Buffer => bytes as Buffer;

/** Bytes a record adds to a record batch, roughly (payload plus ~20 bytes of varints and attributes). */
const recordSize = (r: OutgoingRecord): number => {
  let size = 21 + r.value.byteLength + (r.key === null ? 0 : r.key.byteLength);
  if (r instanceof EncodedRecord) {
    // without building its headers: the forwarded ones and the trace fields (names ≤ 17 ASCII characters)
    const fwd = r.forwarded;
    for (const name in fwd) size += 2 + name.length * 3 + fwd[name].byteLength;
    for (let i = 0; i < 8; i += 2) {
      const s = r.traceSpan(i, false);
      if (s >= 0) size += 19 + r.traceSpan(i, true) - s;
    }
    return size;
  }
  for (const name in r.headers) size += 2 + name.length * 3 + r.headers[name].byteLength;
  return size;
};

/** Where unkeyed records go next: one round-robin per producer, shared by its two placement paths. */
interface RoundRobin {
  next: number;
}

/**
 * Java's default partitioner for keyed records (`toPositive(murmur2(key)) % partitions`; platformatic
 * takes the result modulo the partition count), round-robin for unkeyed ones. platformatic's own default
 * uses `murmur2(key) >>> 0`, which puts about half of the keys on another partition than Java and
 * Python producers do.
 */
const javaPartitioner = (rr: RoundRobin): (message: Message, key: Buffer | undefined) => number => {
  return (_message, key) => javaPlacement(key, rr);
};

/** The Java placement of a key before the modulo (the next round-robin slot without one). */
function javaPlacement(key: Uint8Array | null | undefined, rr: RoundRobin): number {
  if (key !== undefined && key !== null) return toPositive(murmur2(key));
  rr.next = (rr.next + 1) & 0x7fffffff;
  return rr.next;
}

/** The partition of `r` among `count`, exactly as platformatic places the message {@link javaPartitioner} gets. */
const placeRecord = (r: OutgoingRecord, count: number, rr: RoundRobin): number =>
  (r.partition ?? javaPlacement(r.key, rr)) % count;

/** One run message per partition that has records, appended to `messages`. */
function runMessages(
  topic: string,
  byPartition: readonly (EncodedRecord[] | undefined)[],
  messages: Message[],
): void {
  for (let p = 0; p < byPartition.length; p++) {
    const records = byPartition[p];
    if (records !== undefined) {
      messages.push({ topic, partition: p, value: new RecordRun(records) as unknown as Buffer });
    }
  }
}

/**
 * The @platformatic/kafka implementation of {@link ProducerClientPort}: acks = -1 unless `acks` says otherwise
 * (set on every send: platformatic's default is leader-only), Java-compatible murmur2 placement of keyed
 * records (an explicit `partition` wins; unkeyed records go round-robin), header names and values as
 * bytes, timestamps kept, `compression.type` none, gzip, snappy, lz4 or zstd. Each `send` / `sendMany`
 * call is ONE platformatic send (one produce request per partition leader) unless its records exceed
 * `max.request.size` (default 1 MiB): then it is split into consecutive sends of at most that size.
 * Retriable failures are retried (`retries`, `retry.backoff.ms`) before the call rejects with a
 * {@link KafkaDeliveryError} naming the brokers and the cause; `recordSpecific` is true when the broker
 * refused the records themselves (e.g. `MESSAGE_TOO_LARGE`).
 *
 * @example
 * ```ts ignore
 * const producer = new PlatformaticProducerClient({
 *   brokers: ["127.0.0.1:19092"], clientId: "app", topic: null, security: null, extra: {},
 * });
 * await producer.connect();
 * await producer.send("greetings", [{ key: null, value: new TextEncoder().encode("hi"), headers: {}, timestampMs: null }]);
 * await producer.disconnect();
 * ```
 */
export class PlatformaticProducerClient implements ProducerClientPort {
  readonly #producer: Producer<Buffer, Buffer, Buffer, Buffer>;
  readonly #produceTap: ProduceTap;
  readonly #cfg: PlatformaticProducerOptions;
  readonly #brokers: string;
  readonly #roundRobin: RoundRobin = { next: 0 };
  /** Whether engine outputs may go to platformatic as one {@link RecordRun} per partition (see sendMany). */
  readonly #runs: boolean;
  #runSends = 0;
  #connected = false;
  /** Set when built with a transactional id (exactly-once processing). */
  readonly transactions?: TransactionPort;
  readonly #transactions: PlatformaticTransactions | null = null;

  /**
   * Builds the producer (no connection yet: call `connect()`).
   *
   * @param settings Producer settings (`topic` is not used here: callers pass the topic to `send`).
   * @param _options Logger options (platformatic reports through errors; kept for parity with kafkajs).
   * @param transactionalId A transactional id: the producer is idempotent with acks=all and has
   *   {@link PlatformaticProducerClient.transactions}; sends go into the open transaction.
   * @throws {KafkaConfigError} When the settings cannot be mapped.
   */
  constructor(settings: ProducerSettings, _options: KafkaClientOptions = {}, transactionalId?: string) {
    this.#cfg = settingsToPlatformatic(settings);
    this.#brokers = settings.brokers.join(",");
    if (transactionalId !== undefined && this.#cfg.acks !== -1) {
      throw new KafkaConfigError(
        `kafka producer: processing_guarantee: exactly_once needs acks=all (got acks=${this.#cfg.acks}); ` +
          "remove the acks setting of the producer",
        "acks",
      );
    }
    this.#producer = new Producer<Buffer, Buffer, Buffer, Buffer>({
      ...this.#cfg.base,
      acks: this.#cfg.acks,
      compression: this.#cfg.compression,
      idempotent: this.#cfg.idempotent || transactionalId !== undefined,
      partitioner: javaPartitioner(this.#roundRobin),
      // InitProducerId must say "no producer id yet" (-1/-1): platformatic sends 0/0 by default, which
      // the coordinator answers with PRODUCER_FENCED once the transactional id has a producer (a restart)
      ...(transactionalId !== undefined && { transactionalId, producerId: -1n, producerEpoch: -1 }),
    });
    this.#produceTap = new ProduceTap(this.#producer);
    // runs need this encoder (no compression) and a producer whose sequences platformatic does not count
    // per message (no idempotence, no transactions)
    this.#runs = !this.#cfg.idempotent && transactionalId === undefined && this.#cfg.compression === "none";
    if (transactionalId !== undefined) {
      this.transactions = this.#transactions = new PlatformaticTransactions(this.#producer, transactionalId);
    }
    // An 'error' event without a listener would throw; failures reach the callers through their promises.
    this.#producer.on("error", () => {});
  }

  /**
   * How many produce requests the adapter's own encoder wrote (`_produce_request.ts`), how many it left
   * to platformatic's (compressed batches, produce versions it does not know), and how many sends went to
   * platformatic as runs (one message per partition, see `sendMany`).
   *
   * @returns The counts since the producer was built.
   * @example
   * ```ts ignore
   * producer.produceRequests; // { encoded: 12, fallback: 0, retries: 0, runSends: 11 }
   * ```
   */
  get produceRequests(): {
    readonly encoded: number;
    readonly fallback: number;
    readonly retries: number;
    readonly runSends: number;
  } {
    return { ...this.#produceTap.counts, runSends: this.#runSends };
  }

  /**
   * Connects to the cluster (platformatic connects lazily: this asks a broker for its API versions).
   *
   * @returns Resolves once a broker answered.
   * @throws {KafkaDeliveryError} When no broker could be reached within the retry budget.
   * @example
   * ```ts ignore
   * await producer.connect();
   * ```
   */
  async connect(): Promise<void> {
    try {
      await this.#producer.listApis();
      this.#connected = true;
    } catch (e) {
      throw deliveryError(
        `Kafka producer could not connect to ${this.#brokers}: ${describeError(e)}. ` +
          `Check that the brokers are reachable (scripts/kafka.sh ensure starts a local one).`,
        [],
        0,
        e,
      );
    }
  }

  /**
   * Produces `records` to `topic` (split above `max.request.size`) and waits for the acknowledgements.
   *
   * @param topic Physical topic.
   * @param records Records to write (an empty list sends nothing).
   * @returns Resolves once every record was acknowledged.
   * @throws {KafkaDeliveryError} When the broker did not acknowledge; none may be assumed written.
   * @example
   * ```ts ignore
   * await producer.send("orders", [{ key: k, value: v, headers: {}, timestampMs: 1700000000000 }]);
   * ```
   */
  send(topic: string, records: readonly OutgoingRecord[]): Promise<void> {
    if (records.length === 0) return Promise.resolve();
    return this.sendMany(new Map([[topic, records]]));
  }

  /**
   * Produces several topics' records in one send (split above `max.request.size`) and waits for every
   * acknowledgement.
   *
   * @param batches Records per physical topic (empty lists are skipped).
   * @returns Resolves once every record was acknowledged.
   * @throws {KafkaDeliveryError} When the broker did not acknowledge; none may be assumed written.
   * @example
   * ```ts ignore
   * await producer.sendMany(new Map([["a", recordsA], ["b", recordsB]]));
   * ```
   */
  async sendMany(batches: ReadonlyMap<string, readonly OutgoingRecord[]>): Promise<void> {
    const topics: string[] = [];
    let total = 0;
    for (const [topic, records] of batches) {
      if (records.length === 0) continue;
      topics.push(topic);
      total += records.length;
    }
    if (total === 0) return;
    const counts = this.#runCounts(batches, topics);
    if (counts !== null) return this.#sendRuns(batches, topics, counts, total);
    const limit = this.#cfg.maxRequestBytes;
    let messages: Message[] = [];
    let bytes = 0;
    let acknowledged = 0;
    for (const topic of topics) {
      const records = batches.get(topic)!;
      for (let i = 0; i < records.length; i++) {
        const r = records[i];
        const size = recordSize(r);
        if (bytes + size > limit && messages.length > 0) {
          await this.#send(messages, topics, total, acknowledged);
          acknowledged += messages.length;
          messages = [];
          bytes = 0;
        }
        messages.push(this.#toMessage(topic, r));
        bytes += size;
      }
    }
    await this.#send(messages, topics, total, acknowledged);
  }

  /**
   * The partition counts of `topics` when this send may go as runs: the producer allows them, the adapter's
   * encoder is on, every record is an engine output and platformatic already has every topic's metadata
   * (the first send to a topic goes record by record, and fetches it). Else null.
   */
  #runCounts(
    batches: ReadonlyMap<string, readonly OutgoingRecord[]>,
    topics: readonly string[],
  ): number[] | null {
    if (!this.#runs || !ownProduceEncoder.enabled) return null;
    const metadata = this.#producer.currentMetadata as
      | { topics: ReadonlyMap<string, { partitionsCount: number } | undefined> }
      | undefined;
    if (metadata === undefined) return null;
    const counts: number[] = [];
    for (const topic of topics) {
      const count = metadata.topics.get(topic)?.partitionsCount;
      if (count === undefined || count <= 0) return null;
      const records = batches.get(topic)!;
      for (let i = 0; i < records.length; i++) if (!(records[i] instanceof EncodedRecord)) return null;
      counts.push(count);
    }
    return counts;
  }

  /**
   * {@link sendMany} with the records placed here (as platformatic would place them) and handed over as one
   * {@link RecordRun} per partition and request: platformatic's per-message work (two Maps, a message
   * object and a `topic:partition` string each) is then per partition. Requests split at
   * `max.request.size` as in the record-by-record path. If a topic gained partitions since platformatic's
   * metadata was read, its records may land as the old count placed them (Java's producer has the same
   * window); a run stays on one partition.
   */
  async #sendRuns(
    batches: ReadonlyMap<string, readonly OutgoingRecord[]>,
    topics: readonly string[],
    counts: readonly number[],
    total: number,
  ): Promise<void> {
    this.#runSends++;
    const limit = this.#cfg.maxRequestBytes;
    let messages: Message[] = [];
    let bytes = 0;
    let acknowledged = 0;
    let pending = 0; // records in this request's runs
    for (let t = 0; t < topics.length; t++) {
      const topic = topics[t];
      const count = counts[t];
      const records = batches.get(topic)! as readonly EncodedRecord[];
      let byPartition: (EncodedRecord[] | undefined)[] = new Array(count);
      for (let i = 0; i < records.length; i++) {
        const r = records[i];
        const size = recordSize(r);
        if (bytes + size > limit && bytes > 0) {
          runMessages(topic, byPartition, messages);
          await this.#send(messages, topics, total, acknowledged);
          acknowledged += pending;
          messages = [];
          byPartition = new Array(count);
          bytes = 0;
          pending = 0;
        }
        const p = placeRecord(r, count, this.#roundRobin);
        (byPartition[p] ??= []).push(r);
        bytes += size;
        pending++;
      }
      runMessages(topic, byPartition, messages);
    }
    await this.#send(messages, topics, total, acknowledged);
  }

  /**
   * Closes the producer's connections (idempotent).
   *
   * @returns Resolves once closed.
   * @example
   * ```ts ignore
   * await producer.disconnect();
   * ```
   */
  async disconnect(): Promise<void> {
    if (this.#producer.closed) return;
    this.#connected = false;
    await this.#producer.close();
  }

  #toMessage(topic: string, r: OutgoingRecord): Message {
    if (r instanceof EncodedRecord && this.#cfg.compression === "none") {
      // An engine output goes to the produce tap's encoder as it is: it writes the value and the headers
      // straight from the envelope (no header Map or views here, none from platformatic's serializers);
      // a request that goes to platformatic's encoder gets them converted first (_produce_request.ts).
      const m: Message = { topic, value: r as unknown as Buffer };
      if (r.key !== null) m.key = asBuffer(r.key);
      if (r.timestampMs !== null) m.timestamp = r.timestampMs as unknown as bigint;
      return m;
    }
    let headers: Map<Buffer, Buffer> | undefined;
    for (const name in r.headers) {
      if (headers === undefined) headers = new Map();
      headers.set(headerName(name), asBuffer(r.headers[name]));
    }
    const m: Message = { topic, value: asBuffer(r.value) };
    if (r.key !== null) m.key = asBuffer(r.key);
    if (headers !== undefined) m.headers = headers;
    // a number, not platformatic's bigint: the produce tap's encoder takes it as it is, and turns it into
    // a bigint before a request goes to platformatic's encoder (_produce_request.ts)
    if (r.timestampMs !== null) m.timestamp = r.timestampMs as unknown as bigint;
    if (r.partition !== undefined) m.partition = r.partition;
    return m;
  }

  async #send(
    messages: Message[],
    topics: readonly string[],
    total: number,
    acknowledged: number,
  ): Promise<void> {
    try {
      if (this.#transactions === null) await this.#producer.send({ messages, acks: this.#cfg.acks });
      else await this.#transactions.send(messages); // exactly_once: into the open transaction
    } catch (e) {
      const where = topics.length === 1
        ? `topic "${topics[0]}"`
        : `topics ${topics.map((t) => `"${t}"`).join(", ")}`;
      const hint = this.#connected ? "" : " (the producer is not connected: call connect() first)";
      const partial = acknowledged > 0
        ? ` (${acknowledged} of them went out in earlier requests of this call and were acknowledged: ` +
          `a retry writes those twice)`
        : "";
      throw deliveryError(
        `Kafka did not acknowledge a send of ${total} record(s) to ${where} on ${this.#brokers}${hint}: ` +
          `${describeError(e)}. None of them may be assumed written${partial}.`,
        topics,
        total,
        e,
      );
    }
  }
}
