// Loop parity: the same scenarios on the simulator and on the REAL broker, through the one run loop
// (streaming/_loop.ts), comparing what was committed and written:
// - a partially filled CollectBatch holds the commit at the settled prefix (98 of 100) on both;
// - a revoke (sim.rebalance() / a second member joining the group) flushes it and commits 100, no duplicate;
// - epoch_interval_ms: at most one commit per epoch before the revoke on both;
// - max_in_flight: fetching pauses at the bound and everything still completes, committed to the end.
// Run: deno test -A tests/loop_parity_test.ts   |   bun test tests/loop_parity_test.ts
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { compileFlow } from "../mod.ts";
import {
  decodeOutputRecord,
  encodeSourceValue,
  type Logger,
  type TopicPartitionOffset,
} from "../streaming/engine.ts";
import { FlowSimulator } from "../testing/mod.ts";
import { KafkaFlowRunner } from "../runtime/mod.ts";
import { KafkaProducerClient } from "../runtime/mod.ts";
import { batchFlow, type Row, RowType } from "../testing/_loop_scenario.ts";
import {
  bootstrap,
  committedOffsets,
  createTopics,
  deleteTopics,
  endOffsets,
  quiet,
  readTopics,
  sleep,
  unique,
  waitFor,
} from "./_support.ts";

interface Topics {
  readonly in: string;
  readonly out: string;
}

const configFor = (t: Topics, group: string, runtime: Record<string, unknown>): Record<string, unknown> => ({
  kafka: {
    consumer: {
      brokers: [bootstrap()],
      group_id: group,
      topics: [t.in],
      auto_offset_reset: "earliest",
      extra: { "session.timeout.ms": 6000, "heartbeat.interval.ms": 300 },
    },
    producer: { brokers: [bootstrap()] },
  },
  streaming: { runtime },
});

const produce = async (topic: string, n: number): Promise<void> => {
  const producer = new KafkaProducerClient({
    brokers: [bootstrap()],
    clientId: "loom-parity",
    topic: null,
    security: null,
    extra: {},
  }, quiet);
  await producer.connect();
  await producer.send(
    topic,
    Array.from({ length: n }, (_, i) => ({
      key: null,
      value: encodeSourceValue({ id: i }, RowType, { producedAtMs: 1_700_000_000_000 }),
      headers: {},
      timestampMs: null,
      partition: 0,
    })),
  );
  await producer.disconnect();
};

const outputIds = async (topic: string): Promise<number[]> =>
  (await readTopics([topic])).map((r) => (decodeOutputRecord(r).payload as Row).id);

const recordingLogger = (events: string[]): Logger => ({
  info: (e) => void events.push(e),
  warn: (e) => void events.push(e),
  error: (e) => void events.push(e),
});

const committed0 = async (group: string, topic: string): Promise<number | null> =>
  (await committedOffsets(group, topic)).get(0) ?? null;

/** Waits until `value()` has stayed equal to `expected` for `quietMs`. */
const settlesAt = async (value: () => Promise<unknown>, expected: unknown, what: string): Promise<void> => {
  const deadline = performance.now() + 30_000;
  let since: number | null = null;
  for (;;) {
    const v = await value();
    if (v === expected) {
      since ??= performance.now();
      if (performance.now() - since >= 1_000) return;
    } else since = null;
    assert.ok(performance.now() < deadline, `${what}: still ${v}, expected ${expected}`);
    await sleep(100);
  }
};

describe("run loop parity: simulator and real broker", () => {
  const cleanup: string[] = [];
  after(async () => {
    await deleteTopics(cleanup);
  });

  const scenario = async (
    runtime: Record<string, unknown>,
  ): Promise<{ sim: { commits: number[]; out: number[] }; kafka: { commits: number[]; out: number[] } }> => {
    // --- simulator
    const sim = await FlowSimulator.create(batchFlow(7, 60_000), {
      config: configFor({ in: "in", out: "out" }, "g", runtime),
      fetchMaxRecords: 10,
    });
    sim.sendAll(Array.from({ length: 100 }, (_, i) => ({ id: i })), { partition: 0 });
    await sim.run();
    const simBefore = sim.commitLog().map((c) => c.offset);
    assert.equal(sim.payloads("out").length, 98);
    await sim.rebalance();
    const simCommits = sim.commitLog().map((c) => c.offset);
    assert.deepEqual(simCommits.slice(0, simBefore.length), simBefore);

    // --- real broker
    const t = { in: unique("parity-in"), out: unique("parity-out") };
    cleanup.push(t.in, t.out);
    await createTopics([t.in, t.out], 1);
    await produce(t.in, 100);
    const group = unique("parity-group");
    const plan = compileFlow(batchFlow(7, 60_000, t), configFor(t, group, runtime));
    const commits: number[] = [];
    const onCommit = (o: readonly TopicPartitionOffset[]) => commits.push(...o.map((x) => x.offset));
    const r1 = new KafkaFlowRunner(plan, { client: quiet, onCommit });
    await r1.start();
    try {
      await settlesAt(async () => (await endOffsets(t.out)).get(0), 98, "outputs before the revoke");
      if (runtime.epoch_interval_ms === undefined) {
        await settlesAt(() => committed0(group, t.in), 98, "commit before the revoke");
      }
      const kafkaBefore = [...commits];
      // A second member joins: the eager protocol revokes runner 1's partitions → flush → commit.
      const r2 = new KafkaFlowRunner(compileFlow(batchFlow(7, 60_000, t), configFor(t, group, runtime)), {
        client: quiet,
      });
      await r2.start();
      await settlesAt(() => committed0(group, t.in), 100, "commit after the revoke");
      await r2.stop();
      assert.equal(r2.failure, null);
      assert.ok(kafkaBefore.every((c) => c <= 98), `nothing past the settled prefix: ${kafkaBefore}`);
      return {
        sim: { commits: simBefore, out: sim.payloads<Row>("out").map((r) => r.id) },
        kafka: { commits: kafkaBefore, out: await outputIds(t.out) },
      };
    } finally {
      await r1.stop();
      assert.equal(r1.failure, null);
    }
  };

  test("a partial CollectBatch holds the commit at the settled prefix; a revoke flushes and commits it", {
    timeout: 90_000,
  }, async () => {
    const { sim, kafka } = await scenario({});
    assert.equal(sim.commits.at(-1), 98);
    assert.equal(kafka.commits.at(-1), 98);
    const all = Array.from({ length: 100 }, (_, i) => i);
    assert.deepEqual(sim.out, all);
    assert.deepEqual(kafka.out, all, "the same records in the same order, no duplicate");
  });

  test("epoch_interval_ms: at most one commit per epoch before the revoke, on both", {
    timeout: 90_000,
  }, async () => {
    const { sim, kafka } = await scenario({ epoch_interval_ms: 600_000 });
    assert.ok(sim.commits.length <= 1, `simulator commits before the revoke: ${sim.commits}`);
    assert.ok(kafka.commits.length <= 1, `broker commits before the revoke: ${kafka.commits}`);
    assert.deepEqual(kafka.out, sim.out);
  });

  test("max_in_flight: fetching pauses at the bound; everything completes and commits to the end", {
    timeout: 90_000,
  }, async () => {
    const runtime = { max_in_flight: 20 };
    const flowOf = (t: Topics) => batchFlow(100, 300, t);
    // simulator
    const simEvents: string[] = [];
    const sim = await FlowSimulator.create(flowOf({ in: "in", out: "out" }), {
      config: configFor({ in: "in", out: "out" }, "g", runtime),
      fetchMaxRecords: 5,
      logger: recordingLogger(simEvents),
    });
    sim.sendAll(Array.from({ length: 50 }, (_, i) => ({ id: i })), { partition: 0 });
    await sim.run();
    for (let i = 0; i < 5; i++) await sim.advanceTime(300);
    assert.equal(sim.committed(0), 50);
    // real broker
    const t = { in: unique("bp-in"), out: unique("bp-out") };
    cleanup.push(t.in, t.out);
    await createTopics([t.in, t.out], 1);
    await produce(t.in, 50);
    const group = unique("bp-group");
    const events: string[] = [];
    const runner = new KafkaFlowRunner(compileFlow(flowOf(t), configFor(t, group, runtime)), {
      client: quiet,
      logger: recordingLogger(events),
    });
    await runner.start();
    try {
      await waitFor(() => events.includes("backpressure_pause"), 30_000, "a backpressure pause");
      await settlesAt(() => committed0(group, t.in), 50, "commit to the end");
    } finally {
      await runner.stop();
    }
    assert.equal(runner.failure, null);
    for (const ev of [simEvents, events]) {
      assert.ok(ev.includes("backpressure_pause") && ev.includes("backpressure_resume"), ev.join(","));
    }
    const all = Array.from({ length: 50 }, (_, i) => i);
    assert.deepEqual(sim.payloads<Row>("out").map((r) => r.id), all);
    assert.deepEqual(await outputIds(t.out), all);
  });
});
