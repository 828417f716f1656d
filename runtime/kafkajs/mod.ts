/**
 * The kafkajs adapter: implements the core's transport ports (`ProducerClientPort`,
 * `ConsumerPort`) with kafkajs 2.2.4 (plain Node-API JavaScript, so it runs on Deno and Bun), and
 * maps the typed Kafka settings onto kafkajs options. `runtime/mod.ts` exports its public names; the
 * settings mapping (`settingsToKafkaJs`) stays internal so that no kafkajs type leaks into the public API.
 *
 * @module
 */
export type { BatchControl, ConsumerHandler, ConsumerRunOptions } from "../../streaming/_transport.ts";
export { KafkaCommitError, KafkaConfigError, KafkaConsumerError, KafkaDeliveryError } from "./_errors.ts";
export {
  consoleKafkaLogger,
  type KafkaClientOptions,
  type KafkaLogger,
  type KafkaLogLevel,
  type KafkaLogRecord,
} from "./_logger.ts";
export {
  type KafkaJsConsumerOptions,
  type KafkaJsProducerOptions,
  type KafkaJsSendOptions,
  settingsToKafkaJs,
} from "./_settings.ts";
export { KafkaProducerClient, type KafkaProducerPort } from "./_producer.ts";
export { KafkaConsumerClient, type KafkaConsumerPort } from "./_consumer.ts";
