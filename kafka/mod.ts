/**
 * Kafka transport: the msgpack wire codec (byte-compatible with the Python original's envelope),
 * Kafka's murmur2 partitioner, and the kafkajs client adapter.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { codecOf, decodeEnvelope, encodeEnvelope } from "@loom/streaming/kafka";
 * const codec = codecOf(v.object({ order_id: v.string() }));
 * const bytes = encodeEnvelope({
 *   messageType: "order.created", messageVersion: 1, traceId: null, parentTraceId: null,
 *   correlationId: null, causationId: null, producedAtMs: 1000,
 * }, { order_id: "o-1" }, codec);
 * decodeEnvelope(bytes, codec, 0).payload; // { order_id: "o-1" }
 * ```
 *
 * @module
 */
export * from "./_type.ts";
export type * from "./_message_meta.ts";
export * from "./_error_payloads.ts";
export * from "./_msgpack.ts";
export * from "./_schema_codec.ts";
export * from "./_envelope.ts";
export * from "./_murmur2.ts";
// The kafkajs adapter: its settings mapping (`settingsToKafkaJs`) stays internal so that no kafkajs type
// leaks into the public API.
export {
  type BatchControl,
  consoleKafkaLogger,
  type ConsumerHandler,
  type ConsumerRunOptions,
  type KafkaClientOptions,
  KafkaCommitError,
  KafkaConfigError,
  KafkaConsumerClient,
  KafkaConsumerError,
  type KafkaConsumerPort,
  KafkaDeliveryError,
  type KafkaLogger,
  type KafkaLogLevel,
  type KafkaLogRecord,
  KafkaProducerClient,
  type KafkaProducerPort,
} from "./_client.ts";
