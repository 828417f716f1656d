// Node contracts (reference §7.4 and §7.7): construction, validation and stored fields of every node.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { definitionProblems } from "./_problems.ts";
import { CollectBatch } from "./mod.ts";

/** The node's constructor recorded a problem matching `re` (compileFlow reports it with the node's path). */
function problemWith(make: () => unknown, re: RegExp): void {
  const problems = definitionProblems(make());
  assert.ok(
    problems.some((p) => re.test(p)),
    `expected a definition problem matching ${re}, got ${JSON.stringify(problems)}`,
  );
}

describe("CollectBatch", () => {
  test("stores its options with defaults", () => {
    const c = new CollectBatch({ maxRecords: 100, timeoutMs: 500 });
    assert.equal(c.kind, "collect_batch");
    assert.deepEqual([c.maxRecords, c.timeoutMs, c.window, c.eventTime], [100, 500, "collect", false]);
    assert.equal(
      new CollectBatch({ maxRecords: 1, timeoutMs: 0.5, window: "tumbling", eventTime: true }).window,
      "tumbling",
    );
  });

  test("maxRecords must be a positive integer", () => {
    for (const maxRecords of [0, -1, 1.5, Number.NaN]) {
      problemWith(
        () => new CollectBatch({ maxRecords, timeoutMs: 1 }),
        /CollectBatch\.maxRecords must be an integer greater than zero, got /,
      );
    }
  });

  test("timeoutMs must be positive", () => {
    for (const timeoutMs of [0, -5, Number.NaN]) {
      problemWith(
        () => new CollectBatch({ maxRecords: 1, timeoutMs }),
        /CollectBatch\.timeoutMs must be greater than zero, got /,
      );
    }
  });

  test("eventTime needs a window other than collect", () => {
    problemWith(
      () => new CollectBatch({ maxRecords: 1, timeoutMs: 1, eventTime: true }),
      /CollectBatch\.eventTime: true requires a window other than "collect"/,
    );
  });

  test("is immutable", () => {
    const c = new CollectBatch({ maxRecords: 2, timeoutMs: 10 });
    assert.ok(Object.isFrozen(c));
    assert.throws(() => {
      (c as { maxRecords: number }).maxRecords = 5;
    }, TypeError);
    assert.equal(c.maxRecords, 2);
  });
});
