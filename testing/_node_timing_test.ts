// instrumentPlan on the one run loop (in-memory broker): every step invocation is timed — record steps
// per record, batch steps per batch, async steps when they settle, steps inside Router branches — and
// the outputs are those of the plain plan.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import {
  BatchStep,
  CollectBatch,
  compileFlow,
  ForEach,
  FromTopic,
  IntoTopic,
  type Message,
  messageType,
  msg,
  Process,
  RecordStep,
  Route,
  Router,
  seededIds,
  StreamFlow,
  VirtualClock,
} from "../mod.ts";
import { encodeSourceValue, FlowDriver, FlowLoop, instrumentPlan } from "../streaming/engine.ts";
import { InMemoryBroker, MemoryConsumer } from "./mod.ts";

type Row = { id: number };
const RowT = messageType("t.row", v.object({ id: v.number() }));
const double = RecordStep.of((m: Message<Row>) => ({ id: m.payload.id * 2 }), { name: "double" });
const slow = RecordStep.of(async (m: Message<Row>) => {
  await Promise.resolve();
  if (m.payload.id === 6) throw new Error("six");
  return m.payload;
}, { name: "slow" });
const batch = BatchStep.of((ms: readonly Message<Row>[]) => ms.map((m) => m.payload), { name: "batch" });
const flow = new StreamFlow<Row>({
  name: "timed",
  source: new FromTopic<Row>("in", RowT),
  process: new Process<Row>(
    double,
    Router.when([new Route(msg.payload.field("id").gt(4), new Process<Row>(slow))], {
      default: new Process<Row>(double),
    }),
    new CollectBatch({ maxRecords: 5, timeoutMs: 1_000 }),
    batch,
    new ForEach(),
  ),
  output: new IntoTopic("out"),
});

async function run(instrument: boolean) {
  const calls: [string, string, boolean][] = [];
  let plan = compileFlow(flow, {
    kafka: {
      consumer: { brokers: ["sim:1"], group_id: "g", topics: ["in"] },
      producer: { brokers: ["sim:1"] },
    },
    streaming: { runtime: { unrouted_errors: "log" } },
  });
  if (instrument) {
    plan = instrumentPlan(plan, (path, name, ms, error) => {
      assert.ok(ms >= 0);
      calls.push([path, name, error !== null]);
    });
  }
  const clock = new VirtualClock(0);
  const broker = new InMemoryBroker({ clock });
  broker.createTopic("in");
  broker.createTopic("out");
  const producer = broker.producer();
  await producer.send(
    "in",
    Array.from({ length: 5 }, (_, i) => ({
      key: null,
      value: encodeSourceValue({ id: i }, RowT, { producedAtMs: 1 }),
      headers: {},
      timestampMs: null,
    })),
  );
  const driver = new FlowDriver(plan, { producer, clock, ids: seededIds(1) });
  const consumer = new MemoryConsumer(broker, "g");
  const loop = new FlowLoop(plan, { driver, consumer, clock, tickMs: null });
  await loop.start();
  await consumer.poll();
  await loop.flush();
  await loop.stop();
  return { calls, out: broker.records("out").length, errors: driver.stats.errors.task };
}

describe("instrumentPlan", () => {
  test("times every step invocation and leaves the outputs unchanged", async () => {
    const plain = await run(false);
    const timed = await run(true);
    assert.deepEqual({ out: timed.out, errors: timed.errors }, { out: plain.out, errors: plain.errors });
    const count = (name: string, failed?: boolean) =>
      timed.calls.filter(([, n, e]) => n === name && (failed === undefined || e === failed)).length;
    assert.equal(count("double"), 5 + 3); // ids 0..4 doubled; 0, 2, 4 (≤ 4) doubled again in the default branch
    assert.equal(count("slow"), 2); // 6 and 8
    assert.equal(count("slow", true), 1); // 6 rejects
    assert.ok(count("batch") >= 1);
    assert.ok(new Set(timed.calls.map(([p]) => p)).size >= 4, JSON.stringify(timed.calls));
  });
});
