// PipelineSimulator: a chain of three flows on one broker and clock (a fan-out loop back to the first
// flow's input, an error topic read by a third flow): quiescence, exact records per topic, full commits per
// group, deterministic bytes, per-flow crashes, trace lineage across flows, and cycle detection.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { FromTopic, IntoTopic, type Message, messageType, Process, RecordStep, StreamFlow } from "../mod.ts";
import { PipelineCycleError, PipelineSimulator } from "./mod.ts";
import { pipelineFlows } from "./_pipeline_flows.ts";

const hex = (
  b: Uint8Array | null,
): string => (b ? Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("") : "-");

async function runChain(): Promise<PipelineSimulator> {
  const pipe = await PipelineSimulator.create(pipelineFlows(), { partitions: 2 });
  for (const id of ["r-1", "r-2", "bad-1", "r-3"]) {
    pipe.send("requests", { id, hops: 0 }, { key: id, traceId: `t-${id}` });
  }
  await pipe.run();
  return pipe;
}

describe("PipelineSimulator", () => {
  test("a three-flow chain reaches quiescence with the exact records per topic and full commits", async () => {
    const pipe = await runChain();
    const sorted = <T>(xs: T[]) => [...xs].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    // three good ids each travel hops 0, 1, 2; the bad one becomes one business error, audited once
    const done = pipe.payloads<{ id: string; hops: number }>("done");
    assert.deepEqual(
      sorted(done.map((d) => `${d.id}@${d.hops}`)),
      sorted(["r-1", "r-2", "r-3"].flatMap((id) => [0, 1, 2].map((h) => `${id}@${h}`))),
    );
    assert.equal(pipe.records("requests").length, 4 + 6, "4 sent, 6 looped back (hops 1 and 2)");
    assert.equal(pipe.records("responses").length, 9);
    assert.deepEqual(pipe.flow("requests").errors("business").length, 1);
    assert.deepEqual(pipe.payloads("audit"), [{
      id: "bad-1",
      kind: "business",
      reason: "id: rejected bad-1",
    }]);
    // every group committed every partition it reads to the end
    for (const f of pipe.flows) {
      for (const topic of f.plan.source.topics) {
        for (let p = 0; p < pipe.broker.partitions(topic); p++) {
          const end = pipe.broker.endOffset(topic, p);
          assert.equal(pipe.committed(f.group, topic, p) ?? 0, end, `${f.group} ${topic}[${p}]`);
        }
      }
    }
  });

  test("byte-identical outputs run to run; trace lineage differs across flows", async () => {
    const a = await runChain();
    const b = await runChain();
    assert.equal(a.records("done").length, 9);
    for (const topic of ["requests", "responses", "done", "errors", "audit"]) {
      assert.deepEqual(
        a.records(topic).map((r) => hex(r.value)),
        b.records(topic).map((r) => hex(r.value)),
        topic,
      );
    }
    // a response's trace id is new, and its parent is the request's trace id (distinct seeds per flow)
    const responses = a.output("responses");
    const requests = new Map(a.output("requests").map((m) => [m.meta.traceId, m]));
    for (const r of responses) {
      assert.notEqual(r.meta.traceId, r.meta.parentTraceId, "trace_id == parent_trace_id across flows");
      assert.ok(requests.has(r.meta.parentTraceId), "the parent is the consumed request's trace");
    }
    const traces = [...a.output("requests"), ...responses, ...a.output("done")].map((m) => m.meta.traceId);
    assert.equal(new Set(traces).size, traces.length, "every record of the chain has its own trace id");
  });

  test("a crash of one flow redelivers only for its group", async () => {
    const pipe = await PipelineSimulator.create(pipelineFlows());
    const requests = pipe.flow("requests");
    const responses = pipe.flow("responses");
    responses.failStep("again", 1); // no error route in that flow: the failure stops it before it commits
    pipe.send("requests", { id: "r-1", hops: 0 });
    await assert.rejects(pipe.run(), /simulated failure of step 'again'/);
    assert.equal(pipe.committed("requests", "requests"), 1);
    assert.equal(pipe.committed("responses", "responses"), null);
    await responses.crash(); // restart: only the responses group re-reads its uncommitted record
    await pipe.run();
    assert.equal(pipe.committed("requests", "requests"), 3);
    assert.equal(pipe.committed("responses", "responses"), 3);
    assert.equal(requests.stats.consumed, 3, "the requests group read each record once");
    assert.equal(responses.stats.consumed, 4, "the responses group read its first record twice");
    const hops = pipe.payloads<{ hops: number }>("done").map((d) => d.hops);
    assert.deepEqual([...new Set(hops)].sort(), [0, 1, 2]);
    assert.equal(requests.crashes, 0);
    assert.equal(responses.crashes, 1);
  });

  test("fixtures load into any topic of the pipeline", async () => {
    const pipe = await PipelineSimulator.create(pipelineFlows());
    pipe.loadFixture(
      '{"topic": "responses", "key": "k", "value": {"json": {"id": "x", "hops": 2, "ok": true}}}',
    );
    await pipe.run();
    assert.deepEqual(pipe.payloads("done"), [{ id: "x", hops: 2, ok: true }]);
    assert.equal(pipe.records("requests").length, 0, "hops 2: no follow-up");
  });

  test("flows that feed each other forever are an error naming the cycle", async () => {
    const Ping = messageType("ping", v.object({ n: v.pipe(v.number(), v.integer()) }));
    const bounce = (name: string, from: string, to: string) =>
      new StreamFlow<{ n: number }>({
        name,
        source: new FromTopic<{ n: number }>(from, Ping),
        process: new Process<{ n: number }>(
          RecordStep.of((m: Message<{ n: number }>) => ({ n: m.payload.n + 1 })),
        ),
        output: new IntoTopic(to, { payload: Ping }),
      });
    const pipe = await PipelineSimulator.create([bounce("ping", "a", "b"), bounce("pong", "b", "a")], {
      maxRounds: 20,
    });
    pipe.send("a", { n: 0 });
    await assert.rejects(pipe.run(), (e: unknown) => {
      assert.ok(e instanceof PipelineCycleError);
      assert.match(e.message, /ping → pong \(via b\), pong → ping \(via a\)/);
      assert.match(e.message, /maxRounds/);
      return true;
    });
  });

  test("flow names and consumer groups must be distinct", async () => {
    const [a] = pipelineFlows();
    await assert.rejects(PipelineSimulator.create([a, a]), /two flows of the pipeline are named 'requests'/);
  });
});
