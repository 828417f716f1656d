// The shared buffer policy of the table sinks (streaming/_table_buffer.ts) over an in-memory backend: flush triggers
// (records, bytes, age / commit delay), retries of transient failures, isolation of refused rows, a sink
// that stays down, close with and without flush_on_shutdown. (The real servers are exercised in tests/.)
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  BufferedTableWriter,
  type BufferPolicy,
  bufferPolicyOf,
  DEFAULT_BUFFER_POLICY,
  type TableBackend,
} from "./_table_buffer.ts";
import { VirtualClock } from "./_clock.ts";
import { ConfigContext, readSinkSection } from "./config/mod.ts";

class Permanent extends Error {}

class MemoryBackend implements TableBackend<{ id: number }> {
  readonly label = "memory table";
  flushes: number[][] = [];
  calls = 0;
  failTransient = 0;
  down = false;
  closed = 0;
  write(rows: readonly { id: number }[]): Promise<void> {
    this.calls++;
    if (this.down) return Promise.reject(new Error("connection refused"));
    if (this.failTransient > 0) {
      this.failTransient--;
      return Promise.reject(new Error("ECONNRESET"));
    }
    const bad = rows.find((r) => r.id < 0);
    if (bad) return Promise.reject(new Permanent(`check constraint violated by ${bad.id}`));
    this.flushes.push(rows.map((r) => r.id));
    return Promise.resolve();
  }
  isPermanent(e: unknown): boolean {
    return e instanceof Permanent;
  }
  close(): Promise<void> {
    this.closed++;
    return Promise.resolve();
  }
}

const policy = (p: Partial<BufferPolicy> = {}): BufferPolicy => ({
  ...DEFAULT_BUFFER_POLICY,
  retryBackoffMs: 1,
  ...p,
});
const ids = (a: number, b: number) => Array.from({ length: b - a }, (_, i) => ({ id: a + i }));
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("BufferedTableWriter", () => {
  test("rows accumulate across enqueues and flush at buffer_max_records", async () => {
    const b = new MemoryBackend();
    const w = new BufferedTableWriter(b, policy({ maxRecords: 5 }));
    const p1 = w.enqueue(ids(0, 3));
    assert.equal(w.buffered, 3);
    const p2 = w.enqueue(ids(3, 6)); // 6 ≥ 5: flush
    assert.deepEqual(await Promise.all([p1, p2]), [[], []]);
    assert.deepEqual(b.flushes, [[0, 1, 2, 3, 4, 5]]);
    await w.close();
  });

  test("flushes at buffer_max_bytes", async () => {
    const b = new MemoryBackend();
    const w = new BufferedTableWriter(b, policy({ maxBytes: 50 }));
    await w.enqueue(ids(0, 10));
    assert.equal(b.flushes.length, 1);
    await w.close();
  });

  test("the oldest row's age flushes (min of buffer_max_age_s and max_commit_delay_s); no second flush at close", async () => {
    const b = new MemoryBackend();
    const w = new BufferedTableWriter(b, policy({ maxAgeMs: 60_000, maxCommitDelayMs: 30 }));
    const p = w.enqueue(ids(0, 2));
    await sleep(5);
    assert.equal(b.flushes.length, 0);
    await p;
    assert.deepEqual(b.flushes, [[0, 1]]);
    await w.close();
    assert.equal(b.flushes.length, 1);
    assert.equal(b.closed, 1);
    await w.close(); // idempotent
    assert.equal(b.closed, 1);
  });

  test("on a virtual clock: the age timer fires at min(buffer_max_age_s, max_commit_delay_s) of its time", async () => {
    const b = new MemoryBackend();
    const clock = new VirtualClock(1_000);
    const w = new BufferedTableWriter(
      b,
      policy({ maxAgeMs: 5_000, maxCommitDelayMs: 60_000 }),
      undefined,
      clock,
    );
    let settled = false;
    const p = w.enqueue(ids(0, 2)).then((f) => (settled = true, f));
    assert.equal(clock.nextWakeAt, 6_000);
    await clock.advance(4_999);
    assert.equal(b.flushes.length, 0);
    assert.equal(settled, false);
    await clock.advance(1);
    assert.deepEqual(await p, []);
    assert.deepEqual(b.flushes, [[0, 1]]);
    assert.equal(w.flushes, 1);
    // a flush on request cancels the timer: no stale sleeper is left on the clock
    const p2 = w.enqueue(ids(2, 3));
    assert.equal(clock.pending, 1);
    await w.flush();
    assert.equal(clock.pending, 0);
    assert.deepEqual(await p2, []);
    assert.equal(w.flushes, 2);
    await w.close();
  });

  test("on a virtual clock: the retry backoff is clock time (retryAt tells when)", async () => {
    const b = new MemoryBackend();
    b.failTransient = 2;
    const clock = new VirtualClock(0);
    const w = new BufferedTableWriter(b, policy({ retryBackoffMs: 100 }), undefined, clock);
    const p = w.enqueue(ids(0, 3));
    const f = w.flush();
    for (let i = 0; i < 10; i++) await Promise.resolve();
    assert.equal(b.calls, 1);
    assert.equal(w.retryAt, 100);
    await clock.advance(100);
    for (let i = 0; i < 10; i++) await Promise.resolve();
    assert.equal(b.calls, 2);
    assert.equal(w.retryAt, 300, "the second backoff doubles");
    await clock.advance(200);
    await f;
    assert.deepEqual(await p, []);
    assert.equal(b.calls, 3);
    assert.equal(w.retryAt, null);
    assert.deepEqual(b.flushes, [[0, 1, 2]]);
    await w.close();
  });

  test("abandon() drops the buffer and a waiting retry: nothing is written, close writes nothing", async () => {
    const b = new MemoryBackend();
    b.failTransient = 1;
    const clock = new VirtualClock(0);
    const w = new BufferedTableWriter(b, policy({ retryBackoffMs: 100 }), undefined, clock);
    const p1 = w.enqueue(ids(0, 2));
    const f = w.flush();
    for (let i = 0; i < 10; i++) await Promise.resolve();
    const p2 = w.enqueue(ids(2, 4));
    w.abandon();
    await assert.rejects(f, /abandoned/);
    await assert.rejects(p1, /abandoned/);
    await assert.rejects(p2, /abandoned/);
    await clock.advance(1_000);
    await w.close();
    assert.deepEqual(b.flushes, []);
    assert.equal(b.calls, 1);
    assert.equal(clock.pending, 0);
  });

  test("transient failures are retried with backoff", async () => {
    const b = new MemoryBackend();
    b.failTransient = 2;
    const w = new BufferedTableWriter(b, policy());
    const p = w.enqueue(ids(0, 3));
    await w.flush();
    assert.deepEqual(await p, []);
    assert.equal(b.calls, 3);
    assert.deepEqual(b.flushes, [[0, 1, 2]]);
    await w.close();
  });

  test("a permanent failure is bisected down to the refused rows; the rest is written", async () => {
    const b = new MemoryBackend();
    const w = new BufferedTableWriter(b, policy());
    const p1 = w.enqueue(ids(0, 5));
    const p2 = w.enqueue([{ id: 5 }, { id: -1 }, { id: 7 }]);
    await w.flush();
    assert.deepEqual(await p1, []);
    const f = await p2;
    assert.deepEqual(f.map((x) => x.index), [1]);
    assert.match(f[0].reason, /check constraint violated by -1 \(row: \{"id":-1\}\)/);
    assert.deepEqual(b.flushes.flat().sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 7]);
    await w.close();
  });

  test("a sink that stays down rejects the rows (and later ones) after its retries", async () => {
    const b = new MemoryBackend();
    b.down = true;
    const w = new BufferedTableWriter(b, policy({ retries: 2 }));
    const p = w.enqueue(ids(0, 2));
    await assert.rejects(w.flush(), /memory table is unavailable after 3 attempt\(s\): connection refused/);
    await assert.rejects(p, /unavailable/);
    await assert.rejects(w.enqueue(ids(2, 3)), /unavailable/);
    assert.equal(b.calls, 3);
  });

  test("flush_on_shutdown: false discards the buffer at close (the rows are rejected, so never committed)", async () => {
    const b = new MemoryBackend();
    const w = new BufferedTableWriter(b, policy({ flushOnShutdown: false }));
    const p = w.enqueue(ids(0, 2));
    await w.close();
    await assert.rejects(p, /2 buffered row\(s\) discarded at close/);
    assert.equal(b.flushes.length, 0);
  });
});

describe("bufferPolicyOf", () => {
  const of = (section: Record<string, unknown>) =>
    bufferPolicyOf(readSinkSection(ConfigContext.fromObject({ streaming: { sinks: { s: section } } }), "s"));

  test("defaults, and every key of streaming.sinks.<name>", () => {
    assert.deepEqual(of({}), DEFAULT_BUFFER_POLICY);
    assert.deepEqual(
      of({
        buffer_max_records: 10,
        buffer_max_bytes: 1000,
        buffer_max_age_s: 2,
        max_commit_delay_s: "0.5",
        flush_on_shutdown: false,
        retries: 0,
        retry_backoff_ms: 50,
      }),
      {
        maxRecords: 10,
        maxBytes: 1000,
        maxAgeMs: 2000,
        maxCommitDelayMs: 500,
        flushOnShutdown: false,
        retries: 0,
        retryBackoffMs: 50,
      },
    );
  });

  test("bad values name the key", () => {
    assert.throws(() => of({ retries: 1.5 }), /streaming\.sinks\.s\.retries: expected an integer, got 1\.5/);
    assert.throws(
      () => of({ max_commit_delay_s: -1 }),
      /streaming\.sinks\.s\.max_commit_delay_s: expected a number ≥ 0/,
    );
    assert.throws(() => of({ retry_backoff_ms: "soon" }), /streaming\.sinks\.s\.retry_backoff_ms/);
  });
});
