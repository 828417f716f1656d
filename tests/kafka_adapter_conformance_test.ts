// One conformance suite for both Kafka adapters (kafkajs and @platformatic/kafka), against the REAL local
// broker (scripts/kafka.sh ensure). Every case runs once per adapter. This file: producing (round trips,
// headers, request splitting, key placement); tests/kafka_adapter_group_conformance_test.ts: consumer groups,
// offsets, fetching and failures.
// Run: deno test -A tests/kafka_adapter_conformance_test.ts   |   bun test tests/kafka_adapter_conformance_test.ts
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { Kafka, logLevel, Partitioners } from "kafkajs";
import {
  bootstrap,
  committedOffsets,
  consumerSettings,
  createTopics,
  deleteTopics,
  endOffsets,
  sleep,
  tpKey,
  unique,
  waitFor,
} from "./_support.ts";
import { KafkaCommitError, KafkaDeliveryError } from "../runtime/kafkajs/mod.ts";
import { partitionForKey } from "../kafka/_murmur2.ts";
import type { ConsumerPort, OutgoingRecord, RecordBatch } from "../streaming/_transport.ts";
import { ADAPTERS, consumerStarter, enc, fill, producerSettings, rec, text } from "./_conformance.ts";

for (const a of ADAPTERS) {
  const startConsumer = consumerStarter(a);
  describe(`${a.name} adapter conformance`, () => {
    test("round trip: keys, headers, timestamps, explicit partitions, tombstones, two topics in one call", {
      timeout: 90_000,
    }, async () => {
      const topic = unique(`${a.name}-rt`);
      const other = unique(`${a.name}-rt-other`);
      await createTopics([topic, other]);
      const producer = a.producer(producerSettings());
      await producer.connect();
      const base = 1_700_000_000_000;
      const N = 3000;
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
        await producer.sendMany(
          new Map([
            [topic, [rec(`${N}|many`, { key: enc.encode("many"), timestampMs: base })]],
            [other, [rec("other", { partition: 2 })]],
          ]),
        );
        // A tombstone (null value) and an empty value, written by a plain kafkajs producer.
        const raw = new Kafka({ brokers: [bootstrap()], clientId: "raw", logLevel: logLevel.NOTHING })
          .producer({ createPartitioner: Partitioners.DefaultPartitioner });
        await raw.connect();
        await raw.send({
          topic: other,
          messages: [
            { key: "gone", value: null, partition: 0, headers: { s: "héllo" } },
            { key: "empty", value: Buffer.alloc(0), partition: 0 },
          ],
        });
        await raw.disconnect();

        const { consumer, records, batches } = await startConsumer(unique("g"), [topic, other]);
        try {
          await waitFor(() => records.length >= N + 4, 60_000, `${N + 4} records`);
          await sleep(200);
          assert.equal(records.length, N + 4, "no duplicates");
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
            const k = tpKey(r);
            assert.equal(r.offset, (lastOffset.get(k) ?? -1) + 1, `contiguous offsets on ${k}`);
            lastOffset.set(k, r.offset);
            if (r.topic === other) {
              if (text(r.key) === "gone") {
                assert.equal(r.value, null, "a tombstone has a null value");
                assert.equal(text(r.headers.s), "héllo");
                assert.deepEqual([r.partition, r.offset], [0, 0]);
              } else if (text(r.key) === "empty") {
                assert.ok(r.value !== null && r.value.byteLength === 0, "an empty value is not a tombstone");
              } else {
                assert.equal(text(r.value), "other");
                assert.equal(r.partition, 2);
                assert.equal(r.key, null);
                assert.equal(typeof r.timestampMs, "number");
              }
              continue;
            }
            const value = text(r.value)!;
            const i = Number(value.slice(0, value.indexOf("|")));
            assert.ok(!seen.has(i));
            seen.add(i);
            if (i === N) {
              assert.equal(text(r.key), "many");
              assert.equal(r.timestampMs, base);
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
        const ends = await endOffsets(topic);
        assert.equal([...ends.values()].reduce((s, n) => s + n, 0), N + 1, "broker holds every record once");
        for (const [p, high] of ends) assert.equal((lastOffset.get(`${topic}[${p}]`) ?? -1) + 1, high);
      } finally {
        await producer.disconnect();
        await deleteTopics([topic, other]);
      }
    });

    test("string and duplicate headers are converted (UTF-8 bytes, last wins, null dropped)", {
      timeout: 60_000,
    }, async () => {
      const topic = unique(`${a.name}-headers`);
      await createTopics([topic], 1);
      const raw = new Kafka({ brokers: [bootstrap()], clientId: "raw", logLevel: logLevel.NOTHING })
        .producer({ createPartitioner: Partitioners.DefaultPartitioner });
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

    test("a send larger than the broker's message.max.bytes is split into requests and fully written", {
      timeout: 60_000,
    }, async () => {
      const topic = unique(`${a.name}-big`);
      const other = unique(`${a.name}-big-other`);
      await createTopics([topic, other], 1);
      const producer = a.producer(producerSettings());
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
        // Without splitting, the broker rejects the batch: a clear, record-specific KafkaDeliveryError.
        const unsplit = a.producer(producerSettings({ "max.request.size": 8 * 1024 * 1024, retries: 0 }));
        await unsplit.connect();
        try {
          await assert.rejects(
            unsplit.send(topic, recs),
            (e: unknown) => e instanceof KafkaDeliveryError && e.recordCount === 3000 && e.recordSpecific,
          );
        } finally {
          await unsplit.disconnect();
        }
        assert.deepEqual([(await endOffsets(topic)).get(0), (await endOffsets(other)).get(0)], [4500, 3000]);
      } finally {
        await producer.disconnect();
        await deleteTopics([topic, other]);
      }
    });

    test("stop() during the first join still leaves the group", { timeout: 60_000 }, async () => {
      const topic = unique(`${a.name}-early-stop`);
      const groupId = unique("g");
      await createTopics([topic]);
      const early = a.consumer(consumerSettings(groupId));
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

    test("keys are placed with Java's murmur2 (the partitions kafka-clients 3.9.1 picks)", {
      timeout: 60_000,
    }, async () => {
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
      for (const k of keys) assert.equal(partitionForKey(enc.encode(k), 3), javaPartition[k], k);
      // Plus keys whose murmur2 is negative (where `>>> 0` and Java's `& 0x7fffffff` disagree).
      const more: string[] = [];
      for (let i = 0; more.length < 40; i++) more.push(`k${i}`);
      const topic = unique(`${a.name}-murmur`);
      await createTopics([topic]);
      const producer = a.producer(producerSettings());
      await producer.connect();
      try {
        const recs: OutgoingRecord[] = [];
        for (let round = 0; round < 2; round++) {
          for (const k of [...keys, ...more]) recs.push(rec(k, { key: enc.encode(k) }));
        }
        await producer.send(topic, recs);
      } finally {
        await producer.disconnect();
      }
      const { consumer, records } = await startConsumer(unique("g"), [topic]);
      try {
        await waitFor(() => records.length >= (keys.length + more.length) * 2, 30_000, "all keyed records");
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
      for (const k of more) {
        assert.deepEqual([...placed.get(k)!], [partitionForKey(enc.encode(k), 3)], `partition of key ${k}`);
      }
    });

    test(
      "commit stores exactly the given offsets, and a restarted member resumes there (not at auto_offset_reset)",
      {
        timeout: 60_000,
      },
      async () => {
        const topic = unique(`${a.name}-commit`);
        const groupId = unique("g");
        await createTopics([topic]);
        await fill(a, topic, 90);
        const commitErrors: unknown[] = [];
        const ref: { consumer?: ConsumerPort } = {};
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
          assert.deepEqual([...await committedOffsets(groupId, topic)].sort(), [[0, 30], [1, 30], [2, 30]]);
          // Rewind partition 1 to offset 25 explicitly: exactly that offset is stored.
          await consumer.commit([{ topic, partition: 1, offset: 25 }]);
          assert.equal((await committedOffsets(groupId, topic)).get(1), 25);
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
        // auto_offset_reset "latest" would skip everything: the committed offsets win for an existing group.
        const second = await startConsumer(groupId, [topic], {}, {}, false);
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
  });
}
