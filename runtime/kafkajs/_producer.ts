/**
 * The kafkajs producer adapter: {@link KafkaProducerClient}.
 *
 * @module
 */
import { Kafka, type Message, type Producer } from "kafkajs";
import type { ProducerSettings } from "../../streaming/_settings.ts";
import type { OutgoingRecord, ProducerClientPort } from "../../streaming/_transport.ts";
import { describeError, KafkaDeliveryError } from "./_errors.ts";
import type { KafkaClientOptions } from "./_logger.ts";
import { recordSize, toMessage } from "./_records.ts";
import { type KafkaJsSendOptions, settingsToKafkaJs } from "./_settings.ts";
import { installWarningFilter } from "./_warnings.ts";

/**
 * kafkajs implementation of {@link KafkaProducerPort}: acks = -1 by default, Java-compatible murmur2
 * partitioning of keyed records (`Partitioners.DefaultPartitioner`; an explicit `partition` wins,
 * unkeyed records are spread round-robin), key/value/header bytes passed to kafkajs without copying,
 * headers and timestamps kept. Each `send` / `sendMany` call is ONE kafkajs `sendBatch` request
 * round, unless its records exceed `max.request.size` (default 1 MiB): then it is split into
 * consecutive requests of at most that size, sent one after the other (kafkajs writes one record batch
 * per partition per request, and the broker rejects batches above `message.max.bytes`). kafkajs retries
 * retriable errors (`retries`, `retry.backoff.ms`) before rejecting.
 *
 * @example
 * ```ts
 * import { KafkaProducerClient } from "@loom/streaming/runtime";
 * const producer = new KafkaProducerClient({
 *   brokers: ["127.0.0.1:19092"], clientId: "app", topic: null, security: null, extra: {},
 * });
 * await producer.connect();
 * const bytes = new TextEncoder().encode("hello");
 * await producer.send("greetings", [{ key: null, value: bytes, headers: {}, timestampMs: null }]);
 * await producer.disconnect();
 * ```
 */
export class KafkaProducerClient implements KafkaProducerPort {
  readonly #producer: Producer;
  readonly #send: KafkaJsSendOptions;
  readonly #brokers: string;
  #connected = false;

  /**
   * Builds the kafkajs producer (no connection yet: call `connect()`).
   *
   * @param settings Producer settings (`topic` is not used here: callers pass the topic to `send`).
   * @param options Logger options.
   * @throws {KafkaConfigError} When the settings cannot be mapped onto kafkajs.
   */
  constructor(settings: ProducerSettings, options: KafkaClientOptions = {}) {
    installWarningFilter();
    const cfg = settingsToKafkaJs(settings, options);
    this.#send = cfg.send;
    this.#brokers = settings.brokers.join(",");
    this.#producer = new Kafka(cfg.client).producer(cfg.producer);
  }

  /**
   * Connects to the cluster.
   *
   * @returns Resolves once connected.
   * @throws {KafkaDeliveryError} When no broker could be reached within the retry budget.
   * @example
   * ```ts
   * import type { KafkaProducerClient } from "@loom/streaming/runtime";
   * declare const producer: KafkaProducerClient;
   * await producer.connect();
   * ```
   */
  async connect(): Promise<void> {
    try {
      await this.#producer.connect();
      this.#connected = true;
    } catch (e) {
      throw new KafkaDeliveryError(
        `Kafka producer could not connect to ${this.#brokers}: ${describeError(e)}. ` +
          `Check that the brokers are reachable.`,
        [],
        0,
        e,
      );
    }
  }

  /**
   * Produces `records` to `topic` in one request round (split above `max.request.size`) and waits for
   * the broker acknowledgements.
   *
   * @param topic Physical topic.
   * @param records Records to write (an empty list sends nothing).
   * @returns Resolves once every record was acknowledged.
   * @throws {KafkaDeliveryError} When the broker did not acknowledge; none may be assumed written.
   * @example
   * ```ts
   * import type { KafkaProducerClient } from "@loom/streaming/runtime";
   * declare const producer: KafkaProducerClient;
   * const key = new TextEncoder().encode("o-1");
   * const value = new TextEncoder().encode("{}");
   * await producer.send("orders", [{ key, value, headers: {}, timestampMs: 1700000000000 }]);
   * ```
   */
  async send(topic: string, records: readonly OutgoingRecord[]): Promise<void> {
    const n = records.length;
    if (n === 0) return;
    const limit = this.#send.maxRequestBytes;
    let messages: Message[] = [];
    let bytes = 0;
    let acknowledged = 0;
    for (let i = 0; i < n; i++) {
      const r = records[i];
      const size = recordSize(r);
      if (bytes + size > limit && messages.length > 0) {
        await this.#sendBatch([{ topic, messages }], [topic], n, acknowledged);
        acknowledged += messages.length;
        messages = [];
        bytes = 0;
      }
      messages.push(toMessage(r));
      bytes += size;
    }
    await this.#sendBatch([{ topic, messages }], [topic], n, acknowledged);
  }

  /**
   * Produces several topics' records with one kafkajs `sendBatch` (split above `max.request.size`) and
   * waits for every acknowledgement.
   *
   * @param batches Records per physical topic (empty lists are skipped).
   * @returns Resolves once every record was acknowledged.
   * @throws {KafkaDeliveryError} When the broker did not acknowledge; none may be assumed written.
   * @example
   * ```ts
   * import type { KafkaProducerClient } from "@loom/streaming/runtime";
   * declare const producer: KafkaProducerClient;
   * import type { OutgoingRecord } from "@loom/streaming";
   * declare const recordsA: OutgoingRecord[];
   * declare const recordsB: OutgoingRecord[];
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
    const limit = this.#send.maxRequestBytes;
    let chunk: { topic: string; messages: Message[] }[] = [];
    let count = 0;
    let bytes = 0;
    let acknowledged = 0;
    for (const topic of topics) {
      const records = batches.get(topic)!;
      let messages: Message[] = [];
      chunk.push({ topic, messages });
      for (let i = 0; i < records.length; i++) {
        const r = records[i];
        const size = recordSize(r);
        if (bytes + size > limit && count > 0) {
          await this.#sendBatch(chunk, topics, total, acknowledged);
          acknowledged += count;
          messages = [];
          chunk = [{ topic, messages }];
          count = 0;
          bytes = 0;
        }
        messages.push(toMessage(r));
        count++;
        bytes += size;
      }
    }
    await this.#sendBatch(chunk, topics, total, acknowledged);
  }

  /**
   * Disconnects from the cluster (idempotent).
   *
   * @returns Resolves once disconnected.
   * @example
   * ```ts
   * import type { KafkaProducerClient } from "@loom/streaming/runtime";
   * declare const producer: KafkaProducerClient;
   * await producer.disconnect();
   * ```
   */
  async disconnect(): Promise<void> {
    if (!this.#connected) return;
    this.#connected = false;
    await this.#producer.disconnect();
  }

  /** One kafkajs request round; a failure becomes a KafkaDeliveryError for the whole call. */
  async #sendBatch(
    topicMessages: { topic: string; messages: Message[] }[],
    topics: readonly string[],
    total: number,
    acknowledged: number,
  ): Promise<void> {
    const { acks, timeout, compression } = this.#send;
    if (topicMessages.some((t) => t.messages.length === 0)) {
      topicMessages = topicMessages.filter((t) => t.messages.length > 0);
    }
    try {
      await this.#producer.sendBatch({ topicMessages, acks, timeout, compression });
    } catch (e) {
      const where = topics.length === 1
        ? `topic "${topics[0]}"`
        : `topics ${topics.map((t) => `"${t}"`).join(", ")}`;
      const hint = this.#connected ? "" : " (the producer is not connected: call connect() first)";
      const partial = acknowledged > 0
        ? ` (${acknowledged} of them went out in earlier requests of this call and were acknowledged: ` +
          `a retry writes those twice)`
        : "";
      throw new KafkaDeliveryError(
        `Kafka did not acknowledge a send of ${total} record(s) to ${where} on ${this.#brokers}${hint}: ` +
          `${describeError(e)}. None of them may be assumed written${partial}.`,
        topics,
        total,
        e,
      );
    }
  }
}

/**
 * A connected Kafka producer as the engine sees it (the core's {@link ProducerClientPort}).
 *
 * @example
 * ```ts
 * import type { ProducerSettings } from "@loom/streaming";
 * import { KafkaProducerClient, type KafkaProducerPort } from "@loom/streaming/runtime";
 * declare const settings: ProducerSettings;
 * const producer: KafkaProducerPort = new KafkaProducerClient(settings);
 * ```
 */
export type KafkaProducerPort = ProducerClientPort;
