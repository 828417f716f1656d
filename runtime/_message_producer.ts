/**
 * The message-level producer (reference §4.9 `KafkaMessageProducer`): builds the envelope and the trace
 * headers of a typed payload and sends it through any {@link ProducerPort} (either Kafka adapter).
 *
 * @module
 */

import type { ProducerClientPort, ProducerPort } from "../streaming/_transport.ts";
import type { OutgoingRecord } from "../streaming/_transport.ts";
import { HEADERS } from "../streaming/_wire_headers.ts";
import { encodeSourceValue } from "../streaming/_wire_records.ts";
import type { MessageType } from "../streaming/_type.ts";
import { type Clock, type IdSource, randomIds, systemClock } from "../streaming/_clock.ts";

/**
 * One message to send.
 *
 * @example
 * ```ts ignore
 * const msg: MessageToSend = { topic: "orders", payload: { order_id: "o-1" }, type: Order, key: "o-1" };
 * ```
 */
export interface MessageToSend<P = unknown> {
  /** Physical topic. */
  readonly topic: string;
  /** The payload (encoded with `type`'s schema, or dynamically without one). */
  readonly payload: P;
  /** Payload type: `descriptor.message_type` / `message_version` and the codec; null for dynamic. */
  readonly type?: MessageType | null;
  /** Kafka key (a string is UTF-8 encoded), or null to let the partitioner spread records. */
  readonly key?: Uint8Array | string | null;
  /** Extra Kafka headers (the trace headers below win over them). */
  readonly headers?: Readonly<Record<string, Uint8Array | string>>;
  /** `x-correlation-id` and `meta.correlation_id`. */
  readonly correlationId?: string | null;
  /** `x-causation-id` and `meta.causation_id`. */
  readonly causationId?: string | null;
  /** `x-parent-trace-id` and `meta.parent_trace_id`. */
  readonly parentTraceId?: string | null;
  /** `x-trace-id` and `meta.trace_id` (default: a new 32-hex id). */
  readonly traceId?: string | null;
  /** `meta.produced_at_ms` and the record timestamp (default: now). */
  readonly producedAtMs?: number;
  /** Explicit partition. */
  readonly partition?: number;
}

/**
 * Options of {@link KafkaMessageProducer}.
 *
 * @example
 * ```ts ignore
 * const options: MessageProducerOptions = { clock: systemClock, ids: randomIds };
 * ```
 */
export interface MessageProducerOptions {
  /** Time source of `producedAtMs` (default: the system clock). */
  readonly clock?: Clock;
  /** Source of new trace ids (default: random 32-hex ids). */
  readonly ids?: IdSource;
}

const utf8 = new TextEncoder();
const bytesOf = (v: Uint8Array | string): Uint8Array => (typeof v === "string" ? utf8.encode(v) : v);

interface Pending {
  readonly record: OutgoingRecord;
  readonly resolve: () => void;
  readonly reject: (e: unknown) => void;
}

/**
 * Sends typed messages as envelopes. Sends of the same tick are grouped into one `sendMany` (or one
 * `send` per topic) request round; `send` resolves once its record was acknowledged. A delivery error
 * rejects the `send` calls of its round and is raised once more by the next {@link KafkaMessageProducer.flush}
 * (then cleared), like the original's pending delivery error.
 *
 * @example
 * ```ts ignore
 * import { createKafkaClients, KafkaMessageProducer } from "@loom/streaming/runtime";
 * const raw = createKafkaClients().producer(settings);
 * await raw.connect();
 * const producer = new KafkaMessageProducer(raw);
 * await producer.send({ topic: "orders", payload: { order_id: "o-1" }, type: Order, key: "o-1", correlationId: "c-1" });
 * await producer.close();
 * ```
 */
export class KafkaMessageProducer {
  readonly #producer: ProducerPort | ProducerClientPort;
  readonly #clock: Clock;
  readonly #ids: IdSource;
  #pending = new Map<string, Pending[]>();
  #scheduled = false;
  #inflight = new Set<Promise<void>>();
  #error: unknown = null;

  /**
   * Wraps a producer port (connected by the caller).
   *
   * @param producer Either Kafka adapter's producer, or any {@link ProducerPort}.
   * @param options Clock and id source.
   */
  constructor(producer: ProducerPort | ProducerClientPort, options: MessageProducerOptions = {}) {
    this.#producer = producer;
    this.#clock = options.clock ?? systemClock;
    this.#ids = options.ids ?? randomIds;
  }

  /**
   * Encodes the envelope and queues the record for the next request round of this tick.
   *
   * @param message The message.
   * @returns Resolves once the broker acknowledged the record.
   * @throws {WireEncodeError} (synchronously rejected) when the payload does not fit its type.
   * @example
   * ```ts ignore
   * await producer.send({ topic: "orders", payload: { order_id: "o-1" }, type: Order });
   * ```
   */
  send<P>(message: MessageToSend<P>): Promise<void> {
    let record: OutgoingRecord;
    try {
      record = this.#build(message);
    } catch (e) {
      return Promise.reject(e);
    }
    return new Promise<void>((resolve, reject) => {
      let list = this.#pending.get(message.topic);
      if (list === undefined) this.#pending.set(message.topic, list = []);
      list.push({ record, resolve, reject });
      if (!this.#scheduled) {
        this.#scheduled = true;
        queueMicrotask(() => void this.#round());
      }
    });
  }

  /**
   * Sends what is queued and waits for every outstanding acknowledgement; raises (once) the last delivery
   * error seen since the previous flush.
   *
   * @returns Resolves when everything sent so far was acknowledged.
   * @throws {KafkaDeliveryError} The pending delivery error, if any.
   * @example
   * ```ts ignore
   * await producer.flush();
   * ```
   */
  async flush(): Promise<void> {
    if (this.#pending.size > 0) void this.#round();
    while (this.#inflight.size > 0) await Promise.allSettled([...this.#inflight]);
    const e = this.#error;
    this.#error = null;
    if (e !== null) throw e;
  }

  /**
   * Flushes, then disconnects the producer when it is a client (has `disconnect`).
   *
   * @returns Resolves once flushed and disconnected.
   * @throws {KafkaDeliveryError} The pending delivery error (the producer is disconnected anyway).
   * @example
   * ```ts ignore
   * await producer.close();
   * ```
   */
  async close(): Promise<void> {
    try {
      await this.flush();
    } finally {
      const p = this.#producer as Partial<ProducerClientPort>;
      if (typeof p.disconnect === "function") await p.disconnect();
    }
  }

  #build<P>(m: MessageToSend<P>): OutgoingRecord {
    const producedAtMs = m.producedAtMs ?? this.#clock.now();
    const traceId = m.traceId ?? this.#ids.traceId();
    const value = encodeSourceValue(m.payload, m.type ?? null, {
      traceId,
      parentTraceId: m.parentTraceId ?? null,
      correlationId: m.correlationId ?? null,
      causationId: m.causationId ?? null,
      producedAtMs,
    });
    const headers: Record<string, Uint8Array> = {};
    if (m.headers !== undefined) { for (const name in m.headers) headers[name] = bytesOf(m.headers[name]); }
    if (m.correlationId != null) headers[HEADERS.correlationId] = utf8.encode(m.correlationId);
    if (m.parentTraceId != null) headers[HEADERS.parentTraceId] = utf8.encode(m.parentTraceId);
    if (m.causationId != null) headers[HEADERS.causationId] = utf8.encode(m.causationId);
    headers[HEADERS.traceId] = utf8.encode(traceId);
    const record: OutgoingRecord = {
      key: m.key == null ? null : bytesOf(m.key),
      value,
      headers,
      timestampMs: producedAtMs,
      ...(m.partition === undefined ? {} : { partition: m.partition }),
    };
    return record;
  }

  async #round(): Promise<void> {
    this.#scheduled = false;
    if (this.#pending.size === 0) return;
    const batch = this.#pending;
    this.#pending = new Map();
    const byTopic = new Map<string, OutgoingRecord[]>();
    for (const [topic, list] of batch) byTopic.set(topic, list.map((p) => p.record));
    const p = this.#producer as Partial<ProducerClientPort> & ProducerPort;
    const sending = (async () => {
      if (typeof p.sendMany === "function") await p.sendMany(byTopic);
      else for (const [topic, records] of byTopic) await p.send(topic, records);
    })();
    const tracked = sending.then(
      () => {
        for (const list of batch.values()) for (const q of list) q.resolve();
      },
      (e) => {
        this.#error = e;
        for (const list of batch.values()) for (const q of list) q.reject(e);
      },
    );
    this.#inflight.add(tracked);
    await tracked;
    this.#inflight.delete(tracked);
  }
}
