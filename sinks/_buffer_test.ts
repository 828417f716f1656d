// The shared buffer policy of the table sinks (sinks/_buffer.ts) over an in-memory backend: flush triggers
// (records, bytes, age / commit delay), retries of transient failures, isolation of refused rows, a sink
// that stays down, close with and without flush_on_shutdown. (The real servers are exercised in tests/.)
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  BufferedTableWriter,
  type BufferPolicy,
  DEFAULT_BUFFER_POLICY,
  type TableBackend,
} from "./_buffer.ts";

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
