// Interoperability with the Python original's decoding rules (reference §4.1, §4.7), msgspec being the reference:
// malformed inputs fail with the same message on both sides (the DecodeError reason), lenient inputs are
// accepted the same way, and the error payloads a flow re-publishes decode strictly in msgspec. The cases and
// the Python bridge: tests/_interop_support.ts; the cases both ways: tests/interop_test.ts.
// Run: deno test -A tests/interop_decode_rules_test.ts   |   bun test tests/interop_decode_rules_test.ts
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { decodeEnvelope, decodeErrorCodec } from "../kafka/_envelope.ts";
import { encodeAny } from "../kafka/_msgpack.ts";
import { WireDecodeError } from "../kafka/_schema_codec.ts";
import type { DecodeError, ErrorEnvelope } from "../streaming/_message.ts";
import {
  DecodeErrors,
  errorEnvelopeOf,
  FromMultiTypeTopic,
  IntoTopic,
  Process,
  RecordStep,
  StreamFlow,
} from "../mod.ts";
import { FlowSimulator } from "../testing/mod.ts";
import {
  canon,
  CASE,
  decodedHeader,
  decodeErrorWire,
  doc,
  edited,
  envelopeWire,
  errorWire,
  goldenHex,
  Order,
  pyDecodeAll,
  pyEncode,
  unhex,
} from "./_interop_support.ts";

describe("interop: malformed inputs fail with msgspec's message on both sides (the DecodeError reason, §4.7)", () => {
  const order = () => unhex(goldenHex("order"));
  const cases: { case: string; what: string; bytes: Uint8Array; message: string }[] = [
    {
      case: "order",
      what: "str for an int",
      bytes: edited("order", (d) => d.payload.amount = "5"),
      message: "Expected `int`, got `str` - at `$.payload.amount`",
    },
    {
      case: "order",
      what: "float for an int",
      bytes: edited("order", (d) => d.payload.amount = 5.5),
      message: "Expected `int`, got `float` - at `$.payload.amount`",
    },
    {
      case: "order",
      what: "missing payload",
      bytes: edited("order", (d) => delete d.payload),
      message: "Object missing required field `payload`",
    },
    {
      case: "order",
      what: "missing message_version",
      bytes: edited("order", (d) => delete d.meta.descriptor.message_version),
      message: "Object missing required field `message_version` - at `$.meta.descriptor`",
    },
    {
      case: "order",
      what: "int trace_id",
      bytes: edited("order", (d) => d.meta.trace_id = 5),
      message: "Expected `str | null`, got `int` - at `$.meta.trace_id`",
    },
    {
      case: "order",
      what: "nil produced_at_ms",
      bytes: edited("order", (d) => d.meta.produced_at_ms = null),
      message: "Expected `int`, got `None` - at `$.meta.produced_at_ms`",
    },
    {
      case: "order",
      what: "not msgpack",
      bytes: new TextEncoder().encode("not-msgpack"),
      message: "Expected `object`, got `int`",
    },
    {
      case: "order",
      what: "truncated",
      bytes: order().subarray(0, 100),
      message: "Input data was truncated",
    },
    {
      case: "order",
      what: "empty",
      bytes: new Uint8Array(0),
      message: "Input data was truncated",
    },
    {
      case: "order",
      what: "trailing byte",
      bytes: Uint8Array.from([...order(), 0]),
      message: "MessagePack data is malformed: trailing characters (byte 255)",
    },
    {
      case: "order",
      what: "invalid opcode",
      bytes: new Uint8Array([0xc1]),
      message: "MessagePack data is malformed: invalid opcode '\\xc1' (byte 0)",
    },
    {
      case: "order",
      what: "non-str map key",
      bytes: encodeAny(new Map([[1, 2]])),
      message: "Expected `str`, got `int` - at `key` in `$`",
    },
    {
      case: "errenv_task",
      what: "invalid error kind",
      bytes: edited("errenv_task", (d) => d.payload.kind = "oops"),
      message: "Invalid enum value 'oops' - at `$.payload.kind`",
    },
    {
      case: "errenv_task",
      what: "str key in the snapshot",
      bytes: edited("errenv_task", (d) => d.payload.original_message.meta.key = "k-1"),
      message: "Expected `bytes | null`, got `str` - at `$.payload.original_message.meta.key`",
    },
    {
      case: "errenv_task",
      what: "missing reason",
      bytes: edited("errenv_task", (d) => delete d.payload.reason),
      message: "Object missing required field `reason` - at `$.payload`",
    },
    {
      case: "profile",
      what: "str inside a nested array item",
      bytes: edited("profile", (d) => d.payload.lines[1].qty = "x"),
      message: "Expected `int`, got `str` - at `$.payload.lines[1].qty`",
    },
    {
      case: "profile",
      what: "float as a dict value",
      bytes: edited("profile", (d) => d.payload.counts.a = 1.5),
      message: "Expected `int`, got `float` - at `$.payload.counts[...]`",
    },
    {
      case: "profile",
      what: "str for bytes",
      bytes: edited("profile", (d) => d.payload.avatar = "AAEC"),
      message: "Expected `bytes`, got `str` - at `$.payload.avatar`",
    },
    {
      case: "bigint",
      what: "float for a 64-bit int",
      bytes: edited("bigint", (d) => d.payload.balance = 1.5),
      message: "Expected `int`, got `float` - at `$.payload.balance`",
    },
    {
      case: "mixed",
      what: "bad datetime string",
      bytes: edited("mixed", (d) => d.payload.when = "not a date"),
      message: "Invalid RFC3339 encoded datetime - at `$.payload.when`",
    },
    {
      case: "mixed",
      what: "short tuple",
      bytes: edited("mixed", (d) => d.payload.pair = [7]),
      message: "Expected `array` of length 2, got 1 - at `$.payload.pair`",
    },
    {
      case: "mixed",
      what: "invalid enum value",
      bytes: edited("mixed", (d) => d.payload.kind = "c"),
      message: "Invalid enum value 'c' - at `$.payload.kind`",
    },
    {
      case: "decode_error",
      what: "str raw",
      bytes: edited("decode_error", (d) => d.payload.raw = "not-msgpack"),
      message: "Expected `bytes`, got `str` - at `$.payload.raw`",
    },
    {
      case: "decode_error",
      what: "missing topic",
      bytes: edited("decode_error", (d) => delete d.payload.topic),
      message: "Object missing required field `topic` - at `$.payload`",
    },
  ];

  test("msgspec's messages", () => {
    const results = pyDecodeAll(cases);
    const mismatches: string[] = [];
    cases.forEach((c, i) => {
      const r = results[i];
      const got = r.ok ? "<accepted>" : r.error;
      if (got !== c.message) mismatches.push(`${c.case} / ${c.what}: msgspec says ${JSON.stringify(got)}`);
    });
    assert.deepEqual(mismatches, []);
  });

  test("our decoder's messages", () => {
    const mismatches: string[] = [];
    for (const c of cases) {
      let got = "<accepted>";
      try {
        decodeEnvelope(c.bytes, CASE.get(c.case)!.codec, 0);
      } catch (e) {
        got = e instanceof WireDecodeError ? e.message : `${(e as Error).name}: ${(e as Error).message}`;
      }
      if (got !== c.message) mismatches.push(`${c.case} / ${c.what}: we say ${JSON.stringify(got)}`);
    }
    assert.deepEqual(mismatches, []);
  });
});

describe("interop: lenient inputs are accepted the same way on both sides (§4.1 decoding rules)", () => {
  const accepted: { case: string; what: string; bytes: Uint8Array }[] = [
    {
      case: "order",
      what: "unknown keys at every level, any key order",
      bytes: encodeAny({
        extra: [1, { z: null }],
        payload: { junk: new Uint8Array(2), amount: 5, order_id: "o-1" },
        meta: {
          produced_at_ms: 1000,
          x: 1,
          correlation_id: "corr-1",
          descriptor: { future: true, message_version: 1, message_type: "order.created" },
          trace_id: "trace-1",
        },
      }),
    },
    {
      // Re-encoded generically: every integral float (3.0, 1.0, -0.0, 1e300) becomes a msgpack int.
      case: "profile",
      what: "ints for float fields",
      bytes: encodeAny(doc("profile")),
    },
    {
      case: "errenv_business",
      what: "optional fields missing",
      bytes: edited("errenv_business", (d) => {
        delete d.payload.payload_type;
        delete d.payload.original_message;
      }),
    },
  ];

  test("same decoded values", () => {
    const results = pyDecodeAll(accepted);
    accepted.forEach((a, i) => {
      const r = results[i];
      assert.ok(r.ok, `${a.case} / ${a.what}: msgspec rejected it: ${r.ok ? "" : r.error}`);
      const c = CASE.get(a.case)!;
      const ours = decodeEnvelope(a.bytes, c.codec, 0);
      const oursWire = {
        ...(envelopeWire(c) as Record<string, unknown>),
        payload: c.wire === undefined
          ? ours.payload
          : c.codec === decodeErrorCodec
          ? decodeErrorWire(ours.payload as DecodeError)
          : errorWire(ours.payload as ErrorEnvelope<unknown>),
      };
      assert.deepEqual(ours.header, decodedHeader(c), `${a.case} / ${a.what}: our header`);
      assert.deepEqual(r.value, canon(oursWire), `${a.case} / ${a.what}: msgspec vs us`);
    });
  });
});

describe("interop: error payloads re-published by a flow (an audit service reading error topics)", () => {
  test("msgspec strictly decodes the ErrorEnvelope and DecodeError a pass-through flow writes", async () => {
    const audit = new StreamFlow({
      name: "audit",
      source: new FromMultiTypeTopic("errs", [errorEnvelopeOf(Order), DecodeErrors]),
      process: new Process(RecordStep.of((m: { payload: unknown }) => m.payload)),
      output: new IntoTopic("audit"),
    });
    const sim = await FlowSimulator.create(audit);
    const inputs = ["errenv_task", "decode_error"].map((name) => ({ name, bytes: unhex(pyEncode(name)) }));
    for (const i of inputs) sim.sendRaw(i.bytes);
    await sim.run();
    const out = sim.records("audit");
    assert.equal(out.length, 2);
    const republished = pyDecodeAll(inputs.map((input, k) => ({ case: input.name, bytes: out[k].value! })));
    const originals = pyDecodeAll(inputs.map((input) => ({ case: input.name, bytes: input.bytes })));
    inputs.forEach((input, k) => {
      const r = republished[k];
      const o = originals[k];
      assert.ok(r.ok, `${input.name}: msgspec rejected the re-published record: ${r.ok ? "" : r.error}`);
      assert.ok(o.ok);
      const payload = (x: unknown) => (x as { payload: unknown }).payload;
      assert.deepEqual(
        payload(r.value),
        payload(o.value),
        `${input.name}: the payload survives byte-exactly`,
      );
      const descriptor = (x: unknown) => (x as { meta: { descriptor: unknown } }).meta.descriptor;
      assert.deepEqual(descriptor(r.value), descriptor(o.value), `${input.name}: same message type`);
    });
  });
});
