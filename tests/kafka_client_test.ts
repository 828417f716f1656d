// Integration tests of the kafkajs adapter against a REAL local broker (scripts/kafka.sh ensure).
// Run: deno test -A tests/kafka_client_test.ts   |   bun test tests/kafka_client_test.ts
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Buffer } from "node:buffer";
import { CompressionTypes, Kafka, logLevel, Partitioners } from "kafkajs";
import {
  bootstrap,
  consumerSettings,
  createTopics,
  deleteTopics,
  quiet,
  sleep,
  tpKey,
  unique,
  waitFor,
  withAdmin,
} from "./_support.ts";
import {
  type ConsumerHandler,
  KafkaCommitError,
  KafkaConfigError,
  KafkaConsumerClient,
  KafkaConsumerError,
  KafkaDeliveryError,
  type KafkaLogRecord,
  KafkaProducerClient,
  settingsToKafkaJs,
} from "../runtime/kafkajs/mod.ts";
import type { ConsumerSettings, ProducerSettings } from "../streaming/_settings.ts";
import type { OutgoingRecord, RecordBatch, SourceRecord } from "../streaming/_transport.ts";

// --- fixtures --------------------------------------------------------------------------------------------

const enc = new TextEncoder();
const dec = new TextDecoder();
const text = (b: Uint8Array | null | undefined): string | null => (b == null ? null : dec.decode(b));

const producerSettings = (extra: ProducerSettings["extra"] = {}): ProducerSettings => ({
  brokers: [bootstrap()],
  clientId: "loom-test",
  topic: null,
  security: null,
  extra,
});

/** A consumer that records every batch; optional hooks for the test. */
const startConsumer = async (
  groupId: string,
  topics: readonly string[],
  hooks: Partial<ConsumerHandler> = {},
  extra: ConsumerSettings["extra"] = {},
): Promise<{ consumer: KafkaConsumerClient; records: SourceRecord[]; batches: RecordBatch[] }> => {
  const consumer = new KafkaConsumerClient(consumerSettings(groupId, extra), quiet);
  const records: SourceRecord[] = [];
  const batches: RecordBatch[] = [];
  await consumer.connect();
  await consumer.subscribe(topics, true);
  await consumer.run({
    ...hooks,
    onBatch: async (batch, ctl) => {
      batches.push(batch);
      for (const r of batch.records) records.push(r);
      if (hooks.onBatch) await hooks.onBatch(batch, ctl);
    },
  });
  return { consumer, records, batches };
};

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

describe("kafka client against a real broker", () => {
  test("10k records produced in batches come back with keys, headers, timestamps and offsets", {
    timeout: 120_000,
  }, async () => {
    const topic = unique("roundtrip");
    const other = unique("roundtrip-other");
    await createTopics([topic, other]);
    const producer = new KafkaProducerClient(producerSettings(), quiet);
    await producer.connect();
    const base = 1_700_000_000_000;
    const N = 10_000;
    const pad = "x".repeat(180);
    try {
      for (let b = 0; b < N / 1000; b++) {
        const batch: OutgoingRecord[] = [];
        for (let i = b * 1000; i < (b + 1) * 1000; i++) {
          batch.push({
            key: i % 10 === 0 ? null : enc.encode(`key-${i}`),
            value: enc.encode(`${i}|${pad}`),
            headers: i % 7 === 0
              ? {}
              : { idx: enc.encode(String(i)), "x-bin": new Uint8Array([0, 255, i & 255]) },
            timestampMs: base + i,
          });
        }
        await producer.send(topic, batch);
      }
      // One sendBatch over two topics.
      await producer.sendMany(
        new Map([
          [topic, [{
            key: enc.encode("many"),
            value: enc.encode(`${N}|many`),
            headers: {},
            timestampMs: base,
          }]],
          [other, [{ key: null, value: enc.encode("other"), headers: {}, timestampMs: null, partition: 2 }]],
        ]),
      );

      const { consumer, records, batches } = await startConsumer(unique("g"), [topic, other]);
      try {
        await waitFor(() => records.length >= N + 2, 60_000, `${N + 2} records`);
        await sleep(200);
        assert.equal(records.length, N + 2, "no duplicates");
      } finally {
        await consumer.disconnect();
      }
      const seen = new Set<number>();
      const lastOffset = new Map<string, number>();
      for (const batch of batches) {
        assert.ok(batch.records.length > 0);
        for (const r of batch.records) {
          assert.equal(r.topic, batch.topic);
          assert.equal(r.partition, batch.partition);
          // Offsets are numbers, contiguous per partition in delivery order.
          const k = tpKey(r);
          assert.equal(r.offset, (lastOffset.get(k) ?? -1) + 1, `contiguous offsets on ${k}`);
          lastOffset.set(k, r.offset);
          if (r.topic === other) {
            assert.equal(text(r.value), "other");
            assert.equal(r.partition, 2);
            assert.equal(r.key, null);
            assert.equal(typeof r.timestampMs, "number");
            continue;
          }
          const value = text(r.value)!;
          const i = Number(value.slice(0, value.indexOf("|")));
          assert.ok(!seen.has(i));
          seen.add(i);
          if (i === N) {
            assert.equal(text(r.key), "many");
            continue;
          }
          assert.equal(value, `${i}|${pad}`);
          assert.equal(Object.getPrototypeOf(r.value), Uint8Array.prototype, "plain Uint8Array view");
          assert.equal(text(r.key), i % 10 === 0 ? null : `key-${i}`);
          assert.equal(r.timestampMs, base + i);
          if (i % 7 === 0) {
            assert.deepEqual(r.headers, {});
          } else {
            assert.deepEqual(Object.keys(r.headers).sort(), ["idx", "x-bin"]);
            assert.equal(text(r.headers.idx), String(i));
            assert.deepEqual([...r.headers["x-bin"]], [0, 255, i & 255]);
          }
        }
      }
      assert.equal(seen.size, N + 1);
      const perPartition = [0, 1, 2].map((p) => lastOffset.get(`${topic}[${p}]`) ?? -1);
      assert.equal(perPartition.reduce((a, b) => a + b + 1, 0), N + 1);
    } finally {
      await producer.disconnect();
      await deleteTopics([topic, other]);
    }
  });

  test("string and duplicate headers are converted (UTF-8 bytes, last wins, null dropped)", {
    timeout: 60_000,
  }, async () => {
    const topic = unique("headers");
    await createTopics([topic], 1);
    const kafka = new Kafka({ brokers: [bootstrap()], clientId: "raw", logLevel: logLevel.NOTHING });
    const raw = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await raw.connect();
    try {
      await raw.send({
        topic,
        messages: [{
          key: "k",
          value: "v",
          headers: { s: "héllo", d: ["first", Buffer.from("second")], b: Buffer.from([1, 2]) },
        }],
      });
    } finally {
      await raw.disconnect();
    }
    const { consumer, records } = await startConsumer(unique("g"), [topic]);
    try {
      await waitFor(() => records.length >= 1, 30_000, "1 record");
    } finally {
      await consumer.disconnect();
      await deleteTopics([topic]);
    }
    const r = records[0];
    assert.deepEqual(Object.keys(r.headers).sort(), ["b", "d", "s"]);
    assert.equal(text(r.headers.s), "héllo");
    assert.equal(text(r.headers.d), "second");
    assert.deepEqual([...r.headers.b], [1, 2]);
    assert.equal(text(r.key), "k");
    assert.equal(r.offset, 0);
  });

  test("keys are placed with Java's murmur2 (same key → same partition)", { timeout: 60_000 }, async () => {
    // Expected partitions (of 3) computed with org.apache.kafka.common.utils.Utils.murmur2 (kafka-clients 3.9.1).
    const javaPartition: Record<string, number> = {
      "alpha": 1,
      "beta": 2,
      "gamma": 1,
      "delta": 2,
      "epsilon": 1,
      "key-0": 1,
      "key-1": 0,
      "key-2": 2,
      "key-3": 2,
      "key-4": 0,
      "order-42": 0,
      "ключ": 2,
      "😀": 0,
    };
    const keys = Object.keys(javaPartition);
    const partitioner = Partitioners.DefaultPartitioner();
    const partitionMetadata = [0, 1, 2].map((partitionId) => ({
      partitionErrorCode: 0,
      partitionId,
      leader: 1,
      replicas: [1],
      isr: [1],
    }));
    for (const k of keys) {
      const p = partitioner({ topic: "t", partitionMetadata, message: { key: Buffer.from(k), value: null } });
      assert.equal(p, javaPartition[k], `kafkajs partitioner agrees with Java for ${k}`);
    }
    const topic = unique("murmur");
    await createTopics([topic]);
    const producer = new KafkaProducerClient(producerSettings(), quiet);
    await producer.connect();
    try {
      const recs: OutgoingRecord[] = [];
      for (let round = 0; round < 3; round++) {
        for (const k of keys) {
          recs.push({ key: enc.encode(k), value: enc.encode(k), headers: {}, timestampMs: null });
        }
      }
      await producer.send(topic, recs);
      await producer.send(topic, recs.slice(0, keys.length));
    } finally {
      await producer.disconnect();
    }
    const { consumer, records } = await startConsumer(unique("g"), [topic]);
    try {
      await waitFor(() => records.length >= keys.length * 4, 30_000, "all keyed records");
    } finally {
      await consumer.disconnect();
      await deleteTopics([topic]);
    }
    const placed = new Map<string, Set<number>>();
    for (const r of records) {
      const k = text(r.key)!;
      if (!placed.has(k)) placed.set(k, new Set());
      placed.get(k)!.add(r.partition);
    }
    for (const k of keys) {
      assert.deepEqual([...placed.get(k)!], [javaPartition[k]], `partition of key ${k}`);
    }
  });

  test("a send larger than the broker's message.max.bytes is split into requests and fully written", {
    timeout: 60_000,
  }, async () => {
    const topic = unique("big");
    const other = unique("big-other");
    await createTopics([topic, other], 1);
    const producer = new KafkaProducerClient(producerSettings(), quiet);
    await producer.connect();
    const value = new Uint8Array(1024).fill(97);
    const recs: OutgoingRecord[] = [];
    for (let i = 0; i < 3000; i++) {
      recs.push({
        key: enc.encode(String(i)),
        value,
        headers: { i: enc.encode(String(i)) },
        timestampMs: null,
      });
    }
    try {
      await producer.send(topic, recs); // ~3 MiB for one partition
      await producer.sendMany(new Map([[topic, recs.slice(0, 1500)], [other, recs]]));
      // Without splitting, the broker rejects the batch: a clear KafkaDeliveryError.
      const unsplit = new KafkaProducerClient(
        producerSettings({ "max.request.size": 8 * 1024 * 1024 }),
        quiet,
      );
      await unsplit.connect();
      try {
        await assert.rejects(
          unsplit.send(topic, recs),
          (e: unknown) =>
            e instanceof KafkaDeliveryError && e.recordCount === 3000 &&
            /larger than the max message size/.test(e.message),
        );
      } finally {
        await unsplit.disconnect();
      }
      const offsets = await withAdmin(async (admin) => [
        await admin.fetchTopicOffsets(topic),
        await admin.fetchTopicOffsets(other),
      ]);
      assert.deepEqual(offsets.map((o) => o[0].high), ["4500", "3000"]);
    } finally {
      await producer.disconnect();
      await deleteTopics([topic, other]);
    }
  });

  test(
    "commit stores the next offset to read (checked with admin fetchOffsets) and a new member resumes there",
    {
      timeout: 60_000,
    },
    async () => {
      const topic = unique("commit");
      const groupId = unique("g");
      await createTopics([topic]);
      const producer = new KafkaProducerClient(producerSettings(), quiet);
      await producer.connect();
      try {
        const recs: OutgoingRecord[] = [];
        for (let i = 0; i < 90; i++) {
          recs.push({
            key: null,
            value: enc.encode(String(i)),
            headers: {},
            timestampMs: null,
            partition: i % 3,
          });
        }
        await producer.send(topic, recs);
      } finally {
        await producer.disconnect();
      }
      const commitErrors: unknown[] = [];
      const ref: { consumer?: KafkaConsumerClient } = {};
      const first = await startConsumer(groupId, [topic], {
        onBatch: async (batch) => {
          const last = batch.records[batch.records.length - 1];
          await ref.consumer!.commit([{
            topic: batch.topic,
            partition: batch.partition,
            offset: last.offset + 1,
          }])
            .catch((e) => void commitErrors.push(e));
        },
      });
      ref.consumer = first.consumer;
      const consumer = first.consumer;
      try {
        await waitFor(() => first.records.length >= 90, 30_000, "90 records");
        await sleep(100);
        assert.deepEqual(commitErrors, []);
        const fetched = await withAdmin((admin) => admin.fetchOffsets({ groupId, topics: [topic] }));
        assert.deepEqual(
          fetched[0].partitions.map((p) => [p.partition, p.offset]).sort(),
          [[0, "30"], [1, "30"], [2, "30"]],
        );
        // Rewind partition 1 to offset 25 explicitly.
        await consumer.commit([{ topic, partition: 1, offset: 25 }]);
        const rewound = await withAdmin((admin) => admin.fetchOffsets({ groupId, topics: [topic] }));
        assert.equal(rewound[0].partitions.find((p) => p.partition === 1)!.offset, "25");
        await assert.rejects(
          consumer.commit([{ topic, partition: 0, offset: -1 }]),
          (e: unknown) => e instanceof KafkaCommitError && /non-negative integer/.test(e.message),
        );
      } finally {
        await consumer.stop();
      }
      await assert.rejects(
        consumer.commit([{ topic, partition: 0, offset: 1 }]),
        (e: unknown) =>
          e instanceof KafkaCommitError && e.offsets.length === 1 &&
          /the consumer is stopped/.test(e.message),
      );
      await consumer.disconnect();

      const second = await startConsumer(groupId, [topic]);
      try {
        await waitFor(() => second.records.length >= 5, 30_000, "records after the committed offset");
        await sleep(300);
      } finally {
        await second.consumer.disconnect();
        await deleteTopics([topic]);
      }
      assert.deepEqual(
        second.records.map((r) => [r.partition, r.offset]),
        [[1, 25], [1, 26], [1, 27], [1, 28], [1, 29]],
      );
    },
  );

  test("pause stops fetching a partition and resume restarts it", { timeout: 60_000 }, async () => {
    const topic = unique("pause");
    await createTopics([topic]);
    const producer = new KafkaProducerClient(producerSettings(), quiet);
    await producer.connect();
    try {
      const recs: OutgoingRecord[] = [];
      for (let i = 0; i < 30; i++) {
        recs.push({
          key: null,
          value: enc.encode(String(i)),
          headers: {},
          timestampMs: null,
          partition: i % 3,
        });
      }
      await producer.send(topic, recs);
    } finally {
      await producer.disconnect();
    }
    const { consumer, records } = await startConsumer(unique("g"), [topic]);
    try {
      // Paused right after the join: a fetch already under way may still hand over one batch.
      consumer.pause([{ topic, partition: 0 }]);
      await waitFor(
        () => records.filter((r) => r.partition !== 0).length >= 20,
        30_000,
        "partitions 1 and 2",
      );
      const before = records.filter((r) => r.partition === 0).length;
      await sleep(600);
      assert.equal(
        records.filter((r) => r.partition === 0).length,
        before,
        "nothing from a paused partition",
      );
      assert.ok(
        before === 0 || before === 10,
        `partition 0 fetched at most once before the pause (${before})`,
      );
      consumer.resume([{ topic, partition: 0 }]);
      await waitFor(() => records.length >= 30, 30_000, "partition 0 after resume");
      assert.equal(records.filter((r) => r.partition === 0).length, 10);
    } finally {
      await consumer.disconnect();
      await deleteTopics([topic]);
    }
    assert.throws(() => consumer.pause([{ topic, partition: 0 }]), KafkaConsumerError);
  });

  test("two members share the partitions; a join revokes (after in-flight batches) then reassigns", {
    timeout: 90_000,
  }, async () => {
    const topic = unique("rebalance");
    const groupId = unique("g");
    await createTopics([topic]);
    const producer = new KafkaProducerClient(producerSettings(), quiet);
    await producer.connect();
    const produce = async (from: number, count: number) => {
      const recs: OutgoingRecord[] = [];
      for (let i = from; i < from + count; i++) {
        recs.push({ key: enc.encode(`k${i}`), value: enc.encode(String(i)), headers: {}, timestampMs: null });
      }
      await producer.send(topic, recs);
    };
    const events: Record<string, string[]> = { a: [], b: [] };
    const inflight = { a: 0, b: 0 };
    const processed: Record<"a" | "b", Map<string, number>> = { a: new Map(), b: new Map() };
    const revokeCommitErrors: unknown[] = [];
    const members: Partial<Record<"a" | "b", KafkaConsumerClient>> = {};
    const hooks = (name: "a" | "b"): Partial<ConsumerHandler> => ({
      onAssigned: (tps) => void events[name].push(`assigned:${tps.map((t) => t.partition).join(",")}`),
      onRevoked: async (tps) => {
        events[name].push(`revoked:${tps.map((t) => t.partition).join(",")}:inflight=${inflight[name]}`);
        // Take a while: the member's JoinGroup must wait, or this commit would hit a newer generation.
        await sleep(400);
        // Commit what was processed for the revoked partitions: the old generation is still valid.
        const offsets = tps.filter((tp) => processed[name].has(tpKey(tp))).map((tp) => ({
          ...tp,
          offset: processed[name].get(tpKey(tp))! + 1,
        }));
        await members[name]!.commit(offsets).catch((e) => void revokeCommitErrors.push(e));
        // Forget revoked partitions: a stale offset committed later would move the group backwards.
        for (const tp of tps) processed[name].delete(tpKey(tp));
      },
      onBatch: async (batch) => {
        inflight[name]++;
        await sleep(5);
        processed[name].set(tpKey(batch), batch.records[batch.records.length - 1].offset);
        inflight[name]--;
      },
    });
    try {
      await produce(0, 300);
      const a = await startConsumer(groupId, [topic], hooks("a"));
      members.a = a.consumer;
      assert.deepEqual(a.consumer.assignment().map((t) => t.partition), [0, 1, 2]);
      await waitFor(() => a.records.length >= 300, 30_000, "a: first 300 records");

      const b = await startConsumer(groupId, [topic], hooks("b"));
      members.b = b.consumer;
      await waitFor(
        () =>
          events.a.length >= 3 && a.consumer.assignment().length > 0 && b.consumer.assignment().length > 0,
        30_000,
        "the rebalance",
      );
      assert.deepEqual(events.a.slice(0, 2), ["assigned:0,1,2", "revoked:0,1,2:inflight=0"]);
      assert.match(events.a[2], /^assigned:/);
      const owned = [...a.consumer.assignment(), ...b.consumer.assignment()].map((t) => t.partition).sort();
      assert.deepEqual(owned, [0, 1, 2], "disjoint and complete");
      assert.deepEqual(revokeCommitErrors, []);
      const committed = await withAdmin((admin) => admin.fetchOffsets({ groupId, topics: [topic] }));
      assert.equal(
        committed[0].partitions.reduce((n, p) => n + Number(p.offset), 0),
        300,
        "committed in onRevoked",
      );

      await produce(300, 300);
      const fromSecondRound = () =>
        [...a.records, ...b.records].filter((r) => Number(text(r.value)) >= 300).length;
      await waitFor(() => fromSecondRound() >= 300, 30_000, "the second 300 records");
      assert.ok(b.records.length > 0, "the new member consumes");
      assert.ok(a.records.some((r) => Number(text(r.value)) >= 300), "the old member still consumes");

      // b leaves: its partitions are revoked on stop, then a gets everything back.
      const aEventsBefore = events.a.length;
      await b.consumer.disconnect();
      assert.match(events.b.at(-1)!, /^revoked:/);
      await waitFor(
        () => a.consumer.assignment().length === 3 && events.a.length >= aEventsBefore + 2,
        30_000,
        "a owns all",
      );
      assert.match(events.a.at(-2)!, /^revoked:/);
      assert.equal(events.a.at(-1), "assigned:0,1,2");
      await a.consumer.disconnect();
      assert.match(events.a.at(-1)!, /^revoked:0,1,2/);
      assert.deepEqual(revokeCommitErrors, []);
      const final = await withAdmin((admin) => admin.fetchOffsets({ groupId, topics: [topic] }));
      assert.equal(
        final[0].partitions.reduce((n, p) => n + Number(p.offset), 0),
        600,
        "everything committed",
      );
    } finally {
      await members.a?.disconnect().catch(() => {});
      await members.b?.disconnect().catch(() => {});
      await producer.disconnect();
      await deleteTopics([topic]);
    }
  });

  test("stop() during the first join still leaves the group", { timeout: 60_000 }, async () => {
    const topic = unique("early-stop");
    const groupId = unique("g");
    await createTopics([topic]);
    const early = new KafkaConsumerClient(consumerSettings(groupId), quiet);
    const delivered: RecordBatch[] = [];
    try {
      await early.connect();
      await early.subscribe([topic], true);
      const running = early.run({ onBatch: (b) => Promise.resolve(void delivered.push(b)) });
      await early.stop();
      await running;
      assert.deepEqual(early.assignment(), []);
      // A zombie member would keep some partitions: the next member must get all three.
      const next = await startConsumer(groupId, [topic]);
      try {
        assert.deepEqual(next.consumer.assignment().map((t) => t.partition), [0, 1, 2]);
      } finally {
        await next.consumer.disconnect();
      }
      assert.deepEqual(delivered, []);
    } finally {
      await early.disconnect();
      await deleteTopics([topic]);
    }
  });

  test(
    "a rejecting onBatch stops the consumer and reports a KafkaConsumerError",
    { timeout: 60_000 },
    async () => {
      const topic = unique("fail");
      await createTopics([topic], 1);
      const producer = new KafkaProducerClient(producerSettings(), quiet);
      await producer.connect();
      await producer.send(topic, [{ key: null, value: enc.encode("boom"), headers: {}, timestampMs: null }]);
      await producer.disconnect();
      const errors: Error[] = [];
      let calls = 0;
      const consumer = new KafkaConsumerClient(consumerSettings(unique("g")), quiet);
      try {
        await consumer.connect();
        await consumer.subscribe([topic], true);
        await consumer.run({
          onBatch: () => {
            calls++;
            return Promise.reject(new Error("handler bug"));
          },
          onError: (e) => void errors.push(e),
        });
        await waitFor(() => errors.length > 0, 30_000, "onError");
        await sleep(200);
        assert.equal(calls, 1, "no redelivery after a handler failure");
        assert.ok(errors[0] instanceof KafkaConsumerError);
        assert.match(errors[0].message, /onBatch failed for .*\[0\].*handler bug/);
        assert.equal((errors[0].cause as Error).message, "handler bug");
        await assert.rejects(consumer.commit([{ topic, partition: 0, offset: 1 }]), KafkaCommitError);
      } finally {
        await consumer.disconnect();
        await deleteTopics([topic]);
      }
    },
  );

  test("an unreachable broker gives a clear error within a bounded time", { timeout: 30_000 }, async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer();
      srv.listen(0, "127.0.0.1", () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const fast = { retries: 1, "retry.backoff.ms": 100, "socket.connection.setup.timeout.ms": 500 };
    const closed = `127.0.0.1:${port}`;
    const logs: KafkaLogRecord[] = [];
    const t0 = performance.now();
    const producer = new KafkaProducerClient(
      { brokers: [closed], clientId: null, topic: null, security: null, extra: fast },
      { logger: (r) => void logs.push(r) },
    );
    await assert.rejects(producer.connect(), (e: unknown) => {
      assert.ok(e instanceof KafkaDeliveryError);
      assert.match(e.message, new RegExp(`could not connect to ${closed}`));
      assert.doesNotMatch(e.message, /scripts\/kafka\.sh/, "no development hint in library messages");
      assert.ok(e.cause instanceof Error);
      return true;
    });
    await assert.rejects(
      producer.send("t", [{ key: null, value: enc.encode("x"), headers: {}, timestampMs: null }]),
      (e: unknown) => e instanceof KafkaDeliveryError && /not connected/.test(e.message),
    );
    const consumer = new KafkaConsumerClient(
      { ...consumerSettings("unreachable"), brokers: [closed], extra: fast },
      { logger: (r) => void logs.push(r) },
    );
    await assert.rejects(
      consumer.connect(),
      (e: unknown) =>
        e instanceof KafkaConsumerError && e.message.includes(`could not connect to ${closed}`) &&
        !e.message.includes("scripts/kafka.sh"),
    );
    const elapsed = performance.now() - t0;
    assert.ok(elapsed < 10_000, `failed within ${Math.round(elapsed)} ms`);
    assert.ok(logs.every((r) => r.level === "error" || r.level === "warn"), "default level is warn");
  });
});
