/**
 * Codec benchmark: the schema-compiled loom envelope codec against msgpackr and @msgpack/msgpack used as generic
 * codecs on the equivalent plain object.
 *
 * Run: `deno run -A bench/codec_bench.ts` or `bun bench/codec_bench.ts`. Prints a table and one JSON line.
 * Optional argument: seconds per measurement (default 1).
 *
 * @module
 */
import * as v from "valibot";
import { Packr, Unpackr } from "msgpackr";
import { Decoder as MsgpackDecoder, Encoder as MsgpackEncoder } from "@msgpack/msgpack";
import { codecOf } from "../kafka/_schema_codec.ts";
import { decodeEnvelope, encodeEnvelope, type EnvelopeHeader } from "../kafka/_envelope.ts";
import { messageType } from "../streaming/_type.ts";

const seconds = Number(
  (globalThis as { process?: { argv?: string[] } }).process?.argv?.[2] ?? "",
) || 1;

const int = () => v.pipe(v.number(), v.integer());

const Order = messageType("order.created", v.object({ order_id: v.string(), amount: int() }));

const Event = messageType(
  "bench.event",
  v.object({
    event_id: v.string(),
    user_id: int(),
    amount: v.number(),
    currency: v.picklist(["EUR", "USD", "GBP"]),
    tags: v.array(v.string()),
    active: v.boolean(),
    created_at_ms: int(),
    note: v.nullable(v.string()),
    attrs: v.record(v.string(), v.string()),
  }),
);

const eventPayload = {
  event_id: "evt-7d0c2b7e-5a0e-4f7e-9a59-2f1b0c3d4e5f",
  user_id: 123456789,
  amount: 1234.5,
  currency: "EUR" as const,
  tags: ["checkout", "mobile", "promo-2024"],
  active: true,
  created_at_ms: 1700000000123,
  note: null,
  attrs: { source: "web", region: "eu-west-1", campaign: "spring-sale" },
};

interface Case {
  name: string;
  header: EnvelopeHeader;
  payload: Record<string, unknown>;
  codec: ReturnType<typeof codecOf>;
}

const cases: Case[] = [
  {
    name: "golden Order",
    header: {
      messageType: "order.created",
      messageVersion: 1,
      traceId: "trace-1",
      parentTraceId: null,
      correlationId: "corr-1",
      causationId: null,
      producedAtMs: 1000,
    },
    payload: { order_id: "o-1", amount: 5 },
    codec: codecOf(Order),
  },
  {
    name: "event (9 fields, 220 B payload)",
    header: {
      messageType: "bench.event",
      messageVersion: 1,
      traceId: "5f0c7e1d2b3a49c8a1e2f3d4c5b6a798",
      parentTraceId: "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
      correlationId: "corr-42",
      causationId: null,
      producedAtMs: 1700000000123,
    },
    payload: eventPayload,
    codec: codecOf(Event),
  },
];

/** The envelope as a plain object, for the generic codecs (same keys, same order). */
function plainEnvelope(c: Case): Record<string, unknown> {
  return {
    meta: {
      descriptor: {
        message_type: c.header.messageType,
        message_version: c.header.messageVersion,
        content_type: { media_type: "application/x-loom-msgpack", encoding: null },
        schema_ref: null,
      },
      trace_id: c.header.traceId,
      parent_trace_id: c.header.parentTraceId,
      correlation_id: c.header.correlationId,
      causation_id: c.header.causationId,
      produced_at_ms: c.header.producedAtMs,
    },
    payload: c.payload,
  };
}

interface Codec {
  name: string;
  encode: (c: Case) => Uint8Array;
  decode: (bytes: Uint8Array, c: Case) => unknown;
}

const packr = new Packr({ useRecords: false });
const unpackr = new Unpackr({ useRecords: false });
const mpEncoder = new MsgpackEncoder();
const mpDecoder = new MsgpackDecoder();

const plainCache = new Map<Case, Record<string, unknown>>();
const plain = (c: Case) => {
  let p = plainCache.get(c);
  if (!p) plainCache.set(c, p = plainEnvelope(c));
  return p;
};

const codecs: Codec[] = [
  {
    name: "loom (schema-compiled)",
    encode: (c) => encodeEnvelope(c.header, c.payload, c.codec),
    decode: (bytes, c) => decodeEnvelope(bytes, c.codec, 0),
  },
  {
    name: "msgpackr 2.1.3 (generic)",
    encode: (c) => packr.pack(plain(c)),
    decode: (bytes) => unpackr.unpack(bytes),
  },
  {
    name: "@msgpack/msgpack 3.1.3 (generic)",
    encode: (c) => mpEncoder.encode(plain(c)),
    decode: (bytes) => mpDecoder.decode(bytes),
  },
];

let sink = 0;

/** Runs `fn` repeatedly for about `seconds`; returns operations per second. */
function measure(fn: () => void): number {
  // Warm up (JIT) for a fifth of the budget.
  const warmEnd = performance.now() + seconds * 200;
  while (performance.now() < warmEnd) for (let i = 0; i < 1000; i++) fn();
  let ops = 0;
  const start = performance.now();
  const end = start + seconds * 1000;
  let now = start;
  while (now < end) {
    for (let i = 0; i < 1000; i++) fn();
    ops += 1000;
    now = performance.now();
  }
  return ops / ((now - start) / 1000);
}

function hex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

interface Row {
  case: string;
  codec: string;
  bytes: number;
  exact: boolean;
  encodePerSec: number;
  decodePerSec: number;
  roundTripPerSec: number;
  roundTripMBps: number;
}

const runtime = (globalThis.navigator?.userAgent ?? "unknown").split(" ")[0];
const rows: Row[] = [];
for (const c of cases) {
  const reference = encodeEnvelope(c.header, c.payload, c.codec);
  const referenceHex = hex(reference);
  for (const codec of codecs) {
    const bytes = codec.encode(c);
    const copy = bytes.slice();
    const encodePerSec = measure(() => {
      sink += codec.encode(c).length;
    });
    const decodePerSec = measure(() => {
      sink += codec.decode(copy, c) === null ? 0 : 1;
    });
    const roundTripPerSec = measure(() => {
      const b = codec.encode(c);
      sink += codec.decode(b, c) === null ? 0 : 1;
    });
    rows.push({
      case: c.name,
      codec: codec.name,
      bytes: bytes.length,
      exact: hex(bytes) === referenceHex,
      encodePerSec: Math.round(encodePerSec),
      decodePerSec: Math.round(decodePerSec),
      roundTripPerSec: Math.round(roundTripPerSec),
      roundTripMBps: Math.round((roundTripPerSec * bytes.length) / 1e6 * 10) / 10,
    });
  }
}

const fmt = (n: number) => n.toLocaleString("en-US");
const header = [
  "case",
  "codec",
  "bytes",
  "msgspec-exact",
  "encode/s",
  "decode/s",
  "enc+dec/s",
  "enc+dec MB/s",
];
const table = rows.map((r) => [
  r.case,
  r.codec,
  String(r.bytes),
  r.exact ? "yes" : "NO",
  fmt(r.encodePerSec),
  fmt(r.decodePerSec),
  fmt(r.roundTripPerSec),
  String(r.roundTripMBps),
]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
const line = (cells: string[]) =>
  cells.map((cell, i) => (i < 2 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join("  ");
console.log(`codec benchmark on ${runtime} (${seconds}s per measurement)`);
console.log(line(header));
console.log(widths.map((w) => "-".repeat(w)).join("  "));
for (const row of table) console.log(line(row));
console.log(JSON.stringify({ bench: "codec", runtime, seconds, rows, sink: sink > 0 }));
