// Conformance: the original's flow examples (reference §7.1) run end to end on the simulator.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import {
  BatchStep,
  CollectBatch,
  ContextFactory,
  Drain,
  Fork,
  ForkRoute,
  FromTopic,
  IntoTopic,
  type Message,
  messageType,
  msg,
  payload,
  Process,
  RecordStep,
  Route,
  Router,
  StreamFlow,
  With,
  WithAsync,
} from "../mod.ts";
import { FlowSimulator } from "./mod.ts";
import { kafkaConfig, type Order, OrderPlaced, ValidatedOrder } from "../streaming/_test_support.ts";

const src = () => new FromTopic("orders.raw", OrderPlaced);

describe("flow examples (§7.1)", () => {
  test("simple: validate → output", async () => {
    const validate = RecordStep.of(
      (m: Message<Order>) => ({ order_id: m.payload.order_id, accepted: m.payload.amount > 0 }),
      {
        name: "ValidateOrder",
        output: ValidatedOrder,
      },
    );
    const flow = new StreamFlow({
      name: "orders_validate",
      source: src(),
      process: new Process(validate),
      output: new IntoTopic("orders.validated"),
    });
    const sim = await FlowSimulator.create(flow, { config: kafkaConfig() });
    sim.send({ order_id: "o-1", amount: 100 }, { key: "o-1", correlationId: "c-1", traceId: "t-in" });
    await sim.run();
    const out = sim.output("orders.validated");
    assert.equal(out.length, 1);
    assert.deepEqual(out[0].payload, { order_id: "o-1", accepted: true });
    assert.equal(out[0].meta.messageType, "smoke.models.ValidatedOrder");
    assert.equal(out[0].meta.correlationId, "c-1");
    assert.equal(out[0].meta.parentTraceId, "t-in");
    assert.notEqual(out[0].meta.traceId, "t-in");
    assert.deepEqual(out[0].meta.key, new TextEncoder().encode("o-1"));
    assert.equal(new TextDecoder().decode(out[0].meta.headers["x-correlation-id"]), "c-1");
    assert.equal(sim.committed(0), 1);
  });

  test("router: keyed lanes with default", async () => {
    const lane = (name: string) =>
      RecordStep.of((m: Message<Order>) => ({ ...m.payload, lane: name }), { name: `Mark_${name}` });
    const flow = new StreamFlow({
      name: "orders_route",
      source: src(),
      process: new Process(
        Router.by(msg.payload.field("segment"), {
          vip: new Process(lane("vip")),
          standard: new Process(lane("standard")),
        }, {
          default: new Process(lane("manual")),
        }),
      ),
      output: new IntoTopic("orders.routed"),
    });
    const sim = await FlowSimulator.create(flow, { config: kafkaConfig() });
    sim.sendAll([
      { order_id: "o-1", amount: 1, segment: "vip" },
      { order_id: "o-2", amount: 1, segment: "standard" },
      { order_id: "o-3", amount: 1, segment: "unknown" },
    ]);
    await sim.run();
    assert.deepEqual(sim.payloads<{ lane: string }>("orders.routed").map((p) => p.lane), [
      "vip",
      "standard",
      "manual",
    ]);
  });

  test("with_batch: CollectBatch + With(WORKER) opens the resource once", async () => {
    const opened: number[] = [], closed: number[] = [];
    const client = {
      id: 1,
      [Symbol.dispose]() {
        closed.push(1);
      },
    };
    opened.push(1);
    const price = RecordStep.of((m: Message<Order>, deps: { client: { id: number } }) => ({
      order_id: m.payload.order_id,
      band: m.payload.amount >= 100 ? "high" : "low",
      client_id: deps.client.id,
    }), { name: "PriceOrder" });
    const flow = new StreamFlow({
      name: "orders_price_batch",
      source: src(),
      process: new Process(
        new CollectBatch({ maxRecords: 2, timeoutMs: 1000 }),
        new With({
          scope: "worker",
          process: new Process(price, new IntoTopic("orders.priced")),
          deps: { client },
        }),
      ),
    });
    const sim = await FlowSimulator.create(flow, { config: kafkaConfig() });
    sim.sendAll([100, 5, 250, 7].map((a, i) => ({ order_id: `o-${i}`, amount: a })));
    await sim.run();
    assert.deepEqual(
      sim.payloads<{ band: string; client_id: number }>("orders.priced").map((p) => [p.band, p.client_id]),
      [
        ["high", 1],
        ["low", 1],
        ["high", 1],
        ["low", 1],
      ],
    );
    assert.equal(sim.committed(0), 4);
    await sim.stop();
    assert.deepEqual([opened, closed], [[1], [1]]);
  });

  test("with_batch_scope: a fresh resource per batch, disposed after it", async () => {
    let n = 0;
    const opened: number[] = [], closed: number[] = [];
    const factory = new ContextFactory(() => {
      const id = ++n;
      opened.push(id);
      return {
        id,
        [Symbol.dispose]() {
          closed.push(id);
        },
      };
    });
    const price = RecordStep.of((m: Message<Order>, deps: { client: { id: number } }) => ({
      order_id: m.payload.order_id,
      client_id: deps.client.id,
    }));
    const flow = new StreamFlow({
      name: "orders_price_batch_scope",
      source: src(),
      process: new Process(
        new CollectBatch({ maxRecords: 2, timeoutMs: 1000 }),
        new With({
          scope: "batch",
          process: new Process(price, new IntoTopic("orders.priced.batch_scope")),
          deps: { client: factory },
        }),
      ),
    });
    const sim = await FlowSimulator.create(flow, { config: kafkaConfig() });
    sim.sendAll([1, 2, 3, 4].map((a) => ({ order_id: `o-${a}`, amount: a })));
    await sim.run();
    assert.deepEqual(
      sim.payloads<{ client_id: number }>("orders.priced.batch_scope").map((p) => p.client_id),
      [1, 1, 2, 2],
    );
    assert.deepEqual([opened, closed], [[1, 2], [1, 2]]);
  });

  test("async: WithAsync scores concurrently, results in input order", async () => {
    let active = 0, peak = 0;
    const score = RecordStep.of(async (m: Message<Order>) => {
      active++;
      peak = Math.max(peak, active);
      await new Promise((r) => setTimeout(r, m.payload.amount % 3));
      active--;
      return { order_id: m.payload.order_id, risk: m.payload.amount >= 100 ? "high" : "low" };
    }, { name: "ScoreRiskAsync" });
    const flow = new StreamFlow({
      name: "orders_score_async_each",
      source: src(),
      process: new Process(
        new WithAsync({ maxConcurrency: 2, process: new Process(score, new IntoTopic("orders.scored")) }),
      ),
    });
    const sim = await FlowSimulator.create(flow, { config: kafkaConfig() });
    sim.sendAll([150, 20, 101, 2, 300].map((a, i) => ({ order_id: `o-${i}`, amount: a })));
    await sim.run();
    assert.deepEqual(sim.payloads<{ risk: string }>("orders.scored").map((p) => p.risk), [
      "high",
      "low",
      "high",
      "low",
      "high",
    ]);
    assert.equal(peak, 2);
    assert.equal(sim.committed(0), 5);
  });

  test("fork: keyed branches, unmatched drained", async () => {
    const flow = new StreamFlow({
      name: "orders_fork",
      source: src(),
      process: new Process(
        Fork.by(msg.payload.field("segment"), {
          vip: new Process(new IntoTopic("orders.fork.vip")),
          standard: new Process(new IntoTopic("orders.fork.standard")),
        }, { default: new Process(new Drain()) }),
      ),
    });
    const sim = await FlowSimulator.create(flow, { config: kafkaConfig() });
    sim.sendAll([
      { order_id: "o-1", amount: 1, segment: "vip" },
      { order_id: "o-2", amount: 1, segment: "standard" },
      { order_id: "o-3", amount: 1, segment: "manual" },
    ]);
    await sim.run();
    assert.deepEqual(sim.payloads<Order>("orders.fork.vip").map((p) => p.order_id), ["o-1"]);
    assert.deepEqual(sim.payloads<Order>("orders.fork.standard").map((p) => p.order_id), ["o-2"]);
    assert.equal(sim.stats.discarded, 1);
    assert.equal(sim.committed(0), 3, "the drained message completes too");
  });

  test("fork_with: predicate branch with CollectBatch + With(BATCH)", async () => {
    let opened = 0, closed = 0;
    const factory = new ContextFactory(() => {
      opened++;
      return {
        id: opened,
        [Symbol.dispose]() {
          closed++;
        },
      };
    });
    const price = RecordStep.of((m: Message<Order>, d: { client: { id: number } }) => ({
      order_id: m.payload.order_id,
      client_id: d.client.id,
    }));
    const flow = new StreamFlow({
      name: "orders_fork_with",
      source: src(),
      process: new Process(
        Fork.when([
          new ForkRoute(
            payload.field("amount").ge(100),
            new Process(
              new CollectBatch({ maxRecords: 1, timeoutMs: 1000 }),
              new With({
                scope: "batch",
                process: new Process(price, new IntoTopic("orders.fork.vip")),
                deps: { client: factory },
              }),
            ),
          ),
        ], { default: new Process(new Drain()) }),
      ),
    });
    const sim = await FlowSimulator.create(flow, { config: kafkaConfig() });
    sim.sendAll([{ order_id: "o-1", amount: 100 }, { order_id: "o-2", amount: 5 }]);
    await sim.run();
    assert.deepEqual(sim.payloads("orders.fork.vip"), [{ order_id: "o-1", client_id: 1 }]);
    assert.deepEqual([opened, closed], [1, 1]);
  });

  test("fork_when: ordered predicates, first match wins", async () => {
    const flow = new StreamFlow({
      name: "orders_fork_when",
      source: src(),
      process: new Process(
        Fork.when([
          new ForkRoute(payload.field("segment").eq("vip"), new Process(new IntoTopic("orders.fork.vip"))),
          new ForkRoute(payload.field("amount").ge(100), new Process(new IntoTopic("orders.fork.standard"))),
        ], { default: new Process(new Drain()) }),
      ),
    });
    const sim = await FlowSimulator.create(flow, { config: kafkaConfig() });
    sim.sendAll([
      { order_id: "o-1", amount: 100, segment: "vip" },
      { order_id: "o-2", amount: 50, segment: "standard" },
      { order_id: "o-3", amount: 500, segment: "manual" },
    ]);
    await sim.run();
    assert.deepEqual(
      [...sim.payloads<Order>("orders.fork.vip"), ...sim.payloads<Order>("orders.fork.standard")].map((p) =>
        p.order_id
      ),
      ["o-1", "o-3"],
    );
  });

  test("a failing record step produces a TASK envelope with the original payload", async () => {
    const boom = RecordStep.of((): never => {
      throw new Error("boom");
    }, { name: "Boom" });
    const flow = new StreamFlow({
      name: "f",
      source: src(),
      process: new Process(boom),
      output: new IntoTopic("orders.validated"),
      errors: { task: new IntoTopic("orders.a") },
    });
    const sim = await FlowSimulator.create(flow, { config: kafkaConfig() });
    sim.send({ order_id: "o-1", amount: 3 }, { key: "k1" });
    await sim.run();
    assert.equal(sim.output("orders.validated").length, 0);
    const errs = sim.errors("task");
    assert.equal(errs.length, 1);
    const e = errs[0] as {
      kind: string;
      reason: string;
      originalMessage: { payload: unknown; meta: { messageId: string } };
    };
    assert.equal(e.kind, "task");
    assert.equal(e.reason, "boom");
    assert.deepEqual(e.originalMessage.payload, { order_id: "o-1", amount: 3, segment: "standard" });
    assert.equal(e.originalMessage.meta.messageId, "orders.raw:0:0");
    const rec = sim.records("orders.a")[0];
    assert.equal(new TextDecoder().decode(rec.headers["x-error-kind"]), "task");
    assert.equal(new TextDecoder().decode(rec.headers["x-error-reason"]), "boom");
    assert.deepEqual(rec.key, new TextEncoder().encode("k1"));
    assert.equal(sim.committed(0), 1);
  });

  test("WithAsync without a timeout: sync and async steps, sync throws and rejections, input order", async () => {
    // the steps run in the worker itself (no async frame per message): a sync result is not awaited,
    // a sync throw and a rejection both become TASK errors of that message only
    const tag = RecordStep.of((m: Message<Order>) => {
      if (m.payload.amount === 13) throw new Error("sync boom");
      return { ...m.payload, order_id: `${m.payload.order_id}:t` };
    }, { name: "Tag" });
    const score = RecordStep.of(async (m: Message<Order>) => {
      await new Promise((r) => setTimeout(r, m.payload.amount % 3));
      if (m.payload.amount === 7) throw new Error("async boom");
      return { order_id: m.payload.order_id, risk: m.payload.amount >= 100 ? "high" : "low" };
    }, { name: "ScoreRiskAsync" });
    const flow = new StreamFlow({
      name: "f",
      source: src(),
      process: new Process(
        new WithAsync({
          maxConcurrency: 3,
          process: new Process(tag, score, new IntoTopic("orders.scored")),
        }),
      ),
      errors: { task: new IntoTopic("orders.a") },
    });
    const sim = await FlowSimulator.create(flow, { config: kafkaConfig() });
    sim.sendAll([150, 13, 20, 7, 101, 2].map((a, i) => ({ order_id: `o-${i}`, amount: a })));
    await sim.run();
    assert.deepEqual(sim.payloads<{ order_id: string; risk: string }>("orders.scored"), [
      { order_id: "o-0:t", risk: "high" },
      { order_id: "o-2:t", risk: "low" },
      { order_id: "o-4:t", risk: "high" },
      { order_id: "o-5:t", risk: "low" },
    ]);
    const errs = sim.errors("task") as { reason: string }[];
    assert.deepEqual(errs.map((e) => e.reason), ["sync boom", "async boom"]);
    assert.equal(sim.committed(0), 6);
  });

  test("WithAsync task timeout → TASK envelope, no output", async () => {
    const slow = RecordStep.of((m: Message<Order>) => new Promise<Order>(() => void m), { name: "Sleepy" });
    const flow = new StreamFlow({
      name: "f",
      source: src(),
      process: new Process(
        new WithAsync({ taskTimeoutMs: 50, process: new Process(slow, new IntoTopic("orders.scored")) }),
      ),
      errors: { task: new IntoTopic("orders.a") },
    });
    const sim = await FlowSimulator.create(flow, { config: kafkaConfig() });
    sim.send({ order_id: "o-1", amount: 3 });
    const running = sim.run();
    await sim.advanceTime(49);
    assert.equal(sim.errors("task").length, 0);
    await sim.advanceTime(1);
    await running;
    assert.equal(sim.output("orders.scored").length, 0);
    const errs = sim.errors("task") as { reason: string }[];
    assert.deepEqual(errs.map((e) => e.reason), ["task timed out after 50 ms"]);
  });

  test("Router.when + BatchStep runs over the branch's records as one batch", async () => {
    const calls: number[] = [];
    const upper = BatchStep.of((ms: readonly Message<Order>[]) => {
      calls.push(ms.length);
      return ms.map((m) => ({ ...m.payload, order_id: m.payload.order_id.toUpperCase() }));
    });
    const flow = new StreamFlow({
      name: "f",
      source: src(),
      process: new Process(Router.when([new Route(payload.field("order_id").ne(""), new Process(upper))])),
      output: new IntoTopic("orders.validated"),
    });
    const sim = await FlowSimulator.create(flow, { config: kafkaConfig() });
    sim.sendAll([{ order_id: "ord-1", amount: 1 }, { order_id: "", amount: 2 }, {
      order_id: "ord-3",
      amount: 3,
    }]);
    await sim.run();
    assert.deepEqual(sim.payloads<Order>("orders.validated").map((p) => p.order_id), ["ORD-1", "", "ORD-3"]);
    assert.deepEqual(calls, [2]);
  });
});

describe("wire errors", () => {
  test("garbage bytes become a DecodeError on the wire route; the partition keeps flowing", async () => {
    const flow = new StreamFlow({
      name: "f",
      source: src(),
      process: new Process(RecordStep.of((m: Message<Order>) => m.payload)),
      output: new IntoTopic("orders.validated"),
      errors: new IntoTopic("orders.a"),
    });
    const sim = await FlowSimulator.create(flow, { config: kafkaConfig() });
    sim.send({ order_id: "o-1", amount: 1 });
    sim.sendRaw("not-msgpack", { key: "tenant-a", headers: { h: "1", "x-trace-id": "tr" } });
    sim.sendRaw(null);
    sim.send({ order_id: "o-4", amount: 4 });
    await sim.run();
    assert.deepEqual(sim.payloads<Order>("orders.validated").map((p) => p.order_id), ["o-1", "o-4"]);
    const wire = sim.errors("wire") as {
      raw: Uint8Array;
      offset: number;
      key: Uint8Array;
      error: { reason: string };
    }[];
    assert.equal(wire.length, 2);
    assert.equal(new TextDecoder().decode(wire[0].raw), "not-msgpack");
    assert.equal(wire[0].offset, 1);
    assert.deepEqual(wire[0].key, new TextEncoder().encode("tenant-a"));
    assert.match(wire[1].error.reason, /tombstone/);
    const out = sim.output("orders.a")[0];
    assert.equal(out.meta.messageType, "loom.streaming.error.wire");
    assert.equal(out.meta.traceId, "tr", "lineage comes from the x-trace-id header");
    assert.equal(sim.committed(0), 4);
  });

  test("a wrong-schema payload is a wire error naming the path", async () => {
    const flow = new StreamFlow({
      name: "f",
      source: src(),
      process: new Process(new Drain()),
      errors: new IntoTopic("orders.a"),
    });
    const sim = await FlowSimulator.create(flow, { config: kafkaConfig() });
    const Wrong = messageType(
      "smoke.models.OrderPlaced",
      v.object({ order_id: v.string(), amount: v.string() }),
    );
    sim.send({ order_id: "o-1", amount: "many" }, { type: Wrong });
    await sim.run();
    const wire = sim.errors("wire") as { error: { reason: string } }[];
    assert.equal(wire[0].error.reason, "Expected `int`, got `str` - at `$.payload.amount`");
  });
});

describe("rebalance", () => {
  test("buffered batches are flushed and committed on revoke; consumption resumes from the commit", async () => {
    const flow = new StreamFlow({
      name: "f",
      source: src(),
      process: new Process(
        new CollectBatch({ maxRecords: 10, timeoutMs: 1000 }),
        new IntoTopic("orders.validated"),
      ),
    });
    const sim = await FlowSimulator.create(flow, { config: kafkaConfig(), partitions: 2 });
    sim.sendAll([1, 2, 3, 4, 5].map((a) => ({ order_id: `o-${a}`, amount: a })), {
      key: (p: Order) => p.order_id,
    });
    await sim.run();
    assert.equal(sim.output("orders.validated").length, 0, "still buffered");
    await sim.rebalance();
    assert.equal(sim.output("orders.validated").length, 5);
    assert.equal((sim.committed(0) ?? 0) + (sim.committed(1) ?? 0), 5);
    sim.send({ order_id: "o-6", amount: 6 }, { key: "o-6" });
    await sim.end();
    assert.equal(sim.output("orders.validated").length, 6, "no duplicates after a clean rebalance");
  });
});
