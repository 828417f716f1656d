// The kafkajs adapter's settings mapping. Its behaviour against the real broker is tested, with the
// @platformatic/kafka adapter's, by one suite: tests/kafka_adapter_conformance_test.ts.
// Run: deno test -A runtime/kafkajs/_settings_mapping_test.ts
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CompressionTypes, Partitioners } from "kafkajs";
import { KafkaConfigError, KafkaConsumerClient, settingsToKafkaJs } from "./mod.ts";
import type { ConsumerSettings, ProducerSettings } from "../../streaming/_settings.ts";

// --- settings mapping (no broker) ------------------------------------------------------------------------

describe("settingsToKafkaJs", () => {
  const base: ConsumerSettings = {
    brokers: ["127.0.0.1:1"],
    groupId: "g",
    topics: ["t"],
    autoOffsetReset: "latest",
    pollTimeoutMs: 250,
    enableAutoCommit: true,
    security: null,
    extra: {},
  };

  test("maps consumer settings and extra keys", () => {
    const cfg = settingsToKafkaJs({
      ...base,
      extra: {
        "client.id": "my-consumer",
        "session.timeout.ms": "12000",
        "heartbeat.interval.ms": 4000,
        "max.poll.interval.ms": 90000,
        "fetch.min.bytes": 10,
        "fetch.max.bytes": 2048000,
        "fetch.max.wait.ms": 50,
        "max.partition.fetch.bytes": 65536,
        "isolation.level": "read_uncommitted",
        "client.rack": "az1",
        "retries": 2,
        "retry.backoff.ms": 150,
        "request.timeout.ms": 7000,
        "socket.connection.setup.timeout.ms": 900,
        "metadata.max.age.ms": 60000,
        "allow.auto.create.topics": "false",
      },
    });
    assert.equal(cfg.kind, "consumer");
    assert.deepEqual(cfg.client.brokers, ["127.0.0.1:1"]);
    assert.equal(cfg.client.clientId, "my-consumer");
    assert.equal(cfg.client.requestTimeout, 7000);
    assert.equal(cfg.client.connectionTimeout, 900);
    assert.deepEqual(cfg.client.retry, { retries: 2, initialRetryTime: 150 });
    assert.equal(cfg.fromBeginning, false);
    assert.equal(cfg.enableAutoCommit, true);
    assert.deepEqual(cfg.topics, ["t"]);
    assert.deepEqual(cfg.consumer, {
      groupId: "g",
      maxWaitTimeInMs: 50,
      sessionTimeout: 12000,
      heartbeatInterval: 4000,
      rebalanceTimeout: 90000,
      minBytes: 10,
      maxBytes: 2048000,
      maxBytesPerPartition: 65536,
      readUncommitted: true,
      rackId: "az1",
      metadataMaxAge: 60000,
      allowAutoTopicCreation: false,
    });
    const plain = settingsToKafkaJs({ ...base, autoOffsetReset: "earliest" });
    assert.equal(plain.fromBeginning, true);
    assert.equal(plain.consumer.maxWaitTimeInMs, 250, "pollTimeoutMs is the fetch wait by default");
    assert.equal(plain.client.clientId, "loom-streaming");
  });

  test("maps producer settings: acks, compression, idempotence, partitioner", () => {
    const p: ProducerSettings = {
      brokers: ["h:9092"],
      clientId: "app",
      topic: null,
      security: null,
      extra: {},
    };
    const d = settingsToKafkaJs(p);
    assert.equal(d.kind, "producer");
    assert.equal(d.client.clientId, "app");
    assert.deepEqual(d.send, {
      acks: -1,
      timeout: undefined,
      compression: CompressionTypes.None,
      maxRequestBytes: 1024 * 1024,
    });
    assert.equal(d.producer.createPartitioner, Partitioners.DefaultPartitioner);
    const x = settingsToKafkaJs({
      ...p,
      extra: {
        acks: "1",
        "compression.type": "gzip",
        "request.timeout.ms": 5000,
        "max.in.flight.requests.per.connection": 1,
        "max.request.size": 65536,
      },
    });
    assert.deepEqual(x.send, {
      acks: 1,
      timeout: 5000,
      compression: CompressionTypes.GZIP,
      maxRequestBytes: 65536,
    });
    assert.equal(x.producer.maxInFlightRequests, 1);
    assert.equal(settingsToKafkaJs({ ...p, extra: { acks: "all" } }).send.acks, -1);
    assert.equal(
      settingsToKafkaJs({ ...p, extra: { "enable.idempotence": true } }).producer.idempotent,
      true,
    );
    assert.throws(
      () => settingsToKafkaJs({ ...p, extra: { "enable.idempotence": true, acks: 1 } }),
      /enable\.idempotence=true needs acks=all/,
    );
    assert.throws(
      () => settingsToKafkaJs({ ...p, extra: { "compression.type": "zstd" } }),
      /only bundles gzip/,
    );
  });

  test("maps security: SSL with CA file, SASL mechanisms, and rejects incomplete sections", () => {
    const dir = mkdtempSync(join(tmpdir(), "loom-ca-"));
    try {
      const ca = join(dir, "ca.pem");
      writeFileSync(ca, "-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----\n");
      const p: ProducerSettings = {
        brokers: ["h:9093"],
        clientId: null,
        topic: null,
        security: null,
        extra: {},
      };
      const sec = (s: Partial<NonNullable<ProducerSettings["security"]>>): ProducerSettings => ({
        ...p,
        security: {
          protocol: "PLAINTEXT",
          saslMechanism: null,
          saslUsername: null,
          saslPassword: null,
          sslCaLocation: null,
          ...s,
        },
      });
      assert.equal(settingsToKafkaJs(sec({ protocol: "SSL" })).client.ssl, true);
      assert.deepEqual(settingsToKafkaJs(sec({ protocol: "SSL", sslCaLocation: ca })).client.ssl, {
        ca: ["-----BEGIN CERTIFICATE-----\nabc\n-----END CERTIFICATE-----\n"],
      });
      const scram = settingsToKafkaJs(
        sec({ protocol: "SASL_SSL", saslMechanism: "SCRAM-SHA-512", saslUsername: "u", saslPassword: "pw" }),
      );
      assert.equal(scram.client.ssl, true);
      assert.deepEqual(scram.client.sasl, { mechanism: "scram-sha-512", username: "u", password: "pw" });
      const plain = settingsToKafkaJs(
        sec({ protocol: "SASL_PLAINTEXT", saslMechanism: "PLAIN", saslUsername: "u", saslPassword: "pw" }),
      );
      assert.equal(plain.client.ssl, undefined);
      assert.deepEqual(plain.client.sasl, { mechanism: "plain", username: "u", password: "pw" });
      assert.throws(() => settingsToKafkaJs(sec({ protocol: "SASL_SSL" })), /needs sasl_mechanism PLAIN/);
      assert.throws(
        () => settingsToKafkaJs(sec({ protocol: "SASL_SSL", saslMechanism: "PLAIN", saslUsername: "u" })),
        /needs sasl_username and sasl_password/,
      );
      assert.throws(
        () => settingsToKafkaJs(sec({ protocol: "SSL", sslCaLocation: join(dir, "missing.pem") })),
        (e: unknown) => e instanceof KafkaConfigError && /cannot read CA file/.test(e.message),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("unknown, unsupported, misplaced and managed extra keys throw a KafkaConfigError naming the key", () => {
    const p: ProducerSettings = { brokers: ["h:1"], clientId: null, topic: null, security: null, extra: {} };
    assert.throws(
      () => settingsToKafkaJs({ ...base, extra: { "fetch.max.wiat.ms": 10 } }),
      (e: unknown) =>
        e instanceof KafkaConfigError && e.key === "fetch.max.wiat.ms" &&
        e.message.includes('"fetch.max.wiat.ms" is not supported') &&
        e.message.includes("not a known client option") &&
        e.message.includes("Supported consumer keys:") && e.message.includes("session.timeout.ms"),
    );
    assert.throws(
      () => settingsToKafkaJs({ ...p, extra: { "linger.ms": 5 } }),
      (e: unknown) =>
        e instanceof KafkaConfigError && e.key === "linger.ms" && /one request per/.test(e.message),
    );
    assert.throws(
      () => settingsToKafkaJs({ ...p, extra: { "session.timeout.ms": 5000 } }),
      /only applies to a consumer/,
    );
    assert.throws(
      () => settingsToKafkaJs({ ...base, extra: { "group.id": "x", "bootstrap.servers": "y" } }),
      /already managed by typed settings: bootstrap\.servers, group\.id/,
    );
    assert.throws(
      () => settingsToKafkaJs({ ...base, extra: { "fetch.min.bytes": "lots" } }),
      /must be an integer/,
    );
    assert.throws(
      () =>
        settingsToKafkaJs({ ...base, extra: { "heartbeat.interval.ms": 9000, "session.timeout.ms": 6000 } }),
      /must be lower than session\.timeout\.ms/,
    );
    assert.throws(() => settingsToKafkaJs({ ...base, brokers: [] }), /at least one/);
    assert.throws(() => new KafkaConsumerClient({ ...base, extra: { "linger.ms": 1 } }), KafkaConfigError);
  });
});

// --- against the real broker -----------------------------------------------------------------------------
