// Runtime semantics through the FlowSimulator: fixtures (JSON and base64 raw values) and determinism — fresh
// simulators replay byte-identical output, the seed changes only trace ids.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { IntoTopic, type Message, Process, RecordStep } from "../mod.ts";
import type { FlowSimulator } from "./mod.ts";
import { flowOf, type ItemP, sim, text } from "./_test_support.ts";

describe("fixtures and determinism", () => {
  const fixture = [
    "# orders recorded from a topic",
    '{"topic": "in", "partition": 0, "offset": 0, "timestamp": 1700000000000, "key": "k1", "headers": {"x-tenant": "acme"}, "value": {"json": {"id": 1, "n": 2}}, "correlation_id": "c-1"}',
    '{"topic": "in", "partition": 0, "offset": 5, "timestamp": 1700000000001, "key": {"base64": "AAE="}, "value": {"base64": "3q2+7w=="}}',
    '{"topic": "in", "partition": 0, "timestamp": 1700000000002, "value": {"json": {"id": 3, "n": 4}}, "trace_id": "trace-3"}',
    "",
  ].join("\n");
  const flow = () =>
    flowOf(
      new Process(
        RecordStep.of((m: Message<ItemP>) => ({ id: m.payload.id, sum: m.payload.id + m.payload.n })),
      ),
      {
        output: new IntoTopic("out"),
        errors: new IntoTopic("errs"),
      },
    );

  async function replay(seed = 1): Promise<FlowSimulator> {
    const s = await sim(flow(), { seed });
    s.loadFixture(fixture, "orders.jsonl");
    await s.end();
    return s;
  }

  test("a fixture with JSON and base64 raw values runs through the flow", async () => {
    const s = await replay();
    const out = s.output<{ id: number; sum: number }>("out");
    assert.deepEqual(out.map((o) => o.payload), [{ id: 1, sum: 3 }, { id: 3, sum: 7 }]);
    assert.equal(out[0].meta.correlationId, "c-1");
    assert.equal(text(out[0].meta.headers["x-tenant"]), "acme");
    assert.equal(out[1].meta.parentTraceId, "trace-3");
    const wire = s.errors("wire") as { raw: Uint8Array; offset: number; key: Uint8Array }[];
    assert.equal(wire.length, 1);
    assert.deepEqual([...wire[0].raw], [0xde, 0xad, 0xbe, 0xef]);
    assert.equal(wire[0].offset, 5);
    assert.deepEqual([...wire[0].key], [0, 1]);
    assert.equal(s.committed(0), 7, "offsets follow the fixture (with the gap)");
  });

  test("replaying the fixture in fresh simulators gives byte-identical output records", async () => {
    const a = await replay(), b = await replay();
    for (const topic of ["out", "errs"]) {
      const ra = a.records(topic), rb = b.records(topic);
      assert.ok(ra.length > 0);
      assert.deepEqual(rb, ra, `records of ${topic} differ`);
    }
    assert.deepEqual(a.output("out").map((o) => o.meta.traceId), b.output("out").map((o) => o.meta.traceId));
  });

  test("a different seed gives different trace ids (and nothing else changes)", async () => {
    const a = await replay(1), c = await replay(2);
    const ta = a.output("out").map((o) => o.meta.traceId), tc = c.output("out").map((o) => o.meta.traceId);
    assert.notDeepEqual(ta, tc);
    assert.deepEqual(a.payloads("out"), c.payloads("out"));
  });
});
