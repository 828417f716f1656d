/**
 * Typed forms of the configuration sections (the YAML keys are the original's snake_case names;
 * these interfaces use camelCase). Parsing and validation live in `config/`.
 *
 * @module
 */

/**
 * A scalar allowed in `extra` maps (client options passed through by name, e.g. `linger.ms`).
 *
 * @example
 * ```ts
 * import type { KafkaConfigValue } from "@loom/streaming";
 * const extra: Record<string, KafkaConfigValue> = { "compression.type": "gzip", retries: 5 };
 * ```
 */
export type KafkaConfigValue = string | number | boolean;

/**
 * `kafka.*.security`.
 *
 * @example
 * ```ts
 * import type { KafkaSecuritySettings } from "@loom/streaming";
 * const security: KafkaSecuritySettings = {
 *   protocol: "SASL_SSL",
 *   saslMechanism: "SCRAM-SHA-512",
 *   saslUsername: "app",
 *   saslPassword: "secret",
 *   sslCaLocation: null,
 * };
 * ```
 */
export interface KafkaSecuritySettings {
  /** Security protocol. */
  readonly protocol: "PLAINTEXT" | "SSL" | "SASL_SSL" | "SASL_PLAINTEXT";
  /** SASL mechanism (`PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`), or null. */
  readonly saslMechanism: string | null;
  /** SASL user name, or null. */
  readonly saslUsername: string | null;
  /** SASL password, or null. */
  readonly saslPassword: string | null;
  /** Path of the CA certificate file (PEM), or null for the system CAs. */
  readonly sslCaLocation: string | null;
}

/**
 * `kafka.producer` / `kafka.producers.<logical>`.
 *
 * @example
 * ```ts
 * import { ConfigContext, producerFor, readKafkaSettings } from "@loom/streaming";
 * const kafka = readKafkaSettings(ConfigContext.fromObject({ kafka: { producer: { brokers: ["127.0.0.1:9092"] } } }));
 * producerFor(kafka, "orders.out").brokers; // ["127.0.0.1:9092"]
 * ```
 */
export interface ProducerSettings {
  /** Bootstrap brokers (`host:port`). */
  readonly brokers: readonly string[];
  /** Client id, or null for the default. */
  readonly clientId: string | null;
  /** Physical topic; when null the logical name is the topic. */
  readonly topic: string | null;
  /** Security section, or null for plaintext. */
  readonly security: KafkaSecuritySettings | null;
  /** Extra client options by their Kafka name (e.g. `compression.type`). */
  readonly extra: Readonly<Record<string, KafkaConfigValue>>;
}

/**
 * `kafka.consumer` / `kafka.consumers.<logical>`.
 *
 * @example
 * ```ts
 * import { ConfigContext, consumerFor, readKafkaSettings } from "@loom/streaming";
 * const kafka = readKafkaSettings(ConfigContext.fromObject({
 *   kafka: { consumer: { brokers: ["127.0.0.1:9092"], group_id: "orders", topics: ["orders.raw"] } },
 * }));
 * consumerFor(kafka, "orders.raw").autoOffsetReset; // "earliest"
 * ```
 */
export interface ConsumerSettings {
  /** Bootstrap brokers (`host:port`). */
  readonly brokers: readonly string[];
  /** Consumer group id. */
  readonly groupId: string;
  /** Physical topics to subscribe to (empty: the logical name is the topic). */
  readonly topics: readonly string[];
  /** Where to start without a committed offset (default `earliest`). */
  readonly autoOffsetReset: "earliest" | "latest";
  /** How long a fetch waits for data, in ms (default 100). */
  readonly pollTimeoutMs: number;
  /**
   * `enable_auto_commit` as configured (default true); the runtime commits completed offsets itself either way.
   */
  readonly enableAutoCommit: boolean;
  /** Security section, or null for plaintext. */
  readonly security: KafkaSecuritySettings | null;
  /** Extra client options by their Kafka name (e.g. `session.timeout.ms`). */
  readonly extra: Readonly<Record<string, KafkaConfigValue>>;
}

/**
 * The `kafka` section.
 *
 * @example
 * ```ts
 * import { ConfigContext, readKafkaSettings } from "@loom/streaming";
 * const kafka = readKafkaSettings(ConfigContext.fromObject({ kafka: { producer: { brokers: ["127.0.0.1:9092"] } } }));
 * kafka.consumer; // null
 * ```
 */
export interface KafkaSettings {
  /** Default producer (`kafka.producer`), or null. */
  readonly producer: ProducerSettings | null;
  /** Default consumer (`kafka.consumer`), or null. */
  readonly consumer: ConsumerSettings | null;
  /** Producers by logical name (`kafka.producers`). */
  readonly producers: Readonly<Record<string, ProducerSettings>>;
  /** Consumers by logical name (`kafka.consumers`). */
  readonly consumers: Readonly<Record<string, ConsumerSettings>>;
}

/**
 * `streaming.runtime` (defaults apply when absent).
 *
 * @example
 * ```ts
 * import { ConfigContext, readRuntimeSettings } from "@loom/streaming";
 * const runtime = readRuntimeSettings(ConfigContext.fromObject({ streaming: { runtime: { max_in_flight: 500 } } }));
 * runtime.maxInFlight; // 500
 * ```
 */
export interface RuntimeSettings {
  /**
   * Web Workers `run` starts on Kafka, each a consumer in the group (the original's worker threads; default
   * 1: the main thread). `--workers N` overrides it.
   */
  readonly workersPerProcess: number;
  /**
   * `partition_concurrency`: partitions one consumer (each worker) processes at once (default 1: one batch at
   * a time; more overlaps the batches of different partitions, e.g. for flows that wait on I/O).
   */
  readonly partitionConcurrency: number;
  /** Cluster process index, or null (Bytewax clusters only: accepted and ignored, with an info log). */
  readonly processId: number | null;
  /** `host:port` of every cluster process, or null (Bytewax clusters only: accepted and ignored, with an info log). */
  readonly addresses: readonly string[] | null;
  /** Epoch length in ms: settled offsets are committed at most once per epoch (null: every 50 ms tick). */
  readonly epochIntervalMs: number | null;
  /** Deadline of a graceful stop in ms, after which the runner gives up waiting (null: wait forever). */
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
  /** `kafka_client`: the Kafka client adapter of the runner (`platformatic`, the default: @platformatic/kafka, or `kafkajs`). */
  readonly kafkaClient: "platformatic" | "kafkajs";
  /**
   * `heap_limit_mb`: soft limit on the JavaScript heap of each process or worker running a flow on Kafka
   * (default 0: none, the runtime's own sizing). Above it a full collection runs, at most 10 % of the time
   * and only once the heap grew by a quarter beyond the last collection's live heap, so a larger live set
   * is not an error (runtime/_heap_limit.ts). It trades throughput for memory. Not in the original.
   */
  readonly heapLimitMb: number;
  /**
   * What happens to a record whose fate cannot be written — the broker refused one of its outputs, its
   * dead-letter topic and (for error records) its reduced envelope: stop the flow naming the record (`fail`,
   * the default when absent), write the raw input record to {@link RuntimeSettings.deadLetterTopic}
   * (`dead_letter`), or log, count and commit past it (`log_and_skip`).
   */
  readonly onUnwritable?: UnwritablePolicy;
  /** Topic of `on_unwritable: dead_letter` (required with it). */
  readonly deadLetterTopic?: string;
  /**
   * `processing_guarantee` (set only when configured; absent means `at_least_once`). `exactly_once`: each
   * worker writes its outputs and commits its input offsets in one Kafka transaction (KIP-447).
   */
  readonly processingGuarantee?: ProcessingGuarantee;
  /** `transaction_batches`: fetched batches per transaction under `exactly_once` (absent: 1). */
  readonly transactionBatches?: number;
  /** `transactional_id_prefix`: prefix of the workers' transactional ids (absent: the consumer group id). */
  readonly transactionalIdPrefix?: string;
}

/**
 * The values of `streaming.runtime.processing_guarantee`.
 *
 * @example
 * ```ts
 * import type { ProcessingGuarantee } from "@loom/streaming";
 * const guarantee: ProcessingGuarantee = "exactly_once";
 * ```
 */
export type ProcessingGuarantee = "at_least_once" | "exactly_once";

/**
 * The policies of `streaming.runtime.on_unwritable`.
 *
 * @example
 * ```ts
 * import type { UnwritablePolicy } from "@loom/streaming";
 * const policy: UnwritablePolicy = "dead_letter";
 * ```
 */
export type UnwritablePolicy = "fail" | "dead_letter" | "log_and_skip";

/**
 * Buffer policy shared by every table sink.
 *
 * @example
 * ```ts
 * import { type BufferSettings, DEFAULT_BUFFER_SETTINGS } from "@loom/streaming";
 * const buffer: BufferSettings = { ...DEFAULT_BUFFER_SETTINGS, bufferMaxRecords: 1_000 };
 * ```
 */
export interface BufferSettings {
  /** Rows buffered before a flush (default 50000). */
  readonly bufferMaxRecords: number;
  /** Buffered bytes before a flush (default 128 MiB). */
  readonly bufferMaxBytes: number;
  /** Age in seconds of the oldest buffered row before a flush (default 60). */
  readonly bufferMaxAgeS: number;
  /** Whether buffered rows are flushed at shutdown (default true). */
  readonly flushOnShutdown: boolean;
}

/**
 * `streaming.sinks.<name>` as a raw validated section (backend-specific keys stay in `options`).
 *
 * @example
 * ```ts
 * import { ConfigContext, readSinkSection } from "@loom/streaming";
 * const ctx = ConfigContext.fromObject({ streaming: { sinks: { orders: { database: "wh", table: "orders" } } } });
 * readSinkSection(ctx, "orders").table; // "orders"
 * ```
 */
export interface SinkSection extends BufferSettings {
  /** Sink name (the key under `streaming.sinks`). */
  readonly name: string;
  /** Table name, or null. */
  readonly table: string | null;
  /** Database name, or null. */
  readonly database: string | null;
  /** Connection URL, or null. */
  readonly url: string | null;
  /** Backend type, or null. */
  readonly type: string | null;
  /** The whole section as written (after interpolation). */
  readonly options: Readonly<Record<string, unknown>>;
}
