/**
 * The `kafka` section: brokers, security, producer and consumer settings, per logical topic.
 *
 * @module
 */
import * as v from "valibot";
import type {
  ConsumerSettings,
  KafkaConfigValue,
  KafkaSecuritySettings,
  KafkaSettings,
  ProducerSettings,
} from "../_settings.ts";
import { type ConfigContext, errorAt, notFound, resolvePath, validateAt } from "./_context.ts";
import { describeValue, type Segments } from "./_errors.ts";
import { intAtLeast, nonEmptyString, optionalString } from "./_schemas.ts";

/**
 * librdkafka option names set by the typed settings; repeating one in `extra` is an error.
 *
 * @example
 * ```ts
 * import { KAFKA_MANAGED_KEYS } from "@loom/streaming";
 * KAFKA_MANAGED_KEYS.includes("group.id"); // true
 * ```
 */
export const KAFKA_MANAGED_KEYS: readonly string[] = Object.freeze([
  "bootstrap.servers",
  "client.id",
  "group.id",
  "auto.offset.reset",
  "enable.auto.commit",
  "security.protocol",
  "sasl.mechanism",
  "sasl.username",
  "sasl.password",
  "ssl.ca.location",
]);

const MANAGED_BY: Readonly<Record<string, string>> = {
  "bootstrap.servers": "brokers",
  "client.id": "client_id",
  "group.id": "group_id",
  "auto.offset.reset": "auto_offset_reset",
  "enable.auto.commit": "enable_auto_commit",
  "security.protocol": "security.protocol",
  "sasl.mechanism": "security.sasl_mechanism",
  "sasl.username": "security.sasl_username",
  "sasl.password": "security.sasl_password",
  "ssl.ca.location": "security.ssl_ca_location",
};

const brokersSchema = v.union(
  [
    v.pipe(
      v.array(nonEmptyString("a broker address")),
      v.minLength(1, 'brokers must list at least one broker, e.g. brokers: ["localhost:9092"]'),
    ),
    v.pipe(
      v.string(),
      v.transform((s) => s.split(",").map((b) => b.trim()).filter((b) => b !== "")),
      v.minLength(1, 'brokers must list at least one broker, e.g. brokers: ["localhost:9092"]'),
    ),
  ],
  (issue) =>
    `expected a list of broker addresses (or a comma-separated string), got ${describeValue(issue.input)}`,
);

const securitySchema = v.strictObject({
  protocol: v.picklist(["PLAINTEXT", "SSL", "SASL_SSL", "SASL_PLAINTEXT"]),
  sasl_mechanism: optionalString,
  sasl_username: optionalString,
  sasl_password: optionalString,
  ssl_ca_location: optionalString,
});

const extraSchema = v.optional(
  v.nullable(
    v.record(
      v.string(),
      v.union(
        [v.string(), v.number(), v.boolean()],
        (issue) => `extra values must be a string, number or boolean, got ${describeValue(issue.input)}`,
      ),
    ),
  ),
  {},
);

const producerSchema = v.strictObject({
  brokers: brokersSchema,
  client_id: optionalString,
  topic: optionalString,
  security: v.nullish(securitySchema),
  extra: extraSchema,
});

const consumerSchema = v.strictObject({
  brokers: brokersSchema,
  group_id: nonEmptyString("group_id"),
  topics: v.array(nonEmptyString("a topic name")),
  auto_offset_reset: v.optional(v.picklist(["earliest", "latest"]), "earliest"),
  poll_timeout_ms: v.optional(intAtLeast(0), 100),
  enable_auto_commit: v.optional(v.boolean(), true),
  security: v.nullish(securitySchema),
  extra: extraSchema,
});

const kafkaSchema = v.strictObject({
  producer: v.nullish(producerSchema),
  consumer: v.nullish(consumerSchema),
  producers: v.nullish(v.record(v.string(), producerSchema)),
  consumers: v.nullish(v.record(v.string(), consumerSchema)),
});

type RawSecurity = v.InferOutput<typeof securitySchema>;
type RawProducer = v.InferOutput<typeof producerSchema>;
type RawConsumer = v.InferOutput<typeof consumerSchema>;

function toSecurity(s: RawSecurity | null | undefined): KafkaSecuritySettings | null {
  if (s === null || s === undefined) return null;
  return {
    protocol: s.protocol,
    saslMechanism: s.sasl_mechanism ?? null,
    saslUsername: s.sasl_username ?? null,
    saslPassword: s.sasl_password ?? null,
    sslCaLocation: s.ssl_ca_location ?? null,
  };
}

function checkExtra(
  ctx: ConfigContext,
  segs: Segments,
  extra: Readonly<Record<string, KafkaConfigValue>> | null,
): Readonly<Record<string, KafkaConfigValue>> {
  if (extra === null) return {};
  for (const key of Object.keys(extra)) {
    const field = MANAGED_BY[key];
    if (field !== undefined) {
      throw errorAt(
        ctx,
        [...segs, "extra", key],
        `extra contains '${key}', which is managed by typed settings`,
        `set '${field}' instead and remove '${key}' from extra`,
      );
    }
  }
  return extra;
}

function toProducer(ctx: ConfigContext, segs: Segments, p: RawProducer): ProducerSettings {
  return {
    brokers: p.brokers,
    clientId: p.client_id ?? null,
    topic: p.topic ?? null,
    security: toSecurity(p.security),
    extra: checkExtra(ctx, segs, p.extra),
  };
}

function toConsumer(ctx: ConfigContext, segs: Segments, c: RawConsumer): ConsumerSettings {
  return {
    brokers: c.brokers,
    groupId: c.group_id,
    topics: c.topics,
    autoOffsetReset: c.auto_offset_reset,
    pollTimeoutMs: c.poll_timeout_ms,
    enableAutoCommit: c.enable_auto_commit,
    security: toSecurity(c.security),
    extra: checkExtra(ctx, segs, c.extra),
  };
}

/**
 * Reads and validates the `kafka` section (§3.1). Unknown keys are errors (with a "did you mean" hint);
 * `extra` may not repeat a managed option ({@link KAFKA_MANAGED_KEYS}).
 *
 * @example
 * ```ts
 * import { ConfigContext, readKafkaSettings } from "@loom/streaming";
 * const ctx = ConfigContext.fromObject({
 *   kafka: { consumer: { brokers: ["localhost:9092"], group_id: "g", topics: ["orders"] } },
 * });
 * readKafkaSettings(ctx).consumer?.autoOffsetReset; // "earliest"
 * ```
 */
export function readKafkaSettings(ctx: ConfigContext): KafkaSettings {
  const r = resolvePath(ctx.raw, ["kafka"]);
  if (!r.found || r.value === null) throw notFound(ctx, "kafka", r);
  const raw = validateAt(ctx, ["kafka"], r.value, kafkaSchema);
  const producers: Record<string, ProducerSettings> = {};
  for (const [name, p] of Object.entries(raw.producers ?? {})) {
    producers[name] = toProducer(ctx, ["kafka", "producers", name], p);
  }
  const consumers: Record<string, ConsumerSettings> = {};
  for (const [name, c] of Object.entries(raw.consumers ?? {})) {
    consumers[name] = toConsumer(ctx, ["kafka", "consumers", name], c);
  }
  return {
    producer: raw.producer ? toProducer(ctx, ["kafka", "producer"], raw.producer) : null,
    consumer: raw.consumer ? toConsumer(ctx, ["kafka", "consumer"], raw.consumer) : null,
    producers,
    consumers,
  };
}

/**
 * The producer settings for a logical topic reference: `kafka.producers.<logical>`, else `kafka.producer`.
 *
 * @example
 * ```ts
 * import { ConfigContext, producerFor, readKafkaSettings } from "@loom/streaming";
 * const settings = readKafkaSettings(
 *   ConfigContext.fromObject({ kafka: { producer: { brokers: ["localhost:9092"] } } }),
 * );
 * producerFor(settings, "orders").brokers; // ["localhost:9092"]
 * ```
 */
export function producerFor(settings: KafkaSettings, logical: string): ProducerSettings {
  const named = Object.hasOwn(settings.producers, logical) ? settings.producers[logical] : undefined;
  const found = named ?? settings.producer;
  if (found === null) {
    throw new Error(
      `Kafka producer config route not found for logical reference '${logical}'. ` +
        `Add kafka.producers.${logical} or a default kafka.producer.`,
    );
  }
  return found;
}

/**
 * The consumer settings for a logical source name: `kafka.consumers.<logical>`, else `kafka.consumer`.
 *
 * @example
 * ```ts
 * import { ConfigContext, consumerFor, readKafkaSettings } from "@loom/streaming";
 * const settings = readKafkaSettings(ConfigContext.fromObject({
 *   kafka: { consumer: { brokers: ["localhost:9092"], group_id: "g", topics: [] } },
 * }));
 * consumerFor(settings, "orders").groupId; // "g"
 * ```
 */
export function consumerFor(settings: KafkaSettings, logical: string): ConsumerSettings {
  const named = Object.hasOwn(settings.consumers, logical) ? settings.consumers[logical] : undefined;
  const found = named ?? settings.consumer;
  if (found === null) {
    throw new Error(
      `Kafka consumer config route not found for logical reference '${logical}'. ` +
        `Add kafka.consumers.${logical} or a default kafka.consumer.`,
    );
  }
  return found;
}

/**
 * The physical topic a logical producer reference writes to (`topic` of its settings, else the logical name).
 *
 * @example
 * ```ts
 * import { ConfigContext, producerTopic, readKafkaSettings } from "@loom/streaming";
 * const settings = readKafkaSettings(ConfigContext.fromObject({
 *   kafka: { producers: { orders: { brokers: ["b:9092"], topic: "orders.v1" } } },
 * }));
 * producerTopic(settings, "orders"); // "orders.v1"
 * ```
 */
export function producerTopic(settings: KafkaSettings, logical: string): string {
  return producerFor(settings, logical).topic ?? logical;
}
