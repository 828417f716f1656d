// Runtime semantics (reference §5) through the FlowSimulator: CollectBatch (per-partition batches,
// maxRecords, the inactivity timeout, flushing at the end, ForEach) and batch-shaped branches (Broadcast,
// Fork, With).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  BatchStep,
  Broadcast,
  BroadcastRoute,
  CollectBatch,
  ForEach,
  Fork,
  ForkRoute,
  IntoTable,
  IntoTopic,
  type Message,
  payload,
  Process,
  RecordStep,
  With,
} from "../mod.ts";
import { partitionForKey } from "../kafka/_murmur2.ts";
import { envelopes, flowOf, ids, type ItemP, items, sim, text, utf8 } from "./_test_support.ts";

describe("CollectBatch", () => {
  const recorder = () => {
    const batches: { id: number; partition: number | null; key: string | null }[][] = [];
    const step = BatchStep.of((ms: readonly Message<ItemP>[]) => {
      batches.push(
        ms.map((m) => ({
          id: m.payload.id,
          partition: m.meta.partition,
          key: text(m.meta.key as Uint8Array),
        })),
      );
      return ms.map((m) => m.payload);
    }, { name: "Recorder" });
    return { batches, step };
  };

  test("batches never mix partitions (3 partitions, keys placed by murmur2)", async () => {
    const { batches, step } = recorder();
    const s = await sim(
      flowOf(new Process(new CollectBatch({ maxRecords: 3, timeoutMs: 1000 }), step, new IntoTopic("out"))),
      { partitions: 3 },
    );
    const keys = Array.from({ length: 12 }, (_, i) => `k${i}`);
    s.sendAll(items(12), { key: (p: ItemP) => keys[p.id] });
    await s.end();
    assert.equal(batches.flat().length, 12);
    const used = new Set<number>();
    for (const b of batches) {
      assert.ok(b.length >= 1 && b.length <= 3);
      const p = b[0].partition!;
      used.add(p);
      for (const x of b) {
        assert.equal(x.partition, p, `batch ${JSON.stringify(b)} mixes partitions`);
        assert.equal(x.partition, partitionForKey(utf8.encode(x.key!), 3), `${x.key} placed by murmur2`);
      }
      // within a partition, batches keep offset order
      assert.deepEqual(b.map((x) => x.id), [...b.map((x) => x.id)].sort((a, c) => a - c));
    }
    assert.ok(used.size >= 2, "the keys spread over several partitions");
    for (let p = 0; p < 3; p++) assert.equal(s.committed(p), s.broker.endOffset("in", p));
  });

  test("a batch is emitted as soon as maxRecords arrived", async () => {
    const { batches, step } = recorder();
    const s = await sim(
      flowOf(new Process(new CollectBatch({ maxRecords: 2, timeoutMs: 1000 }), step, new IntoTopic("out"))),
    );
    s.sendAll(items(5));
    await s.run();
    assert.deepEqual(batches.map((b) => b.map((x) => x.id)), [[0, 1], [2, 3]]);
    assert.deepEqual(ids(s, "out"), [0, 1, 2, 3]);
    assert.equal(s.committed(0), 4, "the held 5th record blocks the commit");
    assert.equal(s.inFlight, 1);
  });

  test("the inactivity timeout emits the batch: not before timeoutMs, at timeoutMs", async () => {
    const { batches, step } = recorder();
    const s = await sim(
      flowOf(new Process(new CollectBatch({ maxRecords: 10, timeoutMs: 1000 }), step, new IntoTopic("out"))),
    );
    s.sendAll(items(2));
    await s.run();
    assert.equal(s.driver.nextDeadline(), s.clock.now() + 1000);
    await s.advanceTime(999);
    assert.equal(batches.length, 0);
    assert.equal(s.committed(0), null);
    await s.advanceTime(1);
    assert.deepEqual(batches.map((b) => b.map((x) => x.id)), [[0, 1]]);
    assert.equal(s.committed(0), 2);
    assert.equal(s.driver.nextDeadline(), null);
  });

  test("the timer restarts on every new record (inactivity, not age)", async () => {
    const { batches, step } = recorder();
    const s = await sim(
      flowOf(new Process(new CollectBatch({ maxRecords: 10, timeoutMs: 1000 }), step, new IntoTopic("out"))),
    );
    s.send({ id: 0, n: 0 });
    await s.run();
    await s.advanceTime(600);
    s.send({ id: 1, n: 0 });
    await s.run();
    await s.advanceTime(600);
    assert.equal(batches.length, 0, "1200 ms after the first record but only 600 ms after the last one");
    await s.advanceTime(399);
    assert.equal(batches.length, 0);
    await s.advanceTime(1);
    assert.deepEqual(batches.map((b) => b.map((x) => x.id)), [[0, 1]]);
  });

  test("sim.end() flushes partial batches and commits everything", async () => {
    const { batches, step } = recorder();
    const s = await sim(
      flowOf(new Process(new CollectBatch({ maxRecords: 4, timeoutMs: 60_000 }), step, new IntoTopic("out"))),
      { partitions: 2 },
    );
    s.sendAll(items(5), { key: (p: ItemP) => `key-${p.id}` });
    await s.run();
    await s.end();
    assert.equal(batches.flat().length, 5);
    assert.equal(ids(s, "out").length, 5);
    for (let p = 0; p < 2; p++) assert.equal(s.committed(p), s.broker.endOffset("in", p));
    assert.equal(s.inFlight, 0);
  });

  test("ForEach after CollectBatch flattens batches back to records, in order", async () => {
    const seen: number[][] = [];
    const s = await sim(flowOf(
      new Process(
        new CollectBatch({ maxRecords: 2, timeoutMs: 1000 }),
        BatchStep.of((ms: readonly Message<ItemP>[]) => {
          seen.push(ms.map((m) => m.payload.id));
          return ms.map((m) => ({ ...m.payload, n: ms.length }));
        }),
        new ForEach(),
        RecordStep.of((m: Message<ItemP>) => ({ ...m.payload, id: m.payload.id + 100 })),
      ),
      { output: new IntoTopic("out") },
    ));
    s.sendAll(items(3));
    await s.end();
    assert.deepEqual(seen, [[0, 1], [2]]);
    assert.deepEqual(s.payloads("out"), [{ id: 100, n: 2 }, { id: 101, n: 2 }, { id: 102, n: 1 }]);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe("batch-shaped branches", () => {
  test("Broadcast after CollectBatch: every route receives the batches (BatchStep, ForEach, table sink)", async () => {
    const f = flowOf(
      new Process(
        new CollectBatch({ maxRecords: 2, timeoutMs: 100 }),
        new Broadcast(
          new BroadcastRoute(
            new Process(
              BatchStep.of((ms: readonly Message<ItemP>[]) =>
                ms.map((m) => ({ ...m.payload, id: m.payload.id * 10 }))
              ),
            ),
            new IntoTopic("a"),
          ),
          new BroadcastRoute(
            new Process(
              new ForEach(),
              RecordStep.of((m: Message<ItemP>) => ({ ...m.payload, id: m.payload.id + 1 })),
            ),
            new IntoTopic("b"),
          ),
          new BroadcastRoute(new Process(new IntoTable({ name: "tbl" }))),
        ),
      ),
    );
    const s = await sim(f);
    s.sendAll([1, 2, 3].map((id) => ({ id, n: 0 })));
    await s.run();
    assert.deepEqual([ids(s, "a"), ids(s, "b"), s.table<ItemP>("tbl").map((r) => r.id)], [
      [10, 20],
      [2, 3],
      [],
    ]);
    assert.equal(s.tableTwin("tbl").buffered, 2, "the table twin buffers its rows until a flush");
    assert.equal(s.committed(0), null, "and the buffered rows hold their inputs' commit back");
    await s.end();
    assert.deepEqual([ids(s, "a"), ids(s, "b"), s.table<ItemP>("tbl").map((r) => r.id)], [[10, 20, 30], [
      2,
      3,
      4,
    ], [1, 2, 3]]);
    assert.equal(s.committed(0), 3);
  });

  test("Fork after CollectBatch splits each batch between the branches", async () => {
    const sizes: number[] = [];
    const f = flowOf(
      new Process(
        new CollectBatch({ maxRecords: 4, timeoutMs: 100 }),
        Fork.when([
          new ForkRoute(
            payload.field("id").lt(3),
            new Process(
              BatchStep.of((ms: readonly Message<ItemP>[]) => {
                sizes.push(ms.length);
                return ms.map((m) => m.payload);
              }),
              new IntoTopic("a"),
            ),
          ),
        ], { default: new Process(new ForEach(), new IntoTopic("b")) }),
      ),
    );
    const s = await sim(f);
    s.sendAll([1, 5, 2, 6].map((id) => ({ id, n: 0 })));
    await s.run();
    assert.deepEqual(sizes, [2]);
    assert.deepEqual([ids(s, "a"), ids(s, "b")], [[1, 2], [5, 6]]);
    assert.equal(s.committed(0), 4);
  });

  test("With on a record stream (no CollectBatch; quirk 7 fixed) injects deps and isolates failures", async () => {
    const step = RecordStep.of((m: Message<ItemP>, d: { k: number }) => {
      if (m.payload.id === 2) throw new Error("x");
      return { ...m.payload, id: m.payload.id + d.k };
    });
    const f = flowOf(
      new Process(new With({ process: new Process(step, new IntoTopic("a")), deps: { k: 100 } })),
      {
        errors: new IntoTopic("errs"),
      },
    );
    const s = await sim(f);
    s.sendAll([1, 2, 3].map((id) => ({ id, n: 0 })));
    await s.run();
    assert.deepEqual(ids(s, "a"), [101, 103]);
    assert.deepEqual(envelopes(s, "errs").map((e) => e.originalMessage.payload.id), [2]);
    assert.equal(s.committed(0), 3);
  });
});
