// Runtime semantics (reference §5.12) through the FlowSimulator: batched delivery (one produce request per
// batch and topic) and delivery failures — DLQs, oversized records, retries, error topics and table sinks.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Broadcast,
  BroadcastRoute,
  CollectBatch,
  IntoTable,
  IntoTopic,
  type Message,
  Process,
  RecordStep,
} from "../mod.ts";
import { DeliveryFailure } from "../streaming/engine.ts";
import { simulatorConfig } from "./mod.ts";
import { flowOf, ids, type ItemP, items, sim, text } from "./_test_support.ts";

describe("batched delivery", () => {
  test("one produce request per fetched batch and topic (outputs, broadcast branches and error topics)", async () => {
    const boom = RecordStep.of((m: Message<ItemP>) => {
      if (m.payload.n === 1) throw new Error("odd");
      return m.payload;
    }, { name: "boom" });
    const s = await sim(
      flowOf(
        new Process(
          boom,
          new Broadcast(
            new BroadcastRoute(
              new Process(RecordStep.of((m: Message<ItemP>) => m.payload, { name: "x" })),
              new IntoTopic("x"),
            ),
            new BroadcastRoute(
              new Process(RecordStep.of((m: Message<ItemP>) => m.payload, { name: "y" })),
              new IntoTopic("y"),
            ),
          ),
        ),
        { errors: new IntoTopic("errs") },
      ),
      { fetchMaxRecords: 500 },
    );
    s.sendAll(items(1000, (i) => i % 2));
    await s.run();
    assert.equal(s.output("x").length, 500);
    assert.equal(s.output("y").length, 500);
    assert.equal(s.output("errs").length, 500);
    for (const t of ["x", "y", "errs"]) assert.equal(s.broker.sends(t), 2, `${t}: one send per batch of 500`);
  });
});

describe("delivery failures", () => {
  test("IntoTopic DLQ: a failed produce lands on the DLQ with x-dlq-error and the original key; offsets commit", async () => {
    const s = await sim(flowOf(new Process(new IntoTopic("out", { dlq: "out.dlq" }))), {
      deliveryRetries: 0,
    });
    s.failSink("out", 1);
    s.sendAll(items(3), { key: (p: ItemP) => `k${p.id}`, correlationId: "c" });
    await s.run();
    assert.deepEqual(ids(s, "out"), []);
    const dlq = s.output<ItemP>("out.dlq");
    assert.deepEqual(dlq.map((o) => o.payload.id), [0, 1, 2]);
    assert.deepEqual(dlq.map((o) => text(o.meta.key as Uint8Array)), ["k0", "k1", "k2"]);
    for (const o of dlq) {
      assert.ok(text(o.record.headers["x-dlq-error"])!.length > 0, "x-dlq-error carries the failure");
      assert.equal(o.meta.correlationId, "c");
      assert.equal(o.meta.messageType, "test.item");
    }
    assert.equal(s.stats.deadLettered, 3);
    assert.equal(s.committed(0), 3);
    // the sink recovers: later records go to the real topic
    s.send({ id: 3, n: 0 });
    await s.run();
    assert.deepEqual(ids(s, "out"), [3]);
    assert.equal(s.committed(0), 4);
  });

  test("a record over the topic's max.message.bytes is isolated: only it is dead-lettered, the rest is written", async () => {
    const pad = RecordStep.of((m: Message<ItemP>) => ({ ...m.payload, pad: "x".repeat(m.payload.n) }), {
      name: "pad",
    });
    const s = await sim(flowOf(new Process(pad, new IntoTopic("out", { dlq: "out.dlq" }))), {
      deliveryRetries: 3,
    });
    s.broker.createTopic("out", { maxMessageBytes: 500 });
    s.sendAll(items(10, (i) => (i === 3 || i === 7 ? 1000 : 10)), { key: (p: ItemP) => `k${p.id}` });
    await s.run();
    assert.deepEqual(ids(s, "out"), [0, 1, 2, 4, 5, 6, 8, 9]);
    const dlq = s.output<ItemP>("out.dlq");
    assert.deepEqual(dlq.map((o) => o.payload.id), [3, 7]);
    assert.deepEqual(dlq.map((o) => text(o.meta.key as Uint8Array)), ["k3", "k7"]);
    assert.match(
      text(dlq[0].record.headers["x-dlq-error"])!,
      /MESSAGE_TOO_LARGE.*max\.message\.bytes \(500\)/,
    );
    assert.equal(s.stats.deadLettered, 2);
    assert.equal(s.stats.retries, 0, "a refused record is not retried as such");
    assert.equal(s.committed(0), 10);
  });

  test("an oversized record without a DLQ fails the run; records before it commit, it and later ones do not", async () => {
    const pad = RecordStep.of((m: Message<ItemP>) => ({ ...m.payload, pad: "x".repeat(m.payload.n) }), {
      name: "pad",
    });
    const s = await sim(flowOf(new Process(pad, new IntoTopic("out"))), { fetchMaxRecords: 5 });
    s.broker.createTopic("out", { maxMessageBytes: 500 });
    s.sendAll(items(10, (i) => (i === 7 ? 1000 : 10)));
    await assert.rejects(
      () => s.run(),
      (e: unknown) => e instanceof DeliveryFailure && /MESSAGE_TOO_LARGE/.test(e.message),
    );
    assert.equal(s.committed(0), 5, "the first batch committed; the batch with the refused record did not");
  });

  test("without a DLQ the run rejects with DeliveryFailure and nothing past the failed message commits", async () => {
    const s = await sim(flowOf(new Process(new IntoTopic("out"))), {
      deliveryRetries: 0,
      fetchMaxRecords: 1,
    });
    s.sendAll(items(2));
    await s.run();
    assert.equal(s.committed(0), 2);
    s.failSink("out", 1);
    s.sendAll([2, 3, 4].map((id) => ({ id, n: 0 })));
    await assert.rejects(s.run(), (e: unknown) => {
      assert.ok(e instanceof DeliveryFailure);
      assert.equal(e.target, "out");
      return true;
    });
    assert.equal(s.committed(0), 2);
    assert.deepEqual(ids(s, "out"), [0, 1]);
    // a restart re-reads from the committed offset: nothing is lost
    await s.crash();
    await s.run();
    assert.deepEqual(ids(s, "out"), [0, 1, 2, 3, 4]);
    assert.equal(s.committed(0), 5);
  });

  test("a failing DLQ as well is a DeliveryFailure naming both topics", async () => {
    const s = await sim(flowOf(new Process(new IntoTopic("out", { dlq: "out.dlq" }))), {
      deliveryRetries: 0,
    });
    s.failSink("out", 1);
    s.failSink("out.dlq", 1);
    s.send({ id: 0, n: 0 });
    await assert.rejects(
      s.run(),
      (e: unknown) =>
        e instanceof DeliveryFailure && /out \(and its dead-letter topic out\.dlq\)/.test(e.target),
    );
    assert.equal(s.committed(0), null);
  });

  test("deliveryRetries: 2 with 2 failures writes the output exactly once", async () => {
    const s = await sim(flowOf(new Process(new IntoTopic("out", { dlq: "out.dlq" }))), {
      deliveryRetries: 2,
    });
    s.failSink("out", 2);
    s.sendAll(items(2));
    await s.run();
    assert.deepEqual(ids(s, "out"), [0, 1]);
    assert.equal(s.output("out.dlq").length, 0);
    assert.equal(s.stats.retries, 2);
    assert.equal(s.committed(0), 2);
  });

  test("error routes are delivered like outputs: a failing error topic without DLQ fails the run", async () => {
    const boom = RecordStep.of((): never => {
      throw new Error("x");
    });
    const s = await sim(
      flowOf(new Process(boom), { output: new IntoTopic("out"), errors: new IntoTopic("errs") }),
      { deliveryRetries: 0 },
    );
    s.failSink("errs", 1);
    s.send({ id: 0, n: 0 });
    await assert.rejects(s.run(), DeliveryFailure);
    assert.equal(s.committed(0), null);
  });

  test("table sinks: rows are written to sim.table(name) by a flush; with retries: 0 a failing flush fails and does not commit", async () => {
    const sink = new IntoTable<ItemP>({ name: "orders_sink" });
    const f = flowOf(new Process(new CollectBatch({ maxRecords: 2, timeoutMs: 1000 }), sink));
    const config = {
      ...simulatorConfig(f),
      streaming: { sinks: { orders_sink: { table: "o", retries: 0 } } },
    };
    const s = await sim(f, { config, deliveryRetries: 0 });
    s.sendAll(items(2));
    await s.run();
    assert.deepEqual(s.table("orders_sink"), []);
    await s.end();
    assert.deepEqual(s.table("orders_sink"), [{ id: 0, n: 0 }, { id: 1, n: 0 }]);
    assert.equal(s.committed(0), 2);
    assert.equal(s.stats.tableRows.orders_sink, 2);
    s.failTable("orders_sink", 1);
    s.sendAll([{ id: 2, n: 0 }, { id: 3, n: 0 }]);
    await assert.rejects(
      s.end(),
      (e: unknown) => e instanceof DeliveryFailure && /orders_sink/.test(e.message),
    );
    assert.equal(s.committed(0), 2);
    assert.equal(s.table("orders_sink").length, 2);
    assert.equal(s.tableTwin("orders_sink").failedWrites, 1);
    assert.throws(() => s.table("nope"), /no table sink named 'nope'/);
    assert.throws(() => s.failTable("nope", 1), /no table sink named 'nope'/);
  });

  test("table sinks: a failing flush is retried per the sink's retries (deliveryRetries is for topics)", async () => {
    const s = await sim(flowOf(new Process(new IntoTable({ name: "orders_sink" }))), { deliveryRetries: 0 });
    s.failTable("orders_sink", 1);
    s.sendAll(items(3));
    await s.end();
    assert.deepEqual(s.table<ItemP>("orders_sink").map((r) => r.id), [0, 1, 2]);
    assert.equal(s.committed(0), 3);
  });
});
