/**
 * Typed forms of the configuration sections (the YAML keys are the original's snake_case names;
 * these interfaces use camelCase). Parsing and validation live in `_config.ts`.
 *
 * @module
 */

/** A scalar allowed in `extra` maps (client options passed through by name, e.g. `linger.ms`). */
export type KafkaConfigValue = string | number | boolean;

/** `kafka.*.security`. */
export interface KafkaSecuritySettings {
  readonly protocol: "PLAINTEXT" | "SSL" | "SASL_SSL" | "SASL_PLAINTEXT";
  readonly saslMechanism: string | null;
  readonly saslUsername: string | null;
  readonly saslPassword: string | null;
  readonly sslCaLocation: string | null;
}

/** `kafka.producer` / `kafka.producers.<logical>`. */
export interface ProducerSettings {
  readonly brokers: readonly string[];
  readonly clientId: string | null;
  /** Physical topic; when null the logical name is the topic. */
  readonly topic: string | null;
  readonly security: KafkaSecuritySettings | null;
  readonly extra: Readonly<Record<string, KafkaConfigValue>>;
}

/** `kafka.consumer` / `kafka.consumers.<logical>`. */
export interface ConsumerSettings {
  readonly brokers: readonly string[];
  readonly groupId: string;
  readonly topics: readonly string[];
  readonly autoOffsetReset: "earliest" | "latest";
  readonly pollTimeoutMs: number;
  readonly enableAutoCommit: boolean;
  readonly security: KafkaSecuritySettings | null;
  readonly extra: Readonly<Record<string, KafkaConfigValue>>;
}

/** The `kafka` section. */
export interface KafkaSettings {
  readonly producer: ProducerSettings | null;
  readonly consumer: ConsumerSettings | null;
  readonly producers: Readonly<Record<string, ProducerSettings>>;
  readonly consumers: Readonly<Record<string, ConsumerSettings>>;
}

/** `streaming.runtime` (defaults apply when absent). */
export interface RuntimeSettings {
  readonly workersPerProcess: number;
  readonly processId: number | null;
  readonly addresses: readonly string[] | null;
  readonly epochIntervalMs: number | null;
  readonly forceShutdownTimeoutMs: number | null;
  /** What happens to an error that has no error route: stop the flow (`fail`, default) or log and count it. */
  readonly unroutedErrors: "fail" | "log";
  /** Upper bound of messages held in flight (fetched, not yet committed) before fetching pauses. */
  readonly maxInFlight: number;
  /** Where `deno task run` runs the flow: the embedded in-memory broker (default) or real Kafka. */
  readonly transport: "memory" | "kafka";
  /** Extra delivery attempts of a produce or table write before dead-lettering or failing. */
  readonly deliveryRetries: number;
  /** Backoff before the first retry (doubled each time). */
  readonly retryBackoffMs: number;
}

/** Buffer policy shared by every table sink. */
export interface BufferSettings {
  readonly bufferMaxRecords: number;
  readonly bufferMaxBytes: number;
  readonly bufferMaxAgeS: number;
  readonly flushOnShutdown: boolean;
}

/** `streaming.sinks.<name>` as a raw validated section (backend-specific keys stay in `options`). */
export interface SinkSection extends BufferSettings {
  readonly name: string;
  readonly table: string | null;
  readonly database: string | null;
  readonly url: string | null;
  readonly type: string | null;
  /** The whole section as written (after interpolation). */
  readonly options: Readonly<Record<string, unknown>>;
}
