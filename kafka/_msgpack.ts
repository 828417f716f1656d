/**
 * MessagePack primitives: a reusable growable {@link Writer}, a cursor {@link Reader} that exposes the wire type of
 * the next value (so typed decoders can tell `int` from `float` and `str` from `bin`), and the
 * {@link WireEncodeError} / {@link WireDecodeError} errors whose messages follow msgspec's wording.
 *
 * Encoding is byte-compatible with msgspec (the Python original): integers in their smallest form, Python floats as
 * float64, strings in their smallest str header, timestamps as extension type -1.
 *
 * Only web-standard APIs are used. This module gathers the msgpack layer: errors (`_msgpack_errors.ts`), wire
 * types (`_msgpack_types.ts`), the writer (`_msgpack_writer.ts`), the reader (`_msgpack_reader.ts`, over the
 * cursor and scalar reads of `_msgpack_scalar_reader.ts`), extension values and timestamps (`_msgpack_ext.ts`)
 * and schema-less values (`_msgpack_any.ts`).
 *
 * @module
 */
import { Writer } from "./_msgpack_writer.ts";
import { Reader } from "./_msgpack_reader.ts";

export {
  MALFORMED_PREFIX,
  MAX_NESTING_DEPTH,
  TOO_DEEP_REASON,
  TRUNCATED_REASON,
  WireDecodeError,
  WireEncodeError,
  WireError,
} from "./_msgpack_errors.ts";
export {
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
  wireTypeOfByte,
} from "./_msgpack_types.ts";
export { MsgpackExt } from "./_msgpack_ext.ts";
export { setOwn } from "./_msgpack_any.ts";
export { ScalarReader } from "./_msgpack_scalar_reader.ts";
export { Reader, Writer };

/**
 * Encodes `value` with a fresh {@link Writer} using the dynamic rules of {@link Writer.any}.
 *
 * @example
 * ```ts
 * import { encodeAny } from "@loom/streaming/kafka";
 * encodeAny({ a: 1 }); // 81 a1 61 01
 * ```
 */
export function encodeAny(value: unknown): Uint8Array {
  const w = new Writer(256);
  w.any(value);
  return w.toBytes();
}

/**
 * Decodes one msgpack value with {@link Reader.readAny}; trailing bytes are an error.
 *
 * @example
 * ```ts
 * import { decodeAny } from "@loom/streaming/kafka";
 * decodeAny(new Uint8Array([0x81, 0xa1, 0x61, 0x01])); // { a: 1 }
 * ```
 */
export function decodeAny(bytes: Uint8Array): unknown {
  const r = new Reader(bytes);
  const v = r.readAny();
  r.finish();
  return v;
}
