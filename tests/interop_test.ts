// Interoperability with the Python original's wire rules (reference §4.1, §4.2, §4.7): msgspec is the reference.
// tests/interop/envelope.py defines the original's envelope, error payloads and a few payload types as msgspec
// Structs. For every case:
//   (a) our encoder writes exactly msgspec's bytes, and both still match tests/interop/golden/<case>.hex;
//   (b) msgspec decodes our bytes strictly (typed decode) to the expected values;
//   (c) our decoder reads msgspec's bytes to the expected header and payload.
// Plus: the vectors hard-coded in kafka/_envelope_test.ts are msgspec's, and malformed inputs fail with the
// same message on both sides (the message is the DecodeError reason, §4.7).
//
// Python comes from scripts/python-env.sh (a venv at .cache/pyenv with a pinned msgspec, created on first use).
// Regenerate the golden files (only after a deliberate change): .cache/pyenv/bin/python tests/interop/envelope.py
// write-golden
// Run: deno test -A tests/interop_test.ts   |   bun test tests/interop_test.ts
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as v from "valibot";
import {
  type ContentType,
  type DecodedEnvelopeHeader,
  decodeEnvelope,
  decodeErrorCodec,
  DEFAULT_CONTENT_TYPE,
  encodeEnvelope,
  type EnvelopeHeader,
  errorEnvelopeCodec,
} from "../kafka/_envelope.ts";
import { encodeAny } from "../kafka/_msgpack.ts";
import {
  codecOf,
  decodeWith,
  dynamicCodec,
  type PayloadCodec,
  WireDecodeError,
} from "../kafka/_schema_codec.ts";
import type { DecodeError, ErrorEnvelope } from "../streaming/_message.ts";
import { messageType } from "../streaming/_type.ts";
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
import { DECODE_ERROR, ERRENV_TASK, header, MIXED_VALUE, MixedSchema } from "../kafka/_test_support.ts";

// --- Python side -------------------------------------------------------------------------------------------

const PYTHON_ENV = fileURLToPath(new URL("../scripts/python-env.sh", import.meta.url));
const PROGRAM = fileURLToPath(new URL("./interop/envelope.py", import.meta.url));
const GOLDEN_DIR = fileURLToPath(new URL("./interop/golden/", import.meta.url));
const ENVELOPE_TEST = fileURLToPath(new URL("../kafka/_envelope_test.ts", import.meta.url));

/** Provisions (first run: venv + pip) and returns the python with msgspec. Done at load time, outside test timeouts. */
function provisionPython(): string {
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
const PYTHON = provisionPython();

interface PyResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function py(args: readonly string[], input = ""): PyResult {
  const r = spawnSync(PYTHON, [PROGRAM, ...args], {
    input,
    encoding: "utf8",
    timeout: 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function pyOk(args: readonly string[], input = ""): string {
  const r = py(args, input);
  assert.equal(r.status, 0, `envelope.py ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}

const pyHexCache = new Map<string, string>();
/** msgspec's bytes of a case, as hex. */
function pyEncode(name: string): string {
  let h = pyHexCache.get(name);
  if (h === undefined) pyHexCache.set(name, h = pyOk(["encode", name]).trim());
  return h;
}

type PyDecoded = { readonly ok: true; readonly value: unknown } | {
  readonly ok: false;
  readonly error: string;
};

/** Strict typed decode by msgspec (`MessageEnvelope[<payload type of the case>]`), in one python run. */
function pyDecodeAll(requests: readonly { case: string; bytes: Uint8Array }[]): PyDecoded[] {
  const out = pyOk(["batch"], JSON.stringify(requests.map((r) => ({ case: r.case, hex: hex(r.bytes) }))));
  const results = JSON.parse(out) as PyDecoded[];
  assert.equal(results.length, requests.length);
  return results;
}

function pyDecode(name: string, bytes: Uint8Array): PyDecoded {
  return pyDecodeAll([{ case: name, bytes }])[0];
}

// --- helpers -----------------------------------------------------------------------------------------------

function hex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

function unhex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, "");
  assert.match(clean, /^(?:[0-9a-f]{2})*$/, "hex text");
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function goldenHex(name: string): string {
  return readFileSync(`${GOLDEN_DIR}${name}.hex`, "utf8").trim();
}

const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** The canonical JSON form printed by envelope.py (see its docstring), computed from a JS wire-shaped value. */
function canon(x: unknown): unknown {
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
function errorWire(e: ErrorEnvelope<unknown>): Record<string, unknown> {
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
function decodeErrorWire(d: DecodeError): Record<string, unknown> {
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

const int = () => v.pipe(v.number(), v.integer());

const Order = messageType("order.created", v.object({ order_id: v.string(), amount: int() }));
const OrderCodec = codecOf(Order);

const Mixed = messageType("test.mixed", MixedSchema);

const Address = v.object({ street: v.string(), city: v.string(), zip: v.nullable(v.string()) });
const Line = v.object({ sku: v.string(), qty: int(), unit_price: v.number() });
const Profile = messageType(
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
const ProfileCodec = codecOf(Profile);

const Ledger = messageType(
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

interface Case {
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

const profilePayload = {
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

const orderPayload = { order_id: "o-1", amount: 5 };

const errenvTask: ErrorEnvelope<unknown> = ERRENV_TASK;

const errenvBusiness: ErrorEnvelope<unknown> = {
  kind: "business",
  reason: "amount: must be positive",
  payloadType: null,
  originalMessage: null,
};

const errenvRouting: ErrorEnvelope<unknown> = {
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

const ORDER_HEADER = header("order.created", {
  traceId: "trace-1",
  correlationId: "corr-1",
  producedAtMs: 1000,
});

const decodeError: DecodeError = DECODE_ERROR;

const decodeErrorKeyed: DecodeError = {
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

const CASES: readonly Case[] = [
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
const CASE = new Map(CASES.map((c) => [c.name, c]));

/** Whether our encoder can write the case (it always writes the default content type and a nil schema_ref). */
const tsWrites = (c: Case): boolean => c.contentType === undefined && c.schemaRef === undefined;

/** The whole envelope as msgspec sees it. */
function envelopeWire(c: Case): unknown {
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

function decodedHeader(c: Case): DecodedEnvelopeHeader {
  return { ...c.header, contentType: c.contentType ?? DEFAULT_CONTENT_TYPE, schemaRef: c.schemaRef ?? null };
}

function tsEncode(c: Case): Uint8Array {
  return encodeEnvelope(c.header, c.payload, c.codec);
}

// --- tests -------------------------------------------------------------------------------------------------

describe("interop: the case lists", () => {
  test("envelope.py, this file and tests/interop/golden/ list the same cases", () => {
    const pyCases = pyOk(["cases"]).trim().split("\n");
    assert.deepEqual(pyCases, CASES.map((c) => c.name));
    const files = readdirSync(GOLDEN_DIR).filter((f) => f.endsWith(".hex")).map((f) => f.slice(0, -4)).sort();
    assert.deepEqual(files, [...pyCases].sort(), "one golden file per case (envelope.py write-golden)");
  });
});

for (const c of CASES) {
  describe(`interop: ${c.name}`, () => {
    test("msgspec still writes the golden vector", () => {
      assert.equal(
        pyEncode(c.name),
        goldenHex(c.name),
        `msgspec drifted from tests/interop/golden/${c.name}.hex`,
      );
    });

    if (tsWrites(c)) {
      test("(a) our encoder writes exactly msgspec's bytes (and the golden vector)", () => {
        const ours = hex(tsEncode(c));
        assert.equal(ours, pyEncode(c.name), "TS bytes vs msgspec bytes");
        assert.equal(ours, goldenHex(c.name), `TS bytes vs tests/interop/golden/${c.name}.hex`);
      });

      test("(b) msgspec decodes our bytes strictly to the expected values", () => {
        const r = pyDecode(c.name, tsEncode(c));
        assert.ok(r.ok, `msgspec rejected our bytes: ${r.ok ? "" : r.error}`);
        assert.deepEqual(r.value, canon(envelopeWire(c)));
      });
    }

    test("(c) our decoder reads msgspec's bytes to the expected header and payload", () => {
      for (const bytes of [unhex(pyEncode(c.name)), unhex(goldenHex(c.name))]) {
        const { header, payload } = decodeEnvelope(bytes, c.codec, -1);
        assert.deepEqual(header, decodedHeader(c));
        assert.deepEqual(payload, c.payload);
      }
    });

    test("msgspec reads its own bytes back to the expected values (fixture sanity)", () => {
      const r = pyDecode(c.name, unhex(goldenHex(c.name)));
      assert.ok(r.ok, r.ok ? "" : r.error);
      assert.deepEqual(r.value, canon(envelopeWire(c)));
    });
  });
}

describe("interop: the vectors hard-coded in kafka/_envelope_test.ts", () => {
  const source = readFileSync(ENVELOPE_TEST, "utf8");
  const vectors = new Map<string, string>();
  for (const m of source.matchAll(/const (\w+) = unhex\(`([0-9a-f\s]+)`\)/g)) {
    vectors.set(m[1], m[2].replace(/\s+/g, ""));
  }
  const MAPPING: [string, string][] = [
    ["GOLDEN", "order"],
    ["MIXED", "mixed"],
    ["ERRENV", "errenv_task"],
    ["DECERR", "decode_error"],
  ];

  test("the four vectors are found", () => {
    assert.deepEqual([...vectors.keys()].sort(), MAPPING.map(([k]) => k).sort());
    assert.equal(vectors.get("GOLDEN")!.length / 2, 255, "the §4.1 golden example is 255 bytes");
  });

  for (const [constant, name] of MAPPING) {
    test(`${constant} is msgspec's encoding of the '${name}' case and msgspec decodes it strictly`, () => {
      const text = vectors.get(constant);
      assert.ok(text, `${constant} not found in kafka/_envelope_test.ts`);
      assert.equal(text, pyEncode(name));
      assert.equal(text, goldenHex(name));
      const r = pyDecode(name, unhex(text));
      assert.ok(r.ok, r.ok ? "" : r.error);
      assert.deepEqual(r.value, canon(envelopeWire(CASE.get(name)!)));
    });
  }
});

// --- decode-rule parity ------------------------------------------------------------------------------------

/** The case's msgspec bytes decoded generically (a mutable document). */
function doc(name: string): Record<string, unknown> {
  return decodeWith(dynamicCodec, unhex(goldenHex(name))) as Record<string, unknown>;
}

/** A generically decoded document, edited in place (any shape: the point is to break the schema). */
// deno-lint-ignore no-explicit-any
type Doc = Record<string, any>;

function edited(name: string, edit: (d: Doc) => void): Uint8Array {
  const d = doc(name);
  edit(d);
  return encodeAny(d);
}

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
