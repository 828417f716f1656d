/**
 * Maps the typed Kafka settings (`streaming/_settings.ts`, the original's YAML keys) onto
 * the options of @platformatic/kafka. Every default of the library that differs from what a stream processor
 * needs is set here explicitly (see {@link settingsToPlatformatic}).
 *
 * @module
 */

import type {
  ConsumerSettings,
  KafkaConfigValue,
  KafkaSecuritySettings,
  ProducerSettings,
} from "../../streaming/_settings.ts";
import { KafkaConfigError } from "../kafkajs/mod.ts";
import { resolveSecurity } from "../_kafka_security.ts";

/** Client-level options shared by producers and consumers (a subset of platformatic's `BaseOptions`). */
export interface PlatformaticBaseOptions {
  /** `host:port` bootstrap brokers. */
  bootstrapBrokers: string[];
  /** Client id (default `loom-streaming`). */
  clientId: string;
  /** Socket connect timeout in ms (`socket.connection.setup.timeout.ms`). */
  connectTimeout?: number;
  /** Per-request timeout in ms (`request.timeout.ms`); also the produce ack timeout. */
  timeout?: number;
  /** Retries of retriable failures (`retries`). */
  retries: number;
  /** Delay between retries in ms (`retry.backoff.ms`). */
  retryDelay: number;
  /** Metadata cache age in ms (`metadata.max.age.ms`). */
  metadataMaxAge?: number;
  /** Whether metadata requests may create topics (`allow.auto.create.topics`, default false). */
  autocreateTopics: boolean;
  /** Pipelined requests per connection (`max.in.flight.requests.per.connection`). */
  maxInflights?: number;
  /** Rack of the client (`client.rack`), for follower fetching. */
  clientRack?: string;
  /** TLS options (`SSL`, `SASL_SSL`). */
  tls?: { ca?: string[] };
  /** SASL options (`SASL_*`). */
  sasl?: { mechanism: "PLAIN" | "SCRAM-SHA-256" | "SCRAM-SHA-512"; username: string; password: string };
}

/** The compression codecs @platformatic/kafka knows. */
export type PlatformaticCompression = "none" | "gzip" | "snappy" | "lz4" | "zstd";

/** Producer options from {@link settingsToPlatformatic}. */
export interface PlatformaticProducerOptions {
  /** Discriminant. */
  readonly kind: "producer";
  /** Client options. */
  readonly base: PlatformaticBaseOptions;
  /** -1 (all in-sync replicas, default), 0 or 1: platformatic's own default is leader-only. */
  readonly acks: -1 | 0 | 1;
  /** Codec of produced batches (`compression.type`, default none). */
  readonly compression: PlatformaticCompression;
  /** Idempotent producer (`enable.idempotence`, default false). */
  readonly idempotent: boolean;
  /** Upper bound of the record bytes per produce request (`max.request.size`, default 1 MiB). */
  readonly maxRequestBytes: number;
}

/** Consumer options from {@link settingsToPlatformatic}. */
export interface PlatformaticConsumerOptions {
  /** Discriminant. */
  readonly kind: "consumer";
  /** Client options. */
  readonly base: PlatformaticBaseOptions;
  /** Group id. */
  readonly groupId: string;
  /** Static membership id (`group.instance.id`), when set. */
  readonly groupInstanceId: string | undefined;
  /** `session.timeout.ms` (default 30000). */
  readonly sessionTimeout: number;
  /** `heartbeat.interval.ms` (default 3000). */
  readonly heartbeatInterval: number;
  /** `max.poll.interval.ms` (default 60000): how long a rebalance waits for this member. */
  readonly rebalanceTimeout: number;
  /** `fetch.min.bytes` (default 1). */
  readonly minBytes: number;
  /** `fetch.max.bytes` (default 10 MiB; platformatic's own default is 50 MB). */
  readonly maxBytes: number;
  /** `max.partition.fetch.bytes` (default 1 MiB). */
  readonly maxBytesPerPartition: number;
  /** How long a fetch waits for data: `pollTimeoutMs`, or `fetch.max.wait.ms`. */
  readonly maxWaitTime: number;
  /** 0 read_uncommitted, 1 read_committed (default, as the kafkajs adapter). */
  readonly isolationLevel: 0 | 1;
  /** Where a partition without committed offset starts (`auto_offset_reset`). */
  readonly fallbackMode: "earliest" | "latest";
  /** Always false: the engine commits. `enableAutoCommit` is kept for the engine. */
  readonly autocommit: false;
  /** The settings' `enableAutoCommit` (the engine commits completed offsets either way). */
  readonly enableAutoCommit: boolean;
  /** The settings' topics. */
  readonly topics: readonly string[];
}

type Role = "producer" | "consumer";

interface Draft {
  base: PlatformaticBaseOptions;
  acks: -1 | 0 | 1;
  compression: PlatformaticCompression;
  idempotent: boolean;
  maxRequestBytes: number;
  groupInstanceId: string | undefined;
  sessionTimeout: number;
  heartbeatInterval: number;
  rebalanceTimeout: number;
  minBytes: number;
  maxBytes: number;
  maxBytesPerPartition: number;
  maxWaitTime: number;
  isolationLevel: 0 | 1;
}

interface ExtraKey {
  readonly roles: readonly Role[];
  readonly apply: (draft: Draft, value: KafkaConfigValue, key: string) => void;
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

const setAcks = (d: Draft, v: KafkaConfigValue, k: string): void => {
  const s = String(v).trim().toLowerCase();
  if (s === "all" || s === "-1") d.acks = -1;
  else if (s === "0") d.acks = 0;
  else if (s === "1") d.acks = 1;
  else throw new KafkaConfigError(`kafka extra "${k}" must be all, -1, 0 or 1, got ${JSON.stringify(v)}`, k);
};

const CODECS: readonly PlatformaticCompression[] = ["none", "gzip", "snappy", "lz4", "zstd"];

const setCompression = (d: Draft, v: KafkaConfigValue, k: string): void => {
  const s = String(v).trim().toLowerCase() as PlatformaticCompression;
  if (!CODECS.includes(s)) {
    throw new KafkaConfigError(
      `kafka extra "${k}" must be one of ${CODECS.join(", ")}, got ${JSON.stringify(v)}`,
      k,
    );
  }
  d.compression = s;
};

const setRetries = (d: Draft, v: KafkaConfigValue, k: string): void => {
  d.base.retries = asInt(k, v);
};

const BOTH: readonly Role[] = ["producer", "consumer"];
const PRODUCER: readonly Role[] = ["producer"];
const CONSUMER: readonly Role[] = ["consumer"];

type IntField =
  | "sessionTimeout"
  | "heartbeatInterval"
  | "rebalanceTimeout"
  | "minBytes"
  | "maxBytes"
  | "maxBytesPerPartition"
  | "maxWaitTime";

const consumerInt = (field: IntField, min = 1): ExtraKey => ({
  roles: CONSUMER,
  apply: (d, v, k) => {
    d[field] = asInt(k, v, min);
  },
});

/** `extra` keys with a platformatic equivalent (Java names, plus the librdkafka aliases the kafkajs adapter takes). */
const EXTRA_KEYS: Readonly<Record<string, ExtraKey>> = {
  "request.timeout.ms": {
    roles: BOTH,
    apply: (d, v, k) => {
      d.base.timeout = asInt(k, v, 1);
    },
  },
  "socket.connection.setup.timeout.ms": {
    roles: BOTH,
    apply: (d, v, k) => {
      d.base.connectTimeout = asInt(k, v, 1);
    },
  },
  "retries": { roles: BOTH, apply: setRetries },
  "message.send.max.retries": { roles: PRODUCER, apply: setRetries },
  "retry.backoff.ms": {
    roles: BOTH,
    apply: (d, v, k) => {
      d.base.retryDelay = asInt(k, v, 0);
    },
  },
  "metadata.max.age.ms": {
    roles: BOTH,
    apply: (d, v, k) => {
      d.base.metadataMaxAge = asInt(k, v, 0);
    },
  },
  "allow.auto.create.topics": {
    roles: BOTH,
    apply: (d, v, k) => {
      d.base.autocreateTopics = asBool(k, v);
    },
  },
  "max.in.flight.requests.per.connection": {
    roles: BOTH,
    apply: (d, v, k) => {
      d.base.maxInflights = asInt(k, v, 1);
    },
  },
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
      d.idempotent = asBool(k, v);
    },
  },
  "client.id": {
    roles: CONSUMER,
    apply: (d, v) => {
      d.base.clientId = String(v);
    },
  },
  "client.rack": {
    roles: CONSUMER,
    apply: (d, v) => {
      d.base.clientRack = String(v);
    },
  },
  "group.instance.id": {
    roles: CONSUMER,
    apply: (d, v, k) => {
      const s = String(v).trim();
      if (s === "" || /\s/.test(s)) {
        throw new KafkaConfigError(`kafka extra "${k}" must be a non-empty id without spaces`, k);
      }
      d.groupInstanceId = s;
    },
  },
  "session.timeout.ms": consumerInt("sessionTimeout"),
  "heartbeat.interval.ms": consumerInt("heartbeatInterval"),
  "max.poll.interval.ms": consumerInt("rebalanceTimeout"),
  "fetch.min.bytes": consumerInt("minBytes"),
  "fetch.max.bytes": consumerInt("maxBytes"),
  "fetch.max.wait.ms": consumerInt("maxWaitTime", 0),
  "fetch.wait.max.ms": consumerInt("maxWaitTime", 0),
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
      d.isolationLevel = s === "read_committed" ? 1 : 0;
    },
  },
};

/** Well-known keys the adapter cannot honour, with the reason given in the error. */
const UNSUPPORTED_KEYS: Readonly<Record<string, string>> = {
  "linger.ms": "each send is one produce request; the engine already sends one request per processed batch",
  "queue.buffering.max.ms": "there is no client-side send queue; the engine batches per processed batch",
  "batch.size": "there is no client-side batching; the engine sends one request per processed batch",
  "batch.num.messages": "there is no client-side batching; the engine sends one request per processed batch",
  "buffer.memory": "there is no client-side send buffer",
  "delivery.timeout.ms": "there is no delivery timeout; bound a send with request.timeout.ms and retries",
  "message.timeout.ms": "there is no delivery timeout; bound a send with request.timeout.ms and retries",
  "transactional.id": "transactions are not used by the transport",
  "enable.auto.offset.store": "offsets are stored and committed by the engine",
  "auto.commit.interval.ms": "the consumer never auto-commits; the engine commits",
  "partition.assignment.strategy": "the adapter always uses the round-robin assigner (eager protocol)",
  "group.protocol": "the adapter speaks the classic consumer group protocol",
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

/** TLS and SASL from the security section (checked once for both adapters). */
const applySecurity = (
  base: PlatformaticBaseOptions,
  security: KafkaSecuritySettings | null,
  role: Role,
): void => {
  const { tls, sasl } = resolveSecurity(security, role);
  if (tls !== null) base.tls = tls.ca === undefined ? {} : { ca: [...tls.ca] };
  if (sasl !== null) base.sasl = { ...sasl };
};

/** Default client id, as the kafkajs adapter. */
export const DEFAULT_CLIENT_ID = "loom-streaming";
/** Default `fetch.max.bytes`: a bounded fetch (platformatic's own default is 50 MB). */
export const DEFAULT_FETCH_MAX_BYTES = 10 * 1024 * 1024;
/** Default `max.partition.fetch.bytes` (Java's default). */
export const DEFAULT_PARTITION_FETCH_MAX_BYTES = 1024 * 1024;

/**
 * Maps producer settings onto @platformatic/kafka options.
 *
 * Mapping (the same keys as the kafkajs adapter, so one YAML file works with both):
 * - `brokers` → `bootstrapBrokers`; producer `clientId` (or consumer extra `client.id`) → `clientId`
 *   (default `loom-streaming`); security `SSL` → `tls` (with `ca` read from `ssl_ca_location`),
 *   `SASL_*` → `sasl { mechanism: PLAIN | SCRAM-SHA-256 | SCRAM-SHA-512, username, password }`.
 * - Defaults set explicitly because platformatic's differ: producer `acks` -1 (its default is leader
 *   only); consumer autocommit off, `fetch.max.bytes` 10 MiB and `max.partition.fetch.bytes` 1 MiB (its
 *   default allows 50 MB per fetch), session 30 s / heartbeat 3 s / rebalance 60 s (as kafkajs),
 *   `maxWaitTime` = `pollTimeoutMs`, read_committed, metadata requests never create topics, and the start
 *   position is taken from the group's committed offsets with `auto_offset_reset` as the fallback (its
 *   default starts at the latest offset and ignores commits; the consumer client sets that mode).
 * - `extra`: every key with an equivalent (the error lists them per role); unknown, unsupported or
 *   managed keys throw a {@link KafkaConfigError} naming the key.
 *
 * @param settings Producer settings.
 * @returns Producer options.
 * @throws {KafkaConfigError} When a setting has no equivalent or is invalid.
 * @example
 * ```ts ignore
 * const cfg = settingsToPlatformatic({
 *   brokers: ["127.0.0.1:19092"], clientId: "app", topic: null, security: null, extra: { "compression.type": "lz4" },
 * });
 * cfg.acks; // -1
 * ```
 */
export function settingsToPlatformatic(settings: ProducerSettings): PlatformaticProducerOptions;
/**
 * Maps consumer settings onto @platformatic/kafka options (see the producer overload for the rules).
 *
 * @param settings Consumer settings.
 * @returns Consumer options.
 * @example
 * ```ts ignore
 * const cfg = settingsToPlatformatic(consumerSettings);
 * cfg.maxBytes; // 10485760 unless fetch.max.bytes is set
 * ```
 */
export function settingsToPlatformatic(settings: ConsumerSettings): PlatformaticConsumerOptions;
/**
 * Maps producer or consumer settings (told apart by `groupId`).
 *
 * @param settings Producer or consumer settings.
 * @returns The matching options.
 * @example
 * ```ts ignore
 * const cfg = settingsToPlatformatic(anySettings);
 * if (cfg.kind === "consumer") console.log(cfg.groupId);
 * ```
 */
export function settingsToPlatformatic(
  settings: ProducerSettings | ConsumerSettings,
): PlatformaticProducerOptions | PlatformaticConsumerOptions;
export function settingsToPlatformatic(
  settings: ProducerSettings | ConsumerSettings,
): PlatformaticProducerOptions | PlatformaticConsumerOptions {
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
  const draft: Draft = {
    base: {
      bootstrapBrokers: settings.brokers.map((b) => b.trim()),
      clientId: role === "producer"
        ? ((settings as ProducerSettings).clientId ?? DEFAULT_CLIENT_ID)
        : DEFAULT_CLIENT_ID,
      retries: 5,
      retryDelay: 300,
      autocreateTopics: false,
    },
    acks: -1,
    compression: "none",
    idempotent: false,
    maxRequestBytes: 1024 * 1024,
    groupInstanceId: undefined,
    sessionTimeout: 30_000,
    heartbeatInterval: 3_000,
    rebalanceTimeout: 60_000,
    minBytes: 1,
    maxBytes: DEFAULT_FETCH_MAX_BYTES,
    maxBytesPerPartition: DEFAULT_PARTITION_FETCH_MAX_BYTES,
    maxWaitTime: role === "consumer" ? (settings as ConsumerSettings).pollTimeoutMs : 100,
    isolationLevel: 1,
  };
  applySecurity(draft.base, settings.security, role);
  if (role === "consumer") {
    const c = settings as ConsumerSettings;
    if (typeof c.groupId !== "string" || c.groupId === "") {
      throw new KafkaConfigError("kafka consumer.group_id must be a non-empty string", "group.id");
    }
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
        `kafka ${role}.extra key "${key}" is not supported by the @platformatic/kafka transport: ${why}. ` +
          `Supported ${role} keys: ${supportedKeys(role).join(", ")}`,
        key,
      );
    }
    spec.apply(draft, settings.extra[key], key);
  }
  if (role === "producer") {
    if (draft.idempotent && draft.acks !== -1) {
      throw new KafkaConfigError(
        `kafka producer.extra: enable.idempotence=true needs acks=all (got acks=${draft.acks})`,
        "enable.idempotence",
      );
    }
    return {
      kind: "producer",
      base: draft.base,
      acks: draft.acks,
      compression: draft.compression,
      idempotent: draft.idempotent,
      maxRequestBytes: draft.maxRequestBytes,
    };
  }
  if (draft.heartbeatInterval >= draft.sessionTimeout) {
    throw new KafkaConfigError(
      `kafka consumer.extra: heartbeat.interval.ms (${draft.heartbeatInterval}) must be lower than ` +
        `session.timeout.ms (${draft.sessionTimeout}); about a third of it is usual`,
      "heartbeat.interval.ms",
    );
  }
  if (draft.rebalanceTimeout < draft.sessionTimeout) {
    throw new KafkaConfigError(
      `kafka consumer.extra: max.poll.interval.ms (${draft.rebalanceTimeout}) must be at least ` +
        `session.timeout.ms (${draft.sessionTimeout})`,
      "max.poll.interval.ms",
    );
  }
  if (draft.maxBytesPerPartition > draft.maxBytes) {
    throw new KafkaConfigError(
      `kafka consumer.extra: max.partition.fetch.bytes (${draft.maxBytesPerPartition}) must not exceed ` +
        `fetch.max.bytes (${draft.maxBytes})`,
      "max.partition.fetch.bytes",
    );
  }
  const c = settings as ConsumerSettings;
  return {
    kind: "consumer",
    base: draft.base,
    groupId: c.groupId,
    groupInstanceId: draft.groupInstanceId,
    sessionTimeout: draft.sessionTimeout,
    heartbeatInterval: draft.heartbeatInterval,
    rebalanceTimeout: draft.rebalanceTimeout,
    minBytes: draft.minBytes,
    maxBytes: draft.maxBytes,
    maxBytesPerPartition: draft.maxBytesPerPartition,
    maxWaitTime: draft.maxWaitTime,
    isolationLevel: draft.isolationLevel,
    fallbackMode: c.autoOffsetReset,
    autocommit: false,
    enableAutoCommit: c.enableAutoCommit,
    topics: c.topics,
  };
}
