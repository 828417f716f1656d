import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { KAFKA_MANAGED_KEYS } from "../../streaming/mod.ts";
import type { ConsumerSettings, ProducerSettings } from "../../streaming/_settings.ts";
import { KafkaConfigError } from "./_errors.ts";
import { settingsToKafkaJs } from "./_settings.ts";

const producer: ProducerSettings = {
  brokers: ["h:1"],
  clientId: null,
  topic: null,
  security: null,
  extra: {},
};
const consumer: ConsumerSettings = {
  brokers: ["h:1"],
  groupId: "g",
  topics: ["t"],
  autoOffsetReset: "earliest",
  pollTimeoutMs: 100,
  enableAutoCommit: false,
  security: null,
  extra: {},
};

/** True when `extra: { [key]: "x" }` is refused as a key managed by the typed settings. */
function refusedAsManaged(settings: ProducerSettings | ConsumerSettings, key: string): boolean {
  try {
    settingsToKafkaJs({ ...settings, extra: { [key]: "x" } });
    return false;
  } catch (e) {
    assert.ok(e instanceof KafkaConfigError, `${key}: ${e}`);
    assert.equal(e.key, key);
    return e.message.includes("already managed by typed settings");
  }
}

describe("kafkajs settings: managed keys", () => {
  const candidates = [...KAFKA_MANAGED_KEYS, "sasl.mechanisms"];

  test("the producer manages the core's keys it has typed fields for, and the sasl.mechanisms alias", () => {
    assert.deepEqual(
      candidates.filter((k) => refusedAsManaged(producer, k)).sort(),
      [
        "bootstrap.servers",
        "client.id",
        "sasl.mechanism",
        "sasl.mechanisms",
        "sasl.password",
        "sasl.username",
        "security.protocol",
        "ssl.ca.location",
      ],
    );
  });

  test("the consumer manages the core's keys except client.id, and the sasl.mechanisms alias", () => {
    assert.deepEqual(
      candidates.filter((k) => refusedAsManaged(consumer, k)).sort(),
      [
        "auto.offset.reset",
        "bootstrap.servers",
        "enable.auto.commit",
        "group.id",
        "sasl.mechanism",
        "sasl.mechanisms",
        "sasl.password",
        "sasl.username",
        "security.protocol",
        "ssl.ca.location",
      ],
    );
  });

  test("every core managed key is managed by at least one role", () => {
    for (const key of KAFKA_MANAGED_KEYS) {
      assert.ok(refusedAsManaged(producer, key) || refusedAsManaged(consumer, key), key);
    }
  });

  test("a consumer's client.id is an extra key; consumer-only keys are unknown to a producer", () => {
    const cfg = settingsToKafkaJs({ ...consumer, extra: { "client.id": "my-consumer" } });
    assert.equal(cfg.client.clientId, "my-consumer");
    assert.throws(
      () => settingsToKafkaJs({ ...producer, extra: { "group.id": "g" } }),
      (e: unknown) => e instanceof KafkaConfigError && e.message.includes("not a known client option"),
    );
  });
});
