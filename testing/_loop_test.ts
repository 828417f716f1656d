// The shared run loop (streaming/_loop.ts) as the simulator drives it on its virtual clock: commit cadence
// (epoch_interval_ms), the max_in_flight backpressure bound, and a revoke while a CollectBatch holds records.
// tests/loop_parity_test.ts runs the same scenarios on the real broker and compares the commits.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { FlowSimulator, simulatorConfig } from "./mod.ts";
import { batchFlow, type Row } from "./_loop_scenario.ts";

const configWith = (runtime: Record<string, unknown>): Record<string, unknown> => {
  const base = simulatorConfig(batchFlow(7, 60_000)) as { streaming: Record<string, unknown> };
  return { ...base, streaming: { ...base.streaming, runtime } };
};

const rows = (n: number): Row[] => Array.from({ length: n }, (_, i) => ({ id: i }));

describe("the run loop on the simulator", () => {
  test("epoch_interval_ms: one commit per epoch of virtual time; a revoke commits at once", async () => {
    const sim = await FlowSimulator.create(batchFlow(7, 60_000), {
      config: configWith({ epoch_interval_ms: 1000 }),
      fetchMaxRecords: 10,
    });
    sim.sendAll(rows(100), { partition: 0 });
    await sim.run();
    // The first tick commits what settled (the first full batch of 7); later ticks in the same epoch do not.
    assert.deepEqual(sim.commitLog().map((c) => c.offset), [7]);
    await sim.advanceTime(1000);
    assert.deepEqual(sim.commitLog().map((c) => c.offset), [7, 98], "the next epoch commits the prefix");
    assert.equal(sim.payloads("out").length, 98, "the last 2 records wait in the CollectBatch");
    await sim.rebalance();
    assert.deepEqual(sim.commitLog().map((c) => c.offset), [7, 98, 100], "revoke flushes and commits");
    assert.equal(sim.payloads("out").length, 100);
  });

  test("without epoch_interval_ms every batch is followed by a commit of the settled prefix", async () => {
    const sim = await FlowSimulator.create(batchFlow(7, 60_000), { fetchMaxRecords: 10 });
    sim.sendAll(rows(30), { partition: 0 });
    await sim.run();
    assert.deepEqual(sim.commitLog().map((c) => c.offset), [7, 14, 28]);
    await sim.end();
    assert.equal(sim.committed(0), 30);
  });

  test("max_in_flight: fetching pauses at the bound and resumes once records settle", async () => {
    const sim = await FlowSimulator.create(batchFlow(100, 500), {
      config: configWith({ max_in_flight: 20 }),
      fetchMaxRecords: 5,
    });
    let maxInFlight = 0;
    const loop = sim.loop;
    const inner = loop.driver.handle.bind(loop.driver);
    loop.driver.handle = async (batch) => {
      await inner(batch);
      maxInFlight = Math.max(maxInFlight, loop.driver.inFlight);
    };
    sim.sendAll(rows(50), { partition: 0 });
    await sim.run();
    assert.equal(sim.inFlight, 20, "paused with 20 records buffered (4 fetches of 5)");
    assert.equal(loop.paused.length, 1);
    assert.equal(sim.committed(0), null);
    await sim.advanceTime(500); // the CollectBatch timeout settles them; fetching resumes up to the bound
    assert.equal(sim.payloads("out").length, 20);
    assert.equal(sim.committed(0), 20);
    assert.equal(sim.inFlight, 20, "the next 20 fetched, paused again");
    await sim.advanceTime(500);
    assert.equal(sim.payloads("out").length, 40);
    assert.equal(sim.inFlight, 10, "the last 10: below the bound, not paused");
    assert.equal(loop.paused.length, 0);
    await sim.advanceTime(500);
    assert.equal(sim.payloads("out").length, 50);
    assert.equal(sim.committed(0), 50);
    assert.equal(maxInFlight, 20, "never more than max_in_flight records in flight");
  });
});
