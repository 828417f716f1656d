import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  ConfigContext,
  ConfigError,
  consumerFor,
  parseConfig,
  producerFor,
  producerTopic,
  readKafkaSettings,
} from "./mod.ts";

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  assert.fail("expected a ConfigError");
}

describe("kafka section", () => {
  const consumer = (extra: string) =>
    `kafka:\n  consumer:\n    brokers: [a:9092]\n    group_id: g\n    topics: [t]\n${extra}`;

  test("a missing section", () => {
    const err = configError(() => readKafkaSettings(parseConfig("streaming: {}\n", { file: "c.yaml" })));
    assert.equal(err.message, "c.yaml: Config section not found: 'kafka'");
    assert.equal(err.path, "kafka");
  });

  test("defaults", () => {
    const c = readKafkaSettings(parseConfig(consumer(""))).consumer;
    assert.equal(c?.autoOffsetReset, "earliest");
    assert.equal(c?.pollTimeoutMs, 100);
    assert.equal(c?.enableAutoCommit, true);
    assert.deepEqual(c?.extra, {});
    assert.equal(c?.security, null);
  });

  test("wrong type: line, path and a fix", () => {
    const err = configError(() =>
      readKafkaSettings(
        parseConfig(consumer("").replace("group_id: g", "group_id: 42"), { file: "config.yaml" }),
      )
    );
    assert.equal(
      err.message,
      'config.yaml:4: kafka.consumer.group_id: expected a string, got a number (42); quote the value if it is meant as text: "42"',
    );
    assert.equal(err.line, 4);
    assert.equal(err.path, "kafka.consumer.group_id");
  });

  test("a number is never turned into a string (named consumer)", () => {
    const err = configError(() =>
      readKafkaSettings(
        parseConfig(
          "kafka:\n  consumers:\n    orders:\n      brokers: [a]\n      group_id: 7\n      topics: []\n",
          {
            file: "c.yaml",
          },
        ),
      )
    );
    assert.match(
      err.message,
      /^c\.yaml:5: kafka\.consumers\.orders\.group_id: expected a string, got a number \(7\)/,
    );
  });

  test("unknown keys with a suggestion", () => {
    const err = configError(() =>
      readKafkaSettings(parseConfig(consumer("").replace("group_id", "group_idd"), { file: "config.yaml" }))
    );
    assert.equal(
      err.message,
      "config.yaml:4: kafka.consumer.group_idd: unknown key 'group_idd'; did you mean 'group_id'?",
    );
    assert.equal(err.path, "kafka.consumer.group_idd");
    assert.equal(
      configError(() =>
        readKafkaSettings(parseConfig(consumer("    pollTimeoutMs: 5\n"), { file: "c.yaml" }))
      ).message,
      "c.yaml:6: kafka.consumer.pollTimeoutMs: unknown key 'pollTimeoutMs'; did you mean 'poll_timeout_ms'?",
    );
    assert.equal(
      configError(() => readKafkaSettings(parseConfig("kafka:\n  wat: {}\n", { file: "c.yaml" }))).message,
      "c.yaml:2: kafka.wat: unknown key 'wat'; allowed keys: producer, consumer, producers, consumers",
    );
  });

  test("missing required keys", () => {
    assert.equal(
      configError(() =>
        readKafkaSettings(parseConfig("kafka:\n  consumer: {brokers: [a], topics: []}\n", { file: "c.yaml" }))
      )
        .message,
      "c.yaml:2: kafka.consumer.group_id: missing required key 'group_id'; add 'group_id: ...' under kafka.consumer",
    );
    assert.equal(
      configError(() =>
        readKafkaSettings(parseConfig("kafka:\n  producer: {brokers: []}\n", { file: "c.yaml" }))
      ).message,
      'c.yaml:2: kafka.producer.brokers: brokers must list at least one broker, e.g. brokers: ["localhost:9092"]',
    );
    assert.match(
      configError(() => readKafkaSettings(parseConfig("kafka:\n  consumer: {brokers: [a], group_id: g}\n")))
        .message,
      /kafka\.consumer\.topics: missing required key 'topics'/,
    );
  });

  test("lax conversion: strings to numbers and booleans", () => {
    const c = readKafkaSettings(
      parseConfig(consumer('    poll_timeout_ms: "5"\n    enable_auto_commit: "false"\n')),
    ).consumer;
    assert.equal(c?.pollTimeoutMs, 5);
    assert.equal(c?.enableAutoCommit, false);
  });

  test("integers must be integers", () => {
    assert.equal(
      configError(() =>
        readKafkaSettings(parseConfig(consumer("    poll_timeout_ms: 1.5\n"), { file: "c.yaml" }))
      ).message,
      "c.yaml:6: kafka.consumer.poll_timeout_ms: expected an integer, got a number (1.5)",
    );
    assert.equal(
      configError(() =>
        readKafkaSettings(parseConfig(consumer("    poll_timeout_ms: abc\n"), { file: "c.yaml" }))
      ).message,
      'c.yaml:6: kafka.consumer.poll_timeout_ms: expected a number, got a string ("abc")',
    );
  });

  test("enumerations", () => {
    assert.equal(
      configError(() =>
        readKafkaSettings(parseConfig(consumer("    auto_offset_reset: newest\n"), { file: "c.yaml" }))
      )
        .message,
      'c.yaml:6: kafka.consumer.auto_offset_reset: expected one of "earliest", "latest", got a string ("newest")',
    );
  });

  test("brokers as a comma-separated string (e.g. from one environment variable)", () => {
    const ctx = parseConfig("kafka:\n  producer: {brokers: '${BROKERS}'}\n", {
      env: { BROKERS: "a:1, b:2" },
    });
    assert.deepEqual(readKafkaSettings(ctx).producer?.brokers, ["a:1", "b:2"]);
  });

  test("named override beats the default", () => {
    const settings = readKafkaSettings(
      ConfigContext.fromObject({
        kafka: {
          producer: { brokers: ["default:9092"] },
          producers: { orders: { brokers: ["named:9092"], topic: "orders.v2" } },
          consumer: { brokers: ["default:9092"], group_id: "default", topics: [] },
          consumers: { orders: { brokers: ["named:9092"], group_id: "named", topics: ["orders"] } },
        },
      }),
    );
    assert.deepEqual(producerFor(settings, "orders").brokers, ["named:9092"]);
    assert.deepEqual(producerFor(settings, "other").brokers, ["default:9092"]);
    assert.equal(producerTopic(settings, "orders"), "orders.v2");
    assert.equal(consumerFor(settings, "orders").groupId, "named");
    assert.equal(consumerFor(settings, "other").groupId, "default");
  });

  test("missing routes", () => {
    const settings = readKafkaSettings(ConfigContext.fromObject({ kafka: {} }));
    assert.throws(() => producerFor(settings, "orders.validated"), {
      message: "Kafka producer config route not found for logical reference 'orders.validated'. " +
        "Add kafka.producers.orders.validated or a default kafka.producer.",
    });
    assert.throws(() => consumerFor(settings, "orders.raw"), {
      message: "Kafka consumer config route not found for logical reference 'orders.raw'. " +
        "Add kafka.consumers.orders.raw or a default kafka.consumer.",
    });
    assert.throws(() => producerTopic(settings, "x"), /Kafka producer config route not found/);
  });

  test("extra repeating a managed key", () => {
    const err = configError(() =>
      readKafkaSettings(
        parseConfig(
          "kafka:\n  producer:\n    brokers: [a]\n    extra:\n      linger.ms: 5\n      bootstrap.servers: b\n",
          {
            file: "c.yaml",
          },
        ),
      )
    );
    assert.equal(
      err.message,
      "c.yaml:6: kafka.producer.extra.bootstrap.servers: extra contains 'bootstrap.servers', which is managed by " +
        "typed settings; set 'brokers' instead and remove 'bootstrap.servers' from extra",
    );
    assert.match(
      configError(() => readKafkaSettings(parseConfig(consumer("    extra: {sasl.password: x}\n")))).message,
      /extra contains 'sasl\.password', which is managed by typed settings; set 'security\.sasl_password' instead/,
    );
    assert.match(
      configError(() => readKafkaSettings(parseConfig(consumer("    extra: {fetch.min.bytes: null}\n"))))
        .message,
      /kafka\.consumer\.extra\.fetch\.min\.bytes: extra values must be a string, number or boolean, got null/,
    );
  });

  test("security", () => {
    const ctx = parseConfig(consumer("    security: {protocol: SSL, ssl_ca_location: /ca.pem}\n"));
    assert.deepEqual(readKafkaSettings(ctx).consumer?.security, {
      protocol: "SSL",
      saslMechanism: null,
      saslUsername: null,
      saslPassword: null,
      sslCaLocation: "/ca.pem",
    });
    assert.match(
      configError(() => readKafkaSettings(parseConfig(consumer("    security: {protocol: TLS}\n")))).message,
      /kafka\.consumer\.security\.protocol: expected one of "PLAINTEXT", "SSL", "SASL_SSL", "SASL_PLAINTEXT"/,
    );
  });
});
