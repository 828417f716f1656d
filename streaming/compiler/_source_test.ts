import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { CompilationError, compileFlow } from "./mod.ts";
import { DecodeErrors, Drain, errorEnvelopeOf, FromMultiTypeTopic, Process, StreamFlow } from "../dsl/mod.ts";
import { messageType } from "../_type.ts";
import { kafkaConfig } from "../_test_support.ts";

function errorsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof CompilationError) return [...e.errors];
    throw e;
  }
  assert.fail("expected a CompilationError");
}

describe("multi-type sources", () => {
  const A = messageType("a.A", v.object({ a: v.string() }));
  const B = messageType("b.B", v.object({ b: v.string() }));
  test("builds the dispatch table", () => {
    const plan = compileFlow(
      new StreamFlow({
        name: "f",
        source: new FromMultiTypeTopic("orders.raw", [A, B, errorEnvelopeOf(A), DecodeErrors], {
          shape: "batch",
        }),
        process: new Process(new Drain()),
      }),
      kafkaConfig(),
    );
    assert.equal(plan.source.kind, "multi");
    assert.equal(plan.source.dispatch?.plain.get("a.A"), A);
    assert.equal(plan.source.dispatch?.plain.get("b.B"), B);
    assert.equal(plan.source.dispatch?.error.get("a.A"), A);
    assert.equal(plan.source.dispatch?.wire, true);
    assert.equal(plan.source.shape, "batch");
  });
  test("duplicate message types are rejected", () => {
    const A2 = messageType("a.A", v.object({ x: v.string() }));
    const errs = errorsOf(() =>
      compileFlow(
        new StreamFlow({
          name: "f",
          source: new FromMultiTypeTopic("orders.raw", [A, A2]),
          process: new Process(new Drain()),
        }),
        kafkaConfig(),
      )
    );
    assert.deepEqual(errs, [
      "source.payloads[1]: duplicate message type 'a.A' in FromMultiTypeTopic; each type may appear once",
    ]);
  });
  test("a single payload type is rejected at construction", () => {
    assert.throws(() => new FromMultiTypeTopic("x", [A]), /at least two payload types/);
  });
});
