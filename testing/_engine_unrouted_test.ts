// Runtime semantics (reference §5.11) through the FlowSimulator: unrouted errors under the fail (default) and
// log policies.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Drain, IntoTopic, type Message, Process, RecordStep, UnroutedErrorFailure } from "../mod.ts";
import { FlowSimulator } from "./mod.ts";
import { flowOf, ids, type ItemP, sim } from "./_test_support.ts";

describe("unrouted errors", () => {
  const failing = () =>
    RecordStep.of((m: Message<ItemP>) => {
      if (m.payload.n === 1) throw new Error("no route for me");
      return m.payload;
    }, { name: "MaybeFail" });

  test("policy fail (default): sim.run() rejects with UnroutedErrorFailure and the offset is not committed", async () => {
    const s = await sim(flowOf(new Process(failing()), { output: new IntoTopic("out") }));
    s.send({ id: 0, n: 0 });
    await s.run();
    assert.equal(s.committed(0), 1);
    s.send({ id: 1, n: 1 });
    s.send({ id: 2, n: 0 });
    await assert.rejects(s.run(), (e: unknown) => {
      assert.ok(e instanceof UnroutedErrorFailure);
      assert.equal(e.error.kind, "task");
      assert.equal(e.error.reason, "no route for me");
      assert.equal(e.error.messageId, "in:0:1");
      assert.equal(e.error.path, "process[0]");
      assert.match(e.message, /unrouted task error at process\[0\] for message in:0:1: no route for me/);
      return true;
    });
    assert.equal(s.committed(0), 1);
    assert.deepEqual(ids(s, "out"), [0]);
  });

  test("policy fail: an undecodable record without a WIRE route rejects the run too", async () => {
    const s = await sim(flowOf(new Process(new Drain())));
    s.sendRaw("garbage");
    await assert.rejects(
      s.run(),
      (e: unknown) => e instanceof UnroutedErrorFailure && e.error.kind === "wire",
    );
    assert.equal(s.committed(0), null);
  });

  test("policy log: the error is recorded in sim.unrouted and the offset commits", async () => {
    const s = await sim(flowOf(new Process(failing()), { output: new IntoTopic("out") }), {
      unroutedErrors: "log",
    });
    s.sendAll([{ id: 0, n: 0 }, { id: 1, n: 1 }, { id: 2, n: 0 }]);
    await s.run();
    assert.deepEqual(ids(s, "out"), [0, 2]);
    assert.deepEqual(s.unrouted, [{
      kind: "task",
      reason: "no route for me",
      messageId: "in:0:1",
      path: "process[0]",
    }]);
    assert.equal(s.stats.unrouted, 1);
    assert.equal(s.committed(0), 3);
  });

  test("policy log via streaming.runtime.unrouted_errors in the config", async () => {
    const f = flowOf(new Process(failing()), { output: new IntoTopic("out") });
    const config = {
      kafka: {
        consumer: { brokers: ["b:1"], group_id: "g", topics: ["in"] },
        producer: { brokers: ["b:1"] },
      },
      streaming: { runtime: { unrouted_errors: "log" } },
    };
    const s = await FlowSimulator.create(f, { config });
    s.send({ id: 1, n: 1 });
    await s.run();
    assert.equal(s.unrouted.length, 1);
    assert.equal(s.committed(0), 1);
  });
});
