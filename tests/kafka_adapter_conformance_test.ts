// One conformance suite for both Kafka adapters (kafkajs and @platformatic/kafka), against the REAL local
// broker (scripts/kafka.sh ensure). Every case runs once per adapter.
// Run: deno test -A tests/kafka_adapter_conformance_test.ts   |   bun test tests/kafka_adapter_conformance_test.ts
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createServer } from "node:net";
import { Kafka, logLevel, Partitioners } from "kafkajs";
import {
  bootstrap,
  committedOffsets,
  consumerSettings,
  createTopics,
  deleteTopics,
  endOffsets,
  quiet,
  sleep,
  tpKey,
  unique,
  waitFor,
} from "./_support.ts";
import {
  KafkaCommitError,
  KafkaConsumerClient,
  KafkaConsumerError,
  KafkaDeliveryError,
  KafkaProducerClient,
} from "../runtime/kafkajs/mod.ts";
import { partitionForKey } from "../kafka/_murmur2.ts";
import { PlatformaticConsumerClient, PlatformaticProducerClient } from "../runtime/platformatic/mod.ts";
import type { ConsumerSettings, ProducerSettings } from "../streaming/_settings.ts";
import {
  type ConsumerHandler,
  type ConsumerPort,
  isRecordSpecificFailure,
  type OutgoingRecord,
  type ProducerClientPort,
  type RecordBatch,
  type SourceRecord,
} from "../streaming/_transport.ts";

interface Adapter {
  readonly name: string;
  producer(settings: ProducerSettings): ProducerClientPort;
  consumer(settings: ConsumerSettings): ConsumerPort;
}

const ADAPTERS: readonly Adapter[] = [
  {
    name: "kafkajs",
    producer: (s) => new KafkaProducerClient(s, quiet),
    consumer: (s) => new KafkaConsumerClient(s, quiet),
  },
  {
    name: "platformatic",
    producer: (s) => new PlatformaticProducerClient(s, quiet),
    consumer: (s) => new PlatformaticConsumerClient(s, quiet),
  },
];

const enc = new TextEncoder();
const dec = new TextDecoder();
const text = (b: Uint8Array | null | undefined): string | null => (b == null ? null : dec.decode(b));

const producerSettings = (extra: ProducerSettings["extra"] = {}): ProducerSettings => ({
  brokers: [bootstrap()],
  clientId: "loom-conformance",
  topic: null,
  security: null,
  extra,
});

const rec = (value: string, extra: Partial<OutgoingRecord> = {}): OutgoingRecord => ({
  key: null,
  value: enc.encode(value),
  headers: {},
  timestampMs: null,
  ...extra,
});

/** 3 partitions × `perPartition` records, value = index, explicit partition i % 3. */
const fill = async (a: Adapter, topic: string, count: number): Promise<void> => {
  const producer = a.producer(producerSettings());
  await producer.connect();
  try {
    const recs: OutgoingRecord[] = [];
    for (let i = 0; i < count; i++) recs.push(rec(String(i), { partition: i % 3 }));
    await producer.send(topic, recs);
  } finally {
    await producer.disconnect();
  }
};

for (const a of ADAPTERS) {
  /** A consumer that records every batch; optional hooks for the test. */
  const startConsumer = async (
    groupId: string,
    topics: readonly string[],
    hooks: Partial<ConsumerHandler> = {},
    extra: ConsumerSettings["extra"] = {},
    fromBeginning = true,
  ): Promise<{ consumer: ConsumerPort; records: SourceRecord[]; batches: RecordBatch[] }> => {
    const consumer = a.consumer(consumerSettings(groupId, extra));
    const records: SourceRecord[] = [];
    const batches: RecordBatch[] = [];
    await consumer.connect();
    await consumer.subscribe(topics, fromBeginning);
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

    test("a new group starts at auto_offset_reset: earliest reads the backlog, latest only new records", {
      timeout: 60_000,
    }, async () => {
      const topic = unique(`${a.name}-reset`);
      await createTopics([topic]);
      await fill(a, topic, 30);
      const earliest = await startConsumer(unique("g"), [topic], {}, {}, true);
      const latest = await startConsumer(unique("g"), [topic], {}, {}, false);
      try {
        await waitFor(() => earliest.records.length >= 30, 30_000, "the backlog");
        await sleep(500);
        assert.equal(latest.records.length, 0, "latest skips the backlog");
        const producer = a.producer(producerSettings());
        await producer.connect();
        await producer.send(topic, [rec("new", { partition: 1 })]);
        await producer.disconnect();
        await waitFor(() => latest.records.length >= 1, 30_000, "the new record");
        assert.deepEqual(latest.records.map((r) => [r.partition, r.offset, text(r.value)]), [[1, 10, "new"]]);
        await waitFor(() => earliest.records.length >= 31, 30_000, "earliest sees it too");
      } finally {
        await earliest.consumer.disconnect();
        await latest.consumer.disconnect();
        await deleteTopics([topic]);
      }
    });

    test("nothing is committed without commit() (auto-commit is off even if enable_auto_commit is true)", {
      timeout: 60_000,
    }, async () => {
      const topic = unique(`${a.name}-noauto`);
      const groupId = unique("g");
      await createTopics([topic]);
      await fill(a, topic, 30);
      const consumer = a.consumer({ ...consumerSettings(groupId), enableAutoCommit: true });
      const records: SourceRecord[] = [];
      await consumer.connect();
      await consumer.subscribe([topic], true);
      await consumer.run({ onBatch: (b) => Promise.resolve(void records.push(...b.records)) });
      try {
        await waitFor(() => records.length >= 30, 30_000, "30 records");
        await sleep(1500);
      } finally {
        await consumer.disconnect();
      }
      assert.deepEqual([...await committedOffsets(groupId, topic)], []);
      await deleteTopics([topic]);
    });

    test("fetches are bounded by max.partition.fetch.bytes", { timeout: 60_000 }, async () => {
      const topic = unique(`${a.name}-fetch`);
      await createTopics([topic], 1);
      const producer = a.producer(producerSettings());
      await producer.connect();
      try {
        // 2000 records of ~230 B in sends of 20 (small record batches: a fetch can stop between them).
        for (let s = 0; s < 100; s++) {
          const recs: OutgoingRecord[] = [];
          for (let i = 0; i < 20; i++) recs.push(rec(`${s * 20 + i}|${"y".repeat(200)}`));
          await producer.send(topic, recs);
        }
      } finally {
        await producer.disconnect();
      }
      const { consumer, records, batches } = await startConsumer(unique("g"), [topic], {
        onBatch: () => sleep(2),
      }, { "max.partition.fetch.bytes": 16_384, "fetch.max.bytes": 16_384 });
      try {
        await waitFor(() => records.length >= 2000, 30_000, "2000 records");
      } finally {
        await consumer.disconnect();
        await deleteTopics([topic]);
      }
      const biggest = Math.max(...batches.map((b) => b.records.length));
      // 16 KiB holds ~70 records of this size; a fetch may end in the middle of a record batch.
      assert.ok(biggest <= 160, `largest batch ${biggest} records (unbounded: 2000 in one)`);
      assert.ok(batches.length >= 2000 / 160, `${batches.length} batches`);
      // every batch reports the partition's end offset (lag metrics): all 2000 were written before the fetches
      assert.deepEqual([...new Set(batches.map((b) => b.highWatermark))], [2000]);
    });

    test("pause stops fetching a partition and resume restarts it", { timeout: 60_000 }, async () => {
      const topic = unique(`${a.name}-pause`);
      await createTopics([topic]);
      await fill(a, topic, 30);
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
        // Pausing everything, then producing: nothing arrives until resume.
        const all = [0, 1, 2].map((partition) => ({ topic, partition }));
        consumer.pause(all);
        await sleep(300);
        await fill(a, topic, 3);
        await sleep(600);
        assert.equal(records.length, 30, "all paused");
        consumer.resume(all);
        await waitFor(() => records.length >= 33, 30_000, "after resuming all");
      } finally {
        await consumer.disconnect();
        await deleteTopics([topic]);
      }
      assert.throws(() => consumer.pause([{ topic, partition: 0 }]), KafkaConsumerError);
    });

    test(
      "a second member joining: onRevoked runs after in-flight batches, its commits succeed, then reassignment",
      {
        timeout: 90_000,
      },
      async () => {
        const topic = unique(`${a.name}-rebalance`);
        const groupId = unique("g");
        await createTopics([topic]);
        const producer = a.producer(producerSettings());
        await producer.connect();
        const produce = async (from: number, count: number) => {
          const recs: OutgoingRecord[] = [];
          for (let i = from; i < from + count; i++) recs.push(rec(String(i), { key: enc.encode(`k${i}`) }));
          await producer.send(topic, recs);
        };
        const events: Record<string, string[]> = { a: [], b: [] };
        const inflight = { a: 0, b: 0 };
        const processed: Record<"a" | "b", Map<string, number>> = { a: new Map(), b: new Map() };
        const revokeCommitErrors: unknown[] = [];
        const members: Partial<Record<"a" | "b", ConsumerPort>> = {};
        const hooks = (name: "a" | "b"): Partial<ConsumerHandler> => ({
          onAssigned: (tps) => void events[name].push(`assigned:${tps.map((t) => t.partition).join(",")}`),
          onRevoked: async (tps) => {
            events[name].push(`revoked:${tps.map((t) => t.partition).join(",")}:inflight=${inflight[name]}`);
            // Take a while: the member's JoinGroup must wait, or this commit would hit a newer generation.
            await sleep(400);
            const offsets = tps.filter((tp) => processed[name].has(tpKey(tp))).map((tp) => ({
              ...tp,
              offset: processed[name].get(tpKey(tp))! + 1,
            }));
            await members[name]!.commit(offsets).catch((e) => void revokeCommitErrors.push(e));
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
          const ma = await startConsumer(groupId, [topic], hooks("a"));
          members.a = ma.consumer;
          assert.deepEqual(ma.consumer.assignment().map((t) => t.partition), [0, 1, 2]);
          await waitFor(() => ma.records.length >= 300, 30_000, "a: first 300 records");

          const mb = await startConsumer(groupId, [topic], hooks("b"));
          members.b = mb.consumer;
          await waitFor(
            () =>
              events.a.length >= 3 && ma.consumer.assignment().length > 0 &&
              mb.consumer.assignment().length > 0,
            30_000,
            "the rebalance",
          );
          assert.deepEqual(events.a.slice(0, 2), ["assigned:0,1,2", "revoked:0,1,2:inflight=0"]);
          assert.match(events.a[2], /^assigned:/);
          const owned = [...ma.consumer.assignment(), ...mb.consumer.assignment()].map((t) => t.partition)
            .sort();
          assert.deepEqual(owned, [0, 1, 2], "disjoint and complete");
          assert.deepEqual(revokeCommitErrors, []);
          const committed = await committedOffsets(groupId, topic);
          assert.equal([...committed.values()].reduce((n, o) => n + o, 0), 300, "committed in onRevoked");

          await produce(300, 300);
          const fromSecondRound = () =>
            [...ma.records, ...mb.records].filter((r) => Number(text(r.value)) >= 300).length;
          await waitFor(() => fromSecondRound() >= 300, 30_000, "the second 300 records");
          assert.ok(mb.records.length > 0, "the new member consumes");
          assert.ok(ma.records.some((r) => Number(text(r.value)) >= 300), "the old member still consumes");
          assert.ok(
            mb.records.every((r) => Number(text(r.value)) >= 300),
            "b starts at a's commits: no re-reads",
          );
          const values = new Set([...ma.records, ...mb.records].map((r) => Number(text(r.value))));
          assert.equal(values.size, 600, "no record lost across the rebalance");

          // b leaves: its partitions are revoked on stop, then a gets everything back.
          const aEventsBefore = events.a.length;
          await mb.consumer.disconnect();
          assert.match(events.b.at(-1)!, /^revoked:/);
          await waitFor(
            () => ma.consumer.assignment().length === 3 && events.a.length >= aEventsBefore + 2,
            30_000,
            "a owns all",
          );
          assert.match(events.a.at(-2)!, /^revoked:/);
          assert.equal(events.a.at(-1), "assigned:0,1,2");
          await ma.consumer.disconnect();
          assert.match(events.a.at(-1)!, /^revoked:0,1,2/);
          assert.deepEqual(revokeCommitErrors, []);
          const final = await committedOffsets(groupId, topic);
          assert.equal([...final.values()].reduce((n, o) => n + o, 0), 600, "everything committed");
        } finally {
          await members.a?.disconnect().catch(() => {});
          await members.b?.disconnect().catch(() => {});
          await producer.disconnect();
          await deleteTopics([topic]);
        }
      },
    );

    test("a rebalance while records are queued and batches are slow loses nothing (commit in onRevoked)", {
      timeout: 90_000,
    }, async () => {
      const topic = unique(`${a.name}-busy`);
      const groupId = unique("g");
      await createTopics([topic]);
      const N = 6000;
      const producer = a.producer(producerSettings());
      await producer.connect();
      try {
        for (let s = 0; s < N; s += 500) {
          const recs: OutgoingRecord[] = [];
          for (let i = s; i < s + 500; i++) recs.push(rec(String(i), { key: enc.encode(`k${i}`) }));
          await producer.send(topic, recs);
        }
      } finally {
        await producer.disconnect();
      }
      const done = new Set<number>();
      const members: ConsumerPort[] = [];
      const member = () => {
        const processed = new Map<string, number>();
        const ref: { c?: ConsumerPort } = {};
        const hooks: Partial<ConsumerHandler> = {
          onBatch: async (batch, ctl) => {
            // Slow, in slices: records keep arriving (and queueing) meanwhile.
            for (let i = 0; i < batch.records.length; i += 50) {
              if (ctl.isStale()) break;
              await sleep(15);
              const slice = batch.records.slice(i, i + 50);
              for (const r of slice) done.add(Number(text(r.value)));
              processed.set(tpKey(batch), slice[slice.length - 1].offset);
            }
          },
          onRevoked: async (tps) => {
            const offsets = tps.filter((tp) => processed.has(tpKey(tp))).map((tp) => ({
              ...tp,
              offset: processed.get(tpKey(tp))! + 1,
            }));
            await ref.c!.commit(offsets);
            for (const tp of tps) processed.delete(tpKey(tp));
          },
        };
        return { hooks, ref };
      };
      const small = { "max.partition.fetch.bytes": 8192 };
      try {
        const m1 = member();
        const first = await startConsumer(groupId, [topic], m1.hooks, small);
        m1.ref.c = first.consumer;
        members.push(first.consumer);
        await waitFor(() => done.size >= 600, 30_000, "some progress");
        const m2 = member();
        const second = await startConsumer(groupId, [topic], m2.hooks, small);
        m2.ref.c = second.consumer;
        members.push(second.consumer);
        await waitFor(() => done.size >= N, 60_000, `all ${N} records processed by one member or the other`);
        assert.ok(second.records.length > 0, "the second member took partitions over");
      } finally {
        for (const m of members) await m.disconnect().catch(() => {});
        await deleteTopics([topic]);
      }
    });

    test("a batch that outlasts session.timeout.ms keeps the membership (heartbeats go on)", {
      timeout: 60_000,
    }, async () => {
      const topic = unique(`${a.name}-slow`);
      const groupId = unique("g");
      await createTopics([topic], 1);
      const producer = a.producer(producerSettings());
      await producer.connect();
      await producer.send(topic, [rec("0"), rec("1"), rec("2")]);
      await producer.disconnect();
      const events: string[] = [];
      const ref: { consumer?: ConsumerPort } = {};
      let stale = false;
      let done = false;
      const { consumer, records } = await startConsumer(groupId, [topic], {
        onAssigned: (tps) => void events.push(`assigned:${tps.length}`),
        onRevoked: (tps) => Promise.resolve(void events.push(`revoked:${tps.length}`)),
        onBatch: async (batch, ctl) => {
          const until = performance.now() + 7_500; // session.timeout.ms is 6000 in consumerSettings
          while (performance.now() < until) {
            await ctl.heartbeat();
            await sleep(250);
          }
          stale ||= ctl.isStale();
          const last = batch.records[batch.records.length - 1];
          await ref.consumer!.commit([{ topic, partition: 0, offset: last.offset + 1 }]);
          done = true;
        },
      });
      ref.consumer = consumer;
      try {
        await waitFor(() => records.length >= 3, 30_000, "the slow batch");
        await waitFor(() => done, 20_000, "the end of the slow batch");
        await sleep(500);
        assert.deepEqual(events, ["assigned:1"], "no rebalance");
        assert.equal(stale, false);
        assert.equal((await committedOffsets(groupId, topic)).get(0), 3);
      } finally {
        await consumer.disconnect();
        await deleteTopics([topic]);
      }
    });

    test("a record larger than the topic's max.message.bytes is a recordSpecific rejection", {
      timeout: 60_000,
    }, async () => {
      const topic = unique(`${a.name}-large`);
      await createTopics([topic], 1, { "max.message.bytes": "2048" });
      const producer = a.producer(producerSettings({ retries: 0 }));
      await producer.connect();
      try {
        await assert.rejects(producer.send(topic, [rec("z".repeat(10_000))]), (e: unknown) => {
          assert.ok(e instanceof KafkaDeliveryError, String(e));
          assert.equal(isRecordSpecificFailure(e), true, e.message);
          assert.deepEqual(e.topics, [topic]);
          assert.equal(e.recordCount, 1);
          assert.match(e.message, new RegExp(`topic "${topic}" on ${bootstrap()}`));
          assert.match(e.message, /MESSAGE_TOO_LARGE|RECORD_LIST_TOO_LARGE|too large|larger than/i);
          return true;
        });
        await producer.send(topic, [rec("small")]);
        assert.equal((await endOffsets(topic)).get(0), 1, "only the small record was written");
      } finally {
        await producer.disconnect();
        await deleteTopics([topic]);
      }
    });

    test(
      "a rejecting onBatch stops the consumer and reports a KafkaConsumerError",
      { timeout: 60_000 },
      async () => {
        const topic = unique(`${a.name}-fail`);
        await createTopics([topic], 1);
        await fill(a, topic, 1);
        const errors: Error[] = [];
        let calls = 0;
        const consumer = a.consumer(consumerSettings(unique("g")));
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

    test("an unreachable broker gives a clear error (broker and cause named) within a bounded time", {
      timeout: 30_000,
    }, async () => {
      const port = await new Promise<number>((resolve) => {
        const srv = createServer();
        srv.listen(0, "127.0.0.1", () => {
          const p = (srv.address() as { port: number }).port;
          srv.close(() => resolve(p));
        });
      });
      const fast = { retries: 1, "retry.backoff.ms": 100, "socket.connection.setup.timeout.ms": 500 };
      const closed = `127.0.0.1:${port}`;
      const t0 = performance.now();
      const producer = a.producer({
        brokers: [closed],
        clientId: null,
        topic: null,
        security: null,
        extra: fast,
      });
      await assert.rejects(producer.connect(), (e: unknown) => {
        assert.ok(e instanceof KafkaDeliveryError);
        assert.match(e.message, new RegExp(`could not connect to ${closed}`));
        assert.match(e.message, /ECONNREFUSED|refused|connect/i);
        assert.ok(e.cause instanceof Error);
        return true;
      });
      await assert.rejects(
        producer.send("t", [rec("x")]),
        (e: unknown) =>
          e instanceof KafkaDeliveryError && e.message.includes(closed) && /not connected/.test(e.message),
      );
      await producer.disconnect();
      const consumer = a.consumer({ ...consumerSettings("unreachable"), brokers: [closed], extra: fast });
      await assert.rejects(
        consumer.connect(),
        (e: unknown) =>
          e instanceof KafkaConsumerError && e.message.includes(`could not connect to ${closed}`),
      );
      const elapsed = performance.now() - t0;
      assert.ok(elapsed < 12_000, `failed within ${Math.round(elapsed)} ms`);
    });
  });
}
