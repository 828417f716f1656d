// The second half of the adapter conformance suite (the first: tests/kafka_adapter_conformance_test.ts), on the
// REAL local broker, once per adapter: consumer groups, offsets, fetch bounds, pause/resume, rebalances,
// heartbeats, record-specific rejections and unreachable brokers.
// Run: deno test -A tests/kafka_adapter_group_conformance_test.ts
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:net";
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
import { KafkaCommitError, KafkaConsumerError, KafkaDeliveryError } from "../runtime/kafkajs/mod.ts";
import {
  type ConsumerHandler,
  type ConsumerPort,
  isRecordSpecificFailure,
  type OutgoingRecord,
  type SourceRecord,
} from "../streaming/_transport.ts";
import { ADAPTERS, consumerStarter, enc, fill, producerSettings, rec, text } from "./_conformance.ts";

for (const a of ADAPTERS) {
  const startConsumer = consumerStarter(a);
  describe(`${a.name} adapter conformance (groups)`, () => {
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
