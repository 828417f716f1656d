/**
 * Schema-driven msgpack codecs: a valibot schema is compiled ONCE into an encoder that writes exactly what msgspec
 * writes for the equivalent Python struct (map keys in declaration order, explicit nils, floats as float64, ints
 * in the smallest form) and a strict decoder that follows msgspec's typed-decode rules and error messages.
 *
 * Mapping (valibot → wire):
 * - `object` / `looseObject` / `strictObject` → map with the declared keys, in declaration order, all written;
 *   unknown keys are ignored when decoding.
 * - `number` → float64; `pipe(number(), integer())` or `safeInteger()` → int; `bigint` → int (int64/uint64).
 * - `string`, `picklist`, `enum`, `literal` → str / int / float / bool; `boolean` → bool.
 * - `instance(Uint8Array)` → bin; `date` / `instance(Date)` → timestamp (ext -1).
 * - `array`, `tuple`, `set` → array; `record(string(), X)` → map; `map` → map (decoded as a JS `Map`).
 * - `optional` / `nullable` / `nullish` → the inner type or nil.
 * - `union` / `variant` → the first matching option; `any` / `unknown` → dynamic encoding.
 *
 * @module
 */
import * as v from "valibot";
import {
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
  WIRE_TYPE_NAMES,
  WireDecodeError,
  WireEncodeError,
  WireError,
  wireTypeOfByte,
  Writer,
} from "./_msgpack.ts";
import type { AnySchema, MessageType, SchemaOutput } from "./_type.ts";
import { isMessageType } from "./_type.ts";

export { WireDecodeError, WireEncodeError, WireError };

// ---------------------------------------------------------------------------------------------------------------
// Public types
// ---------------------------------------------------------------------------------------------------------------

/**
 * A compiled codec. `encode` writes one value to a {@link Writer} (throwing {@link WireEncodeError} with a path
 * when the value does not match the schema); `decode` reads one value from a {@link Reader} (throwing
 * {@link WireDecodeError} with a msgspec-style message).
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { compileSchema } from "./_schema_codec.ts";
 * import { Reader, Writer } from "./_msgpack.ts";
 * const codec = compileSchema(v.object({ amount: v.pipe(v.number(), v.integer()) }));
 * const w = new Writer();
 * codec.encode(w, { amount: 5 });
 * codec.decode(new Reader(w.toBytes())); // { amount: 5 }
 * ```
 */
export interface PayloadCodec<T = unknown> {
  /** msgspec-style name of the expected type, used in errors (`int`, `str | null`, `object`, ...). */
  readonly expects: string;
  /** Writes one value (method syntax on purpose: a `PayloadCodec<T>` is usable as a `PayloadCodec<unknown>`). */
  encode(w: Writer, value: T): void;
  /** Reads one value. */
  decode(r: Reader): T;
}

/** Internal codec node: a {@link PayloadCodec} plus what unions and objects need. */
interface Node extends PayloadCodec<unknown> {
  /** Bit mask of the wire types (`1 << T_*`) this node can decode. */
  readonly accepts: number;
  /** Whether a JS value can be encoded by this node (used to pick a union option). */
  readonly matches: (value: unknown) => boolean;
  /** Value of a missing object field, or `null` when the field is required. */
  readonly missing: (() => unknown) | null;
}

const A_NIL = 1 << T_NIL;
const A_BOOL = 1 << T_BOOL;
const A_INT = 1 << T_INT;
const A_FLOAT = 1 << T_FLOAT;
const A_STR = 1 << T_STR;
const A_BIN = 1 << T_BIN;
const A_ARRAY = 1 << T_ARRAY;
const A_MAP = 1 << T_MAP;
const A_EXT = 1 << T_EXT;
const A_ALL = A_NIL | A_BOOL | A_INT | A_FLOAT | A_STR | A_BIN | A_ARRAY | A_MAP | A_EXT;

// ---------------------------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------------------------

/** Word used for a JS value in encode errors (msgspec's words where they exist). */
function jsTypeName(value: unknown): string {
  switch (typeof value) {
    case "string":
      return "str";
    case "number":
      return Number.isInteger(value) ? "int" : "float";
    case "bigint":
      return "int";
    case "boolean":
      return "bool";
    case "undefined":
      return "undefined";
    case "object":
      if (value === null) return "null";
      if (Array.isArray(value)) return "array";
      if (value instanceof Uint8Array) return "bytes";
      if (value instanceof Date) return "datetime";
      if (value instanceof Map) return "Map";
      return "object";
    default:
      return typeof value;
  }
}

function encodeMismatch(expects: string, value: unknown): WireEncodeError {
  return new WireEncodeError(`Expected \`${expects}\`, got \`${jsTypeName(value)}\``);
}

/** Python `repr` of a scalar, as msgspec prints it in `Invalid enum value ...`. */
function pyRepr(value: unknown): string {
  if (typeof value === "string") {
    const quote = value.includes("'") && !value.includes('"') ? '"' : "'";
    let out = "";
    for (const ch of value) {
      if (ch === "\\") out += "\\\\";
      else if (ch === quote) out += "\\" + quote;
      else if (ch === "\n") out += "\\n";
      else if (ch === "\r") out += "\\r";
      else if (ch === "\t") out += "\\t";
      else out += ch;
    }
    return quote + out + quote;
  }
  if (value === true) return "True";
  if (value === false) return "False";
  if (value === null || value === undefined) return "None";
  return String(value);
}

function isPlainObjectLike(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !(value instanceof Uint8Array) &&
    !(value instanceof Date) && !(value instanceof Map);
}

function withSegment(e: unknown, segment: string): unknown {
  if (e instanceof WireError) e.prependPath(segment);
  return e;
}

function outOfSafeRange(n: bigint): WireDecodeError {
  return new WireDecodeError(
    `Expected \`int\` within the safe integer range (±(2^53-1)), got ${n}; declare the field with v.bigint() ` +
      "to receive 64-bit integers",
  );
}

// ---------------------------------------------------------------------------------------------------------------
// Leaf nodes
// ---------------------------------------------------------------------------------------------------------------

const required = null;

const STR: Node = {
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

const FLOAT: Node = {
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

const INT: Node = {
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

const BIGINT: Node = {
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

const BOOL: Node = {
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

const BYTES: Node = {
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

const DATE: Node = {
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

const NULL: Node = {
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

const UNDEFINED: Node = {
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

const DYNAMIC: Node = {
  expects: "any",
  accepts: A_ALL,
  missing: required,
  matches: () => true,
  encode: (w, x) => w.any(x),
  decode: (r) => r.readAny(),
};

const NEVER: Node = {
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
 * import { dynamicCodec, encodeWith, decodeWith } from "./_schema_codec.ts";
 * decodeWith(dynamicCodec, encodeWith(dynamicCodec, { a: [1, 2.5, "x"] })); // { a: [1, 2.5, "x"] }
 * ```
 */
export const dynamicCodec: PayloadCodec<unknown> = DYNAMIC;

// ---------------------------------------------------------------------------------------------------------------
// Enum-like nodes (literal, picklist, enum)
// ---------------------------------------------------------------------------------------------------------------

function enumNode(values: readonly unknown[]): Node {
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

// ---------------------------------------------------------------------------------------------------------------
// Wrappers: optional / nullable / nullish
// ---------------------------------------------------------------------------------------------------------------

function withNil(inner: Node, nilValue: () => unknown, encodeDefault: (() => unknown) | null): Node {
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

function withDefault(inner: Node, def: () => unknown): Node {
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
 * import { compileSchema, nullableCodec } from "./_schema_codec.ts";
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
 * import { defineCodec } from "./_schema_codec.ts";
 * import { T_STR } from "./_msgpack.ts";
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

function asNode(codec: PayloadCodec<unknown>): Node {
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

// ---------------------------------------------------------------------------------------------------------------
// Containers
// ---------------------------------------------------------------------------------------------------------------

function arrayNode(item: Node, asSet: boolean): Node {
  return {
    expects: "array",
    accepts: A_ARRAY,
    missing: required,
    matches: asSet ? (x) => x instanceof Set : (x) => Array.isArray(x),
    encode(w, x) {
      let arr: readonly unknown[];
      if (asSet) {
        if (!(x instanceof Set)) throw encodeMismatch("set", x);
        arr = [...x];
      } else {
        if (!Array.isArray(x)) throw encodeMismatch("array", x);
        arr = x;
      }
      const n = arr.length;
      w.arrayHeader(n);
      let i = 0;
      try {
        for (; i < n; i++) item.encode(w, arr[i]);
      } catch (e) {
        throw withSegment(e, `[${i}]`);
      }
    },
    decode(r) {
      const n = r.readArrayHeader();
      if (n > r.end - r.pos) throw r.truncated();
      const out = new Array(n);
      let i = 0;
      try {
        for (; i < n; i++) out[i] = item.decode(r);
      } catch (e) {
        throw withSegment(e, `[${i}]`);
      }
      return asSet ? new Set(out) : out;
    },
  };
}

function tupleNode(items: readonly Node[], rest: Node | null, exact: boolean): Node {
  const n = items.length;
  let minLen = n;
  while (minLen > 0 && items[minLen - 1].missing !== null) minLen--;
  return {
    expects: "array",
    accepts: A_ARRAY,
    missing: required,
    matches: (x) => Array.isArray(x),
    encode(w, x) {
      if (!Array.isArray(x)) throw encodeMismatch("array", x);
      const total = rest === null ? n : Math.max(n, x.length);
      w.arrayHeader(total);
      let i = 0;
      try {
        for (; i < n; i++) items[i].encode(w, x[i]);
        for (; i < total; i++) (rest as Node).encode(w, x[i]);
      } catch (e) {
        throw withSegment(e, `[${i}]`);
      }
    },
    decode(r) {
      const len = r.readArrayHeader();
      if (len > r.end - r.pos) throw r.truncated();
      if (len < minLen || (exact && rest === null && len > n)) {
        const range = minLen === n ? `${n}` : `${minLen} to ${n}`;
        throw new WireDecodeError(`Expected \`array\` of length ${range}, got ${len}`);
      }
      const out = new Array(rest === null ? n : Math.max(n, len));
      let i = 0;
      try {
        for (; i < len; i++) {
          if (i < n) out[i] = items[i].decode(r);
          else if (rest !== null) out[i] = rest.decode(r);
          else r.skip();
        }
      } catch (e) {
        throw withSegment(e, `[${i}]`);
      }
      for (let j = len; j < n; j++) out[j] = (items[j].missing as () => unknown)();
      return out;
    },
  };
}

function keyErrorFrom(e: unknown): unknown {
  if (e instanceof WireDecodeError && !e.inKey && e.path === "$") {
    return new WireDecodeError(e.reason, "$", true);
  }
  return e;
}

function recordNode(key: Node, value: Node, asMap: boolean): Node {
  return {
    expects: "object",
    accepts: A_MAP,
    missing: required,
    matches: asMap ? (x) => x instanceof Map : isPlainObjectLike,
    encode(w, x) {
      if (asMap) {
        if (!(x instanceof Map)) throw encodeMismatch("Map", x);
        w.mapHeader(x.size);
        for (const [k, val] of x) {
          try {
            key.encode(w, k);
          } catch (e) {
            if (e instanceof WireError && e.path === "$") throw new WireEncodeError(e.reason, "$", true);
            throw e;
          }
          try {
            value.encode(w, val);
          } catch (e) {
            throw withSegment(e, "[...]");
          }
        }
        return;
      }
      if (!isPlainObjectLike(x)) throw encodeMismatch("object", x);
      const keys = Object.keys(x);
      const n = keys.length;
      w.mapHeader(n);
      for (let i = 0; i < n; i++) {
        const k = keys[i];
        try {
          key.encode(w, k);
        } catch (e) {
          if (e instanceof WireError && e.path === "$") throw new WireEncodeError(e.reason, "$", true);
          throw e;
        }
        try {
          value.encode(w, x[k]);
        } catch (e) {
          throw withSegment(e, "[...]");
        }
      }
    },
    decode(r) {
      const n = r.readMapHeader();
      if (n > r.end - r.pos) throw r.truncated();
      if (asMap) {
        const out = new Map<unknown, unknown>();
        for (let i = 0; i < n; i++) {
          let k: unknown;
          try {
            k = key.decode(r);
          } catch (e) {
            throw keyErrorFrom(e);
          }
          try {
            out.set(k, value.decode(r));
          } catch (e) {
            throw withSegment(e, "[...]");
          }
        }
        return out;
      }
      const out: Record<string, unknown> = {};
      // One try block for the whole loop (cheaper than two per entry on some engines); `inKey` tells which part
      // failed.
      let inKey = true;
      try {
        for (let i = 0; i < n; i++) {
          inKey = true;
          const k = (key === STR ? r.readKey() : key.decode(r)) as string;
          inKey = false;
          const val = value.decode(r);
          if (k === "__proto__") {
            Object.defineProperty(out, k, {
              value: val,
              writable: true,
              enumerable: true,
              configurable: true,
            });
          } else {
            out[k] = val;
          }
        }
      } catch (e) {
        throw inKey ? keyErrorFrom(e) : withSegment(e, "[...]");
      }
      return out;
    },
  };
}

/**
 * One field of a {@link structCodec}: wire key `name`, JS property `prop` (default: `name`), value codec.
 *
 * @example
 * ```ts
 * import { decodeWith, dynamicCodec, encodeWith, type StructField, structCodec } from "@loom/streaming/kafka";
 * const fields: StructField[] = [{ name: "order_id", prop: "orderId", codec: dynamicCodec }];
 * const codec = structCodec(fields);
 * decodeWith(codec, encodeWith(codec, { orderId: "o-1" })); // { orderId: "o-1" }
 * ```
 */
export interface StructField {
  /** Key on the wire (written in field order). */
  readonly name: string;
  /** Property of the JS object (defaults to `name`). */
  readonly prop?: string;
  /** Codec of the value; a nil-able codec makes the field optional when decoding. */
  readonly codec: PayloadCodec<unknown>;
}

interface StructOptions {
  /** Decoder for keys that are not declared (kept in the output); `null` = ignore them. */
  readonly rest: Node | null;
  /** Valibot schema used to match union options (optional). */
  readonly schema: AnySchema | null;
}

function structNode(fields: readonly StructField[], options: StructOptions): Node {
  const n = fields.length;
  const names: string[] = fields.map((f) => f.name);
  const props: string[] = fields.map((f) => f.prop ?? f.name);
  const nodes: Node[] = fields.map((f) => asNode(f.codec));
  for (const p of props) {
    if (p === "__proto__") throw new TypeError("A struct field cannot be named `__proto__`.");
  }
  const keyBytes: Uint8Array[] = names.map((name) => {
    const w = new Writer(64);
    w.str(name);
    return w.toBytes();
  });
  const index = new Map<string, number>();
  names.forEach((name, i) => index.set(name, i));
  const propSet = new Set(props);
  const header = new Writer(8);
  header.mapHeader(n);
  const headerBytes = header.toBytes();
  const rest = options.rest;
  const schema = options.schema as unknown as v.GenericSchema | null;
  return {
    expects: "object",
    accepts: A_MAP,
    missing: required,
    matches: schema !== null ? (x) => isPlainObjectLike(x) && v.is(schema, x) : isPlainObjectLike,
    encode(w, x) {
      if (!isPlainObjectLike(x)) throw encodeMismatch("object", x);
      let extra: string[] | null = null;
      if (rest !== null) {
        for (const k of Object.keys(x)) {
          if (!propSet.has(k)) (extra ??= []).push(k);
        }
      }
      if (extra === null) w.raw(headerBytes);
      else w.mapHeader(n + extra.length);
      let i = 0;
      try {
        for (; i < n; i++) {
          w.raw(keyBytes[i]);
          nodes[i].encode(w, x[props[i]]);
        }
      } catch (e) {
        throw withSegment(e, `.${names[i]}`);
      }
      if (extra !== null) {
        for (const k of extra) {
          w.str(k);
          try {
            (rest as Node).encode(w, x[k]);
          } catch (e) {
            throw withSegment(e, `.${k}`);
          }
        }
      }
    },
    decode(r) {
      const count = r.readMapHeader();
      if (count > r.end - r.pos) throw r.truncated();
      const out: Record<string, unknown> = {};
      let next = 0;
      let inOrder = true;
      let fi = -1;
      let restKey: string | null = null;
      try {
        for (let k = 0; k < count; k++) {
          fi = -1;
          if (next < n && r.matchRaw(keyBytes[next])) {
            fi = next++;
          } else {
            inOrder = false;
            const t = r.peekType();
            if (t !== T_STR) {
              throw new WireDecodeError(`Expected \`str\`, got \`${WIRE_TYPE_NAMES[t]}\``, "$", true);
            }
            const key = r.readKey();
            const idx = index.get(key);
            if (idx === undefined) {
              if (rest !== null && !propSet.has(key)) {
                restKey = key;
                const val = rest.decode(r);
                restKey = null;
                if (key === "__proto__") {
                  Object.defineProperty(out, key, {
                    value: val,
                    writable: true,
                    enumerable: true,
                    configurable: true,
                  });
                } else {
                  out[key] = val;
                }
              } else {
                r.skip();
              }
              continue;
            }
            fi = idx;
            next = idx + 1;
          }
          out[props[fi]] = nodes[fi].decode(r);
        }
      } catch (e) {
        if (fi >= 0) throw withSegment(e, `.${names[fi]}`);
        if (restKey !== null) throw withSegment(e, `.${restKey}`);
        throw e;
      }
      if (!inOrder || next !== n) {
        for (let i = 0; i < n; i++) {
          if (!(props[i] in out)) {
            const missing = nodes[i].missing;
            if (missing === null) throw new WireDecodeError(`Object missing required field \`${names[i]}\``);
            out[props[i]] = missing();
          }
        }
      }
      return out;
    },
  };
}

/**
 * Builds a struct codec by hand: a msgpack map with the given keys in order (all written, explicit nils), decoded
 * into a JS object whose properties may be renamed (`prop`). Unknown keys are ignored; a missing field takes the
 * codec's nil value when the codec is nil-able, else fails with ``Object missing required field `<name>` ``.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { compileSchema, structCodec } from "./_schema_codec.ts";
 * const meta = structCodec([
 *   { name: "trace_id", prop: "traceId", codec: compileSchema(v.nullable(v.string())) },
 *   { name: "produced_at_ms", prop: "producedAtMs", codec: compileSchema(v.pipe(v.number(), v.integer())) },
 * ]);
 * ```
 */
export function structCodec(fields: readonly StructField[]): PayloadCodec<Record<string, unknown>> {
  return structNode(fields, { rest: null, schema: null }) as PayloadCodec<Record<string, unknown>>;
}

// ---------------------------------------------------------------------------------------------------------------
// Unions
// ---------------------------------------------------------------------------------------------------------------

function unionNode(options: readonly Node[]): Node {
  const expectsParts: string[] = [];
  let accepts = 0;
  for (const o of options) {
    for (const part of o.expects.split(" | ")) if (!expectsParts.includes(part)) expectsParts.push(part);
    accepts |= o.accepts;
  }
  // Keep msgspec's habit of listing `null` last.
  const nullIdx = expectsParts.indexOf("null");
  if (nullIdx !== -1) {
    expectsParts.splice(nullIdx, 1);
    expectsParts.push("null");
  }
  const expects = expectsParts.join(" | ");
  const byType: Node[][] = [];
  for (let t = 0; t <= T_EXT; t++) byType.push(options.filter((o) => (o.accepts & (1 << t)) !== 0));
  const nilOption = options.find((o) => o.accepts & A_NIL);
  return {
    expects,
    accepts,
    missing: nilOption ? nilOption.missing : required,
    matches: (x) => options.some((o) => o.matches(x)),
    encode(w, x) {
      for (const o of options) {
        if (o.matches(x)) return o.encode(w, x);
      }
      throw encodeMismatch(expects, x);
    },
    decode(r) {
      const t = r.peekType();
      const candidates = byType[t];
      if (candidates.length === 0) throw r.typeError(expects);
      if (candidates.length === 1) return candidates[0].decode(r);
      const start = r.pos;
      let first: unknown = null;
      for (const c of candidates) {
        try {
          return c.decode(r);
        } catch (e) {
          if (!(e instanceof WireDecodeError)) throw e;
          first ??= e;
          r.pos = start;
        }
      }
      throw first;
    },
  };
}

function variantNode(key: string, options: readonly Node[], discriminators: readonly Node[]): Node {
  const base = unionNode(options);
  const keyBytes = (() => {
    const w = new Writer(64);
    w.str(key);
    return w.toBytes();
  })();
  return {
    expects: "object",
    accepts: A_MAP,
    missing: required,
    matches: base.matches,
    encode(w, x) {
      if (isPlainObjectLike(x)) {
        const tag = x[key];
        for (let i = 0; i < options.length; i++) {
          if (discriminators[i].matches(tag)) return options[i].encode(w, x);
        }
        throw new WireEncodeError(
          `Invalid value ${pyRepr(tag)} for the discriminator \`${key}\``,
          `$.${key}`,
        );
      }
      throw encodeMismatch("object", x);
    },
    decode(r) {
      const start = r.pos;
      const n = r.readMapHeader();
      let tag: unknown = undefined;
      let found = false;
      for (let i = 0; i < n; i++) {
        if (r.matchRaw(keyBytes)) {
          tag = r.readAny();
          found = true;
          break;
        }
        r.skip();
        r.skip();
      }
      r.pos = start;
      if (!found) throw new WireDecodeError(`Object missing required field \`${key}\``);
      for (let i = 0; i < options.length; i++) {
        if (discriminators[i].matches(tag)) return options[i].decode(r);
      }
      throw new WireDecodeError(`Invalid value ${pyRepr(tag)}`, `$.${key}`);
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Validation (valibot pipe checks) and fallbacks
// ---------------------------------------------------------------------------------------------------------------

function issuePath(issue: v.BaseIssue<unknown>): string {
  let path = "$";
  for (const item of issue.path ?? []) {
    const k = item.key;
    path += typeof k === "number" ? `[${k}]` : typeof k === "string" ? `.${k}` : "[...]";
  }
  return path;
}

function withCheck(inner: Node, schema: AnySchema): Node {
  return {
    ...inner,
    decode(r) {
      const value = inner.decode(r);
      const result = v.safeParse(schema as unknown as v.GenericSchema, value);
      if (result.success) return result.output;
      const issue = result.issues[0];
      throw new WireDecodeError(issue.message, issuePath(issue));
    },
  };
}

function withFallback(inner: Node, schema: SchemaLike): Node {
  const fallback = () => (typeof schema.fallback === "function" ? schema.fallback() : schema.fallback);
  return {
    ...inner,
    decode(r) {
      const start = r.pos;
      try {
        return inner.decode(r);
      } catch (e) {
        if (!(e instanceof WireDecodeError) || e.reason.startsWith("Input data was truncated")) throw e;
        r.pos = start;
        r.skip();
        return fallback();
      }
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Compiler
// ---------------------------------------------------------------------------------------------------------------

interface SchemaLike {
  readonly kind: string;
  readonly type: string;
  readonly async?: boolean;
  readonly pipe?: readonly SchemaLike[];
  readonly entries?: Readonly<Record<string, SchemaLike>>;
  readonly rest?: SchemaLike;
  readonly item?: SchemaLike;
  readonly items?: readonly SchemaLike[];
  readonly wrapped?: SchemaLike;
  readonly options?: readonly unknown[];
  readonly key?: SchemaLike | string;
  readonly value?: SchemaLike;
  readonly literal?: unknown;
  readonly class?: unknown;
  readonly default?: unknown;
  readonly fallback?: unknown;
  readonly getter?: (input: unknown) => SchemaLike;
}

/** Actions that need no runtime check: handled structurally (integer) or identities (brand, metadata). */
const NO_CHECK_ACTIONS = new Set(["integer", "safe_integer", "brand", "readonly", "flavor"]);

interface PipeInfo {
  isInt: boolean;
  needsCheck: boolean;
}

function pipeInfo(schema: SchemaLike): PipeInfo {
  const info: PipeInfo = { isInt: false, needsCheck: false };
  const visit = (s: SchemaLike): void => {
    const pipe = s.pipe;
    if (!pipe) return;
    for (let i = 0; i < pipe.length; i++) {
      const item = pipe[i];
      if (i === 0) {
        visit(item);
        continue;
      }
      if (item.kind === "metadata") continue;
      if (item.type === "integer" || item.type === "safe_integer") info.isInt = true;
      if (!NO_CHECK_ACTIONS.has(item.type)) info.needsCheck = true;
    }
  };
  visit(schema);
  return info;
}

function getDefaultOf(schema: SchemaLike): (() => unknown) | null {
  const d = schema.default;
  if (d === undefined) return null;
  return typeof d === "function" ? () => (d as () => unknown)() : () => d;
}

const cache = new WeakMap<object, Node>();

function compileNode(schema: SchemaLike, path: string): Node {
  const cached = cache.get(schema);
  if (cached !== undefined) return cached;
  let node = compileUncached(schema, path);
  if (schema.fallback !== undefined) node = withFallback(node, schema);
  cache.set(schema, node);
  return node;
}

function unsupported(schema: SchemaLike, path: string, hint: string): TypeError {
  return new TypeError(
    `Cannot build a msgpack codec for the valibot \`${schema.type}\` schema at \`${path}\`: ${hint}`,
  );
}

function compileUncached(schema: SchemaLike, path: string): Node {
  if (typeof schema !== "object" || schema === null || schema.kind !== "schema") {
    throw new TypeError(`Expected a valibot schema at \`${path}\`, got ${String(schema)}`);
  }
  const info = pipeInfo(schema);
  if (info.needsCheck && schema.async) {
    throw unsupported(schema, path, "async validation actions are not supported; use synchronous actions");
  }
  let node: Node;
  switch (schema.type) {
    case "string":
      node = STR;
      break;
    case "number":
      node = info.isInt ? INT : FLOAT;
      break;
    case "nan":
      node = FLOAT;
      break;
    case "bigint":
      node = BIGINT;
      break;
    case "boolean":
      node = BOOL;
      break;
    case "date":
      node = DATE;
      break;
    case "null":
      node = NULL;
      break;
    case "undefined":
    case "void":
      node = UNDEFINED;
      break;
    case "any":
    case "unknown":
      node = DYNAMIC;
      break;
    case "never":
      node = NEVER;
      break;
    case "custom":
      node = DYNAMIC;
      info.needsCheck = true;
      break;
    case "literal":
      node = enumNode([schema.literal]);
      break;
    case "picklist":
    case "enum":
      node = enumNode(schema.options ?? []);
      break;
    case "instance":
      if (schema.class === Uint8Array) node = BYTES;
      else if (schema.class === Date) node = DATE;
      else {
        throw unsupported(
          schema,
          path,
          "only instance(Uint8Array) (bin) and instance(Date) (timestamp) are encodable",
        );
      }
      break;
    case "array":
      node = arrayNode(compileNode(schema.item as SchemaLike, `${path}[...]`), false);
      break;
    case "set":
      node = arrayNode(compileNode(schema.value as SchemaLike, `${path}[...]`), true);
      break;
    case "tuple":
    case "strict_tuple":
    case "loose_tuple":
    case "tuple_with_rest": {
      const items = (schema.items ?? []).map((s, i) => compileNode(s, `${path}[${i}]`));
      const rest = schema.type === "tuple_with_rest"
        ? compileNode(schema.rest as SchemaLike, `${path}[...]`)
        : null;
      node = tupleNode(items, rest, schema.type !== "loose_tuple");
      break;
    }
    case "object":
    case "loose_object":
    case "strict_object":
    case "object_with_rest": {
      const entries = schema.entries ?? {};
      const fields: StructField[] = Object.keys(entries).map((name) => ({
        name,
        codec: compileNode(entries[name], `${path}.${name}`),
      }));
      const rest = schema.type === "object_with_rest"
        ? compileNode(schema.rest as SchemaLike, `${path}[...]`)
        : null;
      node = structNode(fields, { rest, schema: schema as unknown as AnySchema });
      break;
    }
    case "record":
    case "map": {
      const keySchema = schema.key as SchemaLike;
      const keyNode = compileNode(keySchema, `${path}[key]`);
      if (schema.type === "record" && keyNode.accepts !== A_STR) {
        throw unsupported(
          schema,
          path,
          "record keys must be strings (string(), picklist or enum of strings)",
        );
      }
      node = recordNode(
        keyNode,
        compileNode(schema.value as SchemaLike, `${path}[...]`),
        schema.type === "map",
      );
      break;
    }
    case "optional":
    case "exact_optional":
    case "undefinedable": {
      // With a default this is Python's `x: T = default` (nil is not a T); without, `x: T | None = None`.
      const def = getDefaultOf(schema);
      const inner = compileNode(schema.wrapped as SchemaLike, path);
      node = def === null ? withNil(inner, () => undefined, null) : withDefault(inner, def);
      break;
    }
    case "nullable":
    case "nullish": {
      const def = getDefaultOf(schema);
      node = withNil(compileNode(schema.wrapped as SchemaLike, path), def ?? (() => null), def);
      break;
    }
    case "non_optional":
    case "non_nullable":
    case "non_nullish": {
      let inner = schema.wrapped as SchemaLike;
      while (
        inner.type === "optional" || inner.type === "nullable" || inner.type === "nullish" ||
        inner.type === "exact_optional" || inner.type === "undefinedable"
      ) inner = inner.wrapped as SchemaLike;
      node = compileNode(inner, path);
      break;
    }
    case "union":
      node = unionNode((schema.options as SchemaLike[]).map((o) => compileNode(o, path)));
      break;
    case "variant": {
      const key = schema.key as string;
      const options = schema.options as SchemaLike[];
      const nodes = options.map((o) => compileNode(o, path));
      const discriminators = options.map((o) => {
        const entry = o.entries?.[key];
        if (!entry) throw unsupported(schema, path, `every option must declare the discriminator \`${key}\``);
        return compileNode(entry, `${path}.${key}`);
      });
      node = variantNode(key, nodes, discriminators);
      break;
    }
    case "intersect": {
      const options = schema.options as SchemaLike[];
      if (options.every((o) => o.entries !== undefined && !o.pipe)) {
        const fields: StructField[] = [];
        const seen = new Set<string>();
        for (const o of options) {
          for (const [name, entry] of Object.entries(o.entries as Record<string, SchemaLike>)) {
            if (seen.has(name)) continue;
            seen.add(name);
            fields.push({ name, codec: compileNode(entry, `${path}.${name}`) });
          }
        }
        node = structNode(fields, { rest: null, schema: schema as unknown as AnySchema });
      } else {
        node = DYNAMIC;
      }
      info.needsCheck = true;
      break;
    }
    case "lazy": {
      const getter = schema.getter as (input: unknown) => SchemaLike;
      let resolved: Node | null = null;
      const get = (): Node => (resolved ??= compileNode(getter(undefined), path));
      node = {
        expects: "any",
        accepts: A_ALL,
        missing: required,
        matches: (x) => get().matches(x),
        encode: (w, x) => get().encode(w, x),
        decode: (r) => get().decode(r),
      };
      break;
    }
    default:
      throw unsupported(
        schema,
        path,
        "it has no msgpack representation; use strings, numbers, booleans, bigint, Uint8Array, Date, arrays, " +
          "tuples, records, objects, unions or optional/nullable wrappers",
      );
  }
  if (info.needsCheck) node = withCheck(node, schema as unknown as AnySchema);
  return node;
}

/**
 * Compiles a valibot schema into a {@link PayloadCodec} (cached per schema object: compiling twice is free).
 * Throws a `TypeError` naming the path when part of the schema has no msgpack representation.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { compileSchema, encodeWith } from "./_schema_codec.ts";
 * const Order = v.object({ order_id: v.string(), amount: v.pipe(v.number(), v.integer()) });
 * encodeWith(compileSchema(Order), { order_id: "o-1", amount: 5 });
 * // 82 a8 6f726465725f6964 a3 6f2d31 a6 616d6f756e74 05
 * ```
 */
export function compileSchema<S extends AnySchema>(schema: S): PayloadCodec<SchemaOutput<S>> {
  return compileNode(schema as unknown as SchemaLike, "$") as PayloadCodec<SchemaOutput<S>>;
}

/**
 * The codec of a payload type: compiled from a {@link MessageType}'s schema or a bare valibot schema, or the
 * {@link dynamicCodec} when none is given.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { messageType } from "../streaming/_type.ts";
 * import { codecOf } from "./_schema_codec.ts";
 * const Order = messageType("order.created", v.object({ order_id: v.string() }));
 * const codec = codecOf(Order);
 * ```
 */
export function codecOf(type: MessageType | AnySchema | null | undefined): PayloadCodec<unknown> {
  if (type === null || type === undefined) return DYNAMIC;
  if (isMessageType(type)) return compileSchema(type.schema) as PayloadCodec<unknown>;
  return compileSchema(type) as PayloadCodec<unknown>;
}

const sharedWriter = new Writer(65536);
let sharedBusy = false;

/**
 * Encodes one value with a codec; returns bytes owned by the caller (a view into a shared slab that is never
 * written again, see `Writer.finish`).
 *
 * @example
 * ```ts
 * import { dynamicCodec, encodeWith } from "./_schema_codec.ts";
 * encodeWith(dynamicCodec, [1, "a"]); // 92 01 a1 61
 * ```
 */
export function encodeWith<T>(codec: PayloadCodec<T>, value: T): Uint8Array {
  if (sharedBusy) {
    const w = new Writer(256);
    codec.encode(w, value);
    return w.toBytes();
  }
  sharedBusy = true;
  try {
    sharedWriter.reset();
    codec.encode(sharedWriter, value);
    return sharedWriter.finish();
  } finally {
    sharedBusy = false;
  }
}

/**
 * Decodes exactly one value with a codec (trailing bytes are an error).
 *
 * @example
 * ```ts
 * import { dynamicCodec, decodeWith } from "./_schema_codec.ts";
 * decodeWith(dynamicCodec, new Uint8Array([0x92, 0x01, 0xa1, 0x61])); // [1, "a"]
 * ```
 */
export function decodeWith<T>(codec: PayloadCodec<T>, bytes: Uint8Array): T {
  const r = new Reader(bytes);
  const value = codec.decode(r);
  r.finish();
  return value;
}

/** Re-exported for hand-written codecs. */
export { MsgpackExt };
