/**
 * The wire codec: msgpack, the schema-compiled payload codecs and the loom envelope (byte-compatible with
 * the Python original's), the payload types and error payloads they encode, and Kafka's murmur2
 * partitioner. Web-only: loads no Kafka client and no `node:` module (the kafkajs adapter is in
 * `@loom/streaming/runtime`).
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
