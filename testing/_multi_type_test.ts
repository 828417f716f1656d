// Multi-type sources (FromMultiTypeTopic, reference §4.6): dispatch by descriptor.message_type to plain
// types, error envelopes of a declared type and decode errors, and every probe/dispatch failure as a wire
// error with the original's reason text.
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
  msg,
  Process,
  RecordStep,
  Router,
  StreamFlow,
} from "../mod.ts";
import { encodeSourceValue } from "../streaming/engine.ts";
import { FlowSimulator } from "./mod.ts";
import { encodeEnvelope, errorEnvelopeCodec } from "../kafka/_envelope.ts";
import { codecOf } from "../kafka/_schema_codec.ts";
import { header as envelopeHeader } from "../kafka/_test_support.ts";

const A = messageType("a.A", v.object({ id: v.string(), n: v.pipe(v.number(), v.integer()) }));
const B = messageType("b.B", v.object({ id: v.string(), label: v.string() }));
type AT = v.InferOutput<typeof A.schema>;
type BT = v.InferOutput<typeof B.schema>;
const Summary = messageType("summary", v.object({ what: v.string() }));

const summarize = (name: string, f: (m: Message<unknown>) => string) =>
  RecordStep.of((m: Message<unknown>) => ({ what: f(m) }), { name, output: Summary });

/** Reads a topic that carries A, B, error envelopes of A and decode errors, and summarizes each. */
const multiFlow = new StreamFlow({
  name: "multi",
  source: new FromMultiTypeTopic("mixed", [A, B, errorEnvelopeOf(A), DecodeErrors]),
  process: new Process(
    Router.by(msg.meta.field("messageType"), {
      "a.A": new Process(summarize("sum_a", (m) => `a:${(m.payload as AT).id}:${(m.payload as AT).n}`)),
      "b.B": new Process(summarize("sum_b", (m) => `b:${(m.payload as BT).id}:${(m.payload as BT).label}`)),
      "loom.streaming.error.task": new Process(summarize("sum_task", (m) => {
        const e = m.payload as ErrorEnvelope<AT>;
        return `task:${e.originalMessage!.payload.id}:${e.reason}`;
      })),
      "loom.streaming.error.wire": new Process(summarize("sum_wire", (m) => {
        const d = m.payload as DecodeError;
        return `wire:${d.topic}@${d.offset}:${d.raw.length}`;
      })),
    }),
  ),
  output: new IntoTopic("summary", { payload: Summary }),
  errors: new ErrorRoute(["wire", "routing", "task"], new IntoTopic("mixed.errors")),
});

/** A flow over A whose step fails for n < 0, writing its error envelopes and decode errors to `a.errors`. */
const upstream = new StreamFlow<AT>({
  name: "upstream",
  source: new FromTopic("a.raw", A),
  process: new Process(RecordStep.of((m: Message<AT>) => {
    if (m.payload.n < 0) throw new Error(`negative ${m.payload.n}`);
    return m.payload;
  }, { name: "check" })),
  output: new IntoTopic("a.ok"),
  errors: new ErrorRoute(["wire", "task"], new IntoTopic("a.errors")),
});

/** An envelope of `payload` encoded without a schema, claiming type `name`. */
const untyped = (payload: unknown, name: string): Uint8Array =>
  encodeSourceValue(payload, null, { messageType: name, producedAtMs: 1 });

const summaries = (s: FlowSimulator) => s.payloads<{ what: string }>("summary").map((p) => p.what);
const wireReasons = (s: FlowSimulator) => (s.errors("wire") as DecodeError[]).map((d) => d.error.reason);

describe("FromMultiTypeTopic", () => {
  test("dispatches plain types, error envelopes of a declared type and decode errors", async () => {
    // Real error traffic: run the upstream flow and replay its error topic into the multi-type topic.
    const up = await FlowSimulator.create(upstream);
    up.send({ id: "x1", n: 1 });
    up.send({ id: "x2", n: -2 });
    up.sendRaw(new Uint8Array([0xc1, 1, 2]));
    await up.run();
    const upstreamErrors = up.records("a.errors");
    assert.equal(upstreamErrors.length, 2);

    const s = await FlowSimulator.create(multiFlow);
    s.send({ id: "a1", n: 7 }, { messageType: "a.A" });
    s.send({ id: "b1", label: "hello" }, { messageType: "b.B" });
    for (const r of upstreamErrors) s.sendRaw(r.value, { key: r.key, headers: r.headers });
    await s.run();
    assert.deepEqual(summaries(s), ["a:a1:7", "b:b1:hello", "task:x2:negative -2", "wire:a.raw@2:3"]);
    assert.deepEqual(wireReasons(s), []);
    assert.equal(s.committed(0), 4);
  });

  test("a plain type's payload is decoded with its own schema (a wrong field is a wire error naming the path)", async () => {
    const s = await FlowSimulator.create(multiFlow);
    s.sendRaw(untyped({ id: "a1", n: "seven" }, "a.A"));
    s.send({ id: "a2", n: 2 }, { messageType: "a.A" });
    await s.run();
    assert.deepEqual(summaries(s), ["a:a2:2"]);
    assert.deepEqual(wireReasons(s), ["Expected `int`, got `str` - at `$.payload.n`"]);
  });

  test("probe and dispatch failures are wire errors with the original's reasons; the partition keeps flowing", async () => {
    const s = await FlowSimulator.create(multiFlow);
    const header = (messageType: string) => envelopeHeader(messageType, { producedAtMs: 1 });
    const envelopeOf = (payloadType: string | null, original: unknown, codec: ReturnType<typeof codecOf>) =>
      encodeEnvelope(
        header("loom.streaming.error.task"),
        {
          kind: "task",
          reason: "r",
          payloadType,
          originalMessage: original === null ? null : {
            payload: original,
            meta: {
              messageId: "t:0:0",
              correlationId: null,
              traceId: null,
              parentTraceId: null,
              causationId: null,
              producedAtMs: 1,
              messageType: payloadType,
              messageVersion: 1,
              topic: "t",
              partition: 0,
              offset: 0,
              key: null,
              headers: {},
            },
          },
        },
        errorEnvelopeCodec(codec),
      );
    s.sendRaw(new Uint8Array([1, 2, 3])); // not a map
    s.sendRaw(untyped({ id: "c" }, "c.C")); // undeclared type
    s.sendRaw(envelopeOf("b.B", { id: "b", label: "l" }, codecOf(B))); // errors of B are not declared
    s.sendRaw(envelopeOf(null, null, codecOf(A))); // no payload_type at all
    s.sendRaw(encodeEnvelope(header("loom.streaming.message"), { id: "z" }, codecOf(null)));
    s.send({ id: "a9", n: 9 }, { messageType: "a.A" });
    await s.run();
    assert.deepEqual(wireReasons(s), [
      "failed to probe message_type from envelope",
      "unknown message_type: 'c.C'",
      "unknown error payload_type: 'b.B'",
      "error envelope missing payload_type for 'loom.streaming.error.task'",
      "unknown message_type: 'loom.streaming.message'",
    ]);
    assert.deepEqual(summaries(s), ["a:a9:9"], "records after the failures are processed");
    assert.equal(s.committed(0), 6);
  });

  test("decode errors are refused when DecodeErrors is not declared", async () => {
    const flow = new StreamFlow({
      name: "no_wire",
      source: new FromMultiTypeTopic("mixed", [A, B]),
      process: new Process(RecordStep.of((m: Message<unknown>) => m.payload, { name: "pass" })),
      output: new IntoTopic("out"),
      errors: new ErrorRoute(["wire"], new IntoTopic("mixed.errors")),
    });
    const up = await FlowSimulator.create(upstream);
    up.sendRaw(new Uint8Array([0xc1]));
    await up.run();
    const s = await FlowSimulator.create(flow);
    s.sendRaw(up.records("a.errors")[0].value);
    s.send({ id: "a1", n: 1 }, { messageType: "a.A" });
    await s.run();
    assert.deepEqual(wireReasons(s), ["unknown message_type: 'loom.streaming.error.wire'"]);
    assert.equal(s.output("out").length, 1);
  });
});
