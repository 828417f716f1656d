/**
 * The message-level consumer (reference §4.9 `KafkaMessageConsumer`): decodes the records a
 * {@link ConsumerPort} delivers into typed messages; a record that does not decode is a
 * {@link KafkaDeserializationError} carrying the raw record.
 *
 * @module
 */

import type {
  BatchControl,
  ConsumerPort,
  ConsumerRunOptions,
  RecordBatch,
  SourceRecord,
  TopicPartition,
  TopicPartitionOffset,
} from "../streaming/_transport.ts";
import { decodeEnvelope } from "../kafka/_envelope.ts";
import type { MessageMeta } from "../streaming/_message.ts";
import { payloadCodec } from "../streaming/_wire_codecs.ts";
import type { MessageType } from "../streaming/_type.ts";
import { type Clock, systemClock } from "../streaming/_clock.ts";

/**
 * A decoded record.
 *
 * @example
 * ```ts ignore
 * const m: ConsumedMessage<{ order_id: string }> = messages[0];
 * console.log(m.payload.order_id, m.meta.traceId, m.record.offset);
 * ```
 */
export interface ConsumedMessage<P = unknown> {
  /** The decoded payload. */
  readonly payload: P;
  /** Envelope lineage and type, record coordinates, key and headers (`messageId` = `topic:partition:offset`). */
  readonly meta: MessageMeta;
  /** The raw record. */
  readonly record: SourceRecord;
}

/**
 * A record that is not a valid envelope of the expected type (or a tombstone). Carries the raw record.
 *
 * @example
 * ```ts ignore
 * onDecodeError: (e: KafkaDeserializationError) => console.warn(e.record.topic, e.record.offset, e.message),
 * ```
 */
export class KafkaDeserializationError extends Error {
  /** The record that failed to decode. */
  readonly record: SourceRecord;
  /**
   * Creates the error.
   *
   * @param record The raw record.
   * @param reason Why it failed (the codec's message).
   * @param cause The codec error.
   */
  constructor(record: SourceRecord, reason: string, cause?: unknown) {
    super(
      `cannot decode ${record.topic}[${record.partition}]@${record.offset}: ${reason}`,
      cause === undefined ? undefined : { cause },
    );
    this.name = "KafkaDeserializationError";
    this.record = record;
  }
}

/**
 * Callbacks of {@link KafkaMessageConsumer.run}.
 *
 * @example
 * ```ts ignore
 * const handler: MessageHandler<Order> = { onMessages: async (messages) => console.log(messages.length) };
 * ```
 */
export interface MessageHandler<P> {
  /** The decoded messages of one fetched batch (one partition), in offset order. */
  onMessages(messages: readonly ConsumedMessage<P>[], batch: RecordBatch, ctl: BatchControl): Promise<void>;
  /**
   * A record that did not decode: it is left out of `onMessages`. Without this callback the batch
   * fails (the consumer stops and `onError` gets a consumer error whose cause is the decode error).
   */
  onDecodeError?(error: KafkaDeserializationError): void;
  /** See `ConsumerHandler.onAssigned`. */
  onAssigned?(tps: readonly TopicPartition[]): void;
  /** See `ConsumerHandler.onRevoked`. */
  onRevoked?(tps: readonly TopicPartition[]): Promise<void>;
  /** See `ConsumerHandler.onError`. */
  onError?(error: Error): void;
}

/**
 * Decodes records into messages of one payload type (or dynamically, with `type` null), over either
 * Kafka adapter's consumer. `commit`, `stop` and `disconnect` delegate (errors are not wrapped).
 *
 * @example
 * ```ts ignore
 * import { createKafkaClients, KafkaMessageConsumer } from "@loom/streaming/runtime";
 * const raw = createKafkaClients().consumer(settings);
 * await raw.connect();
 * await raw.subscribe(["orders"], true);
 * const consumer = new KafkaMessageConsumer(raw, Order);
 * await consumer.run({ onMessages: async (messages) => console.log(messages.map((m) => m.payload)) });
 * ```
 */
export class KafkaMessageConsumer<P = unknown> {
  readonly #consumer: ConsumerPort;
  readonly #type: MessageType | null;
  readonly #clock: Clock;

  /**
   * Wraps a consumer port (connected and subscribed by the caller).
   *
   * @param consumer Either Kafka adapter's consumer, or any {@link ConsumerPort}.
   * @param type Payload type, or null for dynamic decoding.
   * @param clock Time for envelopes without `produced_at_ms` (default: the system clock).
   */
  constructor(consumer: ConsumerPort, type: MessageType | null, clock: Clock = systemClock) {
    this.#consumer = consumer;
    this.#type = type;
    this.#clock = clock;
  }

  /**
   * Decodes one record.
   *
   * @param record The record.
   * @returns The message.
   * @throws {KafkaDeserializationError} When the value is a tombstone or not a valid envelope of the type.
   * @example
   * ```ts ignore
   * const m = consumer.decode(record);
   * ```
   */
  decode(record: SourceRecord): ConsumedMessage<P> {
    if (record.value === null) {
      throw new KafkaDeserializationError(record, "the record is a tombstone (null value)");
    }
    let d;
    try {
      d = decodeEnvelope(record.value, payloadCodec(this.#type), this.#clock.now());
    } catch (e) {
      throw new KafkaDeserializationError(record, e instanceof Error ? e.message : String(e), e);
    }
    const h = d.header;
    return {
      payload: d.payload as P,
      meta: {
        messageId: `${record.topic}:${record.partition}:${record.offset}`,
        correlationId: h.correlationId,
        traceId: h.traceId,
        parentTraceId: h.parentTraceId,
        causationId: h.causationId,
        producedAtMs: h.producedAtMs,
        messageType: h.messageType,
        messageVersion: h.messageVersion,
        topic: record.topic,
        partition: record.partition,
        offset: record.offset,
        key: record.key,
        headers: record.headers,
      },
      record,
    };
  }

  /**
   * Runs the consumer with decoding handlers (see `ConsumerPort.run`).
   *
   * @param handler Message, decode-error, assignment, revocation and error callbacks.
   * @param options Concurrency.
   * @returns Resolves after the first group join.
   * @example
   * ```ts ignore
   * await consumer.run({ onMessages: async (ms) => {}, onDecodeError: (e) => console.warn(e.message) });
   * ```
   */
  run(handler: MessageHandler<P>, options?: ConsumerRunOptions): Promise<void> {
    return this.#consumer.run({
      onBatch: (batch, ctl) => {
        const out: ConsumedMessage<P>[] = [];
        for (const r of batch.records) {
          try {
            out.push(this.decode(r));
          } catch (e) {
            if (!(e instanceof KafkaDeserializationError) || handler.onDecodeError === undefined) {
              return Promise.reject(e);
            }
            handler.onDecodeError(e);
          }
        }
        return handler.onMessages(out, batch, ctl);
      },
      onAssigned: handler.onAssigned?.bind(handler),
      onRevoked: handler.onRevoked?.bind(handler),
      onError: handler.onError?.bind(handler),
    }, options);
  }

  /**
   * Commits offsets (delegates).
   *
   * @param offsets Next offsets to read.
   * @returns Resolves once committed.
   * @example
   * ```ts ignore
   * await consumer.commit([{ topic: "orders", partition: 0, offset: 10 }]);
   * ```
   */
  commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    return this.#consumer.commit(offsets);
  }

  /**
   * Stops (delegates).
   *
   * @returns Resolves once stopped.
   * @example
   * ```ts ignore
   * await consumer.stop();
   * ```
   */
  stop(): Promise<void> {
    return this.#consumer.stop();
  }

  /**
   * Disconnects (delegates).
   *
   * @returns Resolves once disconnected.
   * @example
   * ```ts ignore
   * await consumer.disconnect();
   * ```
   */
  disconnect(): Promise<void> {
    return this.#consumer.disconnect();
  }
}
