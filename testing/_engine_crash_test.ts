// Runtime semantics (at-least-once) through the FlowSimulator: a crash and restart redeliver what was not
// committed; nothing is lost, partial fan-out is repeated.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Broadcast,
  BroadcastRoute,
  CollectBatch,
  ForEach,
  IntoTopic,
  type Message,
  Process,
  RecordStep,
} from "../mod.ts";
import type { FlowSimulator } from "./mod.ts";
import { flowOf, ids, type ItemP, items, sim } from "./_test_support.ts";

/** Calls `check` before every commit the flow makes (commits happen after delivery, so outputs must be there). */
function onCommit(
  s: FlowSimulator,
  check: (offsets: readonly { topic: string; partition: number; offset: number }[]) => void,
): void {
  const broker = s.broker;
  const original = broker.commit.bind(broker);
  broker.commit = (group, offsets) => {
    check(offsets);
    original(group, offsets);
  };
}

describe("crash and restart (at-least-once)", () => {
  test("records held in a CollectBatch at the crash are redelivered; nothing is lost", async () => {
    const f = flowOf(new Process(new CollectBatch({ maxRecords: 4, timeoutMs: 1000 }), new ForEach()), {
      output: new IntoTopic("out"),
    });
    const s = await sim(f);
    const sent = new Map<number, number>(); // offset → id
    for (const r of s.sendAll(items(10))) sent.set(r.offset, r.offset);
    onCommit(s, (offsets) => {
      const written = new Set(ids(s, "out"));
      for (const c of offsets) {
        for (let off = 0; off < c.offset; off++) {
          assert.ok(written.has(sent.get(off)!), `commit ${c.offset} passes unwritten offset ${off}`);
        }
      }
    });
    await s.run();
    assert.deepEqual(ids(s, "out"), [0, 1, 2, 3, 4, 5, 6, 7]);
    assert.equal(s.committed(0), 8);
    await s.crash();
    assert.equal(s.crashes, 1);
    await s.end();
    const out = ids(s, "out");
    for (let i = 0; i < 10; i++) assert.ok(out.includes(i), `input ${i} is in the output`);
    assert.equal(out.length, 10, "the held records were not written before the crash: no duplicates here");
    assert.equal(s.committed(0), 10);
    assert.equal(s.stats.consumed, 12, "the two held records were consumed twice");
  });

  test("partial fan-out before a crash is repeated: duplicates are allowed and counted", async () => {
    const fast = new BroadcastRoute(
      new Process(RecordStep.of((m: Message<ItemP>) => m.payload)),
      new IntoTopic("fast"),
    );
    const slow = new BroadcastRoute(
      new Process(new CollectBatch({ maxRecords: 3, timeoutMs: 1000 }), new ForEach()),
      new IntoTopic("slow"),
    );
    const s = await sim(flowOf(new Process(new Broadcast(fast, slow))));
    s.sendAll(items(5));
    const commits: number[] = [];
    onCommit(s, (offsets) => {
      const f = ids(s, "fast"), sl = ids(s, "slow");
      for (const c of offsets) {
        commits.push(c.offset);
        for (let id = 0; id < c.offset; id++) {
          assert.ok(f.includes(id) && sl.includes(id), `commit ${c.offset} passes ${id}`);
        }
      }
    });
    await s.run();
    assert.deepEqual(ids(s, "fast"), [0, 1, 2, 3, 4]);
    assert.deepEqual(ids(s, "slow"), [0, 1, 2]);
    assert.equal(s.committed(0), 3);
    await s.crash();
    await s.end();
    const fastIds = ids(s, "fast"), slowIds = ids(s, "slow");
    const count = (xs: number[], x: number) => xs.filter((y) => y === x).length;
    assert.deepEqual(
      [0, 1, 2, 3, 4].map((i) => count(fastIds, i)),
      [1, 1, 1, 2, 2],
      "3 and 4 were written twice to 'fast'",
    );
    assert.deepEqual([0, 1, 2, 3, 4].map((i) => count(slowIds, i)), [1, 1, 1, 1, 1]);
    assert.equal(s.committed(0), 5);
    assert.deepEqual(commits, [3, 5]);
  });
});
