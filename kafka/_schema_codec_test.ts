import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { encodeAny, MsgpackExt, Reader, Writer } from "./_msgpack.ts";
import {
  codecOf,
  compileSchema,
  decodeWith,
  defineCodec,
  dynamicCodec,
  encodeWith,
  nullableCodec,
  structCodec,
  WireDecodeError,
  WireEncodeError,
} from "./_schema_codec.ts";
import { messageType } from "./_type.ts";
import { MIXED_VALUE, MixedSchema } from "./_test_support.ts";

function hex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

function unhex(s: string): Uint8Array {
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(i * 2, i * 2 + 2), 16);
  return out;
}

const int = () => v.pipe(v.number(), v.integer());

/** Decodes dynamically-encoded `input` with `schema` and expects the msgspec message `message`. */
function rejects(schema: v.GenericSchema, input: unknown, message: string, path?: string): void {
  const codec = compileSchema(schema);
  assert.throws(() => decodeWith(codec, encodeAny(input)), (e: unknown) => {
    assert.ok(e instanceof WireDecodeError, `expected WireDecodeError, got ${e}`);
    assert.equal(e.message, message);
    if (path !== undefined) assert.equal(e.path, path);
    return true;
  });
}

// Mirrors msgspec.Struct Mixed of the envelope test (Python source there).
const Mixed = MixedSchema;

// payload part of the MIXED vector of _envelope_test.ts, produced by msgspec 0.22.
const MIXED_PAYLOAD_HEX =
  "de0011a26964a36d2d31a5636f756e74d1ff7fa5726174696fcb3fd0000000000000a577686f6c65cb4014" +
  "000000000000a4666c6167c3a464617461c4030001ffa46e6f7465c0a47461677392a178a179a56974656d739283a3736b75a27331" +
  "a371747902a57072696365cb4023fae147ae147b83a3736b75a27332a3717479ce00010000a57072696365cb3ff0000000000000a5" +
  "617474727382a16201a161ffa4706169729207a5736576656ea46b696e64a162a3626967cf8000000000000000a36e6567d380000" +
  "00000000000a47768656ed7ff1d5353005e0be100a3756e69b668c3a96c6c6f2077c3b6726c6420e29c9320f09f9880a5656d707479c0";

describe("compileSchema: encoding like msgspec", () => {
  test("the golden Order payload", () => {
    const Order = compileSchema(v.object({ order_id: v.string(), amount: int() }));
    assert.equal(
      hex(encodeWith(Order, { order_id: "o-1", amount: 5 })),
      "82a86f726465725f6964a36f2d31a6616d6f756e7405",
    );
  });

  test("a struct with every field kind is byte-identical to msgspec", () => {
    const codec = compileSchema(Mixed);
    assert.equal(
      hex(encodeWith(codec, MIXED_VALUE as unknown as v.InferOutput<typeof Mixed>)),
      MIXED_PAYLOAD_HEX,
    );
    assert.deepEqual(decodeWith(codec, unhex(MIXED_PAYLOAD_HEX)), MIXED_VALUE);
  });

  test("a float field holding 5 is float64, an int field is the smallest int", () => {
    const codec = compileSchema(
      v.object({ f: v.number(), i: int(), s: v.pipe(v.number(), v.safeInteger()) }),
    );
    assert.equal(hex(encodeWith(codec, { f: 5, i: 5, s: 300 })), "83a166cb4014000000000000a16905a173cd012c");
  });

  test("keys follow the schema's declaration order, not the object's", () => {
    const codec = compileSchema(v.object({ b: int(), a: int() }));
    assert.equal(hex(encodeWith(codec, { a: 1, b: 2 })), "82a16202a16101");
  });

  test("every field is written: undefined and null are explicit nils", () => {
    const codec = compileSchema(v.object({
      a: v.optional(v.string()),
      b: v.nullable(int()),
      c: v.nullish(v.boolean()),
      d: v.optional(int(), 7),
    }));
    // d: undefined with a default writes the default (as the Python struct would hold it).
    assert.equal(
      hex(encodeWith(codec, { a: undefined, b: null, c: undefined, d: undefined } as never)),
      "84a161c0a162c0a163c0a16407",
    );
    assert.deepEqual(decodeWith(codec, unhex("84a161c0a162c0a163c0a16407")), {
      a: undefined,
      b: null,
      c: null,
      d: 7,
    });
  });

  test("nested objects, arrays, records, tuples, sets and maps", () => {
    const codec = compileSchema(v.object({
      inner: v.object({ x: v.array(int()), y: v.record(v.string(), v.array(v.string())) }),
      t: v.tuple([v.string(), v.number()]),
      s: v.set(int()),
      m: v.map(int(), v.string()),
    }));
    const value = {
      inner: { x: [1, 2, 300], y: { k: ["a"], j: [] } },
      t: ["z", 1.5] as [string, number],
      s: new Set([3, 4]),
      m: new Map([[1, "one"]]),
    };
    const bytes = encodeWith(codec, value);
    assert.equal(
      hex(bytes),
      "84a5696e6e657282a1789301 02cd012ca17982a16b91a161a16a90a17492a17acb3ff8000000000000a173920304a16d8101a36f6e65"
        .replace(/ /g, ""),
    );
    assert.deepEqual(decodeWith(codec, bytes), value);
  });

  test("literal, picklist and enum", () => {
    enum Color {
      Red = "red",
      Blue = "blue",
    }
    const codec = compileSchema(v.object({
      l: v.literal("x"),
      n: v.literal(3),
      p: v.picklist([1, 2]),
      e: v.enum(Color),
      b: v.literal(true),
    }));
    const bytes = encodeWith(codec, { l: "x", n: 3, p: 2, e: Color.Blue, b: true });
    assert.equal(hex(bytes), "85a16ca178a16e03a17002a165a4626c7565a162c3");
    assert.deepEqual(decodeWith(codec, bytes), { l: "x", n: 3, p: 2, e: "blue", b: true });
    assert.throws(() => encodeWith(codec, { l: "y", n: 3, p: 2, e: Color.Blue, b: true } as never), {
      name: "WireEncodeError",
      path: "$.l",
    });
  });

  test("picklist options decode from canonical and non-canonical encodings", () => {
    const codec = compileSchema(v.picklist(["EUR", "USD"]));
    assert.equal(decodeWith(codec, unhex("a3555344")), "USD");
    assert.equal(decodeWith(codec, unhex("d903555344")), "USD", "str8 header for a short string");
    assert.throws(() => decodeWith(codec, unhex("a3474250")), { message: "Invalid enum value 'GBP'" });
    assert.throws(() => decodeWith(codec, unhex("a255")), { message: "Input data was truncated" });
    const many = compileSchema(v.picklist(Array.from({ length: 40 }, (_, i) => `v${i}`)));
    assert.equal(decodeWith(many, encodeAny("v39")), "v39");
  });

  test("bigint fields: int64/uint64 extremes round-trip, out of range fails", () => {
    const codec = compileSchema(v.object({ n: v.bigint() }));
    for (const n of [0n, -1n, 2n ** 64n - 1n, -(2n ** 63n), 2n ** 53n + 1n]) {
      assert.equal(decodeWith(codec, encodeWith(codec, { n })).n, n);
    }
    assert.throws(() => encodeWith(codec, { n: 2n ** 64n }), { name: "WireEncodeError", path: "$.n" });
    // An int field beyond the safe range cannot become a number: clear error.
    const small = compileSchema(v.object({ n: int() }));
    assert.throws(() => decodeWith(small, encodeWith(codec, { n: 2n ** 60n })), {
      name: "WireDecodeError",
      message: /^Expected `int` within the safe integer range .* - at `\$\.n`$/,
    });
  });

  test("dates encode as timestamps; RFC 3339 strings are accepted when decoding", () => {
    const codec = compileSchema(v.object({ d: v.date(), i: v.instance(Date) }));
    const d = new Date(Date.UTC(2020, 0, 1));
    assert.equal(hex(encodeWith(codec, { d, i: d })), "82a164d6ff5e0be100a169d6ff5e0be100");
    const fromStr = decodeWith(codec, encodeAny({ d: "2020-01-01T00:00:00Z", i: d }));
    assert.equal(fromStr.d.getTime(), d.getTime());
  });

  test("encode type errors name the path", () => {
    const codec = compileSchema(v.object({ a: v.object({ b: v.array(int()) }) }));
    assert.throws(() => encodeWith(codec, { a: { b: [1, 2.5] } }), {
      name: "WireEncodeError",
      message: "Expected `int`, got `float` - at `$.a.b[1]`",
    });
    assert.throws(() => encodeWith(codec, { a: { b: "x" } } as never), {
      message: "Expected `array`, got `str` - at `$.a.b`",
    });
    assert.throws(() => encodeWith(codec, { a: undefined } as never), {
      message: "Expected `object`, got `undefined` - at `$.a`",
    });
    const s = compileSchema(v.object({ s: v.string() }));
    assert.throws(() => encodeWith(s, {} as never), {
      message: "Expected `str`, got `undefined` - at `$.s`",
    });
  });
});

// Expected messages produced by msgspec 0.22, e.g.:
//   class S(msgspec.Struct): o: Optional[int] = None; ...
//   msgspec.msgpack.decode(msgspec.msgpack.encode({"o": "x"}), type=S)
//   -> ValidationError: Expected `int | null`, got `str` - at `$.o`
describe("compileSchema: strict decoding with msgspec's messages", () => {
  const Order = v.object({ order_id: v.string(), amount: int() });
  const Env = v.object({ payload: Order, x: v.optional(v.number(), 0) });

  test("missing required fields", () => {
    rejects(
      Env,
      { payload: { order_id: "a" } },
      "Object missing required field `amount` - at `$.payload`",
      "$.payload",
    );
    rejects(Env, {}, "Object missing required field `payload`", "$");
  });

  test("wrong scalar types", () => {
    rejects(
      Env,
      { payload: { order_id: "a", amount: "x" } },
      "Expected `int`, got `str` - at `$.payload.amount`",
    );
    rejects(
      Env,
      { payload: { order_id: "a", amount: 1.5 } },
      "Expected `int`, got `float` - at `$.payload.amount`",
    );
    rejects(
      Env,
      { payload: { order_id: "a", amount: true } },
      "Expected `int`, got `bool` - at `$.payload.amount`",
    );
    rejects(
      Env,
      { payload: { order_id: null, amount: 1 } },
      "Expected `str`, got `None` - at `$.payload.order_id`",
    );
    rejects(
      Env,
      { payload: { order_id: new Uint8Array([120]), amount: 1 } },
      "Expected `str`, got `bytes` - at `$.payload.order_id`",
    );
    rejects(Env, { payload: [1, 2] }, "Expected `object`, got `array` - at `$.payload`");
    rejects(Env, { payload: { order_id: "a", amount: 1 }, x: "3" }, "Expected `float`, got `str` - at `$.x`");
  });

  test("an int is accepted for a float field (but not the reverse)", () => {
    const out = decodeWith(compileSchema(Env), encodeAny({ payload: { order_id: "a", amount: 1 }, x: 3 }));
    assert.deepEqual(out, { payload: { order_id: "a", amount: 1 }, x: 3 });
  });

  test("non-object top level and non-str keys", () => {
    rejects(Env, 5, "Expected `object`, got `int`");
    rejects(Env, new Map([[1, 2]]), "Expected `str`, got `int` - at `key` in `$`");
    rejects(Env, new Map([[new Uint8Array([111]), 2]]), "Expected `str`, got `bytes` - at `key` in `$`");
  });

  const E2 = v.object({
    k: v.picklist(["a"]),
    l: v.picklist(["x", "y"]),
    b: v.instance(Uint8Array),
    d: v.date(),
    o: v.optional(v.nullable(int()), null),
    lst: v.optional(v.array(int()), []),
    dd: v.optional(v.record(v.string(), int()), {}),
  });
  const base = { k: "a", l: "x", b: new Uint8Array(0), d: new Date(0) };

  test("enums, bytes, datetimes, lists and dicts", () => {
    rejects(E2, { ...base, k: "z" }, "Invalid enum value 'z' - at `$.k`");
    rejects(E2, { ...base, l: "z" }, "Invalid enum value 'z' - at `$.l`");
    rejects(E2, { ...base, k: 1 }, "Expected `str`, got `int` - at `$.k`");
    rejects(E2, { ...base, b: "str" }, "Expected `bytes`, got `str` - at `$.b`");
    rejects(E2, { ...base, d: 5 }, "Expected `datetime`, got `int` - at `$.d`");
    rejects(E2, { ...base, lst: [1, "a"] }, "Expected `int`, got `str` - at `$.lst[1]`");
    rejects(E2, { ...base, dd: { a: "a" } }, "Expected `int`, got `str` - at `$.dd[...]`");
    rejects(E2, { ...base, dd: new Map([[1, 1]]) }, "Expected `str`, got `int` - at `key` in `$.dd`");
  });

  const S = v.object({
    o: v.optional(v.nullable(int()), null),
    u: v.optional(v.union([int(), v.string(), v.null()]), null),
    items: v.optional(v.array(v.object({ x: int() })), []),
    f: v.optional(v.number(), 0),
    lit: v.optional(v.picklist([1, 2]), 1),
    t: v.optional(v.array(int()), []),
    ob: v.optional(v.nullable(v.instance(Uint8Array)), null),
    od: v.optional(v.nullable(v.object({ x: int() })), null),
    bb: v.optional(v.boolean(), false),
  });

  test("optionals, unions, nested lists of structs", () => {
    rejects(S, { o: "x" }, "Expected `int | null`, got `str` - at `$.o`");
    rejects(S, { u: 1.5 }, "Expected `int | str | null`, got `float` - at `$.u`");
    rejects(S, { items: [{ x: 1 }, { x: "a" }] }, "Expected `int`, got `str` - at `$.items[1].x`");
    rejects(S, { items: [{ x: 1 }, {}] }, "Object missing required field `x` - at `$.items[1]`");
    rejects(S, { items: [{ x: 1 }, 5] }, "Expected `object`, got `int` - at `$.items[1]`");
    rejects(S, { f: true }, "Expected `float`, got `bool` - at `$.f`");
    rejects(S, { f: null }, "Expected `float`, got `None` - at `$.f`");
    rejects(S, { lit: 3 }, "Invalid enum value 3 - at `$.lit`");
    rejects(S, { lit: "a" }, "Expected `int`, got `str` - at `$.lit`");
    rejects(S, { t: [1, "a"] }, "Expected `int`, got `str` - at `$.t[1]`");
    rejects(S, { ob: "x" }, "Expected `bytes | null`, got `str` - at `$.ob`");
    rejects(S, { od: 5 }, "Expected `object | null`, got `int` - at `$.od`");
    rejects(S, { bb: 1 }, "Expected `bool`, got `int` - at `$.bb`");
  });

  test("tuples check their length", () => {
    const T = v.tuple([int(), v.string()]);
    rejects(T, [1], "Expected `array` of length 2, got 1");
    rejects(T, [1, "a", "b"], "Expected `array` of length 2, got 3");
  });

  test("ext where a str or array is expected", () => {
    assert.throws(() => decodeWith(compileSchema(v.string()), unhex("c7010561")), {
      message: "Expected `str`, got `ext`",
    });
    assert.throws(() => decodeWith(compileSchema(v.array(int())), unhex("c7010561")), {
      message: "Expected `array`, got `ext`",
    });
  });

  test("truncated input has no location (as msgspec)", () => {
    const codec = compileSchema(Order);
    assert.throws(() => decodeWith(codec, unhex("82a86f726465725f6964a36f2d")), {
      name: "WireDecodeError",
      message: "Input data was truncated",
      path: "$",
    });
    assert.throws(() => decodeWith(codec, unhex("82a86f726465725f6964a36f2d31a6616d6f756e74")), {
      message: "Input data was truncated",
    });
    assert.throws(() => decodeWith(codec, unhex("82a86f726465725f6964a36f2d31a6616d6f756e7405c0")), {
      message: "MessagePack data is malformed: trailing characters (byte 22)",
    });
  });

  test("unknown keys are ignored at every level, keys in any order", () => {
    const codec = compileSchema(Env);
    const out = decodeWith(
      codec,
      encodeAny({
        zz: [1, { a: 2 }],
        payload: { extra: new Map([[1, 2]]), amount: 3, order_id: "o" },
        x: 1.5,
      }),
    );
    assert.deepEqual(out, { payload: { order_id: "o", amount: 3 }, x: 1.5 });
  });

  test("defaults: valibot defaults, null for nullable, undefined for optional", () => {
    const codec = compileSchema(v.object({
      a: v.optional(v.string()),
      b: v.nullable(v.string()),
      c: v.optional(int(), 42),
      d: v.nullish(v.array(int()), () => [1]),
      e: v.optional(v.record(v.string(), int()), () => ({})),
    }));
    const out = decodeWith(codec, encodeAny({}));
    assert.deepEqual(out, { a: undefined, b: null, c: 42, d: [1], e: {} });
    assert.notEqual(decodeWith(codec, encodeAny({})).e, out.e, "function defaults give fresh objects");
  });

  test("valibot pipe checks run after structural decoding", () => {
    const codec = compileSchema(v.object({
      age: v.pipe(v.number(), v.integer(), v.minValue(0)),
      name: v.pipe(v.string(), v.trim(), v.minLength(1)),
    }));
    assert.deepEqual(decodeWith(codec, encodeAny({ age: 3, name: "  bob " })), { age: 3, name: "bob" });
    assert.throws(() => decodeWith(codec, encodeAny({ age: -1, name: "x" })), {
      name: "WireDecodeError",
      message: /^Invalid value: Expected >=0 but received -1 - at `\$\.age`$/,
    });
    assert.throws(() => decodeWith(codec, encodeAny({ age: 1, name: "   " })), {
      message: /- at `\$\.name`$/,
    });
    const checked = compileSchema(v.pipe(
      v.object({ a: int(), b: int() }),
      v.check((o) => o.a < o.b, "a must be less than b"),
    ));
    assert.throws(() => decodeWith(checked, encodeAny({ a: 2, b: 1 })), { message: "a must be less than b" });
  });

  test("fallback replaces an invalid value", () => {
    const codec = compileSchema(v.object({ n: v.fallback(int(), 0) }));
    assert.deepEqual(decodeWith(codec, encodeAny({ n: "x" })), { n: 0 });
  });
});

describe("compileSchema: unions, variants, dynamic parts", () => {
  test("a union encodes with the first matching option", () => {
    const codec = compileSchema(v.union([int(), v.string(), v.number()]));
    assert.equal(hex(encodeWith(codec, 5)), "05");
    assert.equal(hex(encodeWith(codec, "a")), "a161");
    assert.equal(hex(encodeWith(codec, 2.5)), "cb4004000000000000");
    assert.equal(decodeWith(codec, unhex("cb4004000000000000")), 2.5);
    assert.throws(() => encodeWith(codec, true as never), {
      message: "Expected `int | str | float`, got `bool`",
    });
  });

  test("a union of objects tries each option", () => {
    const A = v.object({ a: int() });
    const B = v.object({ b: v.string() });
    const codec = compileSchema(v.union([A, B]));
    assert.equal(hex(encodeWith(codec, { b: "x" })), "81a162a178");
    assert.deepEqual(decodeWith(codec, unhex("81a162a178")), { b: "x" });
    assert.throws(() => decodeWith(codec, encodeAny({ c: 1 })), {
      message: "Object missing required field `a`",
    });
  });

  test("variant dispatches on the discriminator", () => {
    const codec = compileSchema(v.variant("kind", [
      v.object({ kind: v.literal("a"), x: int() }),
      v.object({ kind: v.literal("b"), y: v.string() }),
    ]));
    assert.equal(hex(encodeWith(codec, { kind: "b", y: "z" })), "82a46b696e64a162a179a17a");
    assert.deepEqual(decodeWith(codec, encodeAny({ y: "z", kind: "b" })), { kind: "b", y: "z" });
    assert.throws(() => decodeWith(codec, encodeAny({ kind: "c" })), {
      message: "Invalid value 'c' - at `$.kind`",
    });
    assert.throws(() => decodeWith(codec, encodeAny({ x: 1 })), {
      message: "Object missing required field `kind`",
    });
  });

  test("any / unknown fields and the dynamic codec", () => {
    const codec = compileSchema(v.object({ a: v.any(), u: v.unknown() }));
    const value = {
      a: { k: [1, new Uint8Array([1]), 2.5, null] },
      u: new MsgpackExt(3, new Uint8Array([1])),
    };
    assert.deepEqual(decodeWith(codec, encodeWith(codec, value)), value);
    assert.equal(codecOf(null), dynamicCodec);
    assert.equal(codecOf(undefined), dynamicCodec);
    assert.equal(hex(encodeWith(dynamicCodec, { a: 5, b: 5.5 })), "82a16105a162cb4016000000000000");
  });

  test("recursive schemas via lazy", () => {
    interface Tree {
      v: number;
      kids: Tree[];
    }
    const TreeSchema: v.GenericSchema<Tree> = v.object({ v: int(), kids: v.array(v.lazy(() => TreeSchema)) });
    const codec = compileSchema(TreeSchema);
    const tree: Tree = { v: 1, kids: [{ v: 2, kids: [] }, { v: 3, kids: [{ v: 4, kids: [] }] }] };
    assert.deepEqual(decodeWith(codec, encodeWith(codec, tree)), tree);
  });

  test("recursive schemas count towards MAX_NESTING_DEPTH (a wire error, not a stack overflow)", () => {
    type L = { n: L | null };
    const LSchema: v.GenericSchema<L> = v.object({ n: v.nullable(v.lazy(() => LSchema)) });
    const codec = compileSchema(LSchema);
    let deep: L = { n: null };
    for (let i = 0; i < 6000; i++) deep = { n: deep };
    assert.throws(
      () => encodeWith(codec, deep),
      (e: unknown) => e instanceof Error && /512 levels/.test(e.message),
    );
    const bytes = new Uint8Array(6000 * 3 + 1).fill(0xc0);
    for (let i = 0; i < 6000; i++) bytes.set([0x81, 0xa1, 0x6e], i * 3); // {"n": {"n": ... nil}}
    assert.throws(
      () => decodeWith(codec, bytes),
      (e: unknown) => e instanceof Error && /512 levels/.test(e.message),
    );
    let ok: L = { n: null };
    for (let i = 0; i < 100; i++) ok = { n: ok };
    assert.deepEqual(decodeWith(codec, encodeWith(codec, ok)), ok);
  });

  test("a nested MessageType's schema simply nests; compile is cached", () => {
    const Inner = messageType("inner", v.object({ x: int() }));
    const Outer = messageType("outer", v.object({ inner: Inner.schema, n: v.nullable(Inner.schema) }));
    const codec = codecOf(Outer);
    assert.equal(codecOf(Outer), codec);
    assert.equal(compileSchema(Outer.schema), codec);
    assert.equal(hex(encodeWith(codec, { inner: { x: 1 }, n: null })), "82a5696e6e657281a17801a16ec0");
  });

  test("record keys restricted by a picklist; `__proto__` keys stay own properties", () => {
    const codec = compileSchema(v.record(v.picklist(["a", "b"]), int()));
    assert.deepEqual(decodeWith(codec, encodeAny({ b: 1 })), { b: 1 });
    assert.throws(() => decodeWith(codec, encodeAny({ c: 1 })), {
      message: "Invalid enum value 'c' - at `key` in `$`",
    });
    const any = compileSchema(v.record(v.string(), int()));
    const out = decodeWith(any, unhex("81a95f5f70726f746f5f5f01"));
    assert.equal(Object.getPrototypeOf(out), Object.prototype);
    assert.deepEqual(Object.keys(out), ["__proto__"]);
  });

  test("unsupported schemas fail at compile time with the path", () => {
    assert.throws(() => compileSchema(v.object({ a: v.object({ f: v.blob() }) })), {
      name: "TypeError",
      message: /`blob` schema at `\$\.a\.f`/,
    });
    assert.throws(() => compileSchema(v.object({ m: v.instance(Map) })), /only instance\(Uint8Array\)/);
    assert.throws(
      () => compileSchema(v.record(int() as unknown as v.GenericSchema<string>, int())),
      /record keys must be strings/,
    );
  });
});

describe("hand-built codecs", () => {
  test("structCodec renames properties and nullable fields default to null", () => {
    const meta = structCodec([
      { name: "trace_id", prop: "traceId", codec: compileSchema(v.nullable(v.string())) },
      { name: "produced_at_ms", prop: "producedAtMs", codec: compileSchema(int()) },
    ]);
    const bytes = encodeWith(meta, { traceId: "t", producedAtMs: 1000 });
    assert.equal(hex(bytes), "82a874726163655f6964a174ae70726f64756365645f61745f6d73cd03e8");
    assert.deepEqual(decodeWith(meta, bytes), { traceId: "t", producedAtMs: 1000 });
    assert.deepEqual(decodeWith(meta, encodeAny({ produced_at_ms: 1 })), { traceId: null, producedAtMs: 1 });
    assert.throws(() => decodeWith(meta, encodeAny({ trace_id: 1, produced_at_ms: 1 })), {
      message: "Expected `str | null`, got `int` - at `$.trace_id`",
    });
  });

  test("nullableCodec and defineCodec", () => {
    const upper = defineCodec<string>({
      expects: "str",
      encode: (w, s) => w.str(s.toLowerCase()),
      decode: (r) => r.readStr().toUpperCase(),
    });
    const maybe = nullableCodec(upper);
    assert.equal(maybe.expects, "str | null");
    assert.equal(hex(encodeWith(maybe, "AB")), "a26162");
    assert.equal(decodeWith(maybe, unhex("a26162")), "AB");
    assert.equal(decodeWith(maybe, unhex("c0")), null);
  });

  test("codecs write into a caller's Writer and read from a Reader", () => {
    const codec = compileSchema(v.object({ a: int() }));
    const w = new Writer();
    codec.encode(w, { a: 1 });
    codec.encode(w, { a: 2 });
    const r = new Reader(w.toBytes());
    assert.deepEqual([codec.decode(r), codec.decode(r)], [{ a: 1 }, { a: 2 }]);
    r.finish();
    assert.ok(new WireEncodeError("x") instanceof Error);
  });
});
