import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  decodeAny,
  encodeAny,
  MAX_NESTING_DEPTH,
  MsgpackExt,
  Reader,
  T_ARRAY,
  T_BIN,
  T_BOOL,
  T_EXT,
  T_FLOAT,
  T_INT,
  T_MAP,
  T_NIL,
  T_STR,
  TOO_DEEP_REASON,
  WireDecodeError,
  WireEncodeError,
  Writer,
} from "./_msgpack.ts";
import { JS_ASCII_MAX_LEN } from "./_msgpack_reader.ts";

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

function written(build: (w: Writer) => void): Uint8Array {
  const w = new Writer(16);
  build(w);
  return w.toBytes();
}

function read<T>(bytes: Uint8Array, fn: (r: Reader) => T): T {
  const r = new Reader(bytes);
  const v = fn(r);
  r.finish();
  return v;
}

// Expected bytes produced by msgspec 0.22 (Python):
//   for v in [0, 127, 128, ...]: print(v, msgspec.msgpack.encode(v).hex())
const INT_VECTORS: [number | bigint, string][] = [
  [0, "00"],
  [127, "7f"],
  [128, "cc80"],
  [255, "ccff"],
  [256, "cd0100"],
  [65535, "cdffff"],
  [65536, "ce00010000"],
  [2 ** 32 - 1, "ceffffffff"],
  [2 ** 32, "cf0000000100000000"],
  [2 ** 53 - 1, "cf001fffffffffffff"],
  [2n ** 53n, "cf0020000000000000"],
  [-1, "ff"],
  [-32, "e0"],
  [-33, "d0df"],
  [-128, "d080"],
  [-129, "d1ff7f"],
  [-32768, "d18000"],
  [-32769, "d2ffff7fff"],
  [-(2 ** 31), "d280000000"],
  [-(2 ** 31) - 1, "d3ffffffff7fffffff"],
  [-(2 ** 53 - 1), "d3ffe0000000000001"],
  [-(2n ** 53n), "d3ffe0000000000000"],
  [-(2n ** 63n), "d38000000000000000"],
  [2n ** 63n - 1n, "cf7fffffffffffffff"],
  [2n ** 63n, "cf8000000000000000"],
  [2n ** 64n - 1n, "cfffffffffffffffff"],
];

describe("Writer/Reader: integers", () => {
  for (const [value, expected] of INT_VECTORS) {
    test(`${value} <-> ${expected}`, () => {
      const bytes = written((w) => typeof value === "bigint" ? w.bigint(value) : w.int(value));
      assert.equal(hex(bytes), expected);
      // A bigint within the safe range encodes identically.
      if (typeof value === "number") assert.equal(hex(written((w) => w.bigint(BigInt(value)))), expected);
      const decoded = read(bytes, (r) => r.readInt());
      if (
        typeof value === "bigint" &&
        (value > BigInt(Number.MAX_SAFE_INTEGER) || value < -BigInt(Number.MAX_SAFE_INTEGER))
      ) {
        assert.equal(typeof decoded, "bigint");
        assert.equal(decoded, value);
      } else {
        assert.equal(typeof decoded, "number");
        assert.equal(decoded, Number(value));
      }
      assert.equal(read(bytes, (r) => r.readBigInt()), BigInt(value));
      assert.equal(new Reader(bytes).peekType(), T_INT);
    });
  }

  test("an integral number beyond 2^53 is written exactly and decodes as bigint", () => {
    const bytes = written((w) => w.int(2 ** 53));
    assert.equal(hex(bytes), "cf0020000000000000");
    assert.equal(read(bytes, (r) => r.readInt()), 2n ** 53n);
    assert.equal(hex(written((w) => w.int(-(2 ** 63)))), "d38000000000000000");
    assert.equal(hex(written((w) => w.int(2 ** 63))), "cf8000000000000000");
  });

  test("a bigint beyond 2^53 round-trips exactly", () => {
    for (const n of [2n ** 53n + 1n, 12345678901234567891n, -(2n ** 62n) - 7n]) {
      const bytes = written((w) => w.bigint(n));
      assert.equal(read(bytes, (r) => r.readInt()), n);
      assert.equal(decodeAny(bytes), n);
    }
  });

  test("out-of-range and non-integral values are rejected", () => {
    assert.throws(() => written((w) => w.bigint(2n ** 64n)), WireEncodeError);
    assert.throws(() => written((w) => w.bigint(-(2n ** 63n) - 1n)), WireEncodeError);
    assert.throws(() => written((w) => w.int(2 ** 64)), WireEncodeError);
    assert.throws(() => written((w) => w.int(-(2 ** 64))), WireEncodeError);
    assert.throws(() => written((w) => w.int(5.5)), /Expected `int`, got `float`/);
    assert.throws(() => written((w) => w.int(NaN)), WireEncodeError);
  });

  test("readInt refuses a float", () => {
    assert.throws(() => read(unhex("cb4014000000000000"), (r) => r.readInt()), {
      name: "WireDecodeError",
      message: "Expected `int`, got `float`",
    });
  });
});

describe("Writer/Reader: floats, bools, nil", () => {
  test("float64 always (msgspec writes Python floats as float64)", () => {
    assert.equal(hex(written((w) => w.float64(5))), "cb4014000000000000");
    assert.equal(hex(written((w) => w.float64(0.25))), "cb3fd0000000000000");
    // msgspec: {"a": nan, "b": inf, "c": -0.0}
    assert.equal(hex(written((w) => w.float64(NaN))), "cb7ff8000000000000");
    assert.equal(hex(written((w) => w.float64(Infinity))), "cb7ff0000000000000");
    assert.equal(hex(written((w) => w.float64(-0))), "cb8000000000000000");
    assert.equal(read(unhex("cb4014000000000000"), (r) => r.readFloat()), 5);
    assert.equal(read(unhex("ca40000000"), (r) => r.readFloat()), 2);
    assert.equal(read(unhex("05"), (r) => r.readFloat()), 5, "an int is accepted where a float is expected");
    assert.equal(new Reader(unhex("cb4014000000000000")).peekType(), T_FLOAT);
  });

  test("bool and nil", () => {
    assert.equal(hex(written((w) => w.bool(true))), "c3");
    assert.equal(hex(written((w) => w.bool(false))), "c2");
    assert.equal(hex(written((w) => w.nil())), "c0");
    assert.equal(read(unhex("c3"), (r) => r.readBool()), true);
    assert.equal(read(unhex("c2"), (r) => r.readBool()), false);
    assert.equal(read(unhex("c0"), (r) => r.readNil()), null);
    assert.equal(new Reader(unhex("c0")).peekType(), T_NIL);
    assert.equal(new Reader(unhex("c2")).peekType(), T_BOOL);
    assert.throws(() => read(unhex("c0"), (r) => r.readBool()), { message: "Expected `bool`, got `None`" });
  });
});

describe("Writer/Reader: strings", () => {
  // msgspec.msgpack.encode("a" * n).hex()[:12]
  const cases: [number, string][] = [
    [0, "a0"],
    [31, "bf"],
    [32, "d920"],
    [63, "d93f"],
    [64, "d940"],
    [255, "d9ff"],
    [256, "da0100"],
    [65535, "daffff"],
    [65536, "db00010000"],
  ];
  for (const [n, header] of cases) {
    test(`ASCII length ${n} uses header ${header}`, () => {
      const s = "a".repeat(n);
      const bytes = written((w) => w.str(s));
      assert.equal(hex(bytes.subarray(0, header.length / 2)), header);
      assert.equal(bytes.length, header.length / 2 + n);
      assert.equal(read(bytes, (r) => r.readStr()), s);
      assert.equal(new Reader(bytes).peekType(), T_STR);
    });
  }

  test("non-ASCII strings use the UTF-8 byte length for the header", () => {
    // msgspec: "é" -> a2c3a9; "é"*20 -> d928c3a9...; "é"*100 -> d9c8...; "€"*30000 -> db00015f90...
    assert.equal(hex(written((w) => w.str("é"))), "a2c3a9");
    const cases: [string, string][] = [
      ["é".repeat(20), "d928"],
      ["é".repeat(100), "d9c8"],
      ["€".repeat(30000), "db00015f90"],
      ["x".repeat(40) + "é", "d92a"],
      ["é".repeat(15), "be"],
      ["😀", "a4"],
    ];
    for (const [s, header] of cases) {
      const bytes = written((w) => w.str(s));
      assert.equal(hex(bytes.subarray(0, header.length / 2)), header, `header of ${s.slice(0, 8)}…`);
      assert.equal(read(bytes, (r) => r.readStr()), s);
    }
    const mixed = "héllo wörld ✓ 😀";
    assert.equal(
      hex(written((w) => w.str(mixed))),
      "b668c3a96c6c6f2077c3b6726c6420e29c9320f09f9880",
    );
  });

  test("a leading BOM is kept, invalid UTF-8 is an error", () => {
    const bom = "\ufeffx".repeat(20);
    assert.equal(read(written((w) => w.str(bom)), (r) => r.readStr()), bom);
    assert.throws(() => read(unhex("a3ffffff"), (r) => r.readStr()), {
      name: "WireDecodeError",
      message: /^MessagePack data is malformed: invalid UTF-8/,
    });
    const long = new Uint8Array(42);
    long[0] = 0xd9;
    long[1] = 40;
    long.fill(0x61, 2);
    long[30] = 0xc3; // truncated 2-byte sequence followed by ASCII
    assert.throws(() => read(long, (r) => r.readStr()), /invalid UTF-8/);
    // A real U+FFFD survives the strict re-check.
    const fffd = "\ufffd".repeat(12);
    assert.equal(read(written((w) => w.str(fffd)), (r) => r.readStr()), fffd);
  });

  test("strings of every length up to 80 decode on both sides of the JS/TextDecoder cutoff", () => {
    // JS_ASCII_MAX_LEN differs per runtime (16 on Bun, 48 elsewhere): each length is checked as pure
    // ASCII, with a non-ASCII character last, and with a broken UTF-8 byte last.
    for (let n = 0; n <= 80; n++) {
      const ascii = "abcdefghij0123456789".repeat(4).slice(0, n);
      assert.equal(read(written((w) => w.str(ascii)), (r) => r.readStr()), ascii, `ASCII of ${n}`);
      if (n === 0) continue;
      const accented = ascii.slice(0, n - 1) + "é";
      assert.equal(read(written((w) => w.str(accented)), (r) => r.readStr()), accented, `é at ${n - 1}`);
      const broken = written((w) => w.str(ascii));
      broken[broken.length - 1] = 0xff;
      assert.throws(() => read(broken, (r) => r.readStr()), /invalid UTF-8/, `0xff at byte ${n - 1}`);
    }
    assert.ok(JS_ASCII_MAX_LEN >= 8 && JS_ASCII_MAX_LEN < 80);
  });

  test("readStr refuses bin and ext with msgspec's words", () => {
    assert.throws(() => read(unhex("c40161"), (r) => r.readStr()), {
      message: "Expected `str`, got `bytes`",
    });
    assert.throws(() => read(unhex("d6ff5e0be100"), (r) => r.readStr()), {
      message: "Expected `str`, got `ext`",
    });
  });
});

describe("Writer/Reader: bin, containers, ext", () => {
  test("bin sizes", () => {
    // msgspec.msgpack.encode(b"\x07" * n)
    const cases: [number, string][] = [[0, "c400"], [255, "c4ff"], [256, "c50100"], [65536, "c600010000"]];
    for (const [n, header] of cases) {
      const data = new Uint8Array(n).fill(7);
      const bytes = written((w) => w.bin(data));
      assert.equal(hex(bytes.subarray(0, header.length / 2)), header);
      const back = read(bytes, (r) => r.readBin());
      assert.deepEqual(back, data);
      assert.equal(new Reader(bytes).peekType(), T_BIN);
    }
    // The decoded bytes are a copy, not a view of the input.
    const input = unhex("c4020102");
    const out = read(input, (r) => r.readBin());
    input[2] = 9;
    assert.deepEqual(out, new Uint8Array([1, 2]));
  });

  test("array and map headers", () => {
    assert.equal(hex(written((w) => w.arrayHeader(15))), "9f");
    assert.equal(hex(written((w) => w.arrayHeader(16))), "dc0010");
    assert.equal(hex(written((w) => w.arrayHeader(65536))), "dd00010000");
    assert.equal(hex(written((w) => w.mapHeader(15))), "8f");
    assert.equal(hex(written((w) => w.mapHeader(16))), "de0010");
    assert.equal(hex(written((w) => w.mapHeader(65536))), "df00010000");
    assert.equal(read(unhex("dc000101"), (r) => [r.readArrayHeader(), r.readInt()]).join(), "1,1");
    assert.equal(read(unhex("de000001"), (r) => [r.readMapHeader(), r.readInt()]).join(), "0,1");
    assert.equal(new Reader(unhex("90")).peekType(), T_ARRAY);
  });

  test("timestamps in msgspec's smallest form", () => {
    // msgspec.msgpack.encode(datetime(..., tzinfo=timezone.utc)).hex()
    const cases: [number, string][] = [
      [0, "d6ff00000000"],
      [1577836800000, "d6ff5e0be100"],
      [1577836800123, "d7ff1d5353005e0be100"],
      [-315619199995, "c70cff004c4b40ffffffffed300880"],
      [-1, "c70cff3b8b87c0ffffffffffffffff"],
      [4294967296000, "d7ff0000000100000000"],
      [19880899200000, "c70cff0000000000000004a0fe7280"],
    ];
    for (const [ms, expected] of cases) {
      const bytes = written((w) => w.timestamp(new Date(ms)));
      assert.equal(hex(bytes), expected, `timestamp ${ms}`);
      assert.equal(read(bytes, (r) => r.readTimestamp()).getTime(), ms);
      assert.equal((read(bytes, (r) => r.readAny()) as Date).getTime(), ms);
      assert.equal(new Reader(bytes).peekType(), T_EXT);
    }
    assert.throws(() => written((w) => w.timestamp(new Date(NaN))), WireEncodeError);
    assert.throws(() => read(unhex("d7ffffffffff5e0be100"), (r) => r.readTimestamp()), {
      message: "Invalid MessagePack timestamp: nanoseconds out of range",
    });
    assert.throws(() => read(unhex("05"), (r) => r.readTimestamp()), {
      message: "Expected `datetime`, got `int`",
    });
    assert.throws(() => read(unhex("d40501"), (r) => r.readTimestamp()), {
      message: "Expected `datetime`, got `ext`",
    });
  });

  test("other extension types", () => {
    const bytes = written((w) => w.ext(5, new Uint8Array([1, 2, 3])));
    assert.equal(hex(bytes), "c70305010203");
    const ext = read(bytes, (r) => r.readExt());
    assert.ok(ext instanceof MsgpackExt);
    assert.equal(ext.type, 5);
    assert.deepEqual(ext.data, new Uint8Array([1, 2, 3]));
    assert.equal(hex(written((w) => w.ext(-2, new Uint8Array([9])))), "d4fe09");
    assert.equal(hex(encodeAny(new MsgpackExt(1, new Uint8Array(8)))), "d7010000000000000000");
  });
});

describe("Writer.any / Reader.readAny (dynamic)", () => {
  test("maps keep insertion order, ints are smallest, floats float64", () => {
    const value = { b: 1, a: [true, null, 2.5, "x"], c: new Uint8Array([1]), d: -200, e: 2n ** 60n };
    const bytes = encodeAny(value);
    assert.equal(
      hex(bytes),
      "85a16201a16194c3c0cb4004000000000000a178a163c40101a164d1ff38a165cf1000000000000000",
    );
    assert.deepEqual(decodeAny(bytes), value);
  });

  test("undefined is nil, Map keys of any type, non-str keys decode as a Map", () => {
    assert.equal(hex(encodeAny({ a: undefined })), "81a161c0");
    const m = new Map<unknown, unknown>([[1, "one"], ["two", 2]]);
    const bytes = encodeAny(m);
    assert.equal(hex(bytes), "8201a36f6e65a374776f02");
    assert.deepEqual(decodeAny(bytes), m);
  });

  test("unsupported values are rejected with a path", () => {
    assert.throws(() => encodeAny({ a: [1, () => 1] }), { name: "WireEncodeError", path: "$.a[1]" });
    assert.throws(() => encodeAny({ s: Symbol("x") }), WireEncodeError);
    assert.throws(() => encodeAny(new (class Foo {})()), /Cannot encode a `Foo` instance/);
  });

  test("a `__proto__` key is an own property, not the prototype", () => {
    const bytes = unhex("81a95f5f70726f746f5f5f81a17801");
    const v = decodeAny(bytes) as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(v), Object.prototype);
    assert.deepEqual(Object.keys(v), ["__proto__"]);
  });

  test("the map-key cache never confuses keys (collisions, non-ASCII, lengths)", () => {
    const keys: string[] = [];
    for (let i = 0; i < 20000; i++) keys.push(`k${i.toString(36)}`);
    keys.push("é", "éé", "x".repeat(16), "x".repeat(17), "", "a");
    const obj: Record<string, number> = {};
    keys.forEach((k, i) => (obj[k] = i));
    const bytes = encodeAny(obj);
    for (let round = 0; round < 2; round++) assert.deepEqual(decodeAny(bytes), obj);
    const r = new Reader(encodeAny(["k1", "k2", "k1"]));
    r.readArrayHeader();
    assert.deepEqual([r.readKey(), r.readKey(), r.readKey()], ["k1", "k2", "k1"]);
    assert.throws(() => new Reader(unhex("a2ffff")).readKey(), /invalid UTF-8/);
    assert.throws(() => new Reader(unhex("a561")).readKey(), { message: "Input data was truncated" });
  });

  test("duplicate keys: the last one wins (as msgspec)", () => {
    assert.deepEqual(decodeAny(unhex("82a16101a16102")), { a: 2 });
  });
});

describe("Reader: malformed and truncated input", () => {
  test("invalid opcode", () => {
    assert.throws(() => decodeAny(unhex("c1")), {
      name: "WireDecodeError",
      message: "MessagePack data is malformed: invalid opcode '\\xc1' (byte 0)",
    });
  });

  test("trailing bytes", () => {
    assert.throws(() => decodeAny(unhex("c0c0")), {
      message: "MessagePack data is malformed: trailing characters (byte 1)",
    });
    // The ASCII of "not-msgpack" starts with a positive fixint (0x6e).
    assert.throws(() => decodeAny(new TextEncoder().encode("not-msgpack")), /trailing characters \(byte 1\)/);
  });

  test("empty input and huge announced lengths are truncation, not RangeError", () => {
    for (
      const h of [
        "",
        "a3e282",
        "81a1",
        "9301",
        "c40301",
        "dbffffffff",
        "dfffffffff",
        "ddffffffff",
        "c9ffffffff05",
      ]
    ) {
      assert.throws(() => decodeAny(unhex(h)), {
        name: "WireDecodeError",
        message: "Input data was truncated",
      }, h);
    }
  });

  test("every prefix of a complex value is a clean WireDecodeError", () => {
    const bytes = encodeAny({
      a: [1, -1, 300, -300, 70000, 2 ** 40, -(2 ** 40), 2.5, "x".repeat(40), "é".repeat(200)],
      b: { c: new Uint8Array(300), d: new Date(1577836800123), e: null, f: true },
      g: new MsgpackExt(3, new Uint8Array(20)),
    });
    for (let n = 0; n < bytes.length; n++) {
      const prefix = bytes.subarray(0, n);
      assert.throws(() => decodeAny(prefix), WireDecodeError, `prefix ${n}`);
      const r = new Reader(prefix);
      assert.throws(() => r.skip(), WireDecodeError, `skip prefix ${n}`);
    }
  });

  test("random garbage never escapes as anything but WireDecodeError", () => {
    let seed = 12345;
    const next = () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 16;
    for (let i = 0; i < 3000; i++) {
      const len = next() % 24;
      const bytes = new Uint8Array(len);
      for (let j = 0; j < len; j++) bytes[j] = next() & 0xff;
      try {
        decodeAny(bytes);
      } catch (e) {
        assert.ok(e instanceof WireDecodeError, `${hex(bytes)}: ${e}`);
      }
    }
  });

  test("skip walks nested values", () => {
    const bytes = encodeAny([{ a: [1, 2, { b: "x" }] }, new Date(0), 3.5, new Uint8Array(3), "tail"]);
    const r = new Reader(bytes);
    assert.equal(r.readArrayHeader(), 5);
    for (let i = 0; i < 4; i++) r.skip();
    assert.equal(r.readStr(), "tail");
    r.finish();
    assert.equal(new Reader(unhex("80")).peekType(), T_MAP);
  });

  test("finish() hands out views that later messages never overwrite, across buffer growth", () => {
    const w = new Writer(32);
    const out: Uint8Array[] = [];
    for (let i = 0; i < 200; i++) {
      w.str("m".repeat(i % 40));
      w.int(i);
      if (i % 7 === 0) {
        w.reset(); // a discarded message leaves no trace
        w.str("m".repeat(i % 40));
        w.int(i);
      }
      out.push(w.finish());
    }
    out.forEach((bytes, i) => {
      const r = new Reader(bytes);
      assert.equal(r.readStr(), "m".repeat(i % 40));
      assert.equal(r.readInt(), i);
      r.finish();
    });
  });

  test("a Writer is reusable after reset and grows as needed", () => {
    const w = new Writer(16);
    w.str("x".repeat(1000));
    assert.equal(w.pos, 1003);
    w.reset();
    w.nil();
    assert.equal(hex(w.toBytes()), "c0");
    assert.equal(w.written().length, 1);
  });
});

describe("nesting depth limit (MAX_NESTING_DEPTH)", () => {
  /** `levels` nested fixarrays (or fixmaps {"a": ...}) around a nil. */
  const nested = (levels: number, map = false): Uint8Array => {
    const unit = map ? [0x81, 0xa1, 0x61] : [0x91];
    const out = new Uint8Array(levels * unit.length + 1);
    for (let i = 0; i < levels; i++) out.set(unit, i * unit.length);
    out[out.length - 1] = 0xc0;
    return out;
  };
  const deepValue = (levels: number): unknown => {
    let v: unknown = null;
    for (let i = 0; i < levels; i++) v = [v];
    return v;
  };

  test("the limit is 512 levels, for arrays and maps, and deeper input is a WireDecodeError naming it", () => {
    assert.equal(MAX_NESTING_DEPTH, 512);
    for (const map of [false, true]) {
      assert.doesNotThrow(() => decodeAny(nested(MAX_NESTING_DEPTH, map)));
      for (const levels of [MAX_NESTING_DEPTH + 1, 6000, 100_000]) {
        assert.throws(() => decodeAny(nested(levels, map)), (e: unknown) => {
          assert.ok(e instanceof WireDecodeError, String(e));
          assert.equal(e.reason, TOO_DEEP_REASON);
          assert.match(e.message, /512 levels/);
          return true;
        });
      }
    }
  });

  test("a reader is reusable after a too-deep value (the counter is reset)", () => {
    const r = new Reader(nested(600));
    assert.throws(() => r.readAny(), WireDecodeError);
    r.reset(nested(MAX_NESTING_DEPTH));
    assert.doesNotThrow(() => r.readAny());
  });

  test("the writer refuses values nested deeper than the limit, and stays usable", () => {
    const w = new Writer();
    w.any(deepValue(MAX_NESTING_DEPTH));
    w.reset();
    assert.throws(() => w.any(deepValue(MAX_NESTING_DEPTH + 1)), (e: unknown) => {
      assert.ok(e instanceof WireEncodeError);
      assert.equal(e.reason, TOO_DEEP_REASON);
      return true;
    });
    assert.throws(() => encodeAny(deepValue(6000)), WireEncodeError);
    w.reset();
    w.any(deepValue(MAX_NESTING_DEPTH));
    assert.deepEqual(decodeAny(w.toBytes()), deepValue(MAX_NESTING_DEPTH));
  });
});
