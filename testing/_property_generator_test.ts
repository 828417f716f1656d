// The generator of the property test (testing/_property_spec.ts) covers every node kind and event often
// enough for testing/_property_test.ts to exercise them all.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { CASES, features, genCase } from "./_property_spec.ts";

describe("random flows (property test)", () => {
  test(`the generator covers every node kind and event over ${CASES} cases`, () => {
    const used = new Map<string, number>();
    for (let seed = 1; seed <= CASES; seed++) {
      const c = genCase(seed);
      features(c.spec, used);
      for (const e of c.events) if (e.kind !== "send") used.set(e.kind, (used.get(e.kind) ?? 0) + 1);
    }
    const wanted = [
      "step",
      "async step",
      "router",
      "router default",
      "router selector error",
      "expand",
      "batch",
      "async batch",
      "topic",
      "output",
      "drain",
      "broadcast",
      "broadcast of 3",
      "keyed fork",
      "predicate fork",
      "fork without default",
      "advance",
      "crash",
      "failSink",
    ];
    for (const f of wanted) {
      assert.ok((used.get(f) ?? 0) >= 10, `the generator used '${f}' only ${used.get(f) ?? 0} times`);
    }
  });
});
