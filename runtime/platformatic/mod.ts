/**
 * The @platformatic/kafka transport: a producer and a group consumer implementing the core's ports, and
 * an admin helper for tools and tests. Not loaded by the web-only entry points (`@loom/streaming`,
 * `@loom/streaming/kafka`, `@loom/streaming/testing`); re-exported by `@loom/streaming/runtime`.
 *
 * @example
 * ```ts ignore
 * import { PlatformaticProducerClient } from "@loom/streaming/runtime";
 * const producer = new PlatformaticProducerClient({
 *   brokers: ["127.0.0.1:19092"], clientId: "app", topic: null, security: null, extra: { "compression.type": "lz4" },
 * });
 * await producer.connect();
 * ```
 *
 * @module
 */
export { PlatformaticProducerClient } from "./_producer.ts";
export { PlatformaticConsumerClient } from "./_consumer.ts";
export { KafkaAdmin, KafkaAdminError, type PartitionLag, type TopicSpec } from "./_admin.ts";
