// Runtime semantics (reference §5) through the FlowSimulator: the step nodes (ExpandStep, BatchExpandStep,
// BatchStep, RecordStep) and the meta of their outputs, BUSINESS and TASK errors, output-type checks and
// async steps.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import {
  BatchExpandStep,
  BatchStep,
  CollectBatch,
  DomainError,
  ErrorRoute,
  ExpandStep,
  IntoTopic,
  type Message,
  message,
  messageType,
  Process,
  RecordStep,
  RuleViolation,
} from "../mod.ts";
import { envelopes, flowOf, ids, int, type ItemP, items, sim, text, utf8 } from "./_test_support.ts";

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
