import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { randomIds, seededIds, systemClock, VirtualClock } from "./_clock.ts";

describe("ids", () => {
  test("randomIds: 32 lowercase hex characters, distinct, across refills of its pool", () => {
    const seen = new Set<string>();
    const digits = new Map<string, number>();
    for (let i = 0; i < 5000; i++) { // the pool holds 1024 ids: several refills
      const id = randomIds.traceId();
      assert.match(id, /^[0-9a-f]{32}$/);
      seen.add(id);
      for (const c of id) digits.set(c, (digits.get(c) ?? 0) + 1);
    }
    assert.equal(seen.size, 5000);
    // every hex digit appears, each near 1/16 of 160,000 characters (not a constant or a biased nibble)
    assert.equal(digits.size, 16);
    for (const [c, n] of digits) assert.ok(n > 8000 && n < 12000, `digit ${c}: ${n}`);
  });

  test("seededIds repeats its sequence for a seed", () => {
    const a = seededIds(7), b = seededIds(7);
    for (let i = 0; i < 10; i++) assert.equal(a.traceId(), b.traceId());
    assert.notEqual(seededIds(8).traceId(), seededIds(7).traceId());
  });
});

describe("sleep with an AbortSignal", () => {
  test("VirtualClock: an aborted sleeper resolves at once and leaves the clock; nextWakeAt is the earliest", async () => {
    const clock = new VirtualClock(100);
    const ctl = new AbortController();
    let woke = 0;
    void clock.sleep(50, ctl.signal).then(() => woke++);
    void clock.sleep(80).then(() => woke++);
    assert.equal(clock.nextWakeAt, 150);
    ctl.abort();
    await Promise.resolve();
    assert.equal(woke, 1, "the aborted sleep resolved");
    assert.equal(clock.pending, 1);
    assert.equal(clock.nextWakeAt, 180);
    await clock.advance(80);
    assert.equal(woke, 2);
    assert.equal(clock.nextWakeAt, null);
    await clock.sleep(10, ctl.signal); // already aborted: at once
    assert.equal(clock.pending, 0);
  });

  test("systemClock: abort clears the timer (resolves long before its deadline)", async () => {
    const ctl = new AbortController();
    const t0 = Date.now();
    const p = systemClock.sleep(60_000, ctl.signal);
    setTimeout(() => ctl.abort(), 5);
    await p;
    assert.ok(Date.now() - t0 < 5_000);
    await systemClock.sleep(1);
  });
});
