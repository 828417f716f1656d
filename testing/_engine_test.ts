// Runtime semantics (reference §5, §4.5, §5.11, §5.12) through the FlowSimulator: steps, routing,
// batching, error routing, keys, delivery failures, crash recovery, fixtures and determinism.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import {
  BatchExpandStep,
  BatchStep,
  Broadcast,
  BroadcastRoute,
  CollectBatch,
  DomainError,
  Drain,
  ErrorRoute,
  ExpandRoutes,
  ExpandStep,
  Explode,
  ForEach,
  Fork,
  ForkRoute,
  FromTopic,
  IntoTable,
  IntoTopic,
  type Message,
  message,
  type MessageType,
  messageType,
  msg,
  PartitionPolicy,
  payload,
  Process,
  RecordStep,
  Route,
  Router,
  RuleViolation,
  StreamFlow,
  type StreamFlowOptions,
  UnroutedErrorFailure,
  With,
} from "../mod.ts";
import { DeliveryFailure } from "../streaming/engine.ts";
import { FlowSimulator, simulatorConfig, type SimulatorOptions } from "./mod.ts";
import { partitionForKey } from "../kafka/_murmur2.ts";

const int = () => v.pipe(v.number(), v.integer());
const Item = messageType("test.item", v.object({ id: int(), n: int() }));
type ItemP = { id: number; n: number };

const utf8 = new TextEncoder();
const text = (b: Uint8Array | undefined | null): string | null => (b ? new TextDecoder().decode(b) : null);

function flowOf(
  process: Process,
  extra: Partial<Omit<StreamFlowOptions<ItemP>, "process">> = {},
): StreamFlow<ItemP> {
  return new StreamFlow<ItemP>({
    name: "t",
    source: new FromTopic<ItemP>("in", Item),
    process: process as Process<ItemP>,
    ...extra,
  });
}

function sim(flow: StreamFlow<ItemP>, options: SimulatorOptions = {}): Promise<FlowSimulator> {
  return FlowSimulator.create(flow, options);
}

const ids = (s: FlowSimulator, topic: string): number[] => s.payloads<{ id: number }>(topic).map((p) => p.id);

interface Envelope {
  kind: string;
  reason: string;
  payloadType: string | null;
  originalMessage: { payload: ItemP; meta: { messageId: string; key: Uint8Array | null } };
}
const envelopes = (s: FlowSimulator, topic: string): Envelope[] => s.payloads<Envelope>(topic);

/** Calls `check` before every commit the flow makes (commits happen after delivery, so outputs must be there). */
function onCommit(
  s: FlowSimulator,
  check: (offsets: readonly { topic: string; partition: number; offset: number }[]) => void,
): void {
  const broker = s.broker;
  const original = broker.commit.bind(broker);
  broker.commit = (group, offsets) => {
    check(offsets);
    original(group, offsets);
  };
}

const items = (n: number, f: (i: number) => number = () => 0): ItemP[] =>
  Array.from({ length: n }, (_, i) => ({ id: i, n: f(i) }));

// ---------------------------------------------------------------------------------------------------------------

describe("step nodes", () => {
  test("ExpandStep with 0, 1 and N outputs: outputs in order, the 0-output input completes too", async () => {
    const expand = ExpandStep.of((m: Message<ItemP>) =>
      Array.from({ length: m.payload.n }, (_, k) => ({ id: m.payload.id, k }))
    );
    const s = await sim(flowOf(new Process(expand), { output: new IntoTopic("out") }));
    s.sendAll([{ id: 0, n: 0 }, { id: 1, n: 1 }, { id: 2, n: 3 }, { id: 3, n: 0 }]);
    await s.run();
    assert.deepEqual(s.payloads("out"), [{ id: 1, k: 0 }, { id: 2, k: 0 }, { id: 2, k: 1 }, { id: 2, k: 2 }]);
    assert.equal(s.committed(0), 4);
    assert.equal(s.stats.discarded, 2);
    assert.equal(s.inFlight, 0);
  });

  test("ExpandStep returning a non-iterable or an invalid element is one TASK envelope, no partial output", async () => {
    const expand = ExpandStep.of((m: Message<ItemP>): Iterable<unknown> => {
      if (m.payload.n === 1) return 42 as unknown as Iterable<unknown>;
      if (m.payload.n === 2) return "abc";
      if (m.payload.n === 3) return [{ ok: 1 }, undefined];
      return [m.payload];
    }, { name: "Expand" });
    const s = await sim(
      flowOf(new Process(expand), { output: new IntoTopic("out"), errors: new IntoTopic("errs") }),
    );
    s.sendAll([{ id: 0, n: 0 }, { id: 1, n: 1 }, { id: 2, n: 2 }, { id: 3, n: 3 }]);
    await s.run();
    assert.deepEqual(ids(s, "out"), [0]);
    const errs = envelopes(s, "errs");
    assert.deepEqual(errs.map((e) => [e.kind, e.originalMessage.payload.id]), [["task", 1], ["task", 2], [
      "task",
      3,
    ]]);
    assert.match(errs[0].reason, /Expand must return an iterable of payloads/);
    assert.match(errs[2].reason, /undefined/);
    assert.equal(s.committed(0), 4);
  });

  test("BatchExpandStep expands each input of a batch independently", async () => {
    const calls: number[] = [];
    const be = BatchExpandStep.of((ms: readonly Message<ItemP>[]) => {
      calls.push(ms.length);
      return ms.map((m) => Array.from({ length: m.payload.n }, (_, k) => ({ id: m.payload.id, k })));
    });
    const s = await sim(
      flowOf(new Process(new CollectBatch({ maxRecords: 3, timeoutMs: 1000 }), be), {
        output: new IntoTopic("out"),
      }),
    );
    s.sendAll([{ id: 0, n: 2 }, { id: 1, n: 0 }, { id: 2, n: 1 }, { id: 3, n: 3 }]);
    await s.end();
    assert.deepEqual(calls, [3, 1]);
    assert.deepEqual(s.payloads("out"), [
      { id: 0, k: 0 },
      { id: 0, k: 1 },
      { id: 2, k: 0 },
      { id: 3, k: 0 },
      { id: 3, k: 1 },
      { id: 3, k: 2 },
    ]);
    assert.equal(s.committed(0), 4);
  });

  test("BatchExpandStep returning the wrong number of groups fails every message of the batch", async () => {
    const be = BatchExpandStep.of((ms: readonly Message<ItemP>[]) => [ms.map((m) => m.payload)], {
      name: "Bad",
    });
    const s = await sim(
      flowOf(new Process(new CollectBatch({ maxRecords: 2, timeoutMs: 1000 }), be), {
        output: new IntoTopic("out"),
        errors: new IntoTopic("errs"),
      }),
    );
    s.sendAll(items(2));
    await s.run();
    const errs = envelopes(s, "errs");
    assert.deepEqual(errs.map((e) => e.originalMessage.payload.id), [0, 1]);
    assert.match(errs[0].reason, /Bad must return one iterable of outputs per input message \(got 1 for 2\)/);
    assert.equal(s.output("out").length, 0);
    assert.equal(s.committed(0), 2);
  });

  test("BatchStep returning the wrong length or a non-array: one TASK envelope per message", async () => {
    const bad = BatchStep.of((ms: readonly Message<ItemP>[]): readonly unknown[] => {
      if (ms[0].payload.n === 1) return [ms[0].payload];
      return { not: "an array" } as unknown as unknown[];
    }, { name: "Shorty" });
    const s = await sim(
      flowOf(new Process(new CollectBatch({ maxRecords: 2, timeoutMs: 1000 }), bad), {
        output: new IntoTopic("out"),
        errors: new IntoTopic("errs"),
      }),
    );
    s.sendAll([{ id: 0, n: 1 }, { id: 1, n: 1 }, { id: 2, n: 2 }, { id: 3, n: 2 }]);
    await s.run();
    const errs = envelopes(s, "errs");
    assert.deepEqual(errs.map((e) => [e.kind, e.originalMessage.payload.id]), [["task", 0], ["task", 1], [
      "task",
      2,
    ], ["task", 3]]);
    assert.match(errs[0].reason, /output length must match input length \(Shorty returned 1 for 2\)/);
    assert.match(errs[2].reason, /Shorty must return an array/);
    assert.equal(s.output("out").length, 0);
    assert.equal(s.committed(0), 4);
  });

  test("BatchStep outputs keep each input's meta (key, message id) by position", async () => {
    const upper = BatchStep.of((ms: readonly Message<ItemP>[]) =>
      ms.map((m) => ({ id: m.payload.id * 10, n: m.payload.n }))
    );
    const s = await sim(
      flowOf(new Process(new CollectBatch({ maxRecords: 3, timeoutMs: 1000 }), upper, new IntoTopic("out"))),
    );
    s.sendAll(items(3), { key: (p: ItemP) => `k${p.id}` });
    await s.run();
    const out = s.output<ItemP>("out");
    assert.deepEqual(out.map((o) => [o.payload.id, text(o.meta.key as Uint8Array)]), [[0, "k0"], [10, "k1"], [
      20,
      "k2",
    ]]);
  });

  test("a step returning a replacement Message: its meta (key, correlation id, headers) is used", async () => {
    const replace = RecordStep.of((m: Message<ItemP>) =>
      message({ id: m.payload.id, n: m.payload.n + 1 }, {
        ...m.meta,
        correlationId: "c-new",
        key: "k-new",
        headers: { ...m.meta.headers, "x-extra": utf8.encode("yes") },
      })
    );
    const s = await sim(flowOf(new Process(replace), { output: new IntoTopic("out") }));
    s.send({ id: 1, n: 0 }, { key: "k-old", correlationId: "c-old", traceId: "t-in", headers: { h: "1" } });
    await s.run();
    const [o] = s.output("out");
    assert.deepEqual(o.payload, { id: 1, n: 1 });
    assert.equal(o.meta.correlationId, "c-new");
    assert.equal(text(o.meta.key as Uint8Array), "k-new");
    assert.equal(text(o.meta.headers["x-extra"]), "yes");
    assert.equal(text(o.meta.headers.h), "1");
    assert.equal(text(o.meta.headers["x-correlation-id"]), "c-new");
    assert.equal(o.meta.parentTraceId, "t-in");
    assert.equal(o.meta.messageType, "test.item");
  });

  test("a replacement Message with another messageType is encoded as that type, not the input's schema", async () => {
    // Regression test (bug found by it, fixed in d2bf024). Old behaviour:
    // Engine.apply() assigns `item.message = result` BEFORE comparing
    // `result.meta.messageType !== item.message.meta.messageType`, so the comparison is always false and the
    // item keeps the source payload type (test.item). The new payload {id, replaced} is then encoded with the
    // test.item schema and fails ("Expected `int`, got `undefined` - at `$.payload.n`", an unrouted TASK
    // error). Expected: the type is dropped (dynamic encoding) and the output says messageType "other.type".
    const replace = RecordStep.of((m: Message<ItemP>) =>
      message({ id: m.payload.id, replaced: true }, { ...m.meta, messageType: "other.type" })
    );
    const s = await sim(flowOf(new Process(replace), { output: new IntoTopic("out") }));
    s.send({ id: 1, n: 0 });
    await s.run();
    const [o] = s.output("out");
    assert.deepEqual(o.payload, { id: 1, replaced: true });
    assert.equal(o.meta.messageType, "other.type");
  });

  test("a step returning a payload keeps the input's meta (key, correlation id, headers, type name)", async () => {
    const step = RecordStep.of((m: Message<ItemP>) => ({ id: m.payload.id, doubled: m.payload.n * 2 }));
    const s = await sim(flowOf(new Process(step), { output: new IntoTopic("out") }));
    s.send({ id: 1, n: 4 }, { key: "k", correlationId: "c", headers: { h: "v" } });
    await s.run();
    const [o] = s.output("out");
    assert.deepEqual(o.payload, { id: 1, doubled: 8 });
    assert.equal(o.meta.correlationId, "c");
    assert.equal(text(o.meta.key as Uint8Array), "k");
    assert.equal(text(o.meta.headers.h), "v");
    assert.equal(
      o.meta.messageType,
      "test.item",
      "without a declared output type the type name is inherited",
    );
  });

  test("DomainError and RuleViolation become BUSINESS envelopes on the BUSINESS route when declared", async () => {
    const check = RecordStep.of((m: Message<ItemP>) => {
      if (m.payload.n < 0) throw new RuleViolation("n", "must not be negative");
      if (m.payload.n === 0) throw new DomainError("zero is not allowed");
      if (m.payload.n === 13) throw new Error("unlucky");
      return m.payload;
    }, { name: "Check" });
    const s = await sim(flowOf(new Process(check), {
      output: new IntoTopic("out"),
      errors: { task: new IntoTopic("errs.task"), business: new IntoTopic("errs.business") },
    }));
    s.sendAll([{ id: 0, n: -1 }, { id: 1, n: 0 }, { id: 2, n: 13 }, { id: 3, n: 5 }], { key: "k" });
    await s.run();
    assert.deepEqual(ids(s, "out"), [3]);
    const biz = envelopes(s, "errs.business");
    assert.deepEqual(biz.map((e) => [e.kind, e.reason, e.originalMessage.payload.id]), [
      ["business", "n: must not be negative", 0],
      ["business", "zero is not allowed", 1],
    ]);
    assert.equal(biz[0].payloadType, "test.item");
    const rec = s.records("errs.business")[0];
    assert.equal(text(rec.headers["x-error-kind"]), "business");
    assert.equal(text(rec.headers["x-error-reason"]), "n: must not be negative");
    assert.equal(text(rec.key), "k");
    assert.equal(s.output("errs.business")[0].meta.messageType, "loom.streaming.error.business");
    assert.deepEqual(envelopes(s, "errs.task").map((e) => [e.kind, e.reason]), [["task", "unlucky"]]);
    assert.equal(s.committed(0), 4);
  });

  test("BUSINESS envelopes fall back to the TASK route when no BUSINESS route is declared", async () => {
    const check = RecordStep.of((): never => {
      throw new RuleViolation("amount", "must be positive");
    });
    const s = await sim(
      flowOf(new Process(check), {
        output: new IntoTopic("out"),
        errors: new ErrorRoute(["task"], new IntoTopic("errs.task")),
      }),
    );
    s.send({ id: 0, n: 0 });
    await s.run();
    const errs = envelopes(s, "errs.task");
    assert.deepEqual(errs.map((e) => [e.kind, e.reason]), [["business", "amount: must be positive"]]);
    assert.equal(s.errors("business").length, 1);
    assert.equal(s.errors("task").length, 0);
  });

  test("sim.failStep(name, n): the next n invocations fail as TASK errors, later ones succeed", async () => {
    const step = RecordStep.of((m: Message<ItemP>) => m.payload, { name: "Flaky" });
    const s = await sim(
      flowOf(new Process(step), { output: new IntoTopic("out"), errors: new IntoTopic("errs") }),
    );
    s.failStep("Flaky", 2);
    s.sendAll(items(4));
    await s.run();
    assert.deepEqual(ids(s, "out"), [2, 3]);
    const errs = envelopes(s, "errs");
    assert.deepEqual(errs.map((e) => e.originalMessage.payload.id), [0, 1]);
    assert.equal(errs[0].reason, "simulated failure of step 'Flaky'");
    s.failStep("Flaky", 1, () => new DomainError("custom"));
    s.send({ id: 9, n: 0 });
    await s.run();
    assert.deepEqual(envelopes(s, "errs").slice(2).map((e) => [e.kind, e.reason]), [["business", "custom"]]);
  });

  test("a payload that does not match the declared output type is a TASK envelope (not a crash)", async () => {
    // Regression test (bug found by it, fixed in d2bf024). Old behaviour:
    // the encoding failure is routed as a TASK error, but Engine.fail() encodes the envelope with
    // errorCodec(item.type) — the declared output type the payload just failed to match — so the envelope
    // cannot be encoded either ("... (and the error envelope could not be encoded: Expected `bool`, got `str`
    // - at `$.payload.original_message.payload.accepted`)") and becomes an unrouted error: the run rejects
    // with UnroutedErrorFailure although an error route exists. Expected: the envelope falls back to the
    // dynamic codec and lands on the error route.
    const Validated = messageType("test.validated", v.object({ id: int(), accepted: v.boolean() }));
    const bad = RecordStep.of(
      (
        m: Message<ItemP>,
      ) => (m.payload.n === 1 ? { id: m.payload.id, accepted: "yes" } : { id: m.payload.id, accepted: true }),
      {
        name: "Validate",
        output: Validated,
      },
    );
    const s = await sim(
      flowOf(new Process(bad), { output: new IntoTopic("out"), errors: new IntoTopic("errs") }),
    );
    s.sendAll([{ id: 0, n: 0 }, { id: 1, n: 1 }]);
    await s.run();
    assert.deepEqual(s.payloads("out"), [{ id: 0, accepted: true }]);
    assert.equal(s.output("out")[0].meta.messageType, "test.validated");
    const errs = envelopes(s, "errs");
    assert.equal(errs.length, 1);
    assert.equal(errs[0].kind, "task");
    assert.match(errs[0].reason, /accepted/);
    assert.deepEqual(errs[0].originalMessage.payload, { id: 1, accepted: "yes" });
    assert.equal(s.committed(0), 2);
  });

  test("a payload that does not match the IntoTopic payload type is a TASK envelope", async () => {
    const Strict = messageType("test.strict", v.object({ id: int(), label: v.string() }));
    const step = RecordStep.of((
      m: Message<ItemP>,
    ) => (m.payload.n === 1 ? { id: m.payload.id } : { id: m.payload.id, label: "ok" }));
    const s = await sim(
      flowOf(new Process(step, new IntoTopic("out", { payload: Strict })), { errors: new IntoTopic("errs") }),
    );
    s.sendAll([{ id: 0, n: 0 }, { id: 1, n: 1 }]);
    await s.run();
    assert.deepEqual(s.payloads("out"), [{ id: 0, label: "ok" }]);
    assert.equal(s.output("out")[0].meta.messageType, "test.strict");
    assert.deepEqual(envelopes(s, "errs").map((e) => [e.kind, e.originalMessage.payload.id]), [["task", 1]]);
    assert.equal(s.committed(0), 2);
  });

  test("an async record step works at top level and keeps input order", async () => {
    const step = RecordStep.of(async (m: Message<ItemP>) => {
      await new Promise((r) => setTimeout(r, (5 - m.payload.id) % 3));
      return { id: m.payload.id, n: m.payload.n + 1 };
    });
    const s = await sim(flowOf(new Process(step), { output: new IntoTopic("out") }));
    s.sendAll(items(5));
    await s.run();
    assert.deepEqual(ids(s, "out"), [0, 1, 2, 3, 4]);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe("routing", () => {
  const tag = (label: string) =>
    RecordStep.of((m: Message<ItemP>) => ({ ...m.payload, lane: label }), { name: `Tag_${label}` });

  test("a Router selector that throws produces a ROUTING envelope; other messages continue", async () => {
    const selector = (m: Message<ItemP>) => {
      if (m.payload.n === 2) throw new Error("selector exploded");
      return m.payload.n;
    };
    const router = Router.by(selector, [[1, new Process(tag("one"))]], {
      default: new Process(tag("other")),
    });
    const s = await sim(
      flowOf(new Process(router), { output: new IntoTopic("out"), errors: new IntoTopic("errs") }),
    );
    s.sendAll([{ id: 0, n: 1 }, { id: 1, n: 2 }, { id: 2, n: 3 }]);
    await s.run();
    assert.deepEqual(s.payloads<{ id: number; lane: string }>("out").map((p) => [p.id, p.lane]), [
      [0, "one"],
      [2, "other"],
    ]);
    const errs = envelopes(s, "errs");
    assert.deepEqual(errs.map((e) => [e.kind, e.reason, e.originalMessage.payload.id]), [[
      "routing",
      "selector exploded",
      1,
    ]]);
    assert.equal(s.committed(0), 3);
  });

  test("a Router path selector on a missing field is a ROUTING envelope (PathError)", async () => {
    const router = Router.by(msg.payload.field("segment"), { vip: new Process(tag("vip")) });
    const s = await sim(
      flowOf(new Process(router), { output: new IntoTopic("out"), errors: new IntoTopic("errs") }),
    );
    s.send({ id: 0, n: 0 });
    await s.run();
    const errs = envelopes(s, "errs");
    assert.equal(errs.length, 1);
    assert.equal(errs[0].kind, "routing");
    assert.match(errs[0].reason, /cannot resolve 'segment' in path 'msg\.payload\.segment'/);
  });

  test("a step failing inside a Router branch is a TASK (not ROUTING) error", async () => {
    const boom = RecordStep.of((): never => {
      throw new Error("boom");
    }, { name: "Boom" });
    const router = Router.when([new Route(payload.field("n").eq(1), new Process(boom))]);
    const s = await sim(
      flowOf(new Process(router), { output: new IntoTopic("out"), errors: new IntoTopic("errs") }),
    );
    s.sendAll([{ id: 0, n: 1 }, { id: 1, n: 0 }]);
    await s.run();
    assert.deepEqual(ids(s, "out"), [1]);
    assert.deepEqual(envelopes(s, "errs").map((e) => [e.kind, e.reason]), [["task", "boom"]]);
  });

  test("a Fork predicate that throws produces a ROUTING envelope (the original crashed)", async () => {
    const when = {
      matches: (m: Message<ItemP>) => {
        if (m.payload.n === 2) throw new Error("predicate exploded");
        return m.payload.n === 1;
      },
    };
    const fork = Fork.when([new ForkRoute(when, new Process(new IntoTopic("a")))], {
      default: new Process(new IntoTopic("b")),
    });
    const s = await sim(flowOf(new Process(fork), { errors: new IntoTopic("errs") }));
    s.sendAll([{ id: 0, n: 1 }, { id: 1, n: 2 }, { id: 2, n: 3 }]);
    await s.run();
    assert.deepEqual(ids(s, "a"), [0]);
    assert.deepEqual(ids(s, "b"), [2]);
    assert.deepEqual(envelopes(s, "errs").map((e) => [e.kind, e.reason, e.originalMessage.payload.id]), [[
      "routing",
      "predicate exploded",
      1,
    ]]);
    assert.equal(s.committed(0), 3);
  });

  test("a Fork selector that throws produces a ROUTING envelope", async () => {
    const fork = Fork.by(msg.payload.field("lane"), { x: new Process(new IntoTopic("a")) }, {
      default: new Process(new Drain()),
    });
    const s = await sim(flowOf(new Process(fork), { errors: new IntoTopic("errs") }));
    s.send({ id: 0, n: 0 });
    await s.run();
    assert.deepEqual(envelopes(s, "errs").map((e) => e.kind), ["routing"]);
    assert.equal(s.committed(0), 1);
  });

  test("Fork without a default discards unmatched messages and completes their offsets", async () => {
    const fork = Fork.by(msg.payload.field("n"), [[1, new Process(new IntoTopic("a"))]]);
    const s = await sim(flowOf(new Process(fork)));
    s.sendAll([{ id: 0, n: 1 }, { id: 1, n: 5 }, { id: 2, n: 1 }]);
    await s.run();
    assert.deepEqual(ids(s, "a"), [0, 2]);
    assert.equal(s.stats.discarded, 1);
    assert.equal(s.committed(0), 3);
  });

  test("a Router with no matching route and no default passes messages through unchanged", async () => {
    const router = Router.by(msg.payload.field("n"), [[1, new Process(tag("one"))]]);
    const s = await sim(flowOf(new Process(router), { output: new IntoTopic("out") }));
    s.sendAll([{ id: 0, n: 1 }, { id: 1, n: 7 }, { id: 2, n: 1 }]);
    await s.run();
    assert.deepEqual(s.payloads("out"), [{ id: 0, n: 1, lane: "one" }, { id: 1, n: 7 }, {
      id: 2,
      n: 1,
      lane: "one",
    }]);
  });

  test("keyed routes match numbers against string keys (object form) and first predicate wins", async () => {
    const router = Router.by(msg.payload.field("n"), {
      "1": new Process(tag("one")),
      "2": new Process(tag("two")),
    });
    const when = Router.when([
      new Route(payload.field("n").ge(2), new Process(tag("big"))),
      new Route(payload.field("n").ge(1), new Process(tag("small"))),
    ]);
    const s1 = await sim(flowOf(new Process(router), { output: new IntoTopic("out") }));
    const s2 = await sim(flowOf(new Process(when), { output: new IntoTopic("out") }));
    for (const s of [s1, s2]) {
      s.sendAll([{ id: 0, n: 1 }, { id: 1, n: 2 }, { id: 2, n: 0 }]);
      await s.run();
    }
    assert.deepEqual(s1.payloads<{ lane?: string }>("out").map((p) => p.lane ?? "-"), ["one", "two", "-"]);
    assert.deepEqual(s2.payloads<{ lane?: string }>("out").map((p) => p.lane ?? "-"), ["small", "big", "-"]);
  });

  test("nested Routers: the inner router runs inside the outer branch, then the flow continues", async () => {
    const inner = Router.by(msg.payload.field("id"), [[0, new Process(tag("inner-0"))]], {
      default: new Process(tag("inner-x")),
    });
    const outer = Router.when([new Route(payload.field("n").eq(1), new Process(tag("outer"), inner))]);
    const after = RecordStep.of((m: Message<ItemP & { lane?: string }>) => ({ ...m.payload, after: true }));
    const s = await sim(flowOf(new Process(outer, after), { output: new IntoTopic("out") }));
    s.sendAll([{ id: 0, n: 1 }, { id: 1, n: 1 }, { id: 2, n: 0 }]);
    await s.run();
    assert.deepEqual(s.payloads("out"), [
      { id: 0, n: 1, lane: "inner-0", after: true },
      { id: 1, n: 1, lane: "inner-x", after: true },
      { id: 2, n: 0, after: true },
    ]);
  });

  test("Broadcast: 3 messages to 2 routes give 3 + 3 outputs; the offset commits only after both routes", async () => {
    const analytics = new BroadcastRoute(new Process(tag("analytics")), new IntoTopic("events.analytics"));
    const fulfillment = new BroadcastRoute(
      new Process(new CollectBatch({ maxRecords: 10, timeoutMs: 1000 }), new ForEach(), tag("fulfillment")),
      new IntoTopic("orders.fulfillment"),
    );
    const s = await sim(flowOf(new Process(new Broadcast(analytics, fulfillment))));
    s.sendAll(items(3));
    await s.run();
    assert.deepEqual(ids(s, "events.analytics"), [0, 1, 2]);
    assert.deepEqual(ids(s, "orders.fulfillment"), []);
    assert.equal(s.committed(0), null, "the second route still holds every message");
    assert.equal(s.inFlight, 3);
    await s.advanceTime(1000);
    assert.deepEqual(ids(s, "orders.fulfillment"), [0, 1, 2]);
    assert.equal(s.committed(0), 3);
    assert.equal(s.inFlight, 0);
  });

  test("Broadcast routes get independent copies: a step in one route does not affect the other", async () => {
    const a = new BroadcastRoute(
      new Process(RecordStep.of((m: Message<ItemP>) => ({ ...m.payload, n: 100 }))),
      new IntoTopic("a"),
    );
    const b = new BroadcastRoute(
      new Process(RecordStep.of((m: Message<ItemP>) => m.payload)),
      new IntoTopic("b"),
    );
    const c = new BroadcastRoute(new Process(new Drain()));
    const s = await sim(flowOf(new Process(new Broadcast(a, b, c))));
    s.sendAll(items(2, (i) => i + 1));
    await s.run();
    assert.deepEqual(s.payloads("a"), [{ id: 0, n: 100 }, { id: 1, n: 100 }]);
    assert.deepEqual(s.payloads("b"), [{ id: 0, n: 1 }, { id: 1, n: 2 }]);
    assert.equal(s.committed(0), 2);
  });

  const StoreEvent = messageType(
    "store.event",
    v.object({ store_id: v.string(), region: v.string(), languages: v.array(v.string()) }),
  );
  const StoreRow = messageType("store.row", v.object({ store_id: v.string(), region: v.string() }));
  const LanguageRow = messageType("language.row", v.object({ store_id: v.string(), language: v.string() }));
  const RoutedRow = messageType("routed.row", v.object({ kind: v.string(), value: v.string() }));
  type Store = v.InferOutput<typeof StoreEvent.schema>;
  const expander = {
    name: "StoreEventExpander",
    outputs: [StoreRow, LanguageRow],
    expand: (e: Store) => ({
      [StoreRow.name]: [{ store_id: e.store_id, region: e.region }],
      [LanguageRow.name]: e.languages.map((language) => ({ store_id: e.store_id, language })),
    }),
  };
  const storeFlow = (process: Process) =>
    new StreamFlow({
      name: "stores",
      source: new FromTopic("stores", StoreEvent),
      process,
      output: new IntoTopic("events.analytics"),
    });
  const routed = (kind: string, field: "store_id" | "language") =>
    RecordStep.of((m: Message<Record<string, string>>) => ({ kind, value: m.payload[field] }), {
      output: RoutedRow,
      name: `Route_${kind}`,
    });

  test("Explode + Router.by(msg.meta.messageType) routes typed rows (string keys)", async () => {
    const flow = storeFlow(
      new Process(
        new Explode(expander),
        Router.by(msg.meta.messageType, {
          "store.row": new Process(routed("store", "store_id")),
          "language.row": new Process(routed("language", "language")),
        }),
      ),
    );
    const s = await FlowSimulator.create(flow);
    s.send({ store_id: "store-1", region: "North", languages: ["en", "es"] }, { key: "store-1" });
    s.send({ store_id: "store-2", region: "South", languages: [] });
    await s.run();
    const out = s.output<{ kind: string; value: string }>("events.analytics");
    assert.deepEqual(out.map((o) => [o.payload.kind, o.payload.value]), [
      ["store", "store-1"],
      ["language", "en"],
      ["language", "es"],
      ["store", "store-2"],
    ]);
    assert.deepEqual(new Set(out.map((o) => o.meta.messageType)), new Set(["routed.row"]));
    assert.equal(text(out[1].meta.key as Uint8Array), "store-1", "rows keep the event's meta");
    assert.equal(s.committed(0), 2);
  });

  test("Explode with 0 rows discards the event and completes its offset; an expander error is a TASK error", async () => {
    const exp = {
      outputs: [StoreRow],
      expand: (e: Store): Record<string, unknown[]> => {
        if (e.region === "boom") throw new Error("explode failed");
        return e.region === "none" ? {} : { "store.row": [{ store_id: e.store_id, region: e.region }] };
      },
    };
    const f = new StreamFlow({
      name: "stores",
      source: new FromTopic("stores", StoreEvent),
      process: new Process(
        new Explode(exp),
        Router.by(msg.meta.messageType, { "store.row": new Process(routed("store", "store_id")) }),
      ),
      output: new IntoTopic("events.analytics"),
      errors: new IntoTopic("errs"),
    });
    const s = await FlowSimulator.create(f);
    s.send({ store_id: "a", region: "none", languages: [] });
    s.send({ store_id: "b", region: "boom", languages: [] });
    s.send({ store_id: "c", region: "r", languages: [] });
    await s.run();
    assert.deepEqual(s.payloads("events.analytics"), [{ kind: "store", value: "c" }]);
    assert.deepEqual(s.payloads<Envelope>("errs").map((e) => [e.kind, e.reason]), [[
      "task",
      "explode failed",
    ]]);
    assert.equal(s.stats.discarded, 1);
    assert.equal(s.committed(0), 3);
  });

  test("Explode rows keep their row type: unrouted rows pass through with the row's type name", async () => {
    const flow = storeFlow(
      new Process(
        new Explode(expander),
        Router.by(msg.meta.messageType, { "store.row": new Process(routed("store", "store_id")) }),
      ),
    );
    const s = await FlowSimulator.create(flow);
    s.send({ store_id: "s", region: "r", languages: ["en"] });
    await s.run();
    const out = s.output("events.analytics");
    assert.deepEqual(out.map((o) => o.meta.messageType), ["routed.row", "language.row"]);
    assert.deepEqual(out[1].payload, { store_id: "s", language: "en" });
  });

  test("Router.by(msg.meta.messageType) with a Map keyed by MessageType matches typed rows", async () => {
    // Regression test (bug found by it, fixed in d2bf024). Old behaviour:
    // BranchSelector only matches a *selected MessageType* against route-key names; a selected type
    // NAME (string, e.g. from msg.meta.messageType) never matches routes keyed by MessageType objects, so
    // every row silently passes through unrouted. Expected: the typed rows reach their branches.
    const flow = storeFlow(
      new Process(
        new Explode(expander),
        Router.by(
          msg.meta.messageType,
          new Map<MessageType, Process>([
            [StoreRow, new Process(routed("store", "store_id"))],
            [LanguageRow, new Process(routed("language", "language"))],
          ]),
        ),
      ),
    );
    const s = await FlowSimulator.create(flow);
    s.send({ store_id: "store-1", region: "North", languages: ["en"] });
    await s.run();
    assert.deepEqual(s.payloads<{ kind: string }>("events.analytics").map((p) => p.kind), [
      "store",
      "language",
    ]);
  });

  test("ExpandRoutes: typed routes, default for undeclared types, 0 rows discards (offset completes)", async () => {
    const Other = messageType("other.row", v.object({ x: int() }));
    const exp = {
      outputs: [StoreRow, LanguageRow, Other],
      expand: (e: Store) =>
        new Map<unknown, unknown[]>([
          [StoreRow, e.region === "none" ? [] : [{ store_id: e.store_id, region: e.region }]],
          [LanguageRow, e.languages.map((language) => ({ store_id: e.store_id, language }))],
          ["other.row", e.region === "other" ? [{ x: 1 }] : []],
        ]) as never,
    };
    const node = new ExpandRoutes({
      expander: exp,
      routes: new Map<MessageType, Process>([
        [StoreRow, new Process(new IntoTopic("stores.out"))],
        [LanguageRow, new Process(new IntoTopic("languages.out"))],
      ]),
      default: new Process(new IntoTopic("other.out")),
    });
    const s = await FlowSimulator.create(
      new StreamFlow({ name: "x", source: new FromTopic("stores", StoreEvent), process: new Process(node) }),
    );
    s.send({ store_id: "a", region: "r", languages: ["en", "fr"] });
    s.send({ store_id: "b", region: "none", languages: [] });
    s.send({ store_id: "c", region: "other", languages: [] });
    await s.run();
    assert.deepEqual(s.payloads("stores.out"), [{ store_id: "a", region: "r" }, {
      store_id: "c",
      region: "other",
    }]);
    assert.deepEqual(s.output("stores.out").map((o) => o.meta.messageType), ["store.row", "store.row"]);
    assert.deepEqual(s.payloads<{ language: string }>("languages.out").map((p) => p.language), ["en", "fr"]);
    assert.deepEqual(s.payloads("other.out"), [{ x: 1 }]);
    assert.equal(s.output("other.out")[0].meta.messageType, "other.row");
    assert.equal(s.stats.discarded, 1, "the event with 0 rows is discarded");
    assert.equal(s.committed(0), 3);
  });

  test("ExpandRoutes without a default ignores undeclared types; an expander error is a TASK error", async () => {
    const exp = {
      expand: (e: Store) => {
        if (e.region === "boom") throw new Error("expander exploded");
        return { "store.row": [{ store_id: e.store_id, region: e.region }], "undeclared.row": [{ y: 1 }] };
      },
    };
    const node = new ExpandRoutes({
      expander: exp,
      routes: { "store.row": new Process(new IntoTopic("stores.out")) },
    });
    const s = await FlowSimulator.create(
      new StreamFlow({
        name: "x",
        source: new FromTopic("stores", StoreEvent),
        process: new Process(node),
        errors: new IntoTopic("errs"),
      }),
    );
    s.send({ store_id: "a", region: "r", languages: [] });
    s.send({ store_id: "b", region: "boom", languages: [] });
    await s.run();
    assert.deepEqual(s.payloads("stores.out"), [{ store_id: "a", region: "r" }]);
    assert.deepEqual(s.payloads<Envelope>("errs").map((e) => [e.kind, e.reason]), [[
      "task",
      "expander exploded",
    ]]);
    assert.equal(s.committed(0), 2);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe("CollectBatch", () => {
  const recorder = () => {
    const batches: { id: number; partition: number | null; key: string | null }[][] = [];
    const step = BatchStep.of((ms: readonly Message<ItemP>[]) => {
      batches.push(
        ms.map((m) => ({
          id: m.payload.id,
          partition: m.meta.partition,
          key: text(m.meta.key as Uint8Array),
        })),
      );
      return ms.map((m) => m.payload);
    }, { name: "Recorder" });
    return { batches, step };
  };

  test("batches never mix partitions (3 partitions, keys placed by murmur2)", async () => {
    const { batches, step } = recorder();
    const s = await sim(
      flowOf(new Process(new CollectBatch({ maxRecords: 3, timeoutMs: 1000 }), step, new IntoTopic("out"))),
      { partitions: 3 },
    );
    const keys = Array.from({ length: 12 }, (_, i) => `k${i}`);
    s.sendAll(items(12), { key: (p: ItemP) => keys[p.id] });
    await s.end();
    assert.equal(batches.flat().length, 12);
    const used = new Set<number>();
    for (const b of batches) {
      assert.ok(b.length >= 1 && b.length <= 3);
      const p = b[0].partition!;
      used.add(p);
      for (const x of b) {
        assert.equal(x.partition, p, `batch ${JSON.stringify(b)} mixes partitions`);
        assert.equal(x.partition, partitionForKey(utf8.encode(x.key!), 3), `${x.key} placed by murmur2`);
      }
      // within a partition, batches keep offset order
      assert.deepEqual(b.map((x) => x.id), [...b.map((x) => x.id)].sort((a, c) => a - c));
    }
    assert.ok(used.size >= 2, "the keys spread over several partitions");
    for (let p = 0; p < 3; p++) assert.equal(s.committed(p), s.broker.endOffset("in", p));
  });

  test("a batch is emitted as soon as maxRecords arrived", async () => {
    const { batches, step } = recorder();
    const s = await sim(
      flowOf(new Process(new CollectBatch({ maxRecords: 2, timeoutMs: 1000 }), step, new IntoTopic("out"))),
    );
    s.sendAll(items(5));
    await s.run();
    assert.deepEqual(batches.map((b) => b.map((x) => x.id)), [[0, 1], [2, 3]]);
    assert.deepEqual(ids(s, "out"), [0, 1, 2, 3]);
    assert.equal(s.committed(0), 4, "the held 5th record blocks the commit");
    assert.equal(s.inFlight, 1);
  });

  test("the inactivity timeout emits the batch: not before timeoutMs, at timeoutMs", async () => {
    const { batches, step } = recorder();
    const s = await sim(
      flowOf(new Process(new CollectBatch({ maxRecords: 10, timeoutMs: 1000 }), step, new IntoTopic("out"))),
    );
    s.sendAll(items(2));
    await s.run();
    assert.equal(s.driver.nextDeadline(), s.clock.now() + 1000);
    await s.advanceTime(999);
    assert.equal(batches.length, 0);
    assert.equal(s.committed(0), null);
    await s.advanceTime(1);
    assert.deepEqual(batches.map((b) => b.map((x) => x.id)), [[0, 1]]);
    assert.equal(s.committed(0), 2);
    assert.equal(s.driver.nextDeadline(), null);
  });

  test("the timer restarts on every new record (inactivity, not age)", async () => {
    const { batches, step } = recorder();
    const s = await sim(
      flowOf(new Process(new CollectBatch({ maxRecords: 10, timeoutMs: 1000 }), step, new IntoTopic("out"))),
    );
    s.send({ id: 0, n: 0 });
    await s.run();
    await s.advanceTime(600);
    s.send({ id: 1, n: 0 });
    await s.run();
    await s.advanceTime(600);
    assert.equal(batches.length, 0, "1200 ms after the first record but only 600 ms after the last one");
    await s.advanceTime(399);
    assert.equal(batches.length, 0);
    await s.advanceTime(1);
    assert.deepEqual(batches.map((b) => b.map((x) => x.id)), [[0, 1]]);
  });

  test("sim.end() flushes partial batches and commits everything", async () => {
    const { batches, step } = recorder();
    const s = await sim(
      flowOf(new Process(new CollectBatch({ maxRecords: 4, timeoutMs: 60_000 }), step, new IntoTopic("out"))),
      { partitions: 2 },
    );
    s.sendAll(items(5), { key: (p: ItemP) => `key-${p.id}` });
    await s.run();
    await s.end();
    assert.equal(batches.flat().length, 5);
    assert.equal(ids(s, "out").length, 5);
    for (let p = 0; p < 2; p++) assert.equal(s.committed(p), s.broker.endOffset("in", p));
    assert.equal(s.inFlight, 0);
  });

  test("ForEach after CollectBatch flattens batches back to records, in order", async () => {
    const seen: number[][] = [];
    const s = await sim(flowOf(
      new Process(
        new CollectBatch({ maxRecords: 2, timeoutMs: 1000 }),
        BatchStep.of((ms: readonly Message<ItemP>[]) => {
          seen.push(ms.map((m) => m.payload.id));
          return ms.map((m) => ({ ...m.payload, n: ms.length }));
        }),
        new ForEach(),
        RecordStep.of((m: Message<ItemP>) => ({ ...m.payload, id: m.payload.id + 100 })),
      ),
      { output: new IntoTopic("out") },
    ));
    s.sendAll(items(3));
    await s.end();
    assert.deepEqual(seen, [[0, 1], [2]]);
    assert.deepEqual(s.payloads("out"), [{ id: 100, n: 2 }, { id: 101, n: 2 }, { id: 102, n: 1 }]);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe("batch-shaped branches", () => {
  test("Broadcast after CollectBatch: every route receives the batches (BatchStep, ForEach, table sink)", async () => {
    const f = flowOf(
      new Process(
        new CollectBatch({ maxRecords: 2, timeoutMs: 100 }),
        new Broadcast(
          new BroadcastRoute(
            new Process(
              BatchStep.of((ms: readonly Message<ItemP>[]) =>
                ms.map((m) => ({ ...m.payload, id: m.payload.id * 10 }))
              ),
            ),
            new IntoTopic("a"),
          ),
          new BroadcastRoute(
            new Process(
              new ForEach(),
              RecordStep.of((m: Message<ItemP>) => ({ ...m.payload, id: m.payload.id + 1 })),
            ),
            new IntoTopic("b"),
          ),
          new BroadcastRoute(new Process(new IntoTable({ name: "tbl" }))),
        ),
      ),
    );
    const s = await sim(f);
    s.sendAll([1, 2, 3].map((id) => ({ id, n: 0 })));
    await s.run();
    assert.deepEqual([ids(s, "a"), ids(s, "b"), s.table<ItemP>("tbl").map((r) => r.id)], [
      [10, 20],
      [2, 3],
      [],
    ]);
    assert.equal(s.tableTwin("tbl").buffered, 2, "the table twin buffers its rows until a flush");
    assert.equal(s.committed(0), null, "and the buffered rows hold their inputs' commit back");
    await s.end();
    assert.deepEqual([ids(s, "a"), ids(s, "b"), s.table<ItemP>("tbl").map((r) => r.id)], [[10, 20, 30], [
      2,
      3,
      4,
    ], [1, 2, 3]]);
    assert.equal(s.committed(0), 3);
  });

  test("Fork after CollectBatch splits each batch between the branches", async () => {
    const sizes: number[] = [];
    const f = flowOf(
      new Process(
        new CollectBatch({ maxRecords: 4, timeoutMs: 100 }),
        Fork.when([
          new ForkRoute(
            payload.field("id").lt(3),
            new Process(
              BatchStep.of((ms: readonly Message<ItemP>[]) => {
                sizes.push(ms.length);
                return ms.map((m) => m.payload);
              }),
              new IntoTopic("a"),
            ),
          ),
        ], { default: new Process(new ForEach(), new IntoTopic("b")) }),
      ),
    );
    const s = await sim(f);
    s.sendAll([1, 5, 2, 6].map((id) => ({ id, n: 0 })));
    await s.run();
    assert.deepEqual(sizes, [2]);
    assert.deepEqual([ids(s, "a"), ids(s, "b")], [[1, 2], [5, 6]]);
    assert.equal(s.committed(0), 4);
  });

  test("With on a record stream (no CollectBatch; quirk 7 fixed) injects deps and isolates failures", async () => {
    const step = RecordStep.of((m: Message<ItemP>, d: { k: number }) => {
      if (m.payload.id === 2) throw new Error("x");
      return { ...m.payload, id: m.payload.id + d.k };
    });
    const f = flowOf(
      new Process(new With({ process: new Process(step, new IntoTopic("a")), deps: { k: 100 } })),
      {
        errors: new IntoTopic("errs"),
      },
    );
    const s = await sim(f);
    s.sendAll([1, 2, 3].map((id) => ({ id, n: 0 })));
    await s.run();
    assert.deepEqual(ids(s, "a"), [101, 103]);
    assert.deepEqual(envelopes(s, "errs").map((e) => e.originalMessage.payload.id), [2]);
    assert.equal(s.committed(0), 3);
  });
});

describe("unrouted errors", () => {
  const failing = () =>
    RecordStep.of((m: Message<ItemP>) => {
      if (m.payload.n === 1) throw new Error("no route for me");
      return m.payload;
    }, { name: "MaybeFail" });

  test("policy fail (default): sim.run() rejects with UnroutedErrorFailure and the offset is not committed", async () => {
    const s = await sim(flowOf(new Process(failing()), { output: new IntoTopic("out") }));
    s.send({ id: 0, n: 0 });
    await s.run();
    assert.equal(s.committed(0), 1);
    s.send({ id: 1, n: 1 });
    s.send({ id: 2, n: 0 });
    await assert.rejects(s.run(), (e: unknown) => {
      assert.ok(e instanceof UnroutedErrorFailure);
      assert.equal(e.error.kind, "task");
      assert.equal(e.error.reason, "no route for me");
      assert.equal(e.error.messageId, "in:0:1");
      assert.equal(e.error.path, "process[0]");
      assert.match(e.message, /unrouted task error at process\[0\] for message in:0:1: no route for me/);
      return true;
    });
    assert.equal(s.committed(0), 1);
    assert.deepEqual(ids(s, "out"), [0]);
  });

  test("policy fail: an undecodable record without a WIRE route rejects the run too", async () => {
    const s = await sim(flowOf(new Process(new Drain())));
    s.sendRaw("garbage");
    await assert.rejects(
      s.run(),
      (e: unknown) => e instanceof UnroutedErrorFailure && e.error.kind === "wire",
    );
    assert.equal(s.committed(0), null);
  });

  test("policy log: the error is recorded in sim.unrouted and the offset commits", async () => {
    const s = await sim(flowOf(new Process(failing()), { output: new IntoTopic("out") }), {
      unroutedErrors: "log",
    });
    s.sendAll([{ id: 0, n: 0 }, { id: 1, n: 1 }, { id: 2, n: 0 }]);
    await s.run();
    assert.deepEqual(ids(s, "out"), [0, 2]);
    assert.deepEqual(s.unrouted, [{
      kind: "task",
      reason: "no route for me",
      messageId: "in:0:1",
      path: "process[0]",
    }]);
    assert.equal(s.stats.unrouted, 1);
    assert.equal(s.committed(0), 3);
  });

  test("policy log via streaming.runtime.unrouted_errors in the config", async () => {
    const f = flowOf(new Process(failing()), { output: new IntoTopic("out") });
    const config = {
      kafka: {
        consumer: { brokers: ["b:1"], group_id: "g", topics: ["in"] },
        producer: { brokers: ["b:1"] },
      },
      streaming: { runtime: { unrouted_errors: "log" } },
    };
    const s = await FlowSimulator.create(f, { config });
    s.send({ id: 1, n: 1 });
    await s.run();
    assert.equal(s.unrouted.length, 1);
    assert.equal(s.committed(0), 1);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe("keys and PartitionPolicy (§4.5)", () => {
  const keyOf = (s: FlowSimulator, topic: string) => s.records(topic).map((r) => text(r.key));
  const byId = (m: Message<ItemP>) => `id-${m.payload.id}`;

  test("no policy: the incoming key is kept; no key stays null", async () => {
    const s = await sim(flowOf(new Process(new IntoTopic("out"))));
    s.send({ id: 0, n: 0 }, { key: "k0" });
    s.send({ id: 1, n: 0 });
    await s.run();
    assert.deepEqual(keyOf(s, "out"), ["k0", null]);
  });

  test("with a policy: a message without a key gets the policy key; an existing key is kept", async () => {
    const s = await sim(
      flowOf(new Process(new IntoTopic("out", { partitioning: new PartitionPolicy(byId) }))),
    );
    s.send({ id: 0, n: 0 }, { key: "k0" });
    s.send({ id: 1, n: 0 });
    await s.run();
    assert.deepEqual(keyOf(s, "out"), ["k0", "id-1"]);
  });

  test("allowRepartition replaces an existing key (unless the policy returns null)", async () => {
    const policy = new PartitionPolicy(
      { partitionKey: (m: Message<ItemP>) => (m.payload.n === 9 ? null : byId(m)) },
      "entity_stable",
      true,
    );
    const s = await sim(flowOf(new Process(new IntoTopic("out", { partitioning: policy }))));
    s.send({ id: 0, n: 0 }, { key: "k0" });
    s.send({ id: 1, n: 9 }, { key: "k1" });
    s.send({ id: 2, n: 9 });
    s.send({ id: 3, n: 0 });
    await s.run();
    assert.deepEqual(keyOf(s, "out"), ["id-0", "k1", null, "id-3"]);
  });

  test("the policy is applied on the flow output too, and error envelopes keep the original key", async () => {
    const boom = RecordStep.of((m: Message<ItemP>) => {
      if (m.payload.n === 1) throw new Error("x");
      return m.payload;
    });
    const s = await sim(flowOf(new Process(boom), {
      output: new IntoTopic("out", { partitioning: new PartitionPolicy(byId, "best_effort", true) }),
      errors: new IntoTopic("errs"),
    }));
    s.send({ id: 0, n: 0 }, { key: "k0" });
    s.send({ id: 1, n: 1 }, { key: "k1" });
    await s.run();
    assert.deepEqual(keyOf(s, "out"), ["id-0"]);
    assert.deepEqual(keyOf(s, "errs"), ["k1"]);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe("input order in outputs", () => {
  const lane = (n: string) => RecordStep.of((m: Message<ItemP>) => m.payload, { name: `lane_${n}` });
  // one key, alternating branches: 0→b, 1→a, 2→b, 3→a, …
  const inputs = () => items(8, (i) => (i % 2 === 0 ? 2 : 1));
  const byN = msg.payload.field("n");

  test("Router branches ending in the same topic keep the input order (per key)", async () => {
    const s = await sim(flowOf(
      new Process(
        Router.by(byN, {
          1: new Process(lane("a"), new IntoTopic("out")),
          2: new Process(lane("b"), new IntoTopic("out")),
        }, { default: new Process(new Drain()) }),
      ),
    ));
    s.sendAll(inputs(), { key: "k" });
    await s.run();
    assert.deepEqual(ids(s, "out"), [0, 1, 2, 3, 4, 5, 6, 7]);
  });

  test("Fork branches, and errors next to outputs in one topic, keep the input order", async () => {
    const failOdd = RecordStep.of((m: Message<ItemP>) => {
      if (m.payload.id % 4 === 1) throw new Error("x");
      return m.payload;
    }, { name: "fail" });
    const s = await sim(flowOf(
      new Process(
        Fork.by(byN, {
          1: new Process(failOdd, new IntoTopic("out")),
          2: new Process(lane("b"), new IntoTopic("out")),
        }),
      ),
      { errors: new IntoTopic("out") },
    ));
    s.sendAll(inputs(), { key: "k" });
    await s.run();
    const seen = s.output<ItemP & { originalMessage?: { payload: ItemP } }>("out").map((o) =>
      o.meta.messageType === "loom.streaming.error.task"
        ? `e${o.payload.originalMessage!.payload.id}`
        : `${o.payload.id}`
    );
    assert.deepEqual(seen, ["0", "e1", "2", "3", "4", "e5", "6", "7"]);
  });

  test("several partitions: each keeps its own order", async () => {
    const s = await sim(
      flowOf(
        new Process(
          Router.by(byN, {
            1: new Process(lane("a"), new IntoTopic("out")),
            2: new Process(lane("b"), new IntoTopic("out")),
          }, { default: new Process(new Drain()) }),
        ),
      ),
      { partitions: 3 },
    );
    s.sendAll(items(60, (i) => (i % 3 === 0 ? 1 : 2)), { key: (p: ItemP) => `k${p.id % 5}` });
    await s.run();
    const out = s.output<ItemP>("out");
    for (let k = 0; k < 5; k++) {
      const ofKey = out.filter((o) => text(o.meta.key as Uint8Array) === `k${k}`).map((o) => o.payload.id);
      assert.deepEqual(ofKey, [...ofKey].sort((a, b) => a - b), `key k${k} in input order`);
      assert.equal(ofKey.length, 12);
    }
  });
});

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

// ---------------------------------------------------------------------------------------------------------------

describe("crash and restart (at-least-once)", () => {
  test("records held in a CollectBatch at the crash are redelivered; nothing is lost", async () => {
    const f = flowOf(new Process(new CollectBatch({ maxRecords: 4, timeoutMs: 1000 }), new ForEach()), {
      output: new IntoTopic("out"),
    });
    const s = await sim(f);
    const sent = new Map<number, number>(); // offset → id
    for (const r of s.sendAll(items(10))) sent.set(r.offset, r.offset);
    onCommit(s, (offsets) => {
      const written = new Set(ids(s, "out"));
      for (const c of offsets) {
        for (let off = 0; off < c.offset; off++) {
          assert.ok(written.has(sent.get(off)!), `commit ${c.offset} passes unwritten offset ${off}`);
        }
      }
    });
    await s.run();
    assert.deepEqual(ids(s, "out"), [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.equal(s.committed(0), 8);
    await s.crash();
    assert.equal(s.crashes, 1);
    await s.end();
    const out = ids(s, "out");
    for (let i = 0; i < 10; i++) assert.ok(out.includes(i), `input ${i} is in the output`);
    assert.equal(out.length, 10, "the held records were not written before the crash: no duplicates here");
    assert.equal(s.committed(0), 10);
    assert.equal(s.stats.consumed, 12, "the two held records were consumed twice");
  });

  test("partial fan-out before a crash is repeated: duplicates are allowed and counted", async () => {
    const fast = new BroadcastRoute(
      new Process(RecordStep.of((m: Message<ItemP>) => m.payload)),
      new IntoTopic("fast"),
    );
    const slow = new BroadcastRoute(
      new Process(new CollectBatch({ maxRecords: 3, timeoutMs: 1000 }), new ForEach()),
      new IntoTopic("slow"),
    );
    const s = await sim(flowOf(new Process(new Broadcast(fast, slow))));
    s.sendAll(items(5));
    const commits: number[] = [];
    onCommit(s, (offsets) => {
      const f = ids(s, "fast"), sl = ids(s, "slow");
      for (const c of offsets) {
        commits.push(c.offset);
        for (let id = 0; id < c.offset; id++) {
          assert.ok(f.includes(id) && sl.includes(id), `commit ${c.offset} passes ${id}`);
        }
      }
    });
    await s.run();
    assert.deepEqual(ids(s, "fast"), [0, 1, 2, 3, 4]);
    assert.deepEqual(ids(s, "slow"), [0, 1, 2]);
    assert.equal(s.committed(0), 3);
    await s.crash();
    await s.end();
    const fastIds = ids(s, "fast"), slowIds = ids(s, "slow");
    const count = (xs: number[], x: number) => xs.filter((y) => y === x).length;
    assert.deepEqual(
      [0, 1, 2, 3, 4].map((i) => count(fastIds, i)),
      [1, 1, 1, 2, 2],
      "3 and 4 were written twice to 'fast'",
    );
    assert.deepEqual([0, 1, 2, 3, 4].map((i) => count(slowIds, i)), [1, 1, 1, 1, 1]);
    assert.equal(s.committed(0), 5);
    assert.deepEqual(commits, [3, 5]);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe("fixtures and determinism", () => {
  const fixture = [
    "# orders recorded from a topic",
    '{"topic": "in", "partition": 0, "offset": 0, "timestamp": 1700000000000, "key": "k1", "headers": {"x-tenant": "acme"}, "value": {"json": {"id": 1, "n": 2}}, "correlation_id": "c-1"}',
    '{"topic": "in", "partition": 0, "offset": 5, "timestamp": 1700000000001, "key": {"base64": "AAE="}, "value": {"base64": "3q2+7w=="}}',
    '{"topic": "in", "partition": 0, "timestamp": 1700000000002, "value": {"json": {"id": 3, "n": 4}}, "trace_id": "trace-3"}',
    "",
  ].join("\n");
  const flow = () =>
    flowOf(
      new Process(
        RecordStep.of((m: Message<ItemP>) => ({ id: m.payload.id, sum: m.payload.id + m.payload.n })),
      ),
      {
        output: new IntoTopic("out"),
        errors: new IntoTopic("errs"),
      },
    );

  async function replay(seed = 1): Promise<FlowSimulator> {
    const s = await sim(flow(), { seed });
    s.loadFixture(fixture, "orders.jsonl");
    await s.end();
    return s;
  }

  test("a fixture with JSON and base64 raw values runs through the flow", async () => {
    const s = await replay();
    const out = s.output<{ id: number; sum: number }>("out");
    assert.deepEqual(out.map((o) => o.payload), [{ id: 1, sum: 3 }, { id: 3, sum: 7 }]);
    assert.equal(out[0].meta.correlationId, "c-1");
    assert.equal(text(out[0].meta.headers["x-tenant"]), "acme");
    assert.equal(out[1].meta.parentTraceId, "trace-3");
    const wire = s.errors("wire") as { raw: Uint8Array; offset: number; key: Uint8Array }[];
    assert.equal(wire.length, 1);
    assert.deepEqual([...wire[0].raw], [0xde, 0xad, 0xbe, 0xef]);
    assert.equal(wire[0].offset, 5);
    assert.deepEqual([...wire[0].key], [0, 1]);
    assert.equal(s.committed(0), 7, "offsets follow the fixture (with the gap)");
  });

  test("replaying the fixture in fresh simulators gives byte-identical output records", async () => {
    const a = await replay(), b = await replay();
    for (const topic of ["out", "errs"]) {
      const ra = a.records(topic), rb = b.records(topic);
      assert.ok(ra.length > 0);
      assert.deepEqual(rb, ra, `records of ${topic} differ`);
    }
    assert.deepEqual(a.output("out").map((o) => o.meta.traceId), b.output("out").map((o) => o.meta.traceId));
  });

  test("a different seed gives different trace ids (and nothing else changes)", async () => {
    const a = await replay(1), c = await replay(2);
    const ta = a.output("out").map((o) => o.meta.traceId), tc = c.output("out").map((o) => o.meta.traceId);
    assert.notDeepEqual(ta, tc);
    assert.deepEqual(a.payloads("out"), c.payloads("out"));
  });
});
