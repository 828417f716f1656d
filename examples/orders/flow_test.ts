// How to unit-test a flow: replay a fixture on the simulator and assert outputs, errors and offsets.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { FlowSimulator } from "../../testing/mod.ts";
import { parseConfig } from "../../mod.ts";
import { flow } from "./flow.ts";

const fixture = readFileSync(new URL("./orders.jsonl", import.meta.url), "utf8");
const config = parseConfig(readFileSync(new URL("./orders.yaml", import.meta.url), "utf8"), { env: {} });

test("orders flow: fixture replay gives scored orders, errors and exact commits", async () => {
  const sim = await FlowSimulator.create(flow, { config });
  sim.loadFixture(fixture, "orders.jsonl");
  await sim.run();
  // o-1, o-2 and o-4 wait in the CollectBatch buffer until its 200 ms inactivity timeout
  assert.equal(sim.output("orders.scored").length, 0);
  assert.equal(sim.committed(0), null, "nothing is committed while the first messages are buffered");
  await sim.advanceTime(200);

  const scored = sim.payloads<{ order_id: string; total: number; risk: string }>("orders.scored");
  assert.deepEqual(scored.map((s) => [s.order_id, s.total, s.risk]), [
    ["o-1", 120.5, "low"],
    ["o-2", 96, "low"],
    ["o-4", 700, "high"],
  ]);
  const business = sim.errors("business") as {
    reason: string;
    originalMessage: { meta: { messageId: string } };
  }[];
  assert.deepEqual(business.map((e) => [e.reason, e.originalMessage.meta.messageId]), [[
    "amount: must be positive",
    "orders.raw:0:2",
  ]]);
  assert.equal(sim.errors("wire").length, 1, "the poison record is a wire error");
  assert.equal(sim.committed(0), 5, "all five records committed");
});
