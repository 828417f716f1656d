import { describe, test } from "node:test";
import assert from "node:assert/strict";
import vm from "node:vm";
import {
  acquireHeapLimit,
  type HeapCollector,
  heapLimitStats,
  MAX_GC_SHARE,
  runtimeHeapCollector,
  SoftHeapLimit,
} from "./_heap_limit.ts";

const MB = 1024 * 1024;
const quiet = { info() {}, warn() {}, error() {} };

/** A heap that grows by what the test allocates and falls to `live` on collect; each collect takes `ms`. */
interface FakeHeap {
  used: number;
  live: number;
  readonly now: () => number;
  readonly collector: HeapCollector;
}

function fakeHeap(live: number, ms: number): FakeHeap {
  let t = 0;
  const heap: FakeHeap = {
    used: 0,
    live,
    now: () => t,
    collector: {
      used: () => heap.used,
      collect: () => {
        heap.used = heap.live;
        t += ms;
      },
    },
  };
  return heap;
}

describe("soft heap limit", () => {
  test("collects above the limit only", () => {
    const h = fakeHeap(20 * MB, 2);
    const limit = new SoftHeapLimit(64 * MB, h.collector, h.now);
    h.used = 60 * MB;
    assert.equal(limit.check(0), false);
    h.used = 65 * MB;
    assert.equal(limit.check(100), true);
    assert.equal(h.used, 20 * MB);
    assert.equal(limit.collections, 1);
    assert.equal(limit.collectMs, 2);
    assert.equal(limit.live, 20 * MB);
  });

  test("forced collections take at most MAX_GC_SHARE of the time", () => {
    const h = fakeHeap(20 * MB, 10);
    const limit = new SoftHeapLimit(64 * MB, h.collector, h.now);
    h.used = 100 * MB;
    assert.equal(limit.check(0), true);
    h.used = 100 * MB;
    const gap = 10 / MAX_GC_SHARE; // 200 ms after a 10 ms collection
    assert.equal(limit.check(gap - 1), false);
    assert.equal(h.used, 100 * MB, "not collected before the gap");
    assert.equal(limit.check(gap), true);
  });

  test("a live set above the limit: collects only after it grew by a quarter", () => {
    const h = fakeHeap(100 * MB, 1);
    const limit = new SoftHeapLimit(64 * MB, h.collector, h.now);
    h.used = 110 * MB;
    assert.equal(limit.check(0), true);
    assert.equal(limit.live, 100 * MB);
    h.used = 124 * MB;
    assert.equal(limit.check(1000), false);
    h.used = 126 * MB;
    assert.equal(limit.check(2000), true);
  });

  test("this runtime can collect on demand, and no context gets a global gc", () => {
    const c = runtimeHeapCollector();
    assert.ok(c !== null, "Deno, Bun and Node all have a collector");
    c.collect();
    const base = c.used();
    let junk: unknown[] | null = [];
    for (let i = 0; i < 300_000; i++) junk.push({ i, s: `garbage-${i}` });
    const before = c.used();
    assert.ok(before - base > 5 * MB, `the garbage is on the heap (${base} → ${before} bytes)`);
    junk = null;
    c.collect();
    const after = c.used();
    assert.ok(
      after - base < (before - base) / 2,
      `a collection frees the garbage (${base} → ${before} → ${after} bytes)`,
    );
    if (!("Bun" in globalThis)) {
      assert.equal(vm.runInNewContext("typeof gc"), "undefined", "the --expose-gc flag was turned off again");
    }
    assert.equal(typeof (globalThis as { gc?: unknown }).gc, "undefined", "no global gc in this context");
  });

  test("holders share one limit, the lowest; the last one out stops it", () => {
    // (another holder in this process, e.g. a runner of another test file, would only lower the limit)
    const before = heapLimitStats()?.limitBytes ?? Infinity;
    const a = acquireHeapLimit(100_000, quiet);
    const b = acquireHeapLimit(90_000, quiet);
    assert.equal(heapLimitStats()?.limitBytes, Math.min(before, 90_000 * MB));
    b();
    b(); // idempotent
    assert.equal(heapLimitStats()?.limitBytes, Math.min(before, 100_000 * MB));
    a();
    assert.equal(heapLimitStats()?.limitBytes ?? Infinity, before);
  });

  test("a running limit collects the heap down", async () => {
    const release = acquireHeapLimit(1, quiet); // 1 MiB: every check above it collects (time share allowing)
    try {
      let junk: unknown[] | null = [];
      for (let i = 0; i < 100_000; i++) junk.push({ i, s: `garbage-${i}` });
      junk = null;
      const deadline = Date.now() + 10_000;
      while ((heapLimitStats()?.collections ?? 0) === 0 && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 10));
      }
      const s = heapLimitStats()!;
      assert.ok(s.collections >= 1, "the timer collected");
      assert.ok(s.liveBytes > 0);
    } finally {
      release();
    }
  });
});
