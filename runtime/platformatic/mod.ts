/**
 * The @platformatic/kafka transport: a producer and a group consumer implementing the core's ports,
 * the settings mapping, and an admin helper for tools and tests. Not loaded by the web-only entry
 * points (`@loom/streaming`, `@loom/streaming/kafka`, `@loom/streaming/testing`).
 *
 * @module
 */
export { PlatformaticProducerClient } from "./_producer.ts";
export { PlatformaticConsumerClient } from "./_consumer.ts";
