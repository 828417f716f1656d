// Commit tracking (reference §5.12): per-record pending counts, per-partition watermarks.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { OffsetTracker, Origin } from "./_tracker.ts";

const T = "orders";

/** A small deterministic PRNG (mulberry32): tests never use Math.random. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("OffsetTracker watermarks", () => {
  test("completions of 3, 4, 5 arriving as 5, 3 commit 4; then 4 commits 6 (§5.12 verified example)", () => {
    const t = new OffsetTracker();
    const [o3, o4, o5] = [3, 4, 5].map((off) => t.register(T, 0, off));
    t.release(o5);
    assert.deepEqual(t.takeCommits(), []);
    assert.equal(t.watermark(T, 0), null);
    t.release(o3);
    assert.deepEqual(t.takeCommits(), [{ topic: T, partition: 0, offset: 4 }]);
    t.release(o4);
    assert.deepEqual(t.takeCommits(), [{ topic: T, partition: 0, offset: 6 }]);
    assert.equal(t.watermark(T, 0), 6);
    assert.equal(t.inFlight, 0);
  });

  test("fork(+2) needs three releases before the offset commits", () => {
    const t = new OffsetTracker();
    const o = t.register(T, 0, 10);
    t.fork(o, 2);
    t.release(o);
    assert.deepEqual(t.takeCommits(), []);
    t.release(o);
    assert.deepEqual(t.takeCommits(), []);
    assert.equal(o.done, false);
    t.release(o);
    assert.equal(o.done, true);
    assert.deepEqual(t.takeCommits(), [{ topic: T, partition: 0, offset: 11 }]);
  });

  test("fork with extra <= 0 is ignored; fork and release after completion are ignored", () => {
    const t = new OffsetTracker();
    const o = t.register(T, 0, 0);
    const next = t.register(T, 0, 1);
    t.fork(o, 0);
    t.fork(o, -3);
    t.release(o);
    assert.equal(o.done, true);
    assert.deepEqual(t.takeCommits(), [{ topic: T, partition: 0, offset: 1 }]);
    t.fork(o, 5);
    assert.equal(o.done, true);
    t.release(o); // a double release must not complete anything else
    assert.equal(next.done, false);
    assert.equal(t.inFlight, 1);
    assert.deepEqual(t.takeCommits(), []);
  });

  test("takeCommits returns only watermarks that moved since the previous call", () => {
    const t = new OffsetTracker();
    const a = [0, 1, 2].map((off) => t.register(T, 0, off));
    const b = [0, 1].map((off) => t.register(T, 1, off));
    t.release(a[0]);
    t.release(b[1]); // not the head: b's watermark does not move
    assert.deepEqual(t.takeCommits(), [{ topic: T, partition: 0, offset: 1 }]);
    assert.deepEqual(t.takeCommits(), [], "nothing moved since");
    t.release(a[2]);
    assert.deepEqual(t.takeCommits(), [], "offset 1 still pending");
    t.release(b[0]);
    assert.deepEqual(t.takeCommits(), [{ topic: T, partition: 1, offset: 2 }]);
    t.release(a[1]);
    assert.deepEqual(t.takeCommits(), [{ topic: T, partition: 0, offset: 3 }]);
    assert.deepEqual(t.takeCommits(), []);
  });

  test("partitions of different topics are independent", () => {
    const t = new OffsetTracker();
    const x = t.register("a", 0, 5), y = t.register("b", 0, 9);
    t.release(y);
    assert.deepEqual(t.takeCommits(), [{ topic: "b", partition: 0, offset: 10 }]);
    assert.equal(t.watermark("a", 0), null);
    t.release(x);
    assert.deepEqual(t.takeCommits(), [{ topic: "a", partition: 0, offset: 6 }]);
  });

  test("restoreCommits makes the next takeCommits return the (current) watermark again", () => {
    const t = new OffsetTracker();
    const o = [0, 1, 2].map((off) => t.register(T, 0, off));
    t.release(o[0]);
    const first = t.takeCommits();
    assert.deepEqual(first, [{ topic: T, partition: 0, offset: 1 }]);
    t.restoreCommits(first); // the commit failed
    assert.deepEqual(t.takeCommits(), [{ topic: T, partition: 0, offset: 1 }]);
    assert.deepEqual(t.takeCommits(), []);
    // a restore after the watermark moved returns the newest watermark
    const c = (t.release(o[1]), t.takeCommits());
    t.release(o[2]);
    t.restoreCommits(c);
    assert.deepEqual(t.takeCommits(), [{ topic: T, partition: 0, offset: 3 }]);
    // unknown partitions are ignored
    t.restoreCommits([{ topic: "nope", partition: 4, offset: 1 }]);
    assert.deepEqual(t.takeCommits(), []);
  });

  test("revoke forgets a partition: late releases are ignored and the partition starts afresh", () => {
    const t = new OffsetTracker();
    const a = [0, 1, 2].map((off) => t.register(T, 0, off));
    const other = t.register(T, 1, 0);
    t.release(a[0]);
    assert.equal(t.inFlight, 3);
    t.revoke([{ topic: T, partition: 0 }]);
    assert.equal(t.inFlight, 1, "the revoked partition's in-flight records are forgotten");
    assert.equal(t.inFlightOf(T, 0), 0);
    assert.deepEqual(t.takeCommits(), [], "the pending commit of the revoked partition is dropped");
    t.release(a[1]);
    t.release(a[2]);
    assert.deepEqual(t.takeCommits(), []);
    assert.equal(t.inFlight, 1);
    assert.equal(t.watermark(T, 0), null);
    // re-assigned later: the new owner may start below what was fetched before
    const again = t.register(T, 0, 1);
    t.release(again);
    assert.deepEqual(t.takeCommits(), [{ topic: T, partition: 0, offset: 2 }]);
    t.release(other);
    assert.deepEqual(t.takeCommits(), [{ topic: T, partition: 1, offset: 1 }]);
    assert.equal(t.inFlight, 0);
    // restoring a commit of a revoked partition does nothing
    t.revoke([{ topic: T, partition: 1 }, { topic: "never-seen", partition: 0 }]);
    t.restoreCommits([{ topic: T, partition: 1, offset: 1 }]);
    assert.deepEqual(t.takeCommits(), []);
  });

  test("offsets must be registered in increasing order (error names the partition and offsets)", () => {
    const t = new OffsetTracker();
    t.register(T, 2, 5);
    assert.throws(
      () => t.register(T, 2, 5),
      (e: unknown) => e instanceof Error && /offset 5 of orders\[2\] registered after 5/.test(e.message),
    );
    assert.throws(() => t.register(T, 2, 4), /offset order/);
    t.register(T, 3, 1); // other partitions are independent
    t.register(T, 2, 6);
  });

  test("an offset below the committed watermark is rejected even when nothing is in flight", () => {
    // Regression test (bug found by it, fixed in d2bf024). Old behaviour:
    // the order check only looks at in-flight records. Once the queue drained (5 completed, watermark 6)
    // registering offset 3 is accepted and completing it moves the watermark BACK to 4, so a rewound commit
    // (4 after 6) is handed to the consumer. Expected: the same "records must arrive in offset order" error.
    const t = new OffsetTracker();
    t.release(t.register(T, 0, 5));
    assert.deepEqual(t.takeCommits(), [{ topic: T, partition: 0, offset: 6 }]);
    assert.throws(() => t.register(T, 0, 3), /offset order/);
    assert.equal(t.watermark(T, 0), 6);
  });

  test("inFlight counts registered, unfinished records globally", () => {
    const t = new OffsetTracker();
    assert.equal(t.inFlight, 0);
    assert.equal(t.inFlightOf(T, 0), 0);
    const a = [0, 1, 2, 3].map((off) => t.register(T, 0, off));
    const b = t.register(T, 1, 0);
    assert.equal(t.inFlight, 5);
    assert.equal(t.inFlightOf(T, 0), 4);
    assert.equal(t.inFlightOf(T, 1), 1);
    t.fork(a[1], 3);
    assert.equal(t.inFlight, 5, "fan-out does not change the record count");
    t.release(a[0]);
    assert.equal(t.inFlight, 4);
    assert.equal(t.inFlightOf(T, 0), 3);
    t.release(a[2]);
    assert.equal(t.inFlight, 3);
    t.release(b);
    assert.equal(t.inFlightOf(T, 1), 0);
    for (let i = 0; i < 4; i++) t.release(a[1]);
    t.release(a[3]);
    assert.equal(t.inFlight, 0);
    assert.equal(t.inFlightOf(T, 0), 0);
  });

  test("inFlightOf counts only unfinished records (not completed ones waiting behind a gap)", () => {
    // Regression test (bug found by it, fixed in d2bf024). Old behaviour:
    // PartitionState.inFlight is documented as "records fetched and not yet complete" but returns
    // queue.length - head, which also counts completed records queued behind a pending one. Here offsets
    // 1 and 2 are complete and only 0 is pending: expected 1, actual 3.
    const t = new OffsetTracker();
    const a = [0, 1, 2].map((off) => t.register(T, 0, off));
    t.release(a[1]);
    t.release(a[2]);
    assert.equal(t.inFlight, 1);
    assert.equal(t.inFlightOf(T, 0), 1);
  });

  test("revoke after out-of-order completions keeps the global inFlight exact", () => {
    // Regression test (bug found by it, fixed in d2bf024). Old behaviour:
    // revoke() subtracts queue.length - head from the global count, but completed records that wait
    // behind a pending one were already subtracted by release(). Expected inFlight 0 after revoking a
    // partition whose only pending record is offset 0 (1 and 2 completed); actual -2. The Kafka runner's
    // backpressure (inFlight >= max) and `maxMessages` stop (inFlight === 0) read this value.
    const t = new OffsetTracker();
    const a = [0, 1, 2].map((off) => t.register(T, 0, off));
    t.release(a[1]);
    t.release(a[2]);
    assert.equal(t.inFlight, 1);
    t.revoke([{ topic: T, partition: 0 }]);
    assert.equal(t.inFlight, 0);
  });

  test("gaps in offsets (compacted topics) advance the watermark past the gap", () => {
    const t = new OffsetTracker();
    const [a, b, c] = [10, 15, 40].map((off) => t.register(T, 0, off));
    t.release(b);
    assert.deepEqual(t.takeCommits(), []);
    t.release(a);
    assert.deepEqual(t.takeCommits(), [{ topic: T, partition: 0, offset: 16 }]);
    t.release(c);
    assert.deepEqual(t.takeCommits(), [{ topic: T, partition: 0, offset: 41 }]);
    // a completion that does not close the gap commits just past the last completed record
    const d = t.register(T, 0, 100), e = t.register(T, 0, 200);
    t.release(d);
    assert.deepEqual(t.takeCommits(), [{ topic: T, partition: 0, offset: 101 }]);
    assert.ok(t.watermark(T, 0)! <= 200, "never past a pending record");
    t.release(e);
    assert.equal(t.watermark(T, 0), 201);
  });

  test("untracked origins (processMessages in tests) can be released safely", () => {
    const t = new OffsetTracker();
    const o = new Origin(null, -1);
    t.fork(o, 1);
    t.release(o);
    t.release(o);
    assert.equal(o.done, true);
    assert.deepEqual(t.takeCommits(), []);
    assert.equal(t.inFlight, 0);
  });

  test("a long completed prefix followed by a straggler keeps working (queue compaction)", () => {
    const t = new OffsetTracker();
    const n = 5000;
    const os = Array.from({ length: n }, (_, i) => t.register(T, 0, i));
    t.release(os[0]);
    for (let i = 2; i < 3000; i++) t.release(os[i]);
    assert.equal(t.watermark(T, 0), 1);
    t.release(os[1]);
    assert.equal(t.watermark(T, 0), 3000);
    // the queue is compacted past the completed prefix; later registrations still follow in order
    for (let i = 3001; i < n; i++) t.release(os[i]);
    assert.equal(t.watermark(T, 0), 3000);
    const extra = t.register(T, 0, n);
    t.release(os[3000]);
    assert.equal(t.watermark(T, 0), n);
    t.release(extra);
    assert.equal(t.watermark(T, 0), n + 1);
    assert.equal(t.inFlight, 0);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// randomized comparison with a naive reference

interface NaiveRecord {
  offset: number;
  pending: number;
  done: boolean;
}

/** Reference: the watermark is the offset after the longest fully completed prefix of registered records. */
class Naive {
  readonly parts = new Map<number, NaiveRecord[]>();
  readonly committed = new Map<number, number | null>();
  watermark(p: number): number | null {
    const rs = this.parts.get(p) ?? [];
    let w: number | null = null;
    for (const r of rs) {
      if (!r.done) break;
      w = r.offset + 1;
    }
    return w ?? this.base.get(p) ?? null;
  }
  /** Watermark carried over when the prefix is trimmed (keeps the reference O(n) per check). */
  readonly base = new Map<number, number>();
  trim(p: number): void {
    const rs = this.parts.get(p) ?? [];
    let i = 0;
    while (i < rs.length - 1 && rs[i].done && rs[i + 1].done) i++;
    if (i > 0) {
      this.base.set(p, rs[i - 1].offset + 1);
      rs.splice(0, i);
    }
  }
  inFlight(): number {
    let n = 0;
    for (const rs of this.parts.values()) for (const r of rs) if (!r.done) n++;
    return n;
  }
}

describe("OffsetTracker vs a naive reference (seeded random)", () => {
  for (const seed of [1, 2, 3, 42, 2024]) {
    test(`seed ${seed}: watermarks, commits and in-flight counts agree after every operation`, () => {
      const rnd = prng(seed);
      const int = (n: number) => Math.floor(rnd() * n);
      const t = new OffsetTracker();
      const naive = new Naive();
      const partitions = 1 + int(4);
      const nextOffset = new Map<number, number>();
      const live: { p: number; origin: Origin; ref: NaiveRecord }[] = [];
      const lastCommit = new Map<number, number>();
      const steps = 6000;
      for (let s = 0; s < steps; s++) {
        const r = rnd();
        if (r < 0.45 || live.length === 0) {
          // register the next record of a random partition (sometimes with a gap)
          const p = int(partitions);
          const off = (nextOffset.get(p) ?? int(1000)) + (rnd() < 0.2 ? 1 + int(50) : 0);
          nextOffset.set(p, off + 1);
          const origin = t.register(T, p, off);
          const ref: NaiveRecord = { offset: off, pending: 1, done: false };
          if (!naive.parts.has(p)) naive.parts.set(p, []);
          naive.parts.get(p)!.push(ref);
          live.push({ p, origin, ref });
        } else if (r < 0.55) {
          // fan-out on a random live record
          const x = live[int(live.length)];
          const extra = int(3);
          t.fork(x.origin, extra);
          if (extra > 0) x.ref.pending += extra;
        } else {
          // release a record, biased towards old ones so long prefixes build up
          const i = rnd() < 0.7 ? int(Math.min(live.length, 8)) : int(live.length);
          const x = live[i];
          t.release(x.origin);
          if (--x.ref.pending === 0) {
            x.ref.done = true;
            live.splice(i, 1);
          }
        }
        for (let p = 0; p < partitions; p++) {
          assert.equal(
            t.watermark(T, p),
            naive.watermark(p),
            `seed ${seed} step ${s}: watermark of partition ${p}`,
          );
          const pending = (naive.parts.get(p) ?? []).find((x) => !x.done);
          const w = t.watermark(T, p);
          if (pending && w !== null) {
            assert.ok(w <= pending.offset, "the watermark never passes a pending record");
          }
        }
        assert.equal(t.inFlight, naive.inFlight(), `seed ${seed} step ${s}: inFlight`);
        if (s % 7 === 0) {
          const commits = t.takeCommits();
          const seen = new Set<number>();
          for (const c of commits) {
            assert.equal(c.topic, T);
            assert.ok(!seen.has(c.partition), "one commit per partition per call");
            seen.add(c.partition);
            assert.equal(c.offset, naive.watermark(c.partition));
            const prev = lastCommit.get(c.partition);
            assert.ok(prev === undefined || c.offset > prev, "commits move forward and only when they moved");
            lastCommit.set(c.partition, c.offset);
          }
          for (let p = 0; p < partitions; p++) {
            if (!seen.has(p)) {
              const w = naive.watermark(p);
              assert.ok(
                w === null || w === lastCommit.get(p),
                `seed ${seed} step ${s}: moved watermark of ${p} not returned`,
              );
            }
          }
        }
        if (s % 50 === 0) { for (let p = 0; p < partitions; p++) naive.trim(p); }
      }
      // drain everything: the final watermark is past the last registered offset of each partition
      for (const x of live) while (!x.origin.done) t.release(x.origin);
      t.takeCommits();
      for (let p = 0; p < partitions; p++) {
        if (nextOffset.has(p)) assert.equal(t.watermark(T, p), nextOffset.get(p));
      }
      assert.equal(t.inFlight, 0);
    });
  }
});
