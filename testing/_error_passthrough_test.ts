// Error payloads that pass through a flow keep their wire form (issue: an audit service re-publishing
// consumed ErrorEnvelopes wrote JavaScript field names), inspection never fails a whole topic for one
// record, and sim.send writes the x-* lineage headers the original's producer writes.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import {
  type DecodeError,
  DecodeErrors,
  type ErrorEnvelope,
  errorEnvelopeOf,
  ErrorRoute,
  FromMultiTypeTopic,
  FromTopic,
  IntoTopic,
  type Message,
  messageType,
  Process,
  RecordStep,
  StreamFlow,
} from "../mod.ts";
import { dynamicCodec } from "../kafka/_schema_codec.ts";
import { decodeEnvelope } from "../kafka/_envelope.ts";
import { FlowSimulator } from "./mod.ts";

import { A, type AT, upstreamErrors } from "./_error_flows.ts";

/** The keys of the wire payload map, read without a schema. */
const wireKeys = (value: Uint8Array | null): string[] => {
  const p = decodeEnvelope(value!, dynamicCodec, 0).payload as Record<string, unknown>;
  return Object.keys(p).sort();
};

describe("error payloads passing through a flow", () => {
  test("a consumed ErrorEnvelope or DecodeError written out again keeps its wire form and type", async () => {
    const audit = new StreamFlow({
      name: "audit",
      source: new FromMultiTypeTopic("errs", [errorEnvelopeOf(A), DecodeErrors]),
      process: new Process(RecordStep.of((m: Message<unknown>) => m.payload)),
      output: new IntoTopic("audit"),
    });
    const sim = await FlowSimulator.create(audit);
    for (const r of await upstreamErrors()) sim.sendRaw(r.value, { key: r.key, headers: r.headers });
    await sim.run();
    const out = sim.output("audit");
    assert.equal(out.length, 2);
    assert.deepEqual(out.map((m) => m.meta.messageType), [
      "loom.streaming.error.task",
      "loom.streaming.error.wire",
    ]);
    const env = out[0].payload as ErrorEnvelope<AT>;
    assert.equal(env.payloadType, "a.A");
    assert.deepEqual(env.originalMessage?.payload, { id: "x1", n: -1 });
    assert.equal(env.originalMessage?.meta.messageId, "a.raw:0:0");
    assert.equal(env.originalMessage?.meta.correlationId, "c-x1");
    const de = out[1].payload as DecodeError;
    assert.deepEqual([...de.raw], [0xc1, 0xff]);
    assert.equal(de.error.kind, "wire");
    // on the wire: the original's snake_case field names, not the JavaScript ones
    assert.deepEqual(wireKeys(out[0].record.value), ["kind", "original_message", "payload_type", "reason"]);
    assert.deepEqual(wireKeys(out[1].record.value), [
      "error",
      "headers",
      "key",
      "offset",
      "partition",
      "raw",
      "timestamp_ms",
      "topic",
    ]);
  });

  test("decodeError.error returned by a step is an ErrorEnvelope of kind wire; inspection works", async () => {
    const unwrap = new StreamFlow({
      name: "unwrap",
      source: new FromMultiTypeTopic("errs", [errorEnvelopeOf(A), DecodeErrors]),
      process: new Process(RecordStep.of((m: Message<unknown>) => {
        const p = m.payload as DecodeError | ErrorEnvelope;
        return "raw" in p ? p.error : p;
      })),
      output: new IntoTopic("unwrapped"),
    });
    const sim = await FlowSimulator.create(unwrap);
    for (const r of await upstreamErrors()) sim.sendRaw(r.value, { key: r.key, headers: r.headers });
    sim.broker.append({
      topic: "unwrapped",
      partition: 0,
      key: null,
      value: new Uint8Array([1, 2, 3]),
      headers: {},
      timestampMs: 0,
    });
    await sim.run();
    const out = sim.output("unwrapped");
    assert.equal(out.length, 3, "one undecodable record does not fail the listing");
    assert.equal(out[0].undecodable !== undefined, true, "the foreign record is shown with its reason");
    assert.equal(out[0].payload, undefined);
    assert.equal(out[1].meta.messageType, "loom.streaming.error.task");
    assert.equal(out[2].meta.messageType, "loom.streaming.error.wire");
    const wire = out[2].payload as ErrorEnvelope;
    assert.equal(wire.kind, "wire");
    assert.equal(wire.originalMessage, null);
    assert.match(wire.reason, /.+/);
  });

  test("a plain payload mapped from an error input does not keep the error's message type", async () => {
    const summarize = new StreamFlow({
      name: "summarize",
      source: new FromMultiTypeTopic("errs", [errorEnvelopeOf(A), DecodeErrors]),
      process: new Process(RecordStep.of((m: Message<unknown>) => ({ seen: m.meta.messageType }))),
      output: new IntoTopic("summary"),
    });
    const sim = await FlowSimulator.create(summarize);
    for (const r of await upstreamErrors()) sim.sendRaw(r.value, { key: r.key, headers: r.headers });
    await sim.run();
    const out = sim.output<{ seen: string }>("summary");
    assert.deepEqual(out.map((m) => m.payload.seen), [
      "loom.streaming.error.task",
      "loom.streaming.error.wire",
    ]);
    assert.deepEqual(out.map((m) => m.meta.messageType), [
      "loom.streaming.message",
      "loom.streaming.message",
    ]);
    assert.ok(out.every((m) => m.undecodable === undefined));
  });
});

describe("sim.send writes the lineage headers", () => {
  test("x-trace-id, x-parent-trace-id, x-correlation-id and x-causation-id, each only when set", async () => {
    const seen: Record<string, string>[] = [];
    const flow = new StreamFlow<AT>({
      name: "headers",
      source: new FromTopic("in", A),
      process: new Process(RecordStep.of((m: Message<AT>) => {
        seen.push(
          Object.fromEntries(
            Object.entries(m.meta.headers).map(([k, b]) => [k, new TextDecoder().decode(b)]),
          ),
        );
        return m.payload;
      })),
      output: new IntoTopic("out"),
    });
    const sim = await FlowSimulator.create(flow);
    sim.send({ id: "a", n: 1 }, {
      traceId: "t1",
      correlationId: "c1",
      headers: { "x-trace-id": "ignored", app: "x" },
    });
    sim.send({ id: "b", n: 2 }, { parentTraceId: "p2", causationId: "k2" });
    sim.send({ id: "c", n: 3 });
    await sim.run();
    assert.deepEqual(seen, [
      { app: "x", "x-trace-id": "t1", "x-correlation-id": "c1" },
      { "x-parent-trace-id": "p2", "x-causation-id": "k2" },
      {},
    ]);
  });
});

describe("IntoTopic message types", () => {
  const B = messageType("b.B", v.object({ id: v.string() }), { version: 2 });
  const passthrough = (out: IntoTopic) =>
    new StreamFlow<AT>({
      name: "types",
      source: new FromTopic("in", A),
      process: new Process(RecordStep.of((m: Message<AT>) => ({ ...m.payload, extra: true }))),
      output: out,
    });

  test("payload: T names the outgoing messages T (default); messageType: 'inherit' keeps the input's type", async () => {
    for (
      const [out, type, version] of [
        [new IntoTopic("out", { payload: B }), "b.B", 2],
        [new IntoTopic("out", { payload: B, messageType: "inherit" }), "a.A", 1],
        [new IntoTopic("out"), "a.A", 1],
      ] as const
    ) {
      const sim = await FlowSimulator.create(passthrough(out));
      sim.send({ id: "x", n: 1 });
      await sim.run();
      const [m] = sim.output<Record<string, unknown>>("out");
      assert.equal(m.meta.messageType, type);
      assert.equal(m.meta.messageVersion, version);
      // a declared payload type encodes schema-exactly (only its fields) either way
      assert.deepEqual(m.payload, out.payload ? { id: "x" } : { id: "x", n: 1, extra: true });
    }
  });

  test("payload: errorEnvelopeOf(T) declares an output of error envelopes of T", async () => {
    const audit = new StreamFlow({
      name: "audit",
      source: new FromMultiTypeTopic("errs", [errorEnvelopeOf(A), DecodeErrors]),
      process: new Process(RecordStep.of((m: Message<unknown>) => m.payload)),
      output: new IntoTopic("audit", { payload: errorEnvelopeOf(A) }),
      errors: new ErrorRoute(["task"], new IntoTopic("audit.errors")),
    });
    const sim = await FlowSimulator.create(audit);
    for (const r of await upstreamErrors()) sim.sendRaw(r.value, { key: r.key, headers: r.headers });
    await sim.run();
    const [env] = sim.output<ErrorEnvelope<AT>>("audit");
    assert.equal(env.meta.messageType, "loom.streaming.error.task");
    assert.deepEqual(env.payload.originalMessage?.payload, { id: "x1", n: -1 });
    assert.equal(sim.output("audit").length, 1);
    // the DecodeError is not an ErrorEnvelope of A: a task error naming the output
    const [bad] = sim.errors("task") as ErrorEnvelope[];
    assert.match(bad.reason, /declared as errorEnvelopeOf\(a\.A\) but the payload is not an ErrorEnvelope/);
    assert.equal(sim.committed(0), 2);
  });
});
