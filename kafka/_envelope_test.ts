// The envelope against msgspec's vectors (reference §4.1): the golden vector, the msgspec MIXED, ERRENV and
// DECERR vectors, the byte-level decoding rules, encode errors and the multi-type probes. The vectors stay in
// this file: tests/interop_test.ts reads them from here and checks them against msgspec. The decoding rules
// on documents built with the dynamic encoder are in kafka/_envelope_decode_test.ts.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { Writer } from "./_msgpack.ts";
import { codecOf, compileSchema, dynamicCodec, WireEncodeError } from "./_schema_codec.ts";
import {
  decodeEnvelope,
  decodeErrorCodec,
  DEFAULT_CONTENT_TYPE,
  encodeEnvelope,
  encodeEnvelopeInto,
  type EnvelopeHeader,
  errorEnvelopeCodec,
  probeErrorPayloadType,
  probeMessageType,
} from "./_envelope.ts";
import type { DecodeError } from "./_error_payloads.ts";
import { messageType } from "./_type.ts";
import {
  DECODE_ERROR,
  doc,
  ERRENV_TASK,
  goldenDoc,
  header,
  MIXED_VALUE,
  MixedSchema,
  OrderCodec,
} from "./_test_support.ts";

function hex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

function unhex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, "");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/*
 * Golden vectors produced once, offline, with msgspec 0.22 (Python 3.11):
 *
 *   class ContentType(msgspec.Struct, frozen=True):
 *       media_type: str = "application/x-loom-msgpack"; encoding: Optional[str] = None
 *   class Descriptor(msgspec.Struct):
 *       message_type: str; message_version: int
 *       content_type: ContentType = ContentType(); schema_ref: Optional[dict] = None
 *   class Meta(msgspec.Struct):
 *       descriptor: Descriptor; trace_id: Optional[str] = None; parent_trace_id: Optional[str] = None
 *       correlation_id: Optional[str] = None; causation_id: Optional[str] = None; produced_at_ms: int = 0
 *   class Env(msgspec.Struct, Generic[T]): meta: Meta; payload: T
 *   class Order(msgspec.Struct): order_id: str; amount: int
 *   def env(mt, payload, **kw):
 *       return msgspec.msgpack.encode(Env(meta=Meta(descriptor=Descriptor(mt, 1), **kw), payload=payload)).hex()
 *
 *   GOLDEN = env("order.created", Order("o-1", 5), trace_id="trace-1", correlation_id="corr-1", produced_at_ms=1000)
 *
 *   class Kind(str, enum.Enum): A = "a"; B = "b"
 *   class Item(msgspec.Struct): sku: str; qty: int; price: float
 *   class Mixed(msgspec.Struct):
 *       id: str; count: int; ratio: float; whole: float; flag: bool; data: bytes; note: Optional[str]
 *       tags: list[str]; items: list[Item]; attrs: dict[str, int]; pair: tuple[int, str]; kind: Kind
 *       big: int; neg: int; when: datetime.datetime; uni: str; empty: Optional[str] = None
 *   MIXED = env("test.mixed", Mixed(id="m-1", count=-129, ratio=0.25, whole=5.0, flag=True,
 *       data=b"\x00\x01\xff", note=None, tags=["x", "y"], items=[Item("s1", 2, 9.99), Item("s2", 65536, 1.0)],
 *       attrs={"b": 1, "a": -1}, pair=(7, "seven"), kind=Kind.B, big=2**63, neg=-2**63,
 *       when=datetime.datetime(2020, 1, 1, 0, 0, 0, 123000, tzinfo=datetime.timezone.utc),
 *       uni="héllo wörld ✓ 😀"),
 *       trace_id="t", parent_trace_id="p", correlation_id="c", causation_id="k", produced_at_ms=1700000000000)
 *
 *   class ErrorKind(str, enum.Enum): WIRE = "wire"; ROUTING = "routing"; TASK = "task"; BUSINESS = "business"
 *   class ErrorMessageMeta(msgspec.Struct):
 *       message_id: str; correlation_id: Optional[str] = None; trace_id: Optional[str] = None
 *       parent_trace_id: Optional[str] = None; causation_id: Optional[str] = None
 *       produced_at_ms: Optional[int] = None; message_type: Optional[str] = None
 *       message_version: Optional[int] = None; topic: Optional[str] = None; partition: Optional[int] = None
 *       offset: Optional[int] = None; key: Optional[bytes] = None; headers: dict[str, bytes] = {}
 *   class ErrorMessage(msgspec.Struct, Generic[T]): payload: T; meta: ErrorMessageMeta
 *   class ErrorEnvelope(msgspec.Struct, Generic[T]):
 *       kind: ErrorKind; reason: str; payload_type: Optional[str] = None
 *       original_message: Optional[ErrorMessage[T]] = None
 *   ERRENV = env("loom.streaming.error.task", ErrorEnvelope(kind=ErrorKind.TASK, reason="boom: 'x'",
 *       payload_type="order.created", original_message=ErrorMessage(payload=Order("o-1", 5),
 *       meta=ErrorMessageMeta(message_id="orders:0:7", correlation_id="corr-1", trace_id="trace-1",
 *           produced_at_ms=1000, message_type="order.created", message_version=1, topic="orders",
 *           partition=0, offset=7, key=b"k-1", headers={"x-a": b"1", "x-b": b""}))),
 *       trace_id="trace-1", correlation_id="corr-1", produced_at_ms=1000)
 *
 *   class DecodeError(msgspec.Struct):
 *       error: ErrorEnvelope; raw: bytes; topic: str; key: Optional[bytes] = None
 *       headers: dict[str, bytes] = {}; partition: Optional[int] = None; offset: Optional[int] = None
 *       timestamp_ms: Optional[int] = None
 *   DECERR = env("loom.streaming.error.wire", DecodeError(error=ErrorEnvelope(kind=ErrorKind.WIRE,
 *       reason="Input data was truncated"), raw=b"not-msgpack", topic="orders", key=None,
 *       headers={"x-trace-id": b"tr"}, partition=3, offset=42, timestamp_ms=1700000000123),
 *       trace_id="tr", produced_at_ms=1700000000123)
 */

// §4.1 of the reference (identical to msgspec's output above).
const GOLDEN = unhex(`
82a46d65746186aa64657363726970746f7284ac6d6573736167655f74797065ad6f726465722e63726561746564
af6d6573736167655f76657273696f6e01ac636f6e74656e745f7479706582aa6d656469615f74797065ba617070
6c69636174696f6e2f782d6c6f6f6d2d6d73677061636ba8656e636f64696e67c0aa736368656d615f726566c0a8
74726163655f6964a774726163652d31af706172656e745f74726163655f6964c0ae636f7272656c6174696f6e5f
6964a6636f72722d31ac636175736174696f6e5f6964c0ae70726f64756365645f61745f6d73cd03e8a77061796c
6f616482a86f726465725f6964a36f2d31a6616d6f756e7405`);

const MIXED = unhex(`
82a46d65746186aa64657363726970746f7284ac6d6573736167655f74797065aa746573742e6d69786564af6d65
73736167655f76657273696f6e01ac636f6e74656e745f7479706582aa6d656469615f74797065ba6170706c6963
6174696f6e2f782d6c6f6f6d2d6d73677061636ba8656e636f64696e67c0aa736368656d615f726566c0a8747261
63655f6964a174af706172656e745f74726163655f6964a170ae636f7272656c6174696f6e5f6964a163ac636175
736174696f6e5f6964a16bae70726f64756365645f61745f6d73cf0000018bcfe56800a77061796c6f6164de0011
a26964a36d2d31a5636f756e74d1ff7fa5726174696fcb3fd0000000000000a577686f6c65cb4014000000000000
a4666c6167c3a464617461c4030001ffa46e6f7465c0a47461677392a178a179a56974656d739283a3736b75a273
31a371747902a57072696365cb4023fae147ae147b83a3736b75a27332a3717479ce00010000a57072696365cb3f
f0000000000000a5617474727382a16201a161ffa4706169729207a5736576656ea46b696e64a162a3626967cf80
00000000000000a36e6567d38000000000000000a47768656ed7ff1d5353005e0be100a3756e69b668c3a96c6c6f
2077c3b6726c6420e29c9320f09f9880a5656d707479c0`);

const ERRENV = unhex(`
82a46d65746186aa64657363726970746f7284ac6d6573736167655f74797065b96c6f6f6d2e73747265616d696e
672e6572726f722e7461736baf6d6573736167655f76657273696f6e01ac636f6e74656e745f7479706582aa6d65
6469615f74797065ba6170706c69636174696f6e2f782d6c6f6f6d2d6d73677061636ba8656e636f64696e67c0aa
736368656d615f726566c0a874726163655f6964a774726163652d31af706172656e745f74726163655f6964c0ae
636f7272656c6174696f6e5f6964a6636f72722d31ac636175736174696f6e5f6964c0ae70726f64756365645f61
745f6d73cd03e8a77061796c6f616484a46b696e64a47461736ba6726561736f6ea9626f6f6d3a20277827ac7061
796c6f61645f74797065ad6f726465722e63726561746564b06f726967696e616c5f6d65737361676582a7706179
6c6f616482a86f726465725f6964a36f2d31a6616d6f756e7405a46d6574618daa6d6573736167655f6964aa6f72
646572733a303a37ae636f7272656c6174696f6e5f6964a6636f72722d31a874726163655f6964a774726163652d
31af706172656e745f74726163655f6964c0ac636175736174696f6e5f6964c0ae70726f64756365645f61745f6d
73cd03e8ac6d6573736167655f74797065ad6f726465722e63726561746564af6d6573736167655f76657273696f
6e01a5746f706963a66f7264657273a9706172746974696f6e00a66f666673657407a36b6579c4036b2d31a76865
616465727382a3782d61c40131a3782d62c400`);

const DECERR = unhex(`
82a46d65746186aa64657363726970746f7284ac6d6573736167655f74797065b96c6f6f6d2e73747265616d696e
672e6572726f722e77697265af6d6573736167655f76657273696f6e01ac636f6e74656e745f7479706582aa6d65
6469615f74797065ba6170706c69636174696f6e2f782d6c6f6f6d2d6d73677061636ba8656e636f64696e67c0aa
736368656d615f726566c0a874726163655f6964a27472af706172656e745f74726163655f6964c0ae636f727265
6c6174696f6e5f6964c0ac636175736174696f6e5f6964c0ae70726f64756365645f61745f6d73cf0000018bcfe5
687ba77061796c6f616488a56572726f7284a46b696e64a477697265a6726561736f6eb8496e7075742064617461
20776173207472756e6361746564ac7061796c6f61645f74797065c0b06f726967696e616c5f6d657373616765c0
a3726177c40b6e6f742d6d73677061636ba5746f706963a66f7264657273a36b6579c0a7686561646572738
1aa782d74726163652d6964c4027472a9706172746974696f6e03a66f66667365742aac74696d657374616d705f
6d73cf0000018bcfe5687b`);

const GOLDEN_HEADER: EnvelopeHeader = {
  messageType: "order.created",
  messageVersion: 1,
  traceId: "trace-1",
  parentTraceId: null,
  correlationId: "corr-1",
  causationId: null,
  producedAtMs: 1000,
};

describe("envelope: the golden vector of §4.1", () => {
  test("encodes to exactly the 255 documented bytes", () => {
    const bytes = encodeEnvelope(GOLDEN_HEADER, { order_id: "o-1", amount: 5 }, OrderCodec);
    assert.equal(bytes.length, 255);
    assert.equal(hex(bytes), hex(GOLDEN));
    // The generic encoder agrees (same key order, explicit nils).
    assert.equal(hex(doc(goldenDoc())), hex(GOLDEN));
  });

  test("decodes to the documented values", () => {
    const { header, payload } = decodeEnvelope(GOLDEN, OrderCodec, 99);
    assert.deepEqual(header, {
      messageType: "order.created",
      messageVersion: 1,
      contentType: { mediaType: "application/x-loom-msgpack", encoding: null },
      schemaRef: null,
      traceId: "trace-1",
      parentTraceId: null,
      correlationId: "corr-1",
      causationId: null,
      producedAtMs: 1000,
    });
    assert.deepEqual(payload, { order_id: "o-1", amount: 5 });
    assert.equal(header.contentType, DEFAULT_CONTENT_TYPE);
    assert.deepEqual(decodeEnvelope(GOLDEN, dynamicCodec, 0).payload, { order_id: "o-1", amount: 5 });
  });

  test("the returned bytes are owned by the caller (the internal writer is reused)", () => {
    const a = encodeEnvelope(GOLDEN_HEADER, { order_id: "o-1", amount: 5 }, OrderCodec);
    const b = encodeEnvelope(header("x"), { order_id: "zzzzzzzz", amount: 9 }, OrderCodec);
    const many = Array.from(
      { length: 1000 },
      (_, i) => encodeEnvelope(header("x"), { order_id: `o-${i}`, amount: i }, OrderCodec),
    );
    assert.equal(hex(a), hex(GOLDEN), "earlier results are never overwritten");
    assert.deepEqual(decodeEnvelope(b, OrderCodec, 0).payload, { order_id: "zzzzzzzz", amount: 9 });
    many.forEach((m, i) =>
      assert.deepEqual(decodeEnvelope(m, OrderCodec, 0).payload, { order_id: `o-${i}`, amount: i })
    );
  });

  test("encodeEnvelopeInto writes into a caller's Writer", () => {
    const w = new Writer();
    encodeEnvelopeInto(w, GOLDEN_HEADER, { order_id: "o-1", amount: 5 }, OrderCodec);
    assert.equal(hex(w.toBytes()), hex(GOLDEN));
  });
});

describe("envelope: msgspec vectors", () => {
  const Mixed = messageType("test.mixed", MixedSchema);
  const mixedPayload = MIXED_VALUE;
  const mixedHeader = header("test.mixed", {
    traceId: "t",
    parentTraceId: "p",
    correlationId: "c",
    causationId: "k",
    producedAtMs: 1700000000000,
  });

  test("a payload with every field kind (float 5.0, int64/uint64 extremes, timestamp, non-ASCII)", () => {
    const codec = codecOf(Mixed);
    assert.equal(hex(encodeEnvelope(mixedHeader, mixedPayload, codec)), hex(MIXED));
    const { header: h, payload } = decodeEnvelope(MIXED, codec, 0);
    assert.deepEqual(payload, mixedPayload);
    assert.equal(h.producedAtMs, 1700000000000);
    assert.equal(h.causationId, "k");
  });

  const errorEnvelope = ERRENV_TASK;

  test("ErrorEnvelope: byte-identical and round-trips (key bytes, headers)", () => {
    const codec = errorEnvelopeCodec(OrderCodec);
    assert.equal(codec, errorEnvelopeCodec(OrderCodec), "cached per payload codec");
    const h = header("loom.streaming.error.task", {
      traceId: "trace-1",
      correlationId: "corr-1",
      producedAtMs: 1000,
    });
    assert.equal(hex(encodeEnvelope(h, errorEnvelope, codec)), hex(ERRENV));
    const { header: dh, payload } = decodeEnvelope(ERRENV, codec, 0);
    assert.equal(dh.messageType, "loom.streaming.error.task");
    assert.deepEqual(payload, errorEnvelope);
    // With an unknown original payload type.
    const dyn = decodeEnvelope(ERRENV, errorEnvelopeCodec(dynamicCodec), 0).payload;
    assert.deepEqual(dyn.originalMessage?.payload, { order_id: "o-1", amount: 5 });
  });

  test("ErrorEnvelope: a str key is written as UTF-8 bin; missing optional fields decode as null", () => {
    const codec = errorEnvelopeCodec(OrderCodec);
    const withStrKey = {
      ...errorEnvelope,
      originalMessage: {
        ...errorEnvelope.originalMessage!,
        meta: { ...errorEnvelope.originalMessage!.meta, key: "k-1" as unknown as Uint8Array },
      },
    };
    const h = header("loom.streaming.error.task", {
      traceId: "trace-1",
      correlationId: "corr-1",
      producedAtMs: 1000,
    });
    assert.equal(hex(encodeEnvelope(h, withStrKey, codec)), hex(ERRENV));
    const minimal = doc({
      meta: { descriptor: { message_type: "loom.streaming.error.routing", message_version: 1 } },
      payload: {
        kind: "routing",
        reason: "no route",
        original_message: { payload: { order_id: "a", amount: 1 }, meta: { message_id: "m" } },
      },
    });
    const { payload } = decodeEnvelope(minimal, codec, 5);
    assert.deepEqual(payload, {
      kind: "routing",
      reason: "no route",
      payloadType: null,
      originalMessage: {
        payload: { order_id: "a", amount: 1 },
        meta: {
          messageId: "m",
          correlationId: null,
          traceId: null,
          parentTraceId: null,
          causationId: null,
          producedAtMs: null,
          messageType: null,
          messageVersion: null,
          topic: null,
          partition: null,
          offset: null,
          key: null,
          headers: {},
        },
      },
    });
  });

  test("ErrorEnvelope: invalid kind and str key are rejected like msgspec", () => {
    const codec = errorEnvelopeCodec(dynamicCodec);
    const bad = (payload: unknown) =>
      doc({ meta: { descriptor: { message_type: "x", message_version: 1 } }, payload });
    assert.throws(() => decodeEnvelope(bad({ kind: "oops", reason: "r" }), codec, 0), {
      message: "Invalid enum value 'oops' - at `$.payload.kind`",
    });
    assert.throws(
      () =>
        decodeEnvelope(
          bad({
            kind: "task",
            reason: "r",
            original_message: { payload: 1, meta: { message_id: "m", key: "k" } },
          }),
          codec,
          0,
        ),
      { message: "Expected `bytes | null`, got `str` - at `$.payload.original_message.meta.key`" },
    );
  });

  const decodeError: DecodeError = DECODE_ERROR;

  test("DecodeError: byte-identical and round-trips", () => {
    const h = header("loom.streaming.error.wire", { traceId: "tr", producedAtMs: 1700000000123 });
    assert.equal(hex(encodeEnvelope(h, decodeError, decodeErrorCodec)), hex(DECERR));
    const { payload } = decodeEnvelope(DECERR, decodeErrorCodec, 0);
    assert.deepEqual(payload, decodeError);
    const withKey = {
      ...decodeError,
      key: new Uint8Array([1, 2]),
      partition: null,
      offset: null,
      timestampMs: null,
    };
    assert.deepEqual(
      decodeEnvelope(encodeEnvelope(h, withKey, decodeErrorCodec), decodeErrorCodec, 0).payload,
      withKey,
    );
  });
});

describe("envelope: decoding rules (msgspec typed decode)", () => {
  test("non-msgpack bytes, truncation, trailing bytes", () => {
    assert.throws(() => decodeEnvelope(new TextEncoder().encode("not-msgpack"), OrderCodec, 0), {
      name: "WireDecodeError",
      message: "Expected `object`, got `int`",
    });
    assert.throws(() => decodeEnvelope(new Uint8Array(0), OrderCodec, 0), {
      message: "Input data was truncated",
    });
    assert.throws(() => decodeEnvelope(new Uint8Array([0xc1]), OrderCodec, 0), {
      message: "MessagePack data is malformed: invalid opcode '\\xc1' (byte 0)",
    });
    for (let n = 0; n < GOLDEN.length; n++) {
      assert.throws(() => decodeEnvelope(GOLDEN.subarray(0, n), OrderCodec, 0), {
        name: "WireDecodeError",
        message: "Input data was truncated",
      }, `prefix ${n}`);
    }
    const trailing = new Uint8Array(GOLDEN.length + 1);
    trailing.set(GOLDEN);
    assert.throws(() => decodeEnvelope(trailing, OrderCodec, 0), {
      message: "MessagePack data is malformed: trailing characters (byte 255)",
    });
  });

  test("decoding the payload of a different type fails cleanly (single-type sources never check message_type)", () => {
    const Other = compileSchema(v.object({ sku: v.string() }));
    assert.throws(() => decodeEnvelope(GOLDEN, Other, 0), {
      message: "Object missing required field `sku` - at `$.payload`",
    });
  });
});

describe("envelope: encode errors", () => {
  test("a payload that does not match its schema names the path", () => {
    assert.throws(() => encodeEnvelope(GOLDEN_HEADER, { order_id: "o", amount: 1.5 }, OrderCodec), {
      name: "WireEncodeError",
      message: "Expected `int`, got `float` - at `$.payload.amount`",
    });
    assert.throws(
      () => encodeEnvelope({ ...GOLDEN_HEADER, producedAtMs: 1.5 }, { order_id: "o", amount: 1 }, OrderCodec),
      {
        name: "WireEncodeError",
        path: "$.meta.produced_at_ms",
      },
    );
    assert.throws(
      () =>
        encodeEnvelope(
          { ...GOLDEN_HEADER, traceId: 5 as unknown as string },
          { order_id: "o", amount: 1 },
          OrderCodec,
        ),
      WireEncodeError,
    );
    // The shared writer recovers after an error.
    assert.equal(hex(encodeEnvelope(GOLDEN_HEADER, { order_id: "o-1", amount: 5 }, OrderCodec)), hex(GOLDEN));
  });
});

describe("probes (multi-type sources)", () => {
  test("probeMessageType", () => {
    assert.deepEqual(probeMessageType(GOLDEN), { messageType: "order.created", messageVersion: 1 });
    assert.deepEqual(probeMessageType(ERRENV), {
      messageType: "loom.streaming.error.task",
      messageVersion: 1,
    });
    const d = (descriptor: unknown) => doc({ meta: { descriptor }, payload: null });
    assert.deepEqual(probeMessageType(d({ message_version: 3, message_type: "a" })), {
      messageType: "a",
      messageVersion: 3,
    });
    assert.equal(probeMessageType(d({ message_type: "a" })), null, "version required");
    assert.equal(probeMessageType(d({ message_version: 1 })), null, "type required");
    assert.equal(
      probeMessageType(d({ message_type: "a", message_version: 1.5 })),
      null,
      "version must be an int",
    );
    assert.equal(probeMessageType(d({ message_type: 1, message_version: 1 })), null, "type must be a str");
    assert.equal(probeMessageType(doc({ payload: 1 })), null);
    assert.equal(probeMessageType(new TextEncoder().encode("not-msgpack")), null);
    assert.equal(probeMessageType(GOLDEN.subarray(0, 254)), null);
    assert.equal(probeMessageType(new Uint8Array(0)), null);
    // The payload is not decoded: any payload shape is fine.
    assert.deepEqual(probeMessageType(d({ message_type: "a", message_version: 1 })), {
      messageType: "a",
      messageVersion: 1,
    });
  });

  test("probeErrorPayloadType", () => {
    assert.equal(probeErrorPayloadType(ERRENV), "order.created");
    assert.equal(probeErrorPayloadType(DECERR), null, "a DecodeError payload has no kind/reason");
    assert.equal(probeErrorPayloadType(GOLDEN), null);
    const p = (payload: unknown) => doc({ meta: {}, payload });
    assert.equal(probeErrorPayloadType(p({ kind: "task", reason: "r", payload_type: "x" })), "x");
    assert.equal(probeErrorPayloadType(p({ kind: "task", reason: "r", payload_type: null })), null);
    assert.equal(probeErrorPayloadType(p({ kind: "task", reason: "r" })), null);
    assert.equal(probeErrorPayloadType(p({ reason: "r", payload_type: "x" })), null, "kind required");
    assert.equal(
      probeErrorPayloadType(p({ kind: 1, reason: "r", payload_type: "x" })),
      null,
      "kind must be a str",
    );
    assert.equal(
      probeErrorPayloadType(p({ payload_type: "x", reason: "r", kind: "task" })),
      "x",
      "any key order",
    );
    assert.equal(probeErrorPayloadType(new TextEncoder().encode("garbage")), null);
  });
});
