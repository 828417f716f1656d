/**
 * Leaf codecs (str, float, int, bigint, bool, bytes, date, null, dynamic), enum-like codecs (literal,
 * picklist, enum) and the optional / nullable / nullish wrappers; {@link defineCodec} for hand-written ones.
 *
 * @module
 */
import { type Reader, T_STR, WireDecodeError, WireEncodeError, wireTypeOfByte, Writer } from "./_msgpack.ts";
import {
  A_ALL,
  A_BIN,
  A_BOOL,
  A_EXT,
  A_FLOAT,
  A_INT,
  A_NIL,
  A_STR,
  encodeMismatch,
  type Node,
  outOfSafeRange,
  type PayloadCodec,
  pyRepr,
} from "./_schema_codec_node.ts";

export const required = null;

export const STR: Node = {
  expects: "str",
  accepts: A_STR,
  missing: required,
  matches: (x) => typeof x === "string",
  encode(w, x) {
    if (typeof x !== "string") throw encodeMismatch("str", x);
    w.str(x);
  },
  decode: (r) => r.readStr(),
};

export const FLOAT: Node = {
  expects: "float",
  accepts: A_FLOAT | A_INT,
  missing: required,
  matches: (x) => typeof x === "number",
  encode(w, x) {
    if (typeof x !== "number") throw encodeMismatch("float", x);
    w.float64(x);
  },
  decode: (r) => r.readFloat(),
};

export const INT: Node = {
  expects: "int",
  accepts: A_INT,
  missing: required,
  matches: (x) => typeof x === "number" && Number.isInteger(x),
  encode(w, x) {
    if (typeof x === "number" && Number.isInteger(x)) w.int(x);
    else if (typeof x === "bigint") w.bigint(x);
    else throw encodeMismatch("int", x);
  },
  decode(r) {
    const b = r.peekByte();
    if (b <= 0x7f) {
      r.pos++;
      return b;
    }
    const n = r.readInt();
    if (typeof n === "bigint") throw outOfSafeRange(n);
    return n;
  },
};

export const BIGINT: Node = {
  expects: "int",
  accepts: A_INT,
  missing: required,
  matches: (x) => typeof x === "bigint",
  encode(w, x) {
    if (typeof x === "bigint") w.bigint(x);
    else if (typeof x === "number" && Number.isInteger(x)) w.int(x);
    else throw encodeMismatch("int", x);
  },
  decode: (r) => r.readBigInt(),
};

export const BOOL: Node = {
  expects: "bool",
  accepts: A_BOOL,
  missing: required,
  matches: (x) => typeof x === "boolean",
  encode(w, x) {
    if (typeof x !== "boolean") throw encodeMismatch("bool", x);
    w.bool(x);
  },
  decode: (r) => r.readBool(),
};

export const BYTES: Node = {
  expects: "bytes",
  accepts: A_BIN,
  missing: required,
  matches: (x) => x instanceof Uint8Array,
  encode(w, x) {
    if (!(x instanceof Uint8Array)) throw encodeMismatch("bytes", x);
    w.bin(x);
  },
  decode: (r) => r.readBin(),
};

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})$/;

export const DATE: Node = {
  expects: "datetime",
  accepts: A_EXT | A_STR,
  missing: required,
  matches: (x) => x instanceof Date,
  encode(w, x) {
    if (!(x instanceof Date)) throw encodeMismatch("datetime", x);
    w.timestamp(x);
  },
  decode(r) {
    if (r.peekType() === T_STR) {
      const s = r.readStr();
      const d = new Date(s);
      if (!RFC3339.test(s) || Number.isNaN(d.getTime())) {
        throw new WireDecodeError("Invalid RFC3339 encoded datetime");
      }
      return d;
    }
    return r.readTimestamp();
  },
};

export const NULL: Node = {
  expects: "null",
  accepts: A_NIL,
  missing: () => null,
  matches: (x) => x === null || x === undefined,
  encode(w, x) {
    if (x !== null && x !== undefined) throw encodeMismatch("null", x);
    w.nil();
  },
  decode: (r) => r.readNil(),
};

export const UNDEFINED: Node = {
  expects: "null",
  accepts: A_NIL,
  missing: () => undefined,
  matches: (x) => x === null || x === undefined,
  encode(w, x) {
    if (x !== null && x !== undefined) throw encodeMismatch("null", x);
    w.nil();
  },
  decode(r) {
    r.readNil();
    return undefined;
  },
};

export const DYNAMIC: Node = {
  expects: "any",
  accepts: A_ALL,
  missing: required,
  matches: () => true,
  encode: (w, x) => w.any(x),
  decode: (r) => r.readAny(),
};

export const NEVER: Node = {
  expects: "never",
  accepts: 0,
  missing: required,
  matches: () => false,
  encode(_w, x) {
    throw encodeMismatch("never", x);
  },
  decode(r) {
    throw r.typeError("never");
  },
};

/**
 * The dynamic codec (no schema): `null`/`undefined` → nil, boolean → bool, safe-integer number → int (smallest
 * form), other number → float64, bigint → int, string → str, `Uint8Array` → bin, `Date` → timestamp, array →
 * array, `Map` or plain object → map in insertion order. Decoding gives plain JS values (bigint for integers beyond
 * the safe range).
 *
 * @example
 * ```ts
 * import { decodeWith, dynamicCodec, encodeWith } from "@loom/streaming/kafka";
 * decodeWith(dynamicCodec, encodeWith(dynamicCodec, { a: [1, 2.5, "x"] })); // { a: [1, 2.5, "x"] }
 * ```
 */
export const dynamicCodec: PayloadCodec<unknown> = DYNAMIC;

export function enumNode(values: readonly unknown[]): Node {
  const set = new Set<unknown>(values);
  let base: Node;
  if (values.length > 0 && values.every((x) => typeof x === "string")) base = STR;
  else if (values.length > 0 && values.every((x) => typeof x === "number" && Number.isInteger(x))) base = INT;
  else if (values.length > 0 && values.every((x) => typeof x === "number")) base = FLOAT;
  else if (values.length > 0 && values.every((x) => typeof x === "boolean")) base = BOOL;
  else if (values.length > 0 && values.every((x) => typeof x === "bigint")) base = BIGINT;
  else base = DYNAMIC;
  const expected = values.map(pyRepr).join(", ");
  // Pre-encoded options: decoding compares bytes and returns the option itself (no string built per message).
  const encoded: Uint8Array[] = values.map((x) => {
    const w = new Writer(64);
    if (base !== DYNAMIC) base.encode(w, x);
    else w.any(x);
    return w.toBytes();
  });
  const count = values.length <= 16 ? values.length : 0;
  return {
    expects: base.expects,
    accepts: base.accepts,
    missing: required,
    matches: (x) => set.has(x),
    encode(w, x) {
      if (!set.has(x)) {
        throw new WireEncodeError(`Invalid enum value ${pyRepr(x)} (expected one of: ${expected})`);
      }
      base.encode(w, x);
    },
    decode(r) {
      for (let i = 0; i < count; i++) if (r.matchRaw(encoded[i])) return values[i];
      const x = base.decode(r);
      if (!set.has(x)) throw new WireDecodeError(`Invalid enum value ${pyRepr(x)}`);
      return x;
    },
  };
}

export function withNil(inner: Node, nilValue: () => unknown, encodeDefault: (() => unknown) | null): Node {
  const expects = inner.accepts & A_NIL ? inner.expects : `${inner.expects} | null`;
  return {
    expects,
    accepts: inner.accepts | A_NIL,
    missing: nilValue,
    matches: (x) => x === null || x === undefined || inner.matches(x),
    encode(w, x) {
      if (x === undefined && encodeDefault !== null) x = encodeDefault();
      if (x === null || x === undefined) w.nil();
      else inner.encode(w, x);
    },
    decode(r) {
      if (r.peekByte() === 0xc0) {
        r.pos++;
        return nilValue();
      }
      const b = r.buf[r.pos];
      // Give msgspec's "Expected `int | null`, got `str`" instead of the inner type's own message.
      if (!(inner.accepts & (1 << wireTypeOfByte(b)))) throw r.typeError(expects);
      return inner.decode(r);
    },
  };
}

export function withDefault(inner: Node, def: () => unknown): Node {
  return {
    expects: inner.expects,
    accepts: inner.accepts,
    missing: def,
    matches: (x) => x === undefined || inner.matches(x),
    encode(w, x) {
      inner.encode(w, x === undefined ? def() : x);
    },
    decode: inner.decode,
  };
}

/**
 * Makes a codec nil-able: nil ↔ `null` (or `nilValue()`), and a missing object field also becomes `nilValue()`.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { compileSchema, nullableCodec } from "@loom/streaming/kafka";
 * const maybeInt = nullableCodec(compileSchema(v.pipe(v.number(), v.integer())));
 * maybeInt.expects; // "int | null"
 * ```
 */
export function nullableCodec<T>(codec: PayloadCodec<T>, nilValue?: () => T | null): PayloadCodec<T | null> {
  return withNil(asNode(codec), nilValue ?? (() => null), null) as PayloadCodec<T | null>;
}

/**
 * Wraps hand-written encode/decode functions as a codec usable inside {@link structCodec} and unions.
 * `accepts` lists the wire types (`T_*` of `_msgpack.ts`) the decoder understands (default: all but nil);
 * `missing` gives the value of a missing struct field (omit it for a required field).
 *
 * @example
 * ```ts
 * import { defineCodec, T_STR } from "@loom/streaming/kafka";
 * const upper = defineCodec<string>({
 *   expects: "str",
 *   accepts: [T_STR],
 *   encode: (w, s) => w.str(s.toLowerCase()),
 *   decode: (r) => r.readStr().toUpperCase(),
 * });
 * ```
 */
export function defineCodec<T>(spec: {
  expects: string;
  encode: (w: Writer, value: T) => void;
  decode: (r: Reader) => T;
  accepts?: readonly number[];
  missing?: () => T;
  matches?: (value: unknown) => boolean;
}): PayloadCodec<T> {
  let accepts = A_ALL & ~A_NIL;
  if (spec.accepts) {
    accepts = 0;
    for (const t of spec.accepts) accepts |= 1 << t;
  }
  const node: Node = {
    expects: spec.expects,
    accepts,
    missing: spec.missing ?? required,
    matches: spec.matches ?? (() => true),
    encode: spec.encode as (w: Writer, value: unknown) => void,
    decode: spec.decode,
  };
  return node as PayloadCodec<T>;
}

export function asNode(codec: PayloadCodec<unknown>): Node {
  const c = codec as Partial<Node>;
  if (typeof c.accepts === "number" && typeof c.matches === "function" && c.missing !== undefined) {
    return codec as Node;
  }
  return {
    expects: codec.expects,
    accepts: A_ALL & ~A_NIL,
    missing: required,
    matches: () => true,
    encode: codec.encode,
    decode: codec.decode,
  };
}
