// Static typing of flows: `deno test` type-checks this file, so each `@ts-expect-error` below fails the
// run if the compiler stops rejecting the mistake. The runtime assertions keep it meaningful under Bun.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import {
  BatchStep,
  CollectBatch,
  Drain,
  ForEach,
  FromTopic,
  IntoTopic,
  type Message,
  messageType,
  type PayloadOf,
  Process,
  RecordStep,
  StreamFlow,
} from "./mod.ts";

const Order = messageType("order", v.object({ id: v.string(), amount: v.pipe(v.number(), v.integer()) }));
type Order = PayloadOf<typeof Order>;
type Priced = { id: string; total: number };

const price = RecordStep.of((m: Message<Order>) => ({ id: m.payload.id, total: m.payload.amount * 2 }));
const describePriced = RecordStep.of((m: Message<Priced>) => `${m.payload.id}=${m.payload.total}`);
const sumBatch = BatchStep.of((ms: readonly Message<Priced>[]) =>
  ms.map((m) => ({ id: m.payload.id, total: m.payload.total }))
);

describe("static types", () => {
  test("payload types are inferred from the MessageType, step outputs from their functions", () => {
    const source = new FromTopic("orders", Order);
    const p: Order | undefined = source.__payload;
    assert.equal(p, undefined);
    const process = Process.from(Order).then(price).then(describePriced).end(new Drain());
    const flow = new StreamFlow({ name: "typed", source, process });
    assert.equal(flow.process.length, 3);
  });

  test("a step whose input does not accept the current payload is a compile error", () => {
    // @ts-expect-error — describePriced needs Priced but the stream carries Order
    const bad = () => Process.from(Order).then(describePriced);
    assert.equal(typeof bad, "function");
    // @ts-expect-error — after `price` the stream carries Priced, `price` needs Order
    const bad2 = () => Process.from(Order).then(price).then(price);
    assert.equal(typeof bad2, "function");
  });

  test("batch steps check their element type through CollectBatch; ForEach returns to records", () => {
    const p = Process.from(Order)
      .then(price)
      .then(new CollectBatch({ maxRecords: 10, timeoutMs: 100 }))
      .then(sumBatch)
      .then(new ForEach())
      .then(describePriced)
      .end(new IntoTopic("out"));
    assert.equal(p.length, 6);
  });

  test("a process built for another payload type cannot be the flow's process", () => {
    const forPriced = Process.from<Priced>().then(describePriced).end(new Drain());
    const flow = () =>
      // @ts-expect-error — the source carries Order, the process expects Priced
      new StreamFlow({ name: "x", source: new FromTopic("orders", Order), process: forPriced });
    assert.equal(typeof flow, "function");
  });

  test("untyped `new Process(...)` stays accepted anywhere", () => {
    const flow = new StreamFlow({
      name: "u",
      source: new FromTopic("orders", Order),
      process: new Process(new Drain()),
    });
    assert.equal(flow.name, "u");
  });
});
