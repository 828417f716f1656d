// Test-only payload schemas shared by the codec tests and the Python interop test, and the envelope documents
// shared by the envelope tests (not published).
import * as v from "valibot";
import { encodeAny } from "./_msgpack.ts";
import { codecOf, type PayloadCodec } from "./_schema_codec.ts";
import { messageType } from "./_type.ts";
import type { DecodeError, ErrorEnvelope } from "./_error_payloads.ts";
import type { EnvelopeHeader } from "./_envelope.ts";

const int = () => v.pipe(v.number(), v.integer());

/** Mirrors `msgspec.Struct Item` of the msgspec vectors (Python source in kafka/_envelope_test.ts). */
export const ItemSchema = v.object({ sku: v.string(), qty: int(), price: v.number() });

/** Mirrors `msgspec.Struct Mixed`: one field of every kind the codec supports. */
export const MixedSchema = v.object({
  id: v.string(),
  count: int(),
  ratio: v.number(),
  whole: v.number(),
  flag: v.boolean(),
  data: v.instance(Uint8Array),
  note: v.nullable(v.string()),
  tags: v.array(v.string()),
  items: v.array(ItemSchema),
  attrs: v.record(v.string(), int()),
  pair: v.tuple([int(), v.string()]),
  kind: v.picklist(["a", "b"]),
  big: v.bigint(),
  neg: v.bigint(),
  when: v.date(),
  uni: v.string(),
  empty: v.optional(v.nullable(v.string()), null),
});

/** The `Mixed` value of the msgspec MIXED vector (`msgspec.Struct Mixed(...)` in kafka/_envelope_test.ts). */
export const MIXED_VALUE: v.InferOutput<typeof MixedSchema> = {
  id: "m-1",
  count: -129,
  ratio: 0.25,
  whole: 5,
  flag: true,
  data: new Uint8Array([0, 1, 255]),
  note: null,
  tags: ["x", "y"],
  items: [{ sku: "s1", qty: 2, price: 9.99 }, { sku: "s2", qty: 65536, price: 1 }],
  attrs: { b: 1, a: -1 },
  pair: [7, "seven"],
  kind: "b",
  big: 2n ** 63n,
  neg: -(2n ** 63n),
  when: new Date(Date.UTC(2020, 0, 1, 0, 0, 0, 123)),
  uni: "héllo wörld ✓ 😀",
  empty: null,
};

/** The TASK error envelope of the msgspec ERRENV vector: order `o-1` failed at `orders:0:7`. */
export const ERRENV_TASK: ErrorEnvelope<{ order_id: string; amount: number }> = {
  kind: "task",
  reason: "boom: 'x'",
  payloadType: "order.created",
  originalMessage: {
    payload: { order_id: "o-1", amount: 5 },
    meta: {
      messageId: "orders:0:7",
      correlationId: "corr-1",
      traceId: "trace-1",
      parentTraceId: null,
      causationId: null,
      producedAtMs: 1000,
      messageType: "order.created",
      messageVersion: 1,
      topic: "orders",
      partition: 0,
      offset: 7,
      key: new TextEncoder().encode("k-1"),
      headers: { "x-a": new Uint8Array([0x31]), "x-b": new Uint8Array(0) },
    },
  },
};

/** An envelope header with the given type, nulls elsewhere, `producedAtMs` 0, then `fields` on top. */
export function header(messageType: string, fields: Partial<EnvelopeHeader> = {}): EnvelopeHeader {
  return {
    messageType,
    messageVersion: 1,
    traceId: null,
    parentTraceId: null,
    correlationId: null,
    causationId: null,
    producedAtMs: 0,
    ...fields,
  };
}

/** The DecodeError of the msgspec DECERR vector: undecodable bytes at `orders[3]@42`. */
export const DECODE_ERROR: DecodeError = {
  error: { kind: "wire", reason: "Input data was truncated", payloadType: null, originalMessage: null },
  raw: new TextEncoder().encode("not-msgpack"),
  topic: "orders",
  key: null,
  headers: { "x-trace-id": new TextEncoder().encode("tr") },
  partition: 3,
  offset: 42,
  timestampMs: 1700000000123,
};

const Order = messageType("order.created", v.object({ order_id: v.string(), amount: int() }));

/** The codec of `order.created` `{ order_id, amount }`: the payload of the §4.1 golden vector GOLDEN. */
export const OrderCodec: PayloadCodec<unknown> = codecOf(Order);

/** Builds an envelope-like document with the dynamic encoder (for malformed / reordered inputs). */
export function doc(value: unknown): Uint8Array {
  return encodeAny(value);
}

/** The §4.1 golden envelope (GOLDEN in kafka/_envelope_test.ts) as a generic document, in msgspec's order. */
export function goldenDoc(): Record<string, unknown> {
  return {
    meta: {
      descriptor: {
        message_type: "order.created",
        message_version: 1,
        content_type: { media_type: "application/x-loom-msgpack", encoding: null },
        schema_ref: null,
      },
      trace_id: "trace-1",
      parent_trace_id: null,
      correlation_id: "corr-1",
      causation_id: null,
      produced_at_ms: 1000,
    },
    payload: { order_id: "o-1", amount: 5 },
  };
}
