// The simulator's table twins (testing/_memory_table.ts): the real buffer policy of the table sinks on the
// virtual clock. Rows land only when a flush writes them, commits wait for that flush, transient failures
// are retried after a virtual backoff, refused rows are error-routed alone, flush_on_shutdown: false
// discards and commits nothing, a crash loses the buffer (redelivered, written once).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import {
  DEFAULT_BUFFER_POLICY,
  FromTopic,
  IntoTable,
  IntoTopic,
  type Message,
  messageType,
  Process,
  RecordStep,
  StreamFlow,
  VirtualClock,
} from "../mod.ts";
import { DeliveryFailure } from "../streaming/engine.ts";
import { FlowSimulator, MemoryTable, simulatorConfig, type SimulatorOptions } from "./mod.ts";

const Item = messageType("loom.test.TwinItem", v.object({ id: v.pipe(v.number(), v.integer()) }));
type ItemT = v.InferOutput<typeof Item.schema>;

const flow = new StreamFlow<ItemT>({
  name: "twins",
  source: new FromTopic("items.in", Item),
  process: new Process(
    RecordStep.of((m: Message<ItemT>) => ({ id: m.payload.id }), { name: "copy", output: Item }),
    new IntoTable({ name: "items", payload: Item }),
  ),
  errors: new IntoTopic("errs"),
});

/** A simulator whose `items` sink section has `section` (plus `table`). */
const sim = (section: Record<string, unknown> = {}, options: SimulatorOptions = {}): Promise<FlowSimulator> =>
  FlowSimulator.create(flow, {
    config: { ...simulatorConfig(flow), streaming: { sinks: { items: { table: "items", ...section } } } },
    ...options,
  });
const send = (s: FlowSimulator, from: number, to: number): void => {
  for (let id = from; id < to; id++) s.send({ id });
};
const ids = (s: FlowSimulator): number[] => s.table<ItemT>("items").map((r) => r.id);

describe("simulator table twins (the real buffer policy on the virtual clock)", () => {
  test("the twin follows the sink's streaming.sinks.<name> policy, defaults otherwise", async () => {
    const s = await sim({ buffer_max_records: 7, retries: 1, retry_backoff_ms: 5 });
    assert.deepEqual(s.tableTwin("items").policy, {
      ...DEFAULT_BUFFER_POLICY,
      maxRecords: 7,
      retries: 1,
      retryBackoffMs: 5,
    });
    const d = await FlowSimulator.create(flow);
    assert.deepEqual(d.tableTwin("items").policy, DEFAULT_BUFFER_POLICY);
  });

  test("rows appear only after a flush, and the inputs commit only then (end of input flushes)", async () => {
    const s = await sim();
    send(s, 0, 5);
    await s.run();
    const twin = s.tableTwin<ItemT>("items");
    assert.deepEqual(ids(s), []);
    assert.equal(twin.buffered, 5);
    assert.equal(twin.flushes, 0);
    assert.equal(s.committed(0), null, "buffered rows hold their inputs' commit back");
    await s.end();
    assert.deepEqual(ids(s), [0, 1, 2, 3, 4]);
    assert.equal(twin.flushes, 1);
    assert.equal(twin.buffered, 0);
    assert.equal(s.committed(0), 5);
    assert.equal(s.stats.tableRows.items, 5);
  });

  test("buffer_max_records flushes as soon as the buffer holds that many rows", async () => {
    const s = await sim({ buffer_max_records: 3 }, { fetchMaxRecords: 2 });
    send(s, 0, 7);
    await s.run();
    await s.tick();
    // batches of 2: 2, 4 (≥ 3: flush), 2, 3 (flush) → every row written in 2 flushes, no time passing
    assert.deepEqual(ids(s), [0, 1, 2, 3, 4, 5, 6]);
    assert.equal(s.tableTwin("items").flushes, 2);
    assert.equal(s.committed(0), 7);
    send(s, 7, 8);
    await s.run();
    await s.tick();
    assert.equal(ids(s).length, 7, "one row is below the threshold: buffered");
    assert.equal(s.committed(0), 7);
  });

  test("advanceTime past max_commit_delay_s (default 10 s) flushes, and the commit follows", async () => {
    const s = await sim();
    send(s, 0, 3);
    await s.run();
    await s.advanceTime(9_999);
    assert.deepEqual(ids(s), []);
    assert.equal(s.committed(0), null);
    await s.advanceTime(1);
    assert.deepEqual(ids(s), [0, 1, 2]);
    assert.equal(s.tableTwin("items").flushes, 1);
    assert.equal(s.committed(0), 3);
  });

  test("advanceTime past buffer_max_age_s flushes when it is the shorter one", async () => {
    const s = await sim({ buffer_max_age_s: 2, max_commit_delay_s: 3600 });
    send(s, 0, 2);
    await s.run();
    await s.advanceTime(1_999);
    assert.deepEqual(ids(s), []);
    await s.advanceTime(1);
    assert.deepEqual(ids(s), [0, 1]);
    assert.equal(s.committed(0), 2);
  });

  test("a transient failure is retried after the virtual backoff; the rows land once and then commit", async () => {
    const s = await sim({ retry_backoff_ms: 100 });
    const twin = s.tableTwin<ItemT>("items");
    s.failTable("items", 2);
    send(s, 0, 3);
    await s.run();
    await s.advanceTime(10_000); // the commit delay: flush, first attempt fails
    assert.deepEqual(ids(s), []);
    assert.equal(twin.failedWrites, 1);
    assert.equal(twin.retryAt, s.clock.now() + 100);
    await s.advanceTime(100); // second attempt fails, backoff doubles
    assert.equal(twin.failedWrites, 2);
    assert.equal(twin.retryAt, s.clock.now() + 200);
    assert.equal(s.committed(0), null);
    await s.advanceTime(200);
    assert.deepEqual(ids(s), [0, 1, 2]);
    assert.equal(twin.flushes, 1);
    assert.equal(twin.retryAt, null);
    assert.equal(s.committed(0), 3);
    assert.equal(s.stats.tableRows.items, 3);
  });

  test("end() lets the retry backoff pass (virtual time) instead of waiting forever", async () => {
    const s = await sim();
    s.failTable("items", 3);
    send(s, 0, 2);
    const t0 = s.clock.now();
    await s.end();
    assert.deepEqual(ids(s), [0, 1]);
    assert.equal(s.clock.now() - t0, 200 + 400 + 800, "the default backoffs 200, 400, 800 ms");
    assert.equal(s.committed(0), 2);
  });

  test("more failures than retries: the sink stays down, the flow fails and commits nothing", async () => {
    const s = await sim({ retries: 2, retry_backoff_ms: 1 });
    s.failTable("items", 3);
    send(s, 0, 2);
    await assert.rejects(
      s.end(),
      (e: unknown) =>
        e instanceof DeliveryFailure && /unavailable after 3 attempt\(s\)/.test(String(e.cause)),
    );
    assert.deepEqual(ids(s), []);
    assert.equal(s.committed(0), null);
  });

  test("a permanent row failure routes only that row's message to the error route; the rest is written", async () => {
    const s = await sim();
    s.refuseRows<ItemT>("items", (r) => r.id === 2, "duplicate key value violates unique constraint");
    send(s, 0, 5);
    await s.end();
    assert.deepEqual(ids(s), [0, 1, 3, 4]);
    const twin = s.tableTwin<ItemT>("items");
    assert.deepEqual(twin.refused.map((r) => r.row), [{ id: 2 }]);
    assert.equal(twin.flushes, 1);
    const errors = s.errors("task") as unknown as {
      reason: string;
      originalMessage: { payload: ItemT };
    }[];
    assert.equal(errors.length, 1);
    assert.deepEqual(errors[0].originalMessage.payload, { id: 2 });
    assert.match(
      errors[0].reason,
      /table sink 'items' refused the row: duplicate key value .* \(row: \{"id":2\}\)/,
    );
    assert.equal(s.committed(0), 5, "the refused row is settled by its error envelope");
  });

  test("flush_on_shutdown: false — stop() discards the buffer and commits nothing; the next run writes each once", async () => {
    const s = await sim({ flush_on_shutdown: false });
    send(s, 0, 4);
    await s.run();
    await s.stop();
    assert.deepEqual(ids(s), []);
    assert.equal(s.tableTwin("items").flushes, 0);
    assert.equal(s.committed(0), null);
    const again = await sim({}, { broker: s.broker, clock: s.clock });
    await again.stop();
    assert.deepEqual(ids(again), [0, 1, 2, 3]);
    assert.equal(again.committed(0), 4);
  });

  test("a crash loses the buffered rows; after the restart they are delivered again and written once", async () => {
    const s = await sim({ retry_backoff_ms: 100 });
    send(s, 0, 3);
    await s.run();
    s.failTable("items", 1);
    await s.advanceTime(10_000); // a flush is waiting to retry at the crash
    assert.notEqual(s.tableTwin("items").retryAt, null);
    await s.crash();
    assert.equal(s.tableTwin("items").retryAt, null);
    await s.advanceTime(100); // the abandoned retry does not write
    await s.end();
    assert.deepEqual(ids(s), [0, 1, 2]);
    assert.equal(s.committed(0), 3);
  });
});

describe("MemoryTable on its own", () => {
  test("write() writes at once; failures are retried per policy, refused rows throw", async () => {
    const clock = new VirtualClock(0);
    const t = new MemoryTable<{ id: number }>("t", {
      policy: { ...DEFAULT_BUFFER_POLICY, retryBackoffMs: 0 },
      clock,
    });
    t.failures = 1;
    await t.write([{ id: 1 }]);
    assert.deepEqual(t.rows, [{ id: 1 }]);
    assert.equal(t.failedWrites, 1);
    t.refuse((r) => r.id < 0, "negative id");
    await assert.rejects(t.write([{ id: -1 }, { id: 2 }]), /refused 1 row\(s\): negative id/);
    assert.deepEqual(t.rows, [{ id: 1 }, { id: 2 }]);
    await t.close();
    await t.write([{ id: 3 }]); // a closed twin opens a new buffer
    assert.equal(t.rows.length, 3);
  });
});
