/**
 * The kafkajs transport: maps the typed Kafka settings onto kafkajs options and wraps a kafkajs
 * producer and consumer behind the small ports the engine uses. Runs on Deno and Bun (kafkajs 2.2.4 is
 * plain Node-API JavaScript).
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { readFileSync } from "node:fs";
import process from "node:process";
import {
  CompressionTypes,
  type Consumer,
  type ConsumerConfig,
  type EachBatchPayload,
  type IHeaders,
  Kafka,
  type KafkaConfig,
  type KafkaMessage,
  type LogEntry,
  logLevel as KafkaJsLogLevel,
  type Message,
  type PartitionAssigner,
  PartitionAssigners,
  Partitioners,
  type Producer,
  type ProducerConfig,
  type RetryOptions,
  type SASLOptions,
} from "kafkajs";
import type {
  ConsumerSettings,
  KafkaConfigValue,
  KafkaSecuritySettings,
  ProducerSettings,
} from "../streaming/_settings.ts";
import type {
  BatchControl,
  ConsumerHandler,
  ConsumerPort,
  ConsumerRunOptions,
  OutgoingRecord,
  ProducerClientPort,
  RecordBatch,
  SourceRecord,
  TopicPartition,
  TopicPartitionOffset,
} from "../streaming/_transport.ts";

// kafkajs 2.2.4's request queue schedules `setTimeout(check, throttledUntil - Date.now())` with
// throttledUntil = 0 when it is not throttled; the runtime clamps the delay to 1 ms (which is what kafkajs
// means) but prints a TimeoutNegativeWarning on every client. Only that warning is dropped.
{
  const emit = process.emitWarning;
  if (!(emit as { loomFiltered?: boolean }).loomFiltered) {
    const filtered = function (this: unknown, warning: string | Error, ...rest: unknown[]): void {
      const name = typeof warning === "string" ? rest[0] : warning?.name;
      if (
        name === "TimeoutNegativeWarning" ||
        (typeof rest[0] === "object" && (rest[0] as { type?: string })?.type === "TimeoutNegativeWarning")
      ) return;
      (emit as (...a: unknown[]) => void).call(process, warning, ...rest);
    };
    (filtered as { loomFiltered?: boolean }).loomFiltered = true;
    process.emitWarning = filtered as typeof process.emitWarning;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------------------

/**
 * The Kafka settings cannot be mapped onto kafkajs (unknown or unsupported `extra` key, bad value,
 * incomplete security section). Raised when a client is built.
 *
 * @example
 * ```ts ignore
 * import { KafkaConfigError, KafkaProducerClient } from "@loom/streaming/kafka";
 * try {
 *   new KafkaProducerClient({
 *     brokers: ["127.0.0.1:9092"], clientId: null, topic: null, security: null, extra: { "linger.ms": 5 },
 *   });
 * } catch (e) {
 *   if (e instanceof KafkaConfigError) console.error(e.message);
 * }
 * ```
 */
export class KafkaConfigError extends Error {
  /** The offending configuration key (`extra` key or settings field), when there is one. */
  readonly key: string | null;
  /**
   * Creates the error.
   *
   * @param message What is wrong and how to fix it.
   * @param key The offending key, when there is one.
   */
  constructor(message: string, key: string | null = null) {
    super(message);
    this.name = "KafkaConfigError";
    this.key = key;
  }
}

/**
 * The broker did not acknowledge a send (or the producer could not connect): none of the records of
 * the failed call may be assumed written. `cause` holds the kafkajs error.
 *
 * @example
 * ```ts ignore
 * try {
 *   await producer.send("orders", records);
 * } catch (e) {
 *   if (e instanceof KafkaDeliveryError) console.error(e.topics, e.recordCount, e.cause);
 * }
 * ```
 */
export class KafkaDeliveryError extends Error {
  /** The topics of the failed call (empty for a connection failure). */
  readonly topics: readonly string[];
  /** How many records the failed call carried. */
  readonly recordCount: number;
  /**
   * Creates the error.
   *
   * @param message What failed.
   * @param topics The topics of the failed call.
   * @param recordCount How many records the failed call carried.
   * @param cause The underlying kafkajs error.
   */
  constructor(message: string, topics: readonly string[], recordCount: number, cause: unknown) {
    super(message, { cause });
    this.name = "KafkaDeliveryError";
    this.topics = topics;
    this.recordCount = recordCount;
    this.recordSpecific = refusesRecords(cause);
  }
  /**
   * The broker refused the records' content (too large, invalid, bad timestamp), not the connection:
   * a send without the offending records may succeed (see `ProducerPort.send`).
   */
  readonly recordSpecific: boolean;
}

/** Kafka error types that reject the records of a produce request rather than the request. */
const RECORD_ERRORS: ReadonlySet<string> = new Set([
  "MESSAGE_TOO_LARGE",
  "RECORD_LIST_TOO_LARGE",
  "INVALID_RECORD",
  "CORRUPT_MESSAGE",
  "INVALID_TIMESTAMP",
]);

function refusesRecords(e: unknown, depth = 0): boolean {
  if (typeof e !== "object" || e === null || depth > 5) return false;
  const x = e as { type?: unknown; cause?: unknown; errors?: unknown };
  if (typeof x.type === "string" && RECORD_ERRORS.has(x.type)) return true;
  if (Array.isArray(x.errors) && x.errors.length > 0) {
    return x.errors.every((c) => refusesRecords(c, depth + 1));
  }
  return refusesRecords(x.cause, depth + 1);
}

/**
 * The consumer failed: it could not connect or join its group, it crashed (broker gone, retries
 * exhausted), or a handler threw. After an asynchronous failure (reported through
 * {@link ConsumerHandler.onError}) the consumer is stopped and its partitions are lost.
 *
 * @example
 * ```ts ignore
 * await consumer.run({
 *   onBatch: async (batch) => {},
 *   onError: (e: KafkaConsumerError) => console.error(e.message, e.cause),
 * });
 * ```
 */
export class KafkaConsumerError extends Error {
  /** The consumer group of the failing consumer. */
  readonly groupId: string;
  /**
   * Creates the error.
   *
   * @param message What failed.
   * @param groupId The consumer group.
   * @param cause The underlying error.
   */
  constructor(message: string, groupId: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = "KafkaConsumerError";
    this.groupId = groupId;
  }
}

/**
 * An offset commit failed or could not be attempted: the offsets were NOT committed.
 *
 * @example
 * ```ts ignore
 * try {
 *   await consumer.commit([{ topic: "orders", partition: 0, offset: 42 }]);
 * } catch (e) {
 *   if (e instanceof KafkaCommitError) console.error(e.offsets, e.cause);
 * }
 * ```
 */
export class KafkaCommitError extends KafkaConsumerError {
  /** The offsets that were not committed. */
  readonly offsets: readonly TopicPartitionOffset[];
  /**
   * Creates the error.
   *
   * @param message What failed.
   * @param groupId The consumer group.
   * @param offsets The offsets that were not committed.
   * @param cause The underlying error, if any.
   */
  constructor(message: string, groupId: string, offsets: readonly TopicPartitionOffset[], cause?: unknown) {
    super(message, groupId, cause);
    this.name = "KafkaCommitError";
    this.offsets = offsets;
  }
}

// ---------------------------------------------------------------------------------------------------------
// Logging
// ---------------------------------------------------------------------------------------------------------

/**
 * kafkajs log levels, least to most verbose.
 *
 * @example
 * ```ts ignore
 * const level: KafkaLogLevel = "warn";
 * ```
 */
export type KafkaLogLevel = "nothing" | "error" | "warn" | "info" | "debug";

/**
 * One kafkajs log line.
 *
 * @example
 * ```ts ignore
 * const line: KafkaLogRecord = { level: "warn", namespace: "Runner", message: "rebalancing", fields: {} };
 * ```
 */
export interface KafkaLogRecord {
  /** Severity. */
  readonly level: "error" | "warn" | "info" | "debug";
  /** kafkajs component, e.g. `Consumer`, `Runner`, `BrokerPool`. */
  readonly namespace: string;
  /** The log message. */
  readonly message: string;
  /** kafkajs structured fields (groupId, error, retryCount, ...); `timestamp` and `logger` removed. */
  readonly fields: Readonly<Record<string, unknown>>;
}

/**
 * Receives kafkajs log lines at or above the configured level.
 *
 * @example
 * ```ts ignore
 * const logger: KafkaLogger = (r) => console.log(r.level, r.namespace, r.message);
 * ```
 */
export type KafkaLogger = (record: KafkaLogRecord) => void;

/**
 * Options shared by the producer and consumer clients.
 *
 * @example
 * ```ts ignore
 * const options: KafkaClientOptions = { logLevel: "error", logger: (r) => console.error(r.message) };
 * ```
 */
export interface KafkaClientOptions {
  /** Where kafkajs logs go (default: one compact line per entry on `console.error`). */
  readonly logger?: KafkaLogger;
  /** Minimum level passed to the logger (default `warn`: kafkajs is very noisy at `info`). */
  readonly logLevel?: KafkaLogLevel;
}

const LOG_LEVEL_NUMBER: Readonly<Record<KafkaLogLevel, number>> = {
  nothing: KafkaJsLogLevel.NOTHING,
  error: KafkaJsLogLevel.ERROR,
  warn: KafkaJsLogLevel.WARN,
  info: KafkaJsLogLevel.INFO,
  debug: KafkaJsLogLevel.DEBUG,
};

const compactValue = (value: unknown): string => {
  if (typeof value === "string") return /[\s"=]/.test(value) ? JSON.stringify(value) : value;
  if (typeof value === "number" || typeof value === "boolean" || value == null) return String(value);
  if (value instanceof Error) return JSON.stringify(`${value.name}: ${value.message}`);
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
};

/**
 * The default kafkajs logger: one line per entry on `console.error`, e.g.
 * `kafkajs WARN [Runner] The group is rebalancing, re-joining groupId=g1 error="..."` (stacks omitted).
 *
 * @example
 * ```ts ignore
 * consoleKafkaLogger({ level: "warn", namespace: "Runner", message: "rebalancing", fields: { groupId: "g" } });
 * ```
 */
export const consoleKafkaLogger: KafkaLogger = (record: KafkaLogRecord): void => {
  let line = `kafkajs ${record.level.toUpperCase()} [${record.namespace}] ${record.message}`;
  for (const key in record.fields) {
    if (key === "stack") continue;
    line += ` ${key}=${compactValue(record.fields[key])}`;
  }
  console.error(line.replace(/\s*\n\s*/g, " "));
};

const LEVEL_NAMES: Readonly<Record<number, KafkaLogRecord["level"]>> = {
  [KafkaJsLogLevel.ERROR]: "error",
  [KafkaJsLogLevel.WARN]: "warn",
  [KafkaJsLogLevel.INFO]: "info",
  [KafkaJsLogLevel.DEBUG]: "debug",
};

/**
 * kafkajs logs every protocol error response at ERROR in its `Connection` namespace ("Response
 * Metadata(...) error=..."), even when it then retries successfully; the error that matters reaches the
 * caller anyway. Those lines are demoted to `info`.
 */
const makeLogCreator = (logger: KafkaLogger, threshold: number) => () => (entry: LogEntry): void => {
  const { timestamp: _t, logger: _l, message, ...fields } = entry.log;
  const text = String(message);
  let level = entry.level;
  if (level === KafkaJsLogLevel.ERROR && entry.namespace === "Connection" && text.startsWith("Response ")) {
    level = KafkaJsLogLevel.INFO;
    if (level > threshold) return;
  }
  logger({
    level: LEVEL_NAMES[level] ?? "info",
    namespace: entry.namespace || "kafkajs",
    message: text,
    fields,
  });
};

// ---------------------------------------------------------------------------------------------------------
// Settings → kafkajs options
// ---------------------------------------------------------------------------------------------------------

/**
 * Producer-side send options (per call).
 *
 * @example
 * ```ts ignore
 * const { send } = settingsToKafkaJs(producerSettings);
 * console.log(send.acks, send.maxRequestBytes);
 * ```
 */
export interface KafkaJsSendOptions {
  /** -1 (all in-sync replicas, default), 0 or 1. */
  readonly acks: -1 | 0 | 1;
  /** Broker-side ack timeout in ms (`request.timeout.ms`), kafkajs default when undefined. */
  readonly timeout: number | undefined;
  /** `CompressionTypes.None` or `CompressionTypes.GZIP`. */
  readonly compression: CompressionTypes;
  /**
   * Upper bound of the uncompressed record bytes per kafkajs request (`max.request.size`, default
   * 1 MiB): kafkajs writes all of a request's records for one partition as ONE record batch, which the
   * broker rejects above its `message.max.bytes` (1 MiB by default).
   */
  readonly maxRequestBytes: number;
}

/**
 * kafkajs options for a producer, from {@link settingsToKafkaJs}.
 *
 * @example
 * ```ts ignore
 * const cfg: KafkaJsProducerOptions = settingsToKafkaJs(producerSettings);
 * const producer = new Kafka(cfg.client).producer(cfg.producer);
 * ```
 */
export interface KafkaJsProducerOptions {
  /** Discriminant. */
  readonly kind: "producer";
  /** Options of the kafkajs `Kafka` client. */
  readonly client: KafkaConfig;
  /** Options of `kafka.producer()`. */
  readonly producer: ProducerConfig;
  /** Options of every send. */
  readonly send: KafkaJsSendOptions;
}

/**
 * kafkajs options for a consumer, from {@link settingsToKafkaJs}.
 *
 * @example
 * ```ts ignore
 * const cfg: KafkaJsConsumerOptions = settingsToKafkaJs(consumerSettings);
 * console.log(cfg.consumer.groupId, cfg.fromBeginning);
 * ```
 */
export interface KafkaJsConsumerOptions {
  /** Discriminant. */
  readonly kind: "consumer";
  /** Options of the kafkajs `Kafka` client. */
  readonly client: KafkaConfig;
  /** Always without `partitionAssigners` (the consumer client installs its own). */
  readonly consumer: ConsumerConfig;
  /** The settings' topics. */
  readonly topics: readonly string[];
  /** `autoOffsetReset === "earliest"`. */
  readonly fromBeginning: boolean;
  /** The settings' `enableAutoCommit`, for the engine (the kafkajs consumer itself never auto-commits). */
  readonly enableAutoCommit: boolean;
}

type Role = "producer" | "consumer";

interface Draft {
  client: KafkaConfig & { retry: RetryOptions };
  producer: ProducerConfig;
  consumer: ConsumerConfig;
  acks: -1 | 0 | 1;
  timeout: number | undefined;
  compression: CompressionTypes;
  maxRequestBytes: number;
}

interface ExtraKey {
  readonly roles: readonly Role[];
  readonly apply: (draft: Draft, value: KafkaConfigValue, key: string, role: Role) => void;
}

const asInt = (key: string, value: KafkaConfigValue, min = 0): number => {
  const n = typeof value === "number" ? value : typeof value === "string" ? Number(value.trim()) : NaN;
  if (!Number.isInteger(n) || n < min || (typeof value === "string" && value.trim() === "")) {
    throw new KafkaConfigError(
      `kafka extra "${key}" must be an integer >= ${min}, got ${JSON.stringify(value)}`,
      key,
    );
  }
  return n;
};

const asBool = (key: string, value: KafkaConfigValue): boolean => {
  if (typeof value === "boolean") return value;
  const s = String(value).trim().toLowerCase();
  if (s === "true") return true;
  if (s === "false") return false;
  throw new KafkaConfigError(`kafka extra "${key}" must be true or false, got ${JSON.stringify(value)}`, key);
};

const parseAcks = (key: string, value: KafkaConfigValue): -1 | 0 | 1 => {
  const s = String(value).trim().toLowerCase();
  if (s === "all" || s === "-1") return -1;
  if (s === "0") return 0;
  if (s === "1") return 1;
  throw new KafkaConfigError(
    `kafka extra "${key}" must be all, -1, 0 or 1, got ${JSON.stringify(value)}`,
    key,
  );
};

const parseCompression = (key: string, value: KafkaConfigValue): CompressionTypes => {
  const s = String(value).trim().toLowerCase();
  if (s === "none") return CompressionTypes.None;
  if (s === "gzip") return CompressionTypes.GZIP;
  if (s === "snappy" || s === "lz4" || s === "zstd") {
    throw new KafkaConfigError(
      `kafka extra "${key}"=${s} is not supported: kafkajs 2.2.4 only bundles gzip (use "gzip" or "none"; ` +
        `consumers still read ${s} only if a codec is registered in kafkajs CompressionCodecs)`,
      key,
    );
  }
  throw new KafkaConfigError(`kafka extra "${key}" must be none or gzip, got ${JSON.stringify(value)}`, key);
};

const BOTH: readonly Role[] = ["producer", "consumer"];
const PRODUCER: readonly Role[] = ["producer"];
const CONSUMER: readonly Role[] = ["consumer"];

const setMetadataMaxAge = (d: Draft, v: KafkaConfigValue, k: string, role: Role): void => {
  if (role === "producer") d.producer.metadataMaxAge = asInt(k, v);
  else d.consumer.metadataMaxAge = asInt(k, v);
};
const setAutoCreate = (d: Draft, v: KafkaConfigValue, k: string, role: Role): void => {
  if (role === "producer") d.producer.allowAutoTopicCreation = asBool(k, v);
  else d.consumer.allowAutoTopicCreation = asBool(k, v);
};
const setMaxInFlight = (d: Draft, v: KafkaConfigValue, k: string, role: Role): void => {
  if (role === "producer") d.producer.maxInFlightRequests = asInt(k, v, 1);
  else d.consumer.maxInFlightRequests = asInt(k, v, 1);
};
const setAcks = (d: Draft, v: KafkaConfigValue, k: string): void => {
  d.acks = parseAcks(k, v);
};
const setCompression = (d: Draft, v: KafkaConfigValue, k: string): void => {
  d.compression = parseCompression(k, v);
};
const setRetries = (d: Draft, v: KafkaConfigValue, k: string): void => {
  d.client.retry.retries = asInt(k, v);
};
/** An `extra` key that sets one integer field of the kafkajs consumer config (at least `min`). */
const consumerInt = (
  field:
    | "sessionTimeout"
    | "heartbeatInterval"
    | "rebalanceTimeout"
    | "minBytes"
    | "maxBytes"
    | "maxWaitTimeInMs"
    | "maxBytesPerPartition",
  min = 1,
): ExtraKey => ({
  roles: CONSUMER,
  apply: (d, v, k) => {
    d.consumer[field] = asInt(k, v, min);
  },
});

/** `extra` keys with a kafkajs equivalent (Java names, plus a few librdkafka aliases). */
const EXTRA_KEYS: Readonly<Record<string, ExtraKey>> = {
  "request.timeout.ms": {
    roles: BOTH,
    apply: (d, v, k) => {
      d.client.requestTimeout = asInt(k, v, 1);
      d.timeout = d.client.requestTimeout;
    },
  },
  "socket.connection.setup.timeout.ms": {
    roles: BOTH,
    apply: (d, v, k) => {
      d.client.connectionTimeout = asInt(k, v, 1);
    },
  },
  "retries": { roles: BOTH, apply: setRetries },
  "message.send.max.retries": { roles: PRODUCER, apply: setRetries },
  "retry.backoff.ms": {
    roles: BOTH,
    apply: (d, v, k) => {
      d.client.retry.initialRetryTime = asInt(k, v, 1);
    },
  },
  "retry.backoff.max.ms": {
    roles: BOTH,
    apply: (d, v, k) => {
      d.client.retry.maxRetryTime = asInt(k, v, 1);
    },
  },
  "metadata.max.age.ms": { roles: BOTH, apply: setMetadataMaxAge },
  "allow.auto.create.topics": { roles: BOTH, apply: setAutoCreate },
  "max.in.flight.requests.per.connection": { roles: BOTH, apply: setMaxInFlight },
  "acks": { roles: PRODUCER, apply: setAcks },
  "request.required.acks": { roles: PRODUCER, apply: setAcks },
  "compression.type": { roles: PRODUCER, apply: setCompression },
  "compression.codec": { roles: PRODUCER, apply: setCompression },
  "max.request.size": {
    roles: PRODUCER,
    apply: (d, v, k) => {
      d.maxRequestBytes = asInt(k, v, 1024);
    },
  },
  "enable.idempotence": {
    roles: PRODUCER,
    apply: (d, v, k) => {
      d.producer.idempotent = asBool(k, v);
    },
  },
  "client.id": {
    roles: CONSUMER,
    apply: (d, v) => {
      d.client.clientId = String(v);
    },
  },
  "session.timeout.ms": consumerInt("sessionTimeout"),
  "heartbeat.interval.ms": consumerInt("heartbeatInterval"),
  "max.poll.interval.ms": consumerInt("rebalanceTimeout"),
  "fetch.min.bytes": consumerInt("minBytes"),
  "fetch.max.bytes": consumerInt("maxBytes"),
  "fetch.max.wait.ms": consumerInt("maxWaitTimeInMs", 0),
  "fetch.wait.max.ms": consumerInt("maxWaitTimeInMs", 0),
  "max.partition.fetch.bytes": consumerInt("maxBytesPerPartition"),
  "fetch.message.max.bytes": consumerInt("maxBytesPerPartition"),
  "isolation.level": {
    roles: CONSUMER,
    apply: (d, v, k) => {
      const s = String(v).trim().toLowerCase();
      if (s !== "read_committed" && s !== "read_uncommitted") {
        throw new KafkaConfigError(
          `kafka extra "${k}" must be read_committed or read_uncommitted, got ${JSON.stringify(v)}`,
          k,
        );
      }
      d.consumer.readUncommitted = s === "read_uncommitted";
    },
  },
  "client.rack": {
    roles: CONSUMER,
    apply: (d, v) => {
      d.consumer.rackId = String(v);
    },
  },
};

/** Well-known client keys kafkajs cannot honour, with the reason given in the error. */
const UNSUPPORTED_KEYS: Readonly<Record<string, string>> = {
  "linger.ms": "kafkajs sends each call as its own request; the engine already sends one request per " +
    "processed batch",
  "queue.buffering.max.ms": "kafkajs has no client-side send queue; the engine batches per processed batch",
  "batch.size": "kafkajs has no client-side batching; the engine sends one request per processed batch",
  "batch.num.messages":
    "kafkajs has no client-side batching; the engine sends one request per processed batch",
  "buffer.memory": "kafkajs has no client-side send buffer",
  "delivery.timeout.ms": "kafkajs has no delivery timeout; bound a send with request.timeout.ms and retries",
  "message.timeout.ms": "kafkajs has no delivery timeout; bound a send with request.timeout.ms and retries",
  "transactional.id": "transactions are not used by the kafkajs transport",
  "connections.max.idle.ms": "kafkajs does not close idle connections",
  "enable.auto.offset.store": "offsets are stored and committed by the engine",
  "auto.commit.interval.ms": "the kafkajs consumer never auto-commits; the engine commits",
  "partition.assignment.strategy": "the kafkajs transport always uses kafkajs's round-robin assigner",
  "group.instance.id": "kafkajs does not support static group membership",
  "group.protocol": "kafkajs only speaks the classic consumer group protocol",
  "key.serializer": "keys are bytes; serialisation is done by the engine",
  "value.serializer": "values are bytes; serialisation is done by the engine",
  "key.deserializer": "keys are bytes; deserialisation is done by the engine",
  "value.deserializer": "values are bytes; deserialisation is done by the engine",
};

/** Keys filled from typed settings: repeating them in `extra` is an error (as in the Python original). */
const MANAGED_KEYS: Readonly<Record<Role, readonly string[]>> = {
  producer: [
    "bootstrap.servers",
    "client.id",
    "security.protocol",
    "sasl.mechanism",
    "sasl.mechanisms",
    "sasl.username",
    "sasl.password",
    "ssl.ca.location",
  ],
  consumer: [
    "bootstrap.servers",
    "group.id",
    "auto.offset.reset",
    "enable.auto.commit",
    "security.protocol",
    "sasl.mechanism",
    "sasl.mechanisms",
    "sasl.username",
    "sasl.password",
    "ssl.ca.location",
  ],
};

const supportedKeys = (role: Role): string[] =>
  Object.keys(EXTRA_KEYS).filter((k) => EXTRA_KEYS[k].roles.includes(role)).sort();

const SASL_MECHANISMS: Readonly<Record<string, "plain" | "scram-sha-256" | "scram-sha-512">> = {
  "PLAIN": "plain",
  "SCRAM-SHA-256": "scram-sha-256",
  "SCRAM-SHA-512": "scram-sha-512",
};

const applySecurity = (client: KafkaConfig, security: KafkaSecuritySettings | null, role: Role): void => {
  if (security === null || security.protocol === "PLAINTEXT") {
    if (security !== null && (security.saslMechanism !== null || security.sslCaLocation !== null)) {
      throw new KafkaConfigError(
        `kafka ${role} security: protocol PLAINTEXT ignores sasl_mechanism/ssl_ca_location; ` +
          `set protocol to SSL, SASL_SSL or SASL_PLAINTEXT, or remove them`,
        "security.protocol",
      );
    }
    return;
  }
  const { protocol } = security;
  if (protocol === "SSL" || protocol === "SASL_SSL") {
    if (security.sslCaLocation !== null) {
      let ca: string;
      try {
        ca = readFileSync(security.sslCaLocation, "utf8");
      } catch (e) {
        throw new KafkaConfigError(
          `kafka ${role} security.ssl_ca_location: cannot read CA file "${security.sslCaLocation}": ` +
            `${(e as Error).message}`,
          "ssl.ca.location",
        );
      }
      client.ssl = { ca: [ca] };
    } else {
      client.ssl = true;
    }
  } else if (security.sslCaLocation !== null) {
    throw new KafkaConfigError(
      `kafka ${role} security: ssl_ca_location needs protocol SSL or SASL_SSL (got ${protocol})`,
      "ssl.ca.location",
    );
  }
  if (protocol === "SASL_SSL" || protocol === "SASL_PLAINTEXT") {
    const raw = security.saslMechanism;
    const mechanism = raw === null ? undefined : SASL_MECHANISMS[raw.trim().toUpperCase()];
    if (mechanism === undefined) {
      throw new KafkaConfigError(
        `kafka ${role} security: protocol ${protocol} needs sasl_mechanism PLAIN, SCRAM-SHA-256 or ` +
          `SCRAM-SHA-512 (got ${JSON.stringify(raw)}; kafkajs does not support GSSAPI here)`,
        "sasl.mechanism",
      );
    }
    if (security.saslUsername === null || security.saslPassword === null) {
      throw new KafkaConfigError(
        `kafka ${role} security: sasl_mechanism ${raw} needs sasl_username and sasl_password`,
        "sasl.username",
      );
    }
    const sasl: SASLOptions = { mechanism, username: security.saslUsername, password: security.saslPassword };
    client.sasl = sasl;
  } else if (security.saslMechanism !== null || security.saslUsername !== null) {
    throw new KafkaConfigError(
      `kafka ${role} security: sasl_* fields need protocol SASL_SSL or SASL_PLAINTEXT (got ${protocol})`,
      "sasl.mechanism",
    );
  }
};

const DEFAULT_CLIENT_ID = "loom-streaming";
const DEFAULT_MAX_REQUEST_BYTES = 1024 * 1024;

/**
 * Maps typed producer or consumer settings onto kafkajs options.
 *
 * - `brokers` → `brokers`; producer `clientId` (or consumer extra `client.id`) → `clientId`
 *   (default `loom-streaming`); consumer `groupId`; `autoOffsetReset: "earliest"` → `fromBeginning`.
 * - consumer `pollTimeoutMs` → `maxWaitTimeInMs` (how long a fetch waits for data; overridden by
 *   `fetch.max.wait.ms`), so idle consumers stop and rebalance promptly.
 * - security: `SSL` → `ssl: true` (or `{ ca }` read from `sslCaLocation`), `SASL_*` →
 *   `sasl { mechanism: plain | scram-sha-256 | scram-sha-512, username, password }`.
 * - `extra`: every key with a kafkajs equivalent (see the error message for the list per role);
 *   unknown or unsupported keys throw a {@link KafkaConfigError} naming the key, and so does a key
 *   already managed by the typed settings.
 * - producer: `acks` -1 and Java-compatible murmur2 partitioning (`Partitioners.DefaultPartitioner`).
 *
 * @param settings Producer or consumer settings (told apart by `groupId`).
 * @param options Logger options.
 * @returns The kafkajs client options plus producer or consumer options.
 * @throws {KafkaConfigError} When a setting has no kafkajs equivalent or is invalid.
 * @example
 * ```ts ignore
 * const { client, consumer, fromBeginning } = settingsToKafkaJs({
 *   brokers: ["127.0.0.1:19092"], groupId: "g", topics: ["t"], autoOffsetReset: "earliest",
 *   pollTimeoutMs: 100, enableAutoCommit: false, security: null, extra: { "session.timeout.ms": 10000 },
 * });
 * ```
 */
export function settingsToKafkaJs(
  settings: ProducerSettings,
  options?: KafkaClientOptions,
): KafkaJsProducerOptions;
/**
 * Maps consumer settings onto kafkajs options (see the producer overload for the mapping rules).
 *
 * @param settings Consumer settings.
 * @param options Logger options.
 * @returns kafkajs client and consumer options, topics and start position.
 * @example
 * ```ts ignore
 * const { client, consumer, fromBeginning } = settingsToKafkaJs(consumerSettings);
 * ```
 */
export function settingsToKafkaJs(
  settings: ConsumerSettings,
  options?: KafkaClientOptions,
): KafkaJsConsumerOptions;
/**
 * Maps producer or consumer settings onto kafkajs options (told apart by `groupId`).
 *
 * @param settings Producer or consumer settings.
 * @param options Logger options.
 * @returns The matching kafkajs options.
 * @example
 * ```ts ignore
 * const cfg = settingsToKafkaJs(anySettings);
 * if (cfg.kind === "consumer") console.log(cfg.consumer.groupId);
 * ```
 */
export function settingsToKafkaJs(
  settings: ProducerSettings | ConsumerSettings,
  options?: KafkaClientOptions,
): KafkaJsProducerOptions | KafkaJsConsumerOptions;
export function settingsToKafkaJs(
  settings: ProducerSettings | ConsumerSettings,
  options: KafkaClientOptions = {},
): KafkaJsProducerOptions | KafkaJsConsumerOptions {
  const role: Role = "groupId" in settings ? "consumer" : "producer";
  if (!Array.isArray(settings.brokers) || settings.brokers.length === 0) {
    throw new KafkaConfigError(`kafka ${role}.brokers must list at least one "host:port"`, "brokers");
  }
  for (const b of settings.brokers) {
    if (
      typeof b !== "string" || (!/^[^\s:]+:\d+$/.test(b.trim()) && !/^\[[0-9a-fA-F:]+\]:\d+$/.test(b.trim()))
    ) {
      throw new KafkaConfigError(`kafka ${role}.brokers: "${b}" is not "host:port"`, "brokers");
    }
  }
  const logLevel = options.logLevel ?? "warn";
  if (!(logLevel in LOG_LEVEL_NUMBER)) {
    throw new KafkaConfigError(`logLevel must be one of ${Object.keys(LOG_LEVEL_NUMBER).join(", ")}`);
  }
  const draft: Draft = {
    client: {
      brokers: settings.brokers.map((b) => b.trim()),
      clientId: role === "producer"
        ? ((settings as ProducerSettings).clientId ?? DEFAULT_CLIENT_ID)
        : DEFAULT_CLIENT_ID,
      retry: {},
      logLevel: LOG_LEVEL_NUMBER[logLevel],
      logCreator: makeLogCreator(options.logger ?? consoleKafkaLogger, LOG_LEVEL_NUMBER[logLevel]),
    },
    producer: { createPartitioner: Partitioners.DefaultPartitioner },
    consumer: { groupId: "" },
    acks: -1,
    timeout: undefined,
    compression: CompressionTypes.None,
    maxRequestBytes: DEFAULT_MAX_REQUEST_BYTES,
  };
  applySecurity(draft.client, settings.security, role);

  if (role === "consumer") {
    const c = settings as ConsumerSettings;
    if (typeof c.groupId !== "string" || c.groupId === "") {
      throw new KafkaConfigError("kafka consumer.group_id must be a non-empty string", "group.id");
    }
    draft.consumer.groupId = c.groupId;
    draft.consumer.maxWaitTimeInMs = c.pollTimeoutMs;
  }

  const managed = MANAGED_KEYS[role];
  const clash = Object.keys(settings.extra).filter((k) => managed.includes(k)).sort();
  if (clash.length > 0) {
    throw new KafkaConfigError(
      `kafka ${role}.extra contains keys already managed by typed settings: ${clash.join(", ")} ` +
        `(set them through the typed fields instead)`,
      clash[0],
    );
  }
  for (const key of Object.keys(settings.extra).sort()) {
    const spec = EXTRA_KEYS[key];
    if (spec === undefined || !spec.roles.includes(role)) {
      const why = UNSUPPORTED_KEYS[key] ??
        (spec !== undefined
          ? `it only applies to a ${spec.roles.join(" or ")}`
          : "it is not a known client option");
      throw new KafkaConfigError(
        `kafka ${role}.extra key "${key}" is not supported by the kafkajs transport: ${why}. ` +
          `Supported ${role} keys: ${supportedKeys(role).join(", ")}`,
        key,
      );
    }
    spec.apply(draft, settings.extra[key], key, role);
  }

  if (role === "producer") {
    if (draft.producer.idempotent === true && draft.acks !== -1) {
      throw new KafkaConfigError(
        `kafka producer.extra: enable.idempotence=true needs acks=all (got acks=${draft.acks})`,
        "enable.idempotence",
      );
    }
    return {
      kind: "producer",
      client: draft.client,
      producer: draft.producer,
      send: {
        acks: draft.acks,
        timeout: draft.timeout,
        compression: draft.compression,
        maxRequestBytes: draft.maxRequestBytes,
      },
    };
  }
  const session = draft.consumer.sessionTimeout ?? 30000;
  const heartbeat = draft.consumer.heartbeatInterval ?? 3000;
  if (heartbeat >= session) {
    throw new KafkaConfigError(
      `kafka consumer.extra: heartbeat.interval.ms (${heartbeat}) must be lower than session.timeout.ms ` +
        `(${session}); about a third of it is usual`,
      "heartbeat.interval.ms",
    );
  }
  const c = settings as ConsumerSettings;
  return {
    kind: "consumer",
    client: draft.client,
    consumer: draft.consumer,
    topics: c.topics,
    fromBeginning: c.autoOffsetReset === "earliest",
    enableAutoCommit: c.enableAutoCommit,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Shared helpers
// ---------------------------------------------------------------------------------------------------------

const rootCause = (e: unknown): unknown => {
  let cur = e;
  for (let i = 0; i < 10 && cur instanceof Error && cur.cause !== undefined && cur.cause !== cur; i++) {
    cur = cur.cause;
  }
  return cur;
};

const describeError = (e: unknown): string => {
  const msg = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  const root = rootCause(e);
  if (root !== e && root instanceof Error && !msg.includes(root.message)) {
    return `${msg} (cause: ${root.name}: ${root.message})`;
  }
  return msg;
};

const isRebalancing = (e: unknown): boolean => {
  const type = (e as { type?: unknown } | null)?.type;
  return type === "REBALANCE_IN_PROGRESS" || type === "NOT_COORDINATOR_FOR_GROUP" ||
    type === "ILLEGAL_GENERATION";
};

const groupByTopic = (tps: readonly TopicPartition[]): { topic: string; partitions: number[] }[] => {
  const byTopic = new Map<string, number[]>();
  for (const { topic, partition } of tps) {
    const list = byTopic.get(topic);
    if (list === undefined) byTopic.set(topic, [partition]);
    else if (!list.includes(partition)) list.push(partition);
  }
  return [...byTopic].map(([topic, partitions]) => ({ topic, partitions }));
};

/** A Buffer over the same memory as `bytes` (no copy). */
const asBuffer = (bytes: Uint8Array): Buffer =>
  Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** A plain Uint8Array over the same memory as `buf` (no copy). */
const asBytes = (buf: Buffer): Uint8Array => new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);

const EMPTY_HEADERS: Readonly<Record<string, Uint8Array>> = Object.freeze({});
const textEncoder = new TextEncoder();

const toMessage = (r: OutgoingRecord): Message => {
  let headers: IHeaders | undefined;
  for (const name in r.headers) {
    if (headers === undefined) headers = {};
    headers[name] = asBuffer(r.headers[name]);
  }
  return {
    key: r.key === null ? null : asBuffer(r.key),
    value: asBuffer(r.value),
    headers,
    timestamp: r.timestampMs === null ? undefined : String(r.timestampMs),
    partition: r.partition,
  };
};

/** Bytes a record adds to a record batch, roughly (payload plus ~20 bytes of varints and attributes). */
const recordSize = (r: OutgoingRecord): number => {
  let size = 21 + r.value.byteLength + (r.key === null ? 0 : r.key.byteLength);
  for (const name in r.headers) size += 2 + name.length * 3 + r.headers[name].byteLength;
  return size;
};

const headerBytes = (v: Buffer | string): Uint8Array =>
  typeof v === "string" ? textEncoder.encode(v) : asBytes(v);

/** kafkajs headers → bytes per name; a null value is dropped, and the last non-null duplicate wins. */
const convertHeaders = (headers: IHeaders | undefined): Readonly<Record<string, Uint8Array>> => {
  let out: Record<string, Uint8Array> | undefined;
  for (const name in headers) {
    let v = headers[name];
    if (Array.isArray(v)) {
      let last: Buffer | string | undefined;
      for (let i = v.length - 1; i >= 0; i--) {
        if (v[i] != null) {
          last = v[i];
          break;
        }
      }
      v = last;
    }
    if (v == null) continue;
    if (out === undefined) out = {};
    out[name] = headerBytes(v);
  }
  return out ?? EMPTY_HEADERS;
};

const toRecordBatch = (
  topic: string,
  partition: number,
  messages: readonly KafkaMessage[],
  highWatermark: number, // the end offset, for lag metrics
): RecordBatch => {
  const n = messages.length;
  const records = new Array<SourceRecord>(n);
  for (let i = 0; i < n; i++) {
    const m = messages[i];
    const ts = Number(m.timestamp);
    records[i] = {
      topic,
      partition,
      offset: Number(m.offset),
      key: m.key == null ? null : asBytes(m.key),
      value: m.value == null ? null : asBytes(m.value),
      headers: m.headers === undefined ? EMPTY_HEADERS : convertHeaders(m.headers),
      timestampMs: ts >= 0 ? ts : null,
    };
  }
  return { topic, partition, records, highWatermark };
};

// ---------------------------------------------------------------------------------------------------------
// Producer
// ---------------------------------------------------------------------------------------------------------

/**
 * kafkajs implementation of {@link KafkaProducerPort}: acks = -1 by default, Java-compatible murmur2
 * partitioning of keyed records (`Partitioners.DefaultPartitioner`; an explicit `partition` wins,
 * unkeyed records are spread round-robin), key/value/header bytes passed to kafkajs without copying,
 * headers and timestamps kept. Each `send` / `sendMany` call is ONE kafkajs `sendBatch` request
 * round, unless its records exceed `max.request.size` (default 1 MiB): then it is split into
 * consecutive requests of at most that size, sent one after the other (kafkajs writes one record batch
 * per partition per request, and the broker rejects batches above `message.max.bytes`). kafkajs retries
 * retriable errors (`retries`, `retry.backoff.ms`) before rejecting.
 *
 * @example
 * ```ts ignore
 * const producer = new KafkaProducerClient({
 *   brokers: ["127.0.0.1:19092"], clientId: "app", topic: null, security: null, extra: {},
 * });
 * await producer.connect();
 * const bytes = new TextEncoder().encode("hello");
 * await producer.send("greetings", [{ key: null, value: bytes, headers: {}, timestampMs: null }]);
 * await producer.disconnect();
 * ```
 */
export class KafkaProducerClient implements KafkaProducerPort {
  readonly #producer: Producer;
  readonly #send: KafkaJsSendOptions;
  readonly #brokers: string;
  #connected = false;

  /**
   * Builds the kafkajs producer (no connection yet: call `connect()`).
   *
   * @param settings Producer settings (`topic` is not used here: callers pass the topic to `send`).
   * @param options Logger options.
   * @throws {KafkaConfigError} When the settings cannot be mapped onto kafkajs.
   */
  constructor(settings: ProducerSettings, options: KafkaClientOptions = {}) {
    const cfg = settingsToKafkaJs(settings, options);
    this.#send = cfg.send;
    this.#brokers = settings.brokers.join(",");
    this.#producer = new Kafka(cfg.client).producer(cfg.producer);
  }

  /**
   * Connects to the cluster.
   *
   * @returns Resolves once connected.
   * @throws {KafkaDeliveryError} When no broker could be reached within the retry budget.
   * @example
   * ```ts ignore
   * await producer.connect();
   * ```
   */
  async connect(): Promise<void> {
    try {
      await this.#producer.connect();
      this.#connected = true;
    } catch (e) {
      throw new KafkaDeliveryError(
        `Kafka producer could not connect to ${this.#brokers}: ${describeError(e)}. ` +
          `Check that the brokers are reachable (scripts/kafka.sh ensure starts a local one).`,
        [],
        0,
        e,
      );
    }
  }

  /**
   * Produces `records` to `topic` in one request round (split above `max.request.size`) and waits for
   * the broker acknowledgements.
   *
   * @param topic Physical topic.
   * @param records Records to write (an empty list sends nothing).
   * @returns Resolves once every record was acknowledged.
   * @throws {KafkaDeliveryError} When the broker did not acknowledge; none may be assumed written.
   * @example
   * ```ts ignore
   * await producer.send("orders", [{ key: k, value: v, headers: {}, timestampMs: 1700000000000 }]);
   * ```
   */
  async send(topic: string, records: readonly OutgoingRecord[]): Promise<void> {
    const n = records.length;
    if (n === 0) return;
    const limit = this.#send.maxRequestBytes;
    let messages: Message[] = [];
    let bytes = 0;
    let acknowledged = 0;
    for (let i = 0; i < n; i++) {
      const r = records[i];
      const size = recordSize(r);
      if (bytes + size > limit && messages.length > 0) {
        await this.#sendBatch([{ topic, messages }], [topic], n, acknowledged);
        acknowledged += messages.length;
        messages = [];
        bytes = 0;
      }
      messages.push(toMessage(r));
      bytes += size;
    }
    await this.#sendBatch([{ topic, messages }], [topic], n, acknowledged);
  }

  /**
   * Produces several topics' records with one kafkajs `sendBatch` (split above `max.request.size`) and
   * waits for every acknowledgement.
   *
   * @param batches Records per physical topic (empty lists are skipped).
   * @returns Resolves once every record was acknowledged.
   * @throws {KafkaDeliveryError} When the broker did not acknowledge; none may be assumed written.
   * @example
   * ```ts ignore
   * await producer.sendMany(new Map([["a", recordsA], ["b", recordsB]]));
   * ```
   */
  async sendMany(batches: ReadonlyMap<string, readonly OutgoingRecord[]>): Promise<void> {
    const topics: string[] = [];
    let total = 0;
    for (const [topic, records] of batches) {
      if (records.length === 0) continue;
      topics.push(topic);
      total += records.length;
    }
    if (total === 0) return;
    const limit = this.#send.maxRequestBytes;
    let chunk: { topic: string; messages: Message[] }[] = [];
    let count = 0;
    let bytes = 0;
    let acknowledged = 0;
    for (const topic of topics) {
      const records = batches.get(topic)!;
      let messages: Message[] = [];
      chunk.push({ topic, messages });
      for (let i = 0; i < records.length; i++) {
        const r = records[i];
        const size = recordSize(r);
        if (bytes + size > limit && count > 0) {
          await this.#sendBatch(chunk, topics, total, acknowledged);
          acknowledged += count;
          messages = [];
          chunk = [{ topic, messages }];
          count = 0;
          bytes = 0;
        }
        messages.push(toMessage(r));
        count++;
        bytes += size;
      }
    }
    await this.#sendBatch(chunk, topics, total, acknowledged);
  }

  /**
   * Disconnects from the cluster (idempotent).
   *
   * @returns Resolves once disconnected.
   * @example
   * ```ts ignore
   * await producer.disconnect();
   * ```
   */
  async disconnect(): Promise<void> {
    if (!this.#connected) return;
    this.#connected = false;
    await this.#producer.disconnect();
  }

  /** One kafkajs request round; a failure becomes a KafkaDeliveryError for the whole call. */
  async #sendBatch(
    topicMessages: { topic: string; messages: Message[] }[],
    topics: readonly string[],
    total: number,
    acknowledged: number,
  ): Promise<void> {
    const { acks, timeout, compression } = this.#send;
    if (topicMessages.some((t) => t.messages.length === 0)) {
      topicMessages = topicMessages.filter((t) => t.messages.length > 0);
    }
    try {
      await this.#producer.sendBatch({ topicMessages, acks, timeout, compression });
    } catch (e) {
      const where = topics.length === 1
        ? `topic "${topics[0]}"`
        : `topics ${topics.map((t) => `"${t}"`).join(", ")}`;
      const hint = this.#connected ? "" : " (the producer is not connected: call connect() first)";
      const partial = acknowledged > 0
        ? ` (${acknowledged} of them went out in earlier requests of this call and were acknowledged: ` +
          `a retry writes those twice)`
        : "";
      throw new KafkaDeliveryError(
        `Kafka did not acknowledge a send of ${total} record(s) to ${where} on ${this.#brokers}${hint}: ` +
          `${describeError(e)}. None of them may be assumed written${partial}.`,
        topics,
        total,
        e,
      );
    }
  }
}

/**
 * A connected Kafka producer as the engine sees it (the core's {@link ProducerClientPort}).
 *
 * @example
 * ```ts ignore
 * const producer: KafkaProducerPort = new KafkaProducerClient(settings);
 * ```
 */
export type KafkaProducerPort = ProducerClientPort;

/**
 * A Kafka group consumer as the run loop sees it (the core's {@link ConsumerPort}).
 *
 * @example
 * ```ts ignore
 * const consumer: KafkaConsumerPort = new KafkaConsumerClient(settings);
 * ```
 */
export type KafkaConsumerPort = ConsumerPort;
export type { BatchControl, ConsumerHandler, ConsumerRunOptions };

// ---------------------------------------------------------------------------------------------------------
// Consumer
// ---------------------------------------------------------------------------------------------------------

type ConsumerState = "new" | "connected" | "running" | "stopping" | "stopped" | "failed";

const EMPTY_TPS: readonly TopicPartition[] = Object.freeze([]);

/**
 * kafkajs implementation of {@link KafkaConsumerPort}: auto-commit is always OFF (the engine commits
 * through {@link KafkaConsumerClient.commit}), batches are delivered with `eachBatch` and
 * `eachBatchAutoResolve: false`, and converted to {@link RecordBatch} (offsets and timestamps as
 * numbers, key/value/header bytes as Uint8Array views without copying, a string header as UTF-8
 * bytes, the last of duplicate headers wins, null headers dropped).
 *
 * Assignment and revocation (kafkajs speaks the EAGER classic group protocol):
 * - `onAssigned(tps)` runs after every successful join+sync (kafkajs GROUP_JOIN), before the first
 *   batch of the new assignment is fetched. Partition pause state is cleared at that point (like the
 *   Java client, a newly assigned partition starts unpaused).
 * - `onRevoked(tps)` receives ALL partitions owned so far, on every rebalance (the same partitions may
 *   come straight back in the next `onAssigned`), and on `stop()`. It is called after every in-flight
 *   `onBatch` of this consumer has returned and BEFORE this member sends its JoinGroup (or LeaveGroup):
 *   kafkajs only notices a rebalance at a heartbeat between batches, stops its fetchers, and the
 *   adapter holds the join until `onRevoked` settles. Meanwhile the old generation is still valid, so
 *   `commit()` of the revoked partitions succeeds, and the adapter keeps heartbeating. It must settle
 *   within the group's rebalance timeout (`max.poll.interval.ms`, kafkajs default 60 s) or the
 *   coordinator expels the member (then commits fail with {@link KafkaCommitError}).
 * - Not called when the consumer crashes: the partitions are lost (commits are impossible), and
 *   `onError` is called instead (like Java's `onPartitionsLost`).
 * - A long `onBatch` delays the whole group's rebalance: call `ctl.heartbeat()` and give up early when
 *   `ctl.isStale()`.
 * Holding the join relies on kafkajs 2.2.4 internals: the consumer's cluster object (handed to
 * partition assigners) and its `findGroupCoordinator`, which kafkajs calls at the start of every join.
 *
 * Errors: `connect`/`subscribe`/`run` reject with {@link KafkaConsumerError}; later failures (crash
 * after kafkajs's retries, onBatch rejection) go to `onError` and stop the consumer (kafkajs's automatic
 * restart is disabled); commits reject with {@link KafkaCommitError}.
 *
 * @example
 * ```ts ignore
 * const consumer = new KafkaConsumerClient({
 *   brokers: ["127.0.0.1:19092"], groupId: "g", topics: ["orders"], autoOffsetReset: "earliest",
 *   pollTimeoutMs: 100, enableAutoCommit: false, security: null, extra: {},
 * });
 * await consumer.connect();
 * await consumer.subscribe(["orders"], true);
 * await consumer.run({
 *   onBatch: async (batch) => {
 *     const last = batch.records[batch.records.length - 1];
 *     await consumer.commit([{ topic: batch.topic, partition: batch.partition, offset: last.offset + 1 }]);
 *   },
 * });
 * await consumer.disconnect();
 * ```
 */
export class KafkaConsumerClient implements KafkaConsumerPort {
  readonly #consumer: Consumer;
  readonly #groupId: string;
  readonly #brokers: string;
  readonly #heartbeatIntervalMs: number;
  readonly #log: KafkaLogger;
  #state: ConsumerState = "new";
  #handler: ConsumerHandler | null = null;
  #assigned: readonly TopicPartition[] = EMPTY_TPS;
  #joined = false;
  #startupError: KafkaConsumerError | null = null;
  /** Bumped whenever a revocation starts: batches delivered before are stale. */
  #generation = 0;
  #rebalanceAnnounced = false;
  #revoking: Promise<void> | null = null;
  #inflight = 0;
  #idleWaiters: (() => void)[] = [];
  #pausedTopics = new Set<string>();
  #commitEvents = 0;
  #lastHeartbeat: (() => Promise<void>) | null = null;
  #stopPromise: Promise<void> | null = null;
  /** kafkajs `run()` until its first join completed (a kafkajs stop during the join is lost). */
  #starting: Promise<void> | null = null;

  /**
   * Builds the kafkajs consumer (no connection yet: call `connect()`).
   *
   * @param settings Consumer settings (`topics` and `autoOffsetReset` are read by the caller and passed
   *   to {@link KafkaConsumerClient.subscribe}).
   * @param options Logger options.
   * @throws {KafkaConfigError} When the settings cannot be mapped onto kafkajs.
   */
  constructor(settings: ConsumerSettings, options: KafkaClientOptions = {}) {
    const cfg = settingsToKafkaJs(settings, options);
    this.#groupId = settings.groupId;
    this.#brokers = settings.brokers.join(",");
    this.#heartbeatIntervalMs = cfg.consumer.heartbeatInterval ?? 3000;
    this.#log = options.logger ?? consoleKafkaLogger;
    const hookedAssigner: PartitionAssigner = (config) => {
      this.#holdJoinsUntilRevoked(config.cluster as unknown as { findGroupCoordinator: unknown });
      return PartitionAssigners.roundRobin(config);
    };
    const consumer = new Kafka(cfg.client).consumer({
      ...cfg.consumer,
      partitionAssigners: [hookedAssigner],
      retry: { ...cfg.client.retry, restartOnFailure: () => Promise.resolve(false) },
    });
    consumer.on(consumer.events.GROUP_JOIN, (e) => this.#onGroupJoin(e.payload.memberAssignment));
    consumer.on(consumer.events.CRASH, (e) => this.#onCrash(e.payload.error));
    consumer.on(consumer.events.COMMIT_OFFSETS, () => {
      this.#commitEvents++;
    });
    this.#consumer = consumer;
  }

  /**
   * The consumer group id.
   *
   * @example
   * ```ts ignore
   * console.log(consumer.groupId);
   * ```
   */
  get groupId(): string {
    return this.#groupId;
  }

  /**
   * Connects to the cluster.
   *
   * @returns Resolves once connected.
   * @throws {KafkaConsumerError} When no broker could be reached within the retry budget.
   * @example
   * ```ts ignore
   * await consumer.connect();
   * ```
   */
  async connect(): Promise<void> {
    if (this.#state !== "new") return;
    try {
      await this.#consumer.connect();
      this.#state = "connected";
    } catch (e) {
      throw new KafkaConsumerError(
        `Kafka consumer (group "${this.#groupId}") could not connect to ${this.#brokers}: ${
          describeError(e)
        }. ` +
          `Check that the brokers are reachable (scripts/kafka.sh ensure starts a local one).`,
        this.#groupId,
        e,
      );
    }
  }

  /**
   * Subscribes to topics (before `run`). A missing topic is created when the broker allows it.
   *
   * @param topics Physical topics.
   * @param fromBeginning Where a partition without committed offset starts: earliest (true) or latest.
   * @returns Resolves once the topics' metadata is loaded.
   * @throws {KafkaConsumerError} When not connected, already running, or the metadata request fails.
   * @example
   * ```ts ignore
   * await consumer.subscribe(["orders"], true);
   * ```
   */
  async subscribe(topics: readonly string[], fromBeginning: boolean): Promise<void> {
    if (this.#state !== "connected") {
      throw new KafkaConsumerError(
        `subscribe() needs a connected consumer that is not running yet (state: ${this.#state})`,
        this.#groupId,
      );
    }
    if (topics.length === 0) return;
    try {
      await this.#consumer.subscribe({ topics: [...topics], fromBeginning });
    } catch (e) {
      throw new KafkaConsumerError(
        `Kafka consumer (group "${this.#groupId}") could not subscribe to ${topics.join(", ")}: ${
          describeError(e)
        }${
          (e as { type?: unknown })?.type === "UNKNOWN_TOPIC_OR_PARTITION"
            ? " (the topic does not exist: create it, or enable auto.create.topics.enable on the broker)"
            : ""
        }`,
        this.#groupId,
        e,
      );
    }
  }

  /**
   * Joins the group and starts delivering batches to `handler`.
   *
   * @param handler Batch, assignment, revocation and error callbacks.
   * @param options Concurrency.
   * @returns Resolves after the first successful group join (`onAssigned` has run).
   * @throws {KafkaConsumerError} When the consumer is not connected or cannot join its group.
   * @example
   * ```ts ignore
   * await consumer.run({ onBatch: async (batch, ctl) => {} }, { partitionsConsumedConcurrently: 3 });
   * ```
   */
  async run(handler: ConsumerHandler, options: ConsumerRunOptions = {}): Promise<void> {
    if (this.#state !== "connected") {
      throw new KafkaConsumerError(
        `run() needs a connected consumer that is not running yet (state: ${this.#state})`,
        this.#groupId,
      );
    }
    this.#handler = handler;
    this.#state = "running";
    this.#starting = this.#consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 1,
      eachBatch: (payload) => this.#eachBatch(payload),
    });
    try {
      await this.#starting;
    } catch (e) {
      this.#state = "failed";
      throw new KafkaConsumerError(
        `Kafka consumer (group "${this.#groupId}") could not start: ${describeError(e)}`,
        this.#groupId,
        e,
      );
    }
    if (this.#startupError !== null) throw this.#startupError;
  }

  /**
   * The partitions assigned by the last group join (empty before it and once revoked).
   *
   * @returns The current assignment.
   * @example
   * ```ts ignore
   * console.log(consumer.assignment());
   * ```
   */
  assignment(): readonly TopicPartition[] {
    return this.#assigned;
  }

  /**
   * Commits offsets synchronously (offset = the next offset to read, as Kafka expects).
   *
   * @param offsets Offsets per partition.
   * @returns Resolves once the coordinator stored them.
   * @throws {KafkaCommitError} When the consumer is not running or the coordinator rejected the commit
   *   (e.g. the member was expelled, or the broker is gone after kafkajs's retries).
   * @example
   * ```ts ignore
   * await consumer.commit([{ topic: "orders", partition: 0, offset: 101 }]);
   * ```
   */
  async commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    if (offsets.length === 0) return;
    const what = () => offsets.map((o) => `${o.topic}[${o.partition}]@${o.offset}`).join(", ");
    if (this.#state !== "running" && this.#state !== "stopping") {
      throw new KafkaCommitError(
        `cannot commit ${what()} for group "${this.#groupId}": the consumer is ${this.#state}`,
        this.#groupId,
        offsets,
      );
    }
    const list = new Array<{ topic: string; partition: number; offset: string }>(offsets.length);
    for (let i = 0; i < offsets.length; i++) {
      const o = offsets[i];
      if (!Number.isSafeInteger(o.offset) || o.offset < 0) {
        throw new KafkaCommitError(
          `cannot commit ${o.topic}[${o.partition}]: offset ${o.offset} is not a non-negative integer`,
          this.#groupId,
          offsets,
        );
      }
      list[i] = { topic: o.topic, partition: o.partition, offset: String(o.offset) };
    }
    const before = this.#commitEvents;
    try {
      await this.#consumer.commitOffsets(list);
    } catch (e) {
      throw new KafkaCommitError(
        `Kafka rejected the offset commit ${what()} for group "${this.#groupId}": ${describeError(e)}`,
        this.#groupId,
        offsets,
        e,
      );
    }
    // kafkajs silently skips a commit once its runner stopped; a successful commit always emits the event.
    if (this.#commitEvents === before) {
      throw new KafkaCommitError(
        `offsets ${what()} for group "${this.#groupId}" were not committed: the kafkajs consumer stopped`,
        this.#groupId,
        offsets,
      );
    }
  }

  /**
   * Stops fetching the given partitions (the batch being processed is still delivered in full).
   * Cleared by the next group join.
   *
   * @param tps Partitions to pause.
   * @throws {KafkaConsumerError} When the consumer is not running.
   * @example
   * ```ts ignore
   * consumer.pause([{ topic: "orders", partition: 0 }]);
   * ```
   */
  pause(tps: readonly TopicPartition[]): void {
    if (tps.length === 0) return;
    this.#requireRunning("pause");
    const grouped = groupByTopic(tps);
    for (const g of grouped) this.#pausedTopics.add(g.topic);
    this.#consumer.pause(grouped);
  }

  /**
   * Resumes fetching the given partitions.
   *
   * @param tps Partitions to resume.
   * @throws {KafkaConsumerError} When the consumer is not running.
   * @example
   * ```ts ignore
   * consumer.resume([{ topic: "orders", partition: 0 }]);
   * ```
   */
  resume(tps: readonly TopicPartition[]): void {
    if (tps.length === 0) return;
    this.#requireRunning("resume");
    this.#consumer.resume(groupByTopic(tps));
  }

  /**
   * Stops gracefully: no new batch is delivered, in-flight `onBatch` calls finish, `onRevoked` runs for
   * the owned partitions (commits still work), then the member leaves the group. Idempotent.
   *
   * @returns Resolves once the member left the group.
   * @example
   * ```ts ignore
   * await consumer.stop();
   * ```
   */
  stop(): Promise<void> {
    if (this.#stopPromise === null) this.#stopPromise = this.#stop(true);
    return this.#stopPromise;
  }

  /**
   * Stops (see {@link KafkaConsumerClient.stop}) and closes the connections. Idempotent.
   *
   * @returns Resolves once disconnected.
   * @example
   * ```ts ignore
   * await consumer.disconnect();
   * ```
   */
  async disconnect(): Promise<void> {
    await this.stop();
    await this.#consumer.disconnect();
  }

  // --- internals ---------------------------------------------------------------------------------------

  #requireRunning(what: string): void {
    if (this.#state !== "running" && this.#state !== "stopping") {
      throw new KafkaConsumerError(
        `${what}() needs a running consumer (state: ${this.#state})`,
        this.#groupId,
      );
    }
  }

  async #stop(revoke: boolean): Promise<void> {
    if (this.#state === "new" || this.#state === "connected" || this.#state === "stopped") {
      this.#state = "stopped";
      return;
    }
    if (this.#state === "failed") return;
    this.#state = "stopping";
    // kafkajs ignores a stop that arrives while its first join is under way: let the join finish.
    if (this.#starting !== null) await this.#starting.catch(() => {});
    if (revoke) {
      // Quiet the fetch loop while the handler drains and revokes.
      const owned = this.#assigned;
      if (owned.length > 0) {
        try {
          this.#consumer.pause(groupByTopic(owned));
        } catch { /* not running any more */ }
      }
      await this.#waitIdle();
      if (this.#revoking !== null) await this.#revoking;
      if (this.#assigned.length > 0) await this.#revoke();
    }
    try {
      await this.#consumer.stop();
    } finally {
      if (this.#state === "stopping") this.#state = "stopped";
    }
  }

  #holdJoinsUntilRevoked(cluster: { findGroupCoordinator: unknown }): void {
    const original = cluster.findGroupCoordinator;
    if (typeof original !== "function") {
      throw new KafkaConfigError(
        "kafkajs internals changed: cluster.findGroupCoordinator is missing; the revocation hook needs kafkajs 2.2.4",
      );
    }
    cluster.findGroupCoordinator = (...args: unknown[]): Promise<unknown> => {
      const pending = this.#assigned.length > 0 ? this.#revoke() : this.#revoking;
      if (pending === null) return original.apply(cluster, args);
      return pending.then(() => original.apply(cluster, args));
    };
  }

  /** Revokes every owned partition: waits for in-flight batches, then runs `onRevoked` (once). */
  #revoke(): Promise<void> {
    if (this.#revoking !== null) return this.#revoking;
    const tps = this.#assigned;
    this.#assigned = EMPTY_TPS;
    this.#generation++;
    const run = async () => {
      await this.#waitIdle();
      const onRevoked = this.#handler?.onRevoked;
      if (onRevoked === undefined || tps.length === 0) return;
      const heartbeat = this.#lastHeartbeat;
      const keepalive = heartbeat === null ? undefined : setInterval(() => {
        heartbeat().catch(() => {/* REBALANCE_IN_PROGRESS is expected: the heartbeat still counts */});
      }, this.#heartbeatIntervalMs);
      try {
        await onRevoked.call(this.#handler, tps);
      } catch (e) {
        this.#log({
          level: "error",
          namespace: "loom.KafkaConsumerClient",
          message: `onRevoked failed for group "${this.#groupId}"; the rebalance goes on`,
          fields: { error: e, partitions: tps.map((t) => `${t.topic}[${t.partition}]`).join(",") },
        });
      } finally {
        if (keepalive !== undefined) clearInterval(keepalive);
      }
    };
    const p = run().finally(() => {
      this.#revoking = null;
    });
    this.#revoking = p;
    return p;
  }

  #waitIdle(): Promise<void> {
    if (this.#inflight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  #onGroupJoin(memberAssignment: Readonly<Record<string, number[]>>): void {
    this.#joined = true;
    if (this.#state !== "running") return;
    const tps: TopicPartition[] = [];
    for (const topic of Object.keys(memberAssignment).sort()) {
      for (const partition of [...memberAssignment[topic]].sort((a, b) => a - b)) {
        tps.push({ topic, partition });
      }
    }
    if (this.#pausedTopics.size > 0) {
      try {
        this.#consumer.resume([...this.#pausedTopics].map((topic) => ({ topic })));
      } catch { /* consumer not initialised: nothing paused */ }
      this.#pausedTopics.clear();
    }
    this.#assigned = Object.freeze(tps);
    this.#rebalanceAnnounced = false;
    try {
      this.#handler?.onAssigned?.(this.#assigned);
    } catch (e) {
      this.#log({
        level: "error",
        namespace: "loom.KafkaConsumerClient",
        message: `onAssigned failed for group "${this.#groupId}"`,
        fields: { error: e },
      });
    }
  }

  #onCrash(error: Error): void {
    const err = new KafkaConsumerError(
      `Kafka consumer (group "${this.#groupId}") crashed and stopped: ${describeError(error)}`,
      this.#groupId,
      error,
    );
    this.#assigned = EMPTY_TPS;
    this.#generation++;
    const wasJoined = this.#joined;
    this.#state = "failed";
    if (!wasJoined) {
      this.#startupError = err;
      return;
    }
    this.#report(err);
  }

  #report(err: KafkaConsumerError): void {
    const onError = this.#handler?.onError;
    if (onError !== undefined) {
      try {
        onError.call(this.#handler, err);
        return;
      } catch { /* fall through to the log */ }
    }
    this.#log({ level: "error", namespace: "loom.KafkaConsumerClient", message: err.message, fields: {} });
  }

  /** A rejected onBatch: stop the consumer without revoking (the handler is broken), then report. */
  #fail(cause: unknown, batch: RecordBatch): void {
    if (this.#state === "failed" || this.#stopPromise !== null) return;
    const err = new KafkaConsumerError(
      `onBatch failed for ${batch.topic}[${batch.partition}] (group "${this.#groupId}"); the consumer stops: ` +
        describeError(cause),
      this.#groupId,
      cause,
    );
    this.#assigned = EMPTY_TPS;
    this.#generation++;
    this.#stopPromise = this.#stop(false).catch(() => {}).then(() => {
      this.#state = "failed";
      this.#report(err);
    });
  }

  async #eachBatch(payload: EachBatchPayload): Promise<void> {
    if (this.#state !== "running") return;
    const kb = payload.batch;
    const messages = kb.messages;
    if (messages.length === 0) return;
    const batch = toRecordBatch(kb.topic, kb.partition, messages, Number(kb.highWatermark));
    this.#lastHeartbeat = payload.heartbeat;
    this.#inflight++;
    const generation = this.#generation;
    const ctl: BatchControl = {
      heartbeat: () => this.#heartbeat(payload),
      isRunning: () => this.#state === "running" && payload.isRunning(),
      isStale: () => this.#rebalanceAnnounced || generation !== this.#generation || payload.isStale(),
    };
    let failed = false;
    // Heartbeats go on while the handler works (slow steps, slow sinks), so a batch that takes longer
    // than session.timeout.ms does not get the member evicted from its group. kafkajs sends a heartbeat
    // only when one is due, so ticking at the heartbeat interval is cheap.
    const keepalive = setInterval(() => {
      this.#heartbeat(payload).catch(() => {/* reported by the next fetch or commit */});
    }, this.#heartbeatIntervalMs);
    try {
      await this.#handler!.onBatch(batch, ctl);
    } catch (e) {
      failed = true;
      this.#fail(e, batch);
    } finally {
      clearInterval(keepalive);
      if (--this.#inflight === 0 && this.#idleWaiters.length > 0) {
        const waiters = this.#idleWaiters;
        this.#idleWaiters = [];
        for (const w of waiters) w();
      }
    }
    if (!failed && this.#state === "running" && generation === this.#generation) {
      payload.resolveOffset(messages[messages.length - 1].offset);
    }
  }

  async #heartbeat(payload: EachBatchPayload): Promise<void> {
    try {
      await payload.heartbeat();
    } catch (e) {
      if (isRebalancing(e)) {
        this.#rebalanceAnnounced = true;
        return;
      }
      throw new KafkaConsumerError(
        `heartbeat failed for group "${this.#groupId}": ${describeError(e)}`,
        this.#groupId,
        e,
      );
    }
  }
}
