/**
 * Configuration: YAML loading (includes, environment interpolation, line-located errors), lax validation,
 * and the typed readers of the `kafka`, `streaming.runtime`, `streaming.sinks.<name>` and binding sections.
 *
 * @module
 */
export { ConfigError, type ConfigErrorOptions, type ConfigLocation, type ConfigPath } from "./_errors.ts";
export { ConfigContext, parseConfig, type ParseConfigOptions } from "./_context.ts";
export { consumerFor, KAFKA_MANAGED_KEYS, producerFor, producerTopic, readKafkaSettings } from "./_kafka.ts";
export { DEFAULT_RUNTIME_SETTINGS, readRuntimeSettings } from "./_runtime.ts";
export { DEFAULT_BUFFER_SETTINGS, readSinkSection } from "./_sinks.ts";
export { bindConfig } from "./_bind.ts";
export { isSecretKey, redactConfig } from "./_redact.ts";
export {
  extraKeyProblem,
  KAFKA_EXTRA_KEYS,
  KAFKA_ROLE_MANAGED_KEYS,
  KAFKA_UNSUPPORTED_EXTRA_KEYS,
  type KafkaRole,
  supportedExtraKeys,
} from "./_kafka_keys.ts";
