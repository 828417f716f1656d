// Exactly-once processing in the simulator: the compile-time checks, and the memory
// broker's transactions (outputs invisible until the commit that also stores the offsets; abort and
// crash drop them), compared with at-least-once on the same crash.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  CollectBatch,
  CompilationError,
  compileFlow,
  ErrorRoute,
  FromTopic,
  IntoTable,
  IntoTopic,
  type Message,
  Process,
  RecordStep,
  StreamFlow,
  WithAsync,
} from "../mod.ts";
import { kafkaConfig, type Order, OrderPlaced } from "../streaming/_test_support.ts";
import { FlowSimulator, InMemoryBroker } from "./mod.ts";

const eos = (extra: Record<string, unknown> = {}) =>
  kafkaConfig({ streaming: { runtime: { processing_guarantee: "exactly_once", ...extra } } });

const Row = OrderPlaced;
const upper = RecordStep.of(
  (m: Message<Order>) => ({ ...m.payload, order_id: m.payload.order_id.toUpperCase() }),
  {
    name: "Upper",
  },
);

describe("exactly_once compile-time checks", () => {
  test("a table sink is an error; WithAsync and CollectBatch are warnings", () => {
    const table = new StreamFlow({
      name: "t",
      source: new FromTopic("orders.raw", Row),
      process: new Process(new IntoTable({ name: "t", payload: Row })),
    });
    const cfg = eos();
    (cfg.streaming as Record<string, unknown>).sinks = { t: { table: "t" } };
    assert.throws(
      () => compileFlow(table, cfg),
      (e) =>
        e instanceof CompilationError && /storage sink 't' is not transactional with Kafka/.test(e.message),
    );
    assert.deepEqual(
      compileFlow(table, { ...cfg, streaming: { sinks: { t: { table: "t" } } } }).warnings,
      [],
    );

    const flow = new StreamFlow({
      name: "w",
      source: new FromTopic("orders.raw", Row),
      process: new Process(
        new CollectBatch({ maxRecords: 5, timeoutMs: 1000 }),
        new WithAsync({ maxConcurrency: 2, process: new Process(new IntoTopic("out")) }),
      ),
    });
    const warnings = compileFlow(flow, eos()).warnings;
    assert.equal(warnings.length, 2);
    assert.match(warnings[0], /CollectBatch windows cannot span transactions/);
    assert.match(warnings[1], /WithAsync side effects are not exactly-once/);
    assert.deepEqual(compileFlow(flow, kafkaConfig()).warnings, []);
  });
});

describe("InMemoryBroker transactions", () => {
  test("staged writes are invisible until the commit, which also stores the offsets; abort drops them", async () => {
    const broker = new InMemoryBroker();
    broker.createTopic("in");
    broker.createTopic("out");
    const p = broker.transactionalProducer();
    const r = { key: null, value: new Uint8Array([1]), headers: {}, timestampMs: null };
    const group = { groupId: "g", generationId: 1, memberId: "m" };
    await p.transactions.begin();
    assert.equal(p.transactions.active, true);
    await p.send("out", [r, r]);
    assert.equal(broker.endOffset("out", 0), 0);
    await p.transactions.abort();
    assert.equal(p.transactions.active, false);
    await p.transactions.begin();
    await p.send("out", [r]);
    broker.failCommits("g", 1);
    await assert.rejects(p.transactions.commit([{ topic: "in", partition: 0, offset: 3 }], group), /commit/);
    assert.equal(broker.endOffset("out", 0), 0, "a failed commit writes nothing");
    assert.equal(broker.committed("g", "in", 0), null);
    await p.transactions.commit([{ topic: "in", partition: 0, offset: 3 }], group);
    assert.equal(broker.endOffset("out", 0), 1);
    assert.equal(broker.committed("g", "in", 0), 3);
    assert.deepEqual([p.committedTransactions, p.abortedTransactions], [1, 1]);
  });
});

/**
 * Sends `before` records and runs, crashes (the open transaction and everything not committed are lost),
 * sends the rest of 20 records, runs and stops. Commits: at most once per minute of a clock that does not
 * move (so only the first tick commits) plus, under exactly_once, every 3 fetched batches of 2 records.
 */
async function crashRun(guarantee: "exactly_once" | "at_least_once", before: number) {
  const flow = new StreamFlow({
    name: "eos",
    source: new FromTopic("orders.raw", Row),
    process: new Process(upper),
    output: new IntoTopic("orders.out"),
  });
  const config = guarantee === "exactly_once"
    ? eos({ transaction_batches: 3, epoch_interval_ms: 60_000 })
    : kafkaConfig({ streaming: { runtime: { epoch_interval_ms: 60_000 } } });
  const sim = await FlowSimulator.create(flow, { config, fetchMaxRecords: 2 });
  const orders = Array.from({ length: 20 }, (_, i) => ({ order_id: `o-${i}`, amount: i }));
  sim.sendAll(orders.slice(0, before));
  await sim.run();
  await sim.crash();
  sim.sendAll(orders.slice(before));
  await sim.run();
  await sim.stop();
  return { sim, ids: sim.payloads<Order>("orders.out").map((p) => p.order_id) };
}

describe("FlowSimulator under exactly_once", () => {
  test("a crash mid-transaction: every input's output exactly once, offsets committed with them", async () => {
    for (const at of [1, 4, 7, 12, 19]) {
      const { sim, ids } = await crashRun("exactly_once", at);
      assert.ok(sim.broker.transactionalProducer !== undefined);
      assert.deepEqual(ids, Array.from({ length: 20 }, (_, i) => `O-${i}`), `crash at ${at}`);
      assert.equal(sim.committed(0), 20);
    }
  });

  test("the same crash under at_least_once delivers duplicates", async () => {
    const { ids } = await crashRun("at_least_once", 12);
    assert.equal(new Set(ids).size, 20, "nothing missing");
    assert.ok(ids.length > 20, `duplicates expected, got ${ids.length} outputs`);
  });

  test("a poison record goes to the error topic inside the transaction; a rebalance commits the open one", async () => {
    const flow = new StreamFlow({
      name: "eos_errors",
      source: new FromTopic("orders.raw", Row),
      process: new Process(
        RecordStep.of((m: Message<Order>) => {
          if (m.payload.order_id === "poison") throw new Error("poison record");
          return m.payload;
        }, { name: "Check" }),
      ),
      output: new IntoTopic("orders.out"),
      errors: [new ErrorRoute(["task"], new IntoTopic("orders.errors"))],
    });
    const sim = await FlowSimulator.create(flow, {
      config: eos({ transaction_batches: 100, epoch_interval_ms: 60_000 }),
      fetchMaxRecords: 2,
    });
    sim.sendAll(["a", "poison", "b", "c", "d"].map((id, i) => ({ order_id: id, amount: i })));
    await sim.run();
    // the first tick committed batch 1 (a, poison) with its error envelope; batches 2 and 3 are in the
    // open transaction (the clock does not move: no epoch is due), so none of their outputs is visible
    assert.deepEqual(sim.payloads<Order>("orders.out").map((p) => p.order_id), ["a"]);
    assert.equal(sim.broker.records("orders.errors").length, 1);
    assert.equal(sim.committed(0), 2);
    await sim.rebalance(); // the revoke commits the open transaction with the old generation
    assert.deepEqual(sim.payloads<Order>("orders.out").map((p) => p.order_id), ["a", "b", "c", "d"]);
    assert.equal(sim.broker.records("orders.errors").length, 1);
    assert.equal(sim.committed(0), 5);
    await sim.stop();
  });
});
