/**
 * Codec nodes: the public {@link PayloadCodec} contract, the internal node type (the wire types it
 * accepts), the shape of the valibot schemas the compiler reads, and the error helpers every node uses.
 *
 * @module
 */
import {
  type Reader,
  T_ARRAY,
  T_BIN,
  T_BOOL,
  T_EXT,
  T_FLOAT,
  T_INT,
  T_MAP,
  T_NIL,
  T_STR,
  WireDecodeError,
  WireEncodeError,
  WireError,
  type Writer,
} from "./_msgpack.ts";

/**
 * A compiled codec. `encode` writes one value to a {@link Writer} (throwing {@link WireEncodeError} with a path
 * when the value does not match the schema); `decode` reads one value from a {@link Reader} (throwing
 * {@link WireDecodeError} with a msgspec-style message).
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { compileSchema, Reader, Writer } from "@loom/streaming/kafka";
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
export interface Node extends PayloadCodec<unknown> {
  /** Bit mask of the wire types (`1 << T_*`) this node can decode. */
  readonly accepts: number;
  /** Whether a JS value can be encoded by this node (used to pick a union option). */
  readonly matches: (value: unknown) => boolean;
  /** Value of a missing object field, or `null` when the field is required. */
  readonly missing: (() => unknown) | null;
}

export const A_NIL = 1 << T_NIL;
export const A_BOOL = 1 << T_BOOL;
export const A_INT = 1 << T_INT;
export const A_FLOAT = 1 << T_FLOAT;
export const A_STR = 1 << T_STR;
export const A_BIN = 1 << T_BIN;
export const A_ARRAY = 1 << T_ARRAY;
export const A_MAP = 1 << T_MAP;
export const A_EXT = 1 << T_EXT;
export const A_ALL = A_NIL | A_BOOL | A_INT | A_FLOAT | A_STR | A_BIN | A_ARRAY | A_MAP | A_EXT;

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

export function encodeMismatch(expects: string, value: unknown): WireEncodeError {
  return new WireEncodeError(`Expected \`${expects}\`, got \`${jsTypeName(value)}\``);
}

/** Python `repr` of a scalar, as msgspec prints it in `Invalid enum value ...`. */
export function pyRepr(value: unknown): string {
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

export function isPlainObjectLike(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value) &&
    !(value instanceof Uint8Array) &&
    !(value instanceof Date) && !(value instanceof Map);
}

export function withSegment(e: unknown, segment: string): unknown {
  if (e instanceof WireError) e.prependPath(segment);
  return e;
}

export function outOfSafeRange(n: bigint): WireDecodeError {
  return new WireDecodeError(
    `Expected \`int\` within the safe integer range (±(2^53-1)), got ${n}; declare the field with v.bigint() ` +
      "to receive 64-bit integers",
  );
}

export interface SchemaLike {
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
