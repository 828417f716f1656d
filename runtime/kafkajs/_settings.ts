/**
 * Typed Kafka settings → kafkajs options ({@link settingsToKafkaJs}): brokers, security, and the
 * `extra` keys kafkajs can honour.
 *
 * @module
 */
import {
  CompressionTypes,
  type ConsumerConfig,
  type KafkaConfig,
  Partitioners,
  type ProducerConfig,
  type RetryOptions,
  type SASLOptions,
} from "kafkajs";
import type {
  ConsumerSettings,
  KafkaConfigValue,
  KafkaSecuritySettings,
  ProducerSettings,
} from "../../streaming/_settings.ts";
// From the package's core entry point (it stays put while streaming/ is reorganised). The key table
// (roles, unsupported keys, managed keys) is the core's, so `compileFlow` checks `extra` the same way.
import {
  KAFKA_EXTRA_KEYS,
  KAFKA_ROLE_MANAGED_KEYS,
  KAFKA_UNSUPPORTED_EXTRA_KEYS,
  type KafkaRole,
  supportedExtraKeys,
} from "../../streaming/mod.ts";
import { KafkaConfigError } from "./_errors.ts";
import { resolveSecurity } from "../_kafka_security.ts";
import { consoleKafkaLogger, type KafkaClientOptions, LOG_LEVEL_NUMBER, makeLogCreator } from "./_logger.ts";

/**
 * Producer-side send options (per call).
 *
 * @example
 * ```ts
 * import type { ProducerSettings } from "@loom/streaming";
 * declare const producerSettings: ProducerSettings;
 * import { settingsToKafkaJs } from "./_settings.ts";
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
 * ```ts
 * import { Kafka } from "kafkajs";
 * import type { ProducerSettings } from "@loom/streaming";
 * declare const producerSettings: ProducerSettings;
 * import { type KafkaJsProducerOptions, settingsToKafkaJs } from "./_settings.ts";
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
 * ```ts
 * import type { ConsumerSettings } from "@loom/streaming";
 * declare const consumerSettings: ConsumerSettings;
 * import { type KafkaJsConsumerOptions, settingsToKafkaJs } from "./_settings.ts";
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

type Role = KafkaRole;

interface Draft {
  client: KafkaConfig & { retry: RetryOptions };
  producer: ProducerConfig;
  consumer: ConsumerConfig;
  acks: -1 | 0 | 1;
  timeout: number | undefined;
  compression: CompressionTypes;
  maxRequestBytes: number;
}

type ApplyExtra = (draft: Draft, value: KafkaConfigValue, key: string, role: Role) => void;

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
): ApplyExtra =>
(d, v, k) => {
  d.consumer[field] = asInt(k, v, min);
};

/** How each supported `extra` key ({@link KAFKA_EXTRA_KEYS}, with its roles) maps onto kafkajs options. */
const APPLY_EXTRA: Readonly<Record<string, ApplyExtra>> = {
  "request.timeout.ms": (d, v, k) => {
    d.client.requestTimeout = asInt(k, v, 1);
    d.timeout = d.client.requestTimeout;
  },
  "socket.connection.setup.timeout.ms": (d, v, k) => {
    d.client.connectionTimeout = asInt(k, v, 1);
  },
  "retries": setRetries,
  "message.send.max.retries": setRetries,
  "retry.backoff.ms": (d, v, k) => {
    d.client.retry.initialRetryTime = asInt(k, v, 1);
  },
  "retry.backoff.max.ms": (d, v, k) => {
    d.client.retry.maxRetryTime = asInt(k, v, 1);
  },
  "metadata.max.age.ms": setMetadataMaxAge,
  "allow.auto.create.topics": setAutoCreate,
  "max.in.flight.requests.per.connection": setMaxInFlight,
  "acks": setAcks,
  "request.required.acks": setAcks,
  "compression.type": setCompression,
  "compression.codec": setCompression,
  "max.request.size": (d, v, k) => {
    d.maxRequestBytes = asInt(k, v, 1024);
  },
  "enable.idempotence": (d, v, k) => {
    d.producer.idempotent = asBool(k, v);
  },
  "client.id": (d, v) => {
    d.client.clientId = String(v);
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
  "isolation.level": (d, v, k) => {
    const s = String(v).trim().toLowerCase();
    if (s !== "read_committed" && s !== "read_uncommitted") {
      throw new KafkaConfigError(
        `kafka extra "${k}" must be read_committed or read_uncommitted, got ${JSON.stringify(v)}`,
        k,
      );
    }
    d.consumer.readUncommitted = s === "read_uncommitted";
  },
  "client.rack": (d, v) => {
    d.consumer.rackId = String(v);
  },
};

/** Every supported key has a mapping (a key added to the core table without one fails at load). */
for (const key of Object.keys(KAFKA_EXTRA_KEYS)) {
  if (!Object.hasOwn(APPLY_EXTRA, key)) throw new Error(`kafkajs adapter: no mapping for extra key "${key}"`);
}

/** `ssl` and `sasl` from the security section (checked once for both adapters). */
const applySecurity = (client: KafkaConfig, security: KafkaSecuritySettings | null, role: Role): void => {
  const { tls, sasl } = resolveSecurity(security, role);
  if (tls !== null) client.ssl = tls.ca === undefined ? true : { ca: [...tls.ca] };
  if (sasl !== null) {
    const mechanism = sasl.mechanism.toLowerCase() as "plain" | "scram-sha-256" | "scram-sha-512";
    const options: SASLOptions = { mechanism, username: sasl.username, password: sasl.password };
    client.sasl = options;
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
 * ```ts
 * import { settingsToKafkaJs } from "./_settings.ts";
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
 * ```ts
 * import type { ConsumerSettings } from "@loom/streaming";
 * declare const consumerSettings: ConsumerSettings;
 * import { settingsToKafkaJs } from "./_settings.ts";
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
 * ```ts
 * import type { ConsumerSettings, ProducerSettings } from "@loom/streaming";
 * import { settingsToKafkaJs } from "./_settings.ts";
 * declare const anySettings: ProducerSettings | ConsumerSettings;
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

  const managed = KAFKA_ROLE_MANAGED_KEYS[role];
  const clash = Object.keys(settings.extra).filter((k) => managed.includes(k)).sort();
  if (clash.length > 0) {
    throw new KafkaConfigError(
      `kafka ${role}.extra contains keys already managed by typed settings: ${clash.join(", ")} ` +
        `(set them through the typed fields instead)`,
      clash[0],
    );
  }
  for (const key of Object.keys(settings.extra).sort()) {
    const roles = Object.hasOwn(KAFKA_EXTRA_KEYS, key) ? KAFKA_EXTRA_KEYS[key] : undefined;
    if (roles === undefined || !roles.includes(role)) {
      const why =
        (Object.hasOwn(KAFKA_UNSUPPORTED_EXTRA_KEYS, key) ? KAFKA_UNSUPPORTED_EXTRA_KEYS[key] : undefined) ??
          (roles !== undefined
            ? `it only applies to a ${roles.join(" or ")}`
            : "it is not a known client option");
      throw new KafkaConfigError(
        `kafka ${role}.extra key "${key}" is not supported by the kafkajs transport: ${why}. ` +
          `Supported ${role} keys: ${supportedExtraKeys(role).join(", ")}`,
        key,
      );
    }
    APPLY_EXTRA[key](draft, settings.extra[key], key, role);
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
