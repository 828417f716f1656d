/**
 * The client options a `kafka.*.extra` map may hold: the keys the Kafka transport supports per role
 * (producer or consumer), the well-known keys it cannot honour (with the reason), and the check the
 * compiler runs on every `extra` key. The kafkajs adapter maps the supported keys onto kafkajs options.
 *
 * @module
 */
import { KAFKA_MANAGED_KEYS } from "./_kafka.ts";
import { suggestKey } from "./_validation.ts";

/**
 * A Kafka client role.
 *
 * @example
 * ```ts
 * import type { KafkaRole } from "@loom/streaming";
 * const role: KafkaRole = "consumer";
 * ```
 */
export type KafkaRole = "producer" | "consumer";

const BOTH: readonly KafkaRole[] = Object.freeze(["producer", "consumer"]);
const PRODUCER: readonly KafkaRole[] = Object.freeze(["producer"]);
const CONSUMER: readonly KafkaRole[] = Object.freeze(["consumer"]);

/**
 * The `extra` keys the Kafka transport supports (Java names, plus a few librdkafka aliases), with the
 * roles each applies to.
 *
 * @example
 * ```ts
 * import { KAFKA_EXTRA_KEYS } from "@loom/streaming";
 * KAFKA_EXTRA_KEYS["session.timeout.ms"]; // ["consumer"]
 * ```
 */
export const KAFKA_EXTRA_KEYS: Readonly<Record<string, readonly KafkaRole[]>> = Object.freeze({
  "request.timeout.ms": BOTH,
  "socket.connection.setup.timeout.ms": BOTH,
  "retries": BOTH,
  "message.send.max.retries": PRODUCER,
  "retry.backoff.ms": BOTH,
  "retry.backoff.max.ms": BOTH,
  "metadata.max.age.ms": BOTH,
  "allow.auto.create.topics": BOTH,
  "max.in.flight.requests.per.connection": BOTH,
  "acks": PRODUCER,
  "request.required.acks": PRODUCER,
  "compression.type": PRODUCER,
  "compression.codec": PRODUCER,
  "max.request.size": PRODUCER,
  "enable.idempotence": PRODUCER,
  "client.id": CONSUMER,
  "session.timeout.ms": CONSUMER,
  "heartbeat.interval.ms": CONSUMER,
  "max.poll.interval.ms": CONSUMER,
  "fetch.min.bytes": CONSUMER,
  "fetch.max.bytes": CONSUMER,
  "fetch.max.wait.ms": CONSUMER,
  "fetch.wait.max.ms": CONSUMER,
  "max.partition.fetch.bytes": CONSUMER,
  "fetch.message.max.bytes": CONSUMER,
  "isolation.level": CONSUMER,
  "client.rack": CONSUMER,
});

/**
 * Well-known client keys the Kafka transport cannot honour, with the reason given in the error.
 *
 * @example
 * ```ts
 * import { KAFKA_UNSUPPORTED_EXTRA_KEYS } from "@loom/streaming";
 * "linger.ms" in KAFKA_UNSUPPORTED_EXTRA_KEYS; // true
 * ```
 */
export const KAFKA_UNSUPPORTED_EXTRA_KEYS: Readonly<Record<string, string>> = Object.freeze({
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
});

/**
 * The typed-settings keys of each role's client: repeating one in `extra` is an error (as in the Python
 * original). They are {@link KAFKA_MANAGED_KEYS} without the keys this role's typed settings have no
 * field for — a producer has no group, offset reset or auto-commit (those stay unknown producer keys), a
 * consumer has no client id (its `client.id` is a supported `extra` key) — plus the librdkafka spelling
 * `sasl.mechanisms` of `sasl.mechanism`.
 */
const NOT_TYPED: Readonly<Record<KafkaRole, readonly string[]>> = {
  producer: ["group.id", "auto.offset.reset", "enable.auto.commit"],
  consumer: ["client.id"],
};
const MANAGED_ALIASES: Readonly<Record<string, string>> = { "sasl.mechanisms": "sasl.mechanism" };
const managedKeys = (role: KafkaRole): readonly string[] => {
  const keys = KAFKA_MANAGED_KEYS.filter((k) => !NOT_TYPED[role].includes(k));
  for (const alias in MANAGED_ALIASES) if (keys.includes(MANAGED_ALIASES[alias])) keys.push(alias);
  return Object.freeze(keys);
};

/**
 * The `extra` keys of a role that the typed settings already set (see {@link KAFKA_MANAGED_KEYS}).
 *
 * @example
 * ```ts
 * import { KAFKA_ROLE_MANAGED_KEYS } from "@loom/streaming";
 * KAFKA_ROLE_MANAGED_KEYS.consumer.includes("group.id"); // true
 * ```
 */
export const KAFKA_ROLE_MANAGED_KEYS: Readonly<Record<KafkaRole, readonly string[]>> = Object.freeze({
  producer: managedKeys("producer"),
  consumer: managedKeys("consumer"),
});

/**
 * The supported `extra` keys of a role, sorted.
 *
 * @example
 * ```ts
 * import { supportedExtraKeys } from "@loom/streaming";
 * supportedExtraKeys("producer").includes("acks"); // true
 * ```
 */
export function supportedExtraKeys(role: KafkaRole): string[] {
  return Object.keys(KAFKA_EXTRA_KEYS).filter((k) => KAFKA_EXTRA_KEYS[k].includes(role)).sort();
}

/**
 * Why the Kafka transport cannot use `key` in the `extra` map of a `role` client, or null when it can.
 * The reason names the fix: the closest supported key for a typo, the typed field for a managed key.
 *
 * @example
 * ```ts
 * import { extraKeyProblem } from "@loom/streaming";
 * extraKeyProblem("consumer", "session.timeout.ms"); // null
 * extraKeyProblem("consumer", "session.timeout.msec"); // "... did you mean 'session.timeout.ms'? ..."
 * ```
 */
export function extraKeyProblem(role: KafkaRole, key: string): string | null {
  if (KAFKA_ROLE_MANAGED_KEYS[role].includes(key)) {
    const typed = MANAGED_ALIASES[key] ?? key;
    return `'${key}' is managed by the typed settings (like '${typed}'); set the typed field instead`;
  }
  const roles = Object.hasOwn(KAFKA_EXTRA_KEYS, key) ? KAFKA_EXTRA_KEYS[key] : undefined;
  if (roles !== undefined && roles.includes(role)) return null;
  const supported = supportedExtraKeys(role);
  if (Object.hasOwn(KAFKA_UNSUPPORTED_EXTRA_KEYS, key)) {
    return `'${key}' is not supported by the Kafka transport: ${
      KAFKA_UNSUPPORTED_EXTRA_KEYS[key]
    }; remove it`;
  }
  if (roles !== undefined) {
    return `'${key}' only applies to a ${roles.join(" or ")}; remove it from this ${role}'s extra`;
  }
  const suggestion = suggestKey(key, supported);
  return suggestion !== null
    ? `unknown ${role} option '${key}'; did you mean '${suggestion}'?`
    : `unknown ${role} option '${key}'; supported ${role} keys: ${supported.join(", ")}`;
}
