/**
 * The Python side and the cases of the interop tests (tests/interop_test.ts: the cases both ways and the
 * hard-coded vectors; tests/interop_decode_rules_test.ts: malformed and lenient inputs, error payloads):
 * msgspec through scripts/python-env.sh, hex helpers, the wire forms of error payloads, and the case list.
 *
 * @module
 */
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as v from "valibot";
import {
  type ContentType,
  type DecodedEnvelopeHeader,
  decodeErrorCodec,
  DEFAULT_CONTENT_TYPE,
  encodeEnvelope,
  type EnvelopeHeader,
  errorEnvelopeCodec,
} from "../kafka/_envelope.ts";
import { encodeAny } from "../kafka/_msgpack.ts";
import { codecOf, decodeWith, dynamicCodec, type PayloadCodec } from "../kafka/_schema_codec.ts";
import type { DecodeError, ErrorEnvelope } from "../streaming/_message.ts";
import { messageType } from "../streaming/_type.ts";
import { DECODE_ERROR, ERRENV_TASK, header, MIXED_VALUE, MixedSchema } from "../kafka/_test_support.ts";

// --- Python side -------------------------------------------------------------------------------------------

export const PYTHON_ENV = fileURLToPath(new URL("../scripts/python-env.sh", import.meta.url));
export const PROGRAM = fileURLToPath(new URL("./interop/envelope.py", import.meta.url));
export const GOLDEN_DIR = fileURLToPath(new URL("./interop/golden/", import.meta.url));
export const ENVELOPE_TEST = fileURLToPath(new URL("../kafka/_envelope_test.ts", import.meta.url));

/** Provisions (first run: venv + pip) and returns the python with msgspec. Done at load time, outside test timeouts. */
export function provisionPython(): string {
  try {
    const out = execFileSync("bash", [PYTHON_ENV], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
      timeout: 300_000,
    });
    return out.trim().split("\n").at(-1)!;
  } catch (e) {
    throw new Error(
      `interop tests: scripts/python-env.sh could not provide a Python with msgspec (${
        (e as Error).message
      }). Install python3 with the venv module and make PyPI reachable, or set LOOM_PYTHON.`,
    );
  }
}
export const PYTHON = provisionPython();

export interface PyResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

export function py(args: readonly string[], input = ""): PyResult {
  const r = spawnSync(PYTHON, [PROGRAM, ...args], {
    input,
    encoding: "utf8",
    timeout: 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

export function pyOk(args: readonly string[], input = ""): string {
  const r = py(args, input);
  assert.equal(r.status, 0, `envelope.py ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}

export const pyHexCache = new Map<string, string>();
/** msgspec's bytes of a case, as hex. */
export function pyEncode(name: string): string {
  let h = pyHexCache.get(name);
  if (h === undefined) pyHexCache.set(name, h = pyOk(["encode", name]).trim());
  return h;
}

export type PyDecoded = { readonly ok: true; readonly value: unknown } | {
  readonly ok: false;
  readonly error: string;
};

/** Strict typed decode by msgspec (`MessageEnvelope[<payload type of the case>]`), in one python run. */
export function pyDecodeAll(requests: readonly { case: string; bytes: Uint8Array }[]): PyDecoded[] {
  const out = pyOk(["batch"], JSON.stringify(requests.map((r) => ({ case: r.case, hex: hex(r.bytes) }))));
  const results = JSON.parse(out) as PyDecoded[];
  assert.equal(results.length, requests.length);
  return results;
}

export function pyDecode(name: string, bytes: Uint8Array): PyDecoded {
  return pyDecodeAll([{ case: name, bytes }])[0];
}

// --- helpers -----------------------------------------------------------------------------------------------

export function hex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

export function unhex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, "");
  assert.match(clean, /^(?:[0-9a-f]{2})*$/, "hex text");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function goldenHex(name: string): string {
  return readFileSync(`${GOLDEN_DIR}${name}.hex`, "utf8").trim();
}

export const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** The canonical JSON form printed by envelope.py (see its docstring), computed from a JS wire-shaped value. */
export function canon(x: unknown): unknown {
  if (x === null || x === undefined) return null;
  switch (typeof x) {
    case "string":
    case "boolean":
      return x;
    case "number": {
      if (Number.isFinite(x)) return x;
      const b = new Uint8Array(8);
      new DataView(b.buffer).setFloat64(0, x);
      return { $f64: hex(b) };
    }
    case "bigint":
      return x >= -MAX_SAFE && x <= MAX_SAFE ? Number(x) : { $int: x.toString() };
  }
  if (x instanceof Uint8Array) return { $bytes: hex(x) };
  if (x instanceof Date) return { $datetime: String(x.getTime() * 1000) };
  if (Array.isArray(x)) return x.map(canon);
  const out: Record<string, unknown> = {};
  for (const [k, val] of Object.entries(x as Record<string, unknown>)) out[k] = canon(val);
  return out;
}

/** Wire (snake_case) shape of an ErrorEnvelope. */
export function errorWire(e: ErrorEnvelope<unknown>): Record<string, unknown> {
  const o = e.originalMessage;
  return {
    kind: e.kind,
    reason: e.reason,
    payload_type: e.payloadType,
    original_message: o === null ? null : {
      payload: o.payload,
      meta: {
        message_id: o.meta.messageId,
        correlation_id: o.meta.correlationId,
        trace_id: o.meta.traceId,
        parent_trace_id: o.meta.parentTraceId,
        causation_id: o.meta.causationId,
        produced_at_ms: o.meta.producedAtMs,
        message_type: o.meta.messageType,
        message_version: o.meta.messageVersion,
        topic: o.meta.topic,
        partition: o.meta.partition,
        offset: o.meta.offset,
        key: o.meta.key,
        headers: o.meta.headers,
      },
    },
  };
}

/** Wire (snake_case) shape of a DecodeError. */
export function decodeErrorWire(d: DecodeError): Record<string, unknown> {
  return {
    error: errorWire(d.error),
    raw: d.raw,
    topic: d.topic,
    key: d.key,
    headers: d.headers,
    partition: d.partition,
    offset: d.offset,
    timestamp_ms: d.timestampMs,
  };
}

// --- payload types (the TS twins of the Structs in envelope.py) --------------------------------------------

export const int = () => v.pipe(v.number(), v.integer());

export const Order = messageType("order.created", v.object({ order_id: v.string(), amount: int() }));
export const OrderCodec = codecOf(Order);

export const Mixed = messageType("test.mixed", MixedSchema);

export const Address = v.object({ street: v.string(), city: v.string(), zip: v.nullable(v.string()) });
export const Line = v.object({ sku: v.string(), qty: int(), unit_price: v.number() });
export const Profile = messageType(
  "test.profile",
  v.object({
    name: v.string(),
    age: int(),
    score: v.number(),
    tiny: v.number(),
    whole: v.number(),
    neg_zero: v.number(),
    active: v.boolean(),
    archived: v.boolean(),
    nickname: v.nullable(v.string()),
    alias: v.nullable(v.string()),
    avatar: v.instance(Uint8Array),
    empty: v.instance(Uint8Array),
    tags: v.array(v.string()),
    no_tags: v.array(v.string()),
    lines: v.array(Line),
    address: Address,
    previous: v.nullable(Address),
    matrix: v.array(v.array(int())),
    ints: v.array(int()),
    floats: v.array(v.number()),
    counts: v.record(v.string(), int()),
    str8: v.string(),
    str16: v.string(),
    bin16: v.instance(Uint8Array),
  }),
  { version: 2 },
);
export const ProfileCodec = codecOf(Profile);

export const Ledger = messageType(
  "test.ledger",
  v.object({
    account: v.string(),
    balance: v.bigint(),
    debt: v.bigint(),
    top: v.bigint(),
    small: v.bigint(),
    history: v.array(v.bigint()),
  }),
);

// --- cases (same names and values as CASES in envelope.py) -------------------------------------------------

export interface Case {
  readonly name: string;
  readonly header: EnvelopeHeader;
  readonly payload: unknown;
  readonly codec: PayloadCodec<unknown>;
  /** The payload as msgspec sees it (snake_case keys); defaults to `payload`. */
  readonly wire?: unknown;
  /** Non-default descriptor fields; only Python writes them (loom always writes the defaults). */
  readonly contentType?: ContentType;
  readonly schemaRef?: Readonly<Record<string, unknown>>;
}

export const profilePayload = {
  name: "Ada Lovelace",
  age: 36,
  score: 0.1,
  tiny: 5e-324,
  whole: 3,
  neg_zero: -0,
  active: true,
  archived: false,
  nickname: null,
  alias: "countess",
  avatar: Uint8Array.from({ length: 40 }, (_, i) => i),
  empty: new Uint8Array(0),
  tags: ["a", "é", ""],
  no_tags: [],
  lines: [{ sku: "s-1", qty: 2, unit_price: 9.99 }, { sku: "s-2", qty: 300, unit_price: 1 }],
  address: { street: "12 St James's Square", city: "London", zip: null },
  previous: null,
  matrix: [[1, 2], [3], []],
  ints: [
    0,
    1,
    127,
    128,
    255,
    256,
    65535,
    65536,
    4294967295,
    4294967296,
    9007199254740991,
    -1,
    -32,
    -33,
    -128,
    -129,
    -32768,
    -32769,
    -2147483648,
    -2147483649,
    -9007199254740991,
  ],
  floats: [0.5, -1.5, 1e300, -2.5e-7, Infinity, -Infinity, NaN],
  counts: { z: 1, a: 2, "é": 3 },
  str8: "x".repeat(40),
  str16: "y".repeat(300),
  bin16: Uint8Array.from({ length: 300 }, (_, i) => i % 256),
};

export const orderPayload = { order_id: "o-1", amount: 5 };

export const errenvTask: ErrorEnvelope<unknown> = ERRENV_TASK;

export const errenvBusiness: ErrorEnvelope<unknown> = {
  kind: "business",
  reason: "amount: must be positive",
  payloadType: null,
  originalMessage: null,
};

export const errenvRouting: ErrorEnvelope<unknown> = {
  kind: "routing",
  reason: "no route for 'é' \"quoted\"",
  payloadType: "test.profile",
  originalMessage: {
    payload: profilePayload,
    meta: {
      messageId: "profiles:3:9007199254740991",
      correlationId: null,
      traceId: null,
      parentTraceId: null,
      causationId: null,
      producedAtMs: null,
      messageType: null,
      messageVersion: null,
      topic: null,
      partition: 3,
      offset: 9007199254740991,
      key: null,
      headers: {},
    },
  },
};

export const ORDER_HEADER = header("order.created", {
  traceId: "trace-1",
  correlationId: "corr-1",
  producedAtMs: 1000,
});

export const decodeError: DecodeError = DECODE_ERROR;

export const decodeErrorKeyed: DecodeError = {
  error: {
    kind: "wire",
    reason: "Expected `int`, got `str` - at `$.payload.amount`",
    payloadType: null,
    originalMessage: null,
  },
  raw: encodeEnvelope(ORDER_HEADER, orderPayload, OrderCodec).slice(0, 100),
  topic: "orders.v2",
  key: new Uint8Array([0x00, 0xff, 0x80]),
  headers: {},
  partition: null,
  offset: null,
  timestampMs: null,
};

export const CASES: readonly Case[] = [
  { name: "order", header: ORDER_HEADER, payload: orderPayload, codec: OrderCodec },
  {
    name: "mixed",
    header: header("test.mixed", {
      traceId: "t",
      parentTraceId: "p",
      correlationId: "c",
      causationId: "k",
      producedAtMs: 1700000000000,
    }),
    payload: MIXED_VALUE,
    codec: codecOf(Mixed),
  },
  {
    name: "profile",
    header: header("test.profile", {
      messageVersion: 2,
      traceId: "0f8fad5bd9cb469fa16570867728950e",
      parentTraceId: "6ecd8c99e4ae4c3d8b0a4a4bf1d1a1c2",
      correlationId: "corr-é",
      causationId: "cause-9",
      producedAtMs: 1735689600000,
    }),
    payload: profilePayload,
    codec: ProfileCodec,
  },
  {
    name: "bigint",
    header: header("test.ledger", { traceId: "trace-big", producedAtMs: 2 ** 41 }),
    payload: {
      account: "acc-1",
      balance: 2n ** 53n + 1n,
      debt: -(2n ** 63n),
      top: 2n ** 64n - 1n,
      small: 7n,
      history: [2n ** 53n, -(2n ** 53n) - 1n, 2n ** 63n - 1n, 0n, -1n],
    },
    codec: codecOf(Ledger),
  },
  {
    name: "errenv_task",
    header: header("loom.streaming.error.task", {
      traceId: "trace-1",
      correlationId: "corr-1",
      producedAtMs: 1000,
    }),
    payload: errenvTask,
    wire: errorWire(errenvTask),
    codec: errorEnvelopeCodec(OrderCodec) as PayloadCodec<unknown>,
  },
  {
    name: "errenv_business",
    header: header("loom.streaming.error.business", {
      traceId: "b5f0c3d2a1e04f6b9c8d7e6f5a4b3c2d",
      producedAtMs: 1700000000999,
    }),
    payload: errenvBusiness,
    wire: errorWire(errenvBusiness),
    codec: errorEnvelopeCodec(OrderCodec) as PayloadCodec<unknown>,
  },
  {
    name: "errenv_routing",
    header: header("loom.streaming.error.routing", {
      traceId: "trace-r",
      parentTraceId: "parent-r",
      correlationId: "corr-r",
      causationId: "cause-r",
      producedAtMs: 1735689600000,
    }),
    payload: errenvRouting,
    wire: errorWire(errenvRouting),
    codec: errorEnvelopeCodec(ProfileCodec) as PayloadCodec<unknown>,
  },
  {
    name: "decode_error",
    header: header("loom.streaming.error.wire", { traceId: "tr", producedAtMs: 1700000000123 }),
    payload: decodeError,
    wire: decodeErrorWire(decodeError),
    codec: decodeErrorCodec as PayloadCodec<unknown>,
  },
  {
    name: "decode_error_keyed",
    header: header("loom.streaming.error.wire"),
    payload: decodeErrorKeyed,
    wire: decodeErrorWire(decodeErrorKeyed),
    codec: decodeErrorCodec as PayloadCodec<unknown>,
  },
  {
    name: "dynamic",
    header: header("loom.streaming.message", { producedAtMs: 1234567890123 }),
    payload: {
      a: 1,
      b: 2.5,
      c: [null, true, false, "x", -200, 70000],
      d: new Uint8Array([1, 2]),
      e: { nested: { deep: [] } },
      f: 2n ** 63n,
    },
    codec: dynamicCodec,
  },
  {
    name: "schema_ref",
    header: header("order.created", { messageVersion: 3, traceId: "trace-2", producedAtMs: 1000 }),
    payload: { order_id: "o-2", amount: -7 },
    codec: OrderCodec,
    contentType: { mediaType: "application/avro", encoding: "gzip" },
    schemaRef: { namespace: "shop", name: "Order", version: 3, format: "avro" },
  },
];
export const CASE = new Map(CASES.map((c) => [c.name, c]));

/** Whether our encoder can write the case (it always writes the default content type and a nil schema_ref). */
export const tsWrites = (c: Case): boolean => c.contentType === undefined && c.schemaRef === undefined;

/** The whole envelope as msgspec sees it. */
export function envelopeWire(c: Case): unknown {
  const ct = c.contentType ?? DEFAULT_CONTENT_TYPE;
  const h = c.header;
  return {
    meta: {
      descriptor: {
        message_type: h.messageType,
        message_version: h.messageVersion,
        content_type: { media_type: ct.mediaType, encoding: ct.encoding },
        schema_ref: c.schemaRef ?? null,
      },
      trace_id: h.traceId,
      parent_trace_id: h.parentTraceId,
      correlation_id: h.correlationId,
      causation_id: h.causationId,
      produced_at_ms: h.producedAtMs,
    },
    payload: c.wire ?? c.payload,
  };
}

export function decodedHeader(c: Case): DecodedEnvelopeHeader {
  return { ...c.header, contentType: c.contentType ?? DEFAULT_CONTENT_TYPE, schemaRef: c.schemaRef ?? null };
}

export function tsEncode(c: Case): Uint8Array {
  return encodeEnvelope(c.header, c.payload, c.codec);
}

// --- tests -------------------------------------------------------------------------------------------------
// --- decode-rule parity ------------------------------------------------------------------------------------

/** The case's msgspec bytes decoded generically (a mutable document). */
export function doc(name: string): Record<string, unknown> {
  return decodeWith(dynamicCodec, unhex(goldenHex(name))) as Record<string, unknown>;
}

/** A generically decoded document, edited in place (any shape: the point is to break the schema). */
// deno-lint-ignore no-explicit-any
export type Doc = Record<string, any>;

export function edited(name: string, edit: (d: Doc) => void): Uint8Array {
  const d = doc(name);
  edit(d);
  return encodeAny(d);
}
