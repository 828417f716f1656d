// Node contracts (reference §7.4 and §7.7): construction, validation and stored fields of every node.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { CollectBatch } from "./mod.ts";

function throwsWith(fn: () => unknown, type: new (...a: never[]) => Error, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(
      e instanceof type,
      `expected ${type.name}, got ${(e as Error)?.constructor?.name}: ${String(e)}`,
    );
    assert.match((e as Error).message, pattern);
    return true;
  });
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
      throwsWith(
        () => new CollectBatch({ maxRecords, timeoutMs: 1 }),
        Error,
        /max_records must be greater than zero/,
      );
    }
  });

  test("timeoutMs must be positive", () => {
    for (const timeoutMs of [0, -5, Number.NaN]) {
      throwsWith(
        () => new CollectBatch({ maxRecords: 1, timeoutMs }),
        Error,
        /timeout_ms must be greater than zero/,
      );
    }
  });

  test("eventTime needs a window other than collect", () => {
    throwsWith(
      () => new CollectBatch({ maxRecords: 1, timeoutMs: 1, eventTime: true }),
      Error,
      /event_time=True requires/,
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
