/**
 * MessagePack primitives: a reusable growable {@link Writer}, a cursor {@link Reader} that exposes the wire type of
 * the next value (so typed decoders can tell `int` from `float` and `str` from `bin`), and the
 * {@link WireEncodeError} / {@link WireDecodeError} errors whose messages follow msgspec's wording.
 *
 * Encoding is byte-compatible with msgspec (the Python original): integers in their smallest form, Python floats as
 * float64, strings in their smallest str header, timestamps as extension type -1.
 *
 * Only web-standard APIs are used.
 *
 * @module
 */

// ---------------------------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------------------------

/**
 * msgspec's reason for truncated input.
 *
 * @example
 * ```ts
 * import { decodeAny, TRUNCATED_REASON, WireDecodeError } from "@loom/streaming/kafka";
 * try {
 *   decodeAny(new Uint8Array([0x92, 0x01]));
 * } catch (e) {
 *   if (e instanceof WireDecodeError) e.message.startsWith(TRUNCATED_REASON); // true
 * }
 * ```
 */
export const TRUNCATED_REASON = "Input data was truncated";
/**
 * Prefix of msgspec's reasons for malformed input.
 *
 * @example
 * ```ts
 * import { decodeAny, MALFORMED_PREFIX, WireDecodeError } from "@loom/streaming/kafka";
 * try {
 *   decodeAny(new Uint8Array([0xc1]));
 * } catch (e) {
 *   if (e instanceof WireDecodeError) e.message.startsWith(MALFORMED_PREFIX); // true
 * }
 * ```
 */
export const MALFORMED_PREFIX = "MessagePack data is malformed";

function formatWireMessage(reason: string, path: string, inKey: boolean): string {
  if (inKey) return `${reason} - at \`key\` in \`${path}\``;
  if (path === "$") return reason;
  return `${reason} - at \`${path}\``;
}

/**
 * Base class of the wire codec errors. `reason` is the bare reason (e.g. ``Expected `int`, got `str` ``), `path`
 * the msgspec-style location (`$`, `$.payload.amount`, `$.items[1]`, `$.headers[...]`), and `message` the
 * msgspec-style text ``<reason> - at `<path>` `` (no suffix at the root).
 *
 * @example
 * ```ts
 * import { WireError, WireDecodeError } from "./_msgpack.ts";
 * const e = new WireDecodeError("Expected `int`, got `str`", "$.amount");
 * e instanceof WireError; // true
 * e.message; // "Expected `int`, got `str` - at `$.amount`"
 * ```
 */
export class WireError extends Error {
  /** The reason without the location suffix. */
  readonly reason: string;
  /** msgspec-style path of the offending value, `$` for the root. */
  path: string;
  /** True when the error is about a map key (msgspec says ``- at `key` in `$.x` ``). */
  readonly inKey: boolean;

  /**
   * Creates the error; `message` is derived from `reason`, `path` and `inKey`.
   *
   * @param reason what is wrong (without location)
   * @param path msgspec-style path, `$` for the root
   * @param inKey whether the offending value is a map key
   */
  constructor(reason: string, path: string = "$", inKey: boolean = false) {
    super(formatWireMessage(reason, path, inKey));
    this.name = "WireError";
    this.reason = reason;
    this.path = path;
    this.inKey = inKey;
  }

  /**
   * Prepends a path segment (`.field`, `[3]` or `[...]`) as the error propagates outwards; used by the codecs.
   *
   * @example
   * ```ts
   * import { WireDecodeError } from "./_msgpack.ts";
   * const e = new WireDecodeError("Expected `int`, got `str`", "$.amount");
   * e.prependPath(".payload");
   * e.path; // "$.payload.amount"
   * ```
   */
  prependPath(segment: string): void {
    // msgspec reports malformed/truncated input without a location.
    if (this.reason.startsWith(TRUNCATED_REASON) || this.reason.startsWith(MALFORMED_PREFIX)) return;
    this.path = "$" + segment + this.path.slice(1);
    this.message = formatWireMessage(this.reason, this.path, this.inKey);
  }
}

/**
 * A value could not be encoded by a schema codec (wrong JS type, out-of-range integer, invalid date, ...).
 *
 * @example
 * ```ts
 * import { Writer, WireEncodeError } from "./_msgpack.ts";
 * try {
 *   new Writer().bigint(2n ** 70n);
 * } catch (e) {
 *   e instanceof WireEncodeError; // true
 * }
 * ```
 */
export class WireEncodeError extends WireError {
  /**
   * Creates the error; `message` is derived from `reason`, `path` and `inKey`.
   *
   * @param reason what is wrong (without location)
   * @param path msgspec-style path, `$` for the root
   * @param inKey whether the offending value is a map key
   */
  constructor(reason: string, path: string = "$", inKey: boolean = false) {
    super(reason, path, inKey);
    this.name = "WireEncodeError";
  }
}

/**
 * Bytes could not be decoded: malformed or truncated msgpack, or a value of the wrong type for the schema. The
 * message matches msgspec's (`Input data was truncated`, ``Expected `int`, got `str` - at `$.payload.amount` ``,
 * ``Object missing required field `payload` ``, ...).
 *
 * @example
 * ```ts
 * import { Reader, WireDecodeError } from "./_msgpack.ts";
 * try {
 *   new Reader(new Uint8Array([0xa3, 0x61])).readStr();
 * } catch (e) {
 *   (e as WireDecodeError).message; // "Input data was truncated"
 * }
 * ```
 */
export class WireDecodeError extends WireError {
  /**
   * Creates the error; `message` is derived from `reason`, `path` and `inKey`.
   *
   * @param reason what is wrong (without location)
   * @param path msgspec-style path, `$` for the root
   * @param inKey whether the offending value is a map key
   */
  constructor(reason: string, path: string = "$", inKey: boolean = false) {
    super(reason, path, inKey);
    this.name = "WireDecodeError";
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Extension values
// ---------------------------------------------------------------------------------------------------------------

/**
 * A msgpack extension value other than a timestamp (type -1 decodes to a `Date`).
 *
 * @example
 * ```ts
 * import { MsgpackExt } from "./_msgpack.ts";
 * const ext = new MsgpackExt(5, new Uint8Array([1, 2]));
 * ```
 */
export class MsgpackExt {
  /** Extension type, -128..127. */
  readonly type: number;
  /** Extension payload. */
  readonly data: Uint8Array;
  /**
   * Wraps an extension value.
   *
   * @param type extension type, -128..127
   * @param data extension payload
   */
  constructor(type: number, data: Uint8Array) {
    this.type = type;
    this.data = data;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Wire types
// ---------------------------------------------------------------------------------------------------------------

/**
 * Wire type of a msgpack value: nil.
 *
 * @example
 * ```ts
 * import { T_NIL, wireTypeOfByte } from "@loom/streaming/kafka";
 * wireTypeOfByte(0xc0) === T_NIL; // true
 * ```
 */
export const T_NIL = 0;
/**
 * Wire type of a msgpack value: bool.
 *
 * @example
 * ```ts
 * import { T_BOOL, wireTypeOfByte } from "@loom/streaming/kafka";
 * wireTypeOfByte(0xc3) === T_BOOL; // true
 * ```
 */
export const T_BOOL = 1;
/**
 * Wire type of a msgpack value: integer (any width).
 *
 * @example
 * ```ts
 * import { T_INT, wireTypeOfByte } from "@loom/streaming/kafka";
 * wireTypeOfByte(0x05) === T_INT; // true (positive fixint)
 * ```
 */
export const T_INT = 2;
/**
 * Wire type of a msgpack value: float32 or float64.
 *
 * @example
 * ```ts
 * import { T_FLOAT, wireTypeOfByte } from "@loom/streaming/kafka";
 * wireTypeOfByte(0xcb) === T_FLOAT; // true (float64)
 * ```
 */
export const T_FLOAT = 3;
/**
 * Wire type of a msgpack value: str.
 *
 * @example
 * ```ts
 * import { T_STR, wireTypeOfByte } from "@loom/streaming/kafka";
 * wireTypeOfByte(0xa3) === T_STR; // true (fixstr)
 * ```
 */
export const T_STR = 4;
/**
 * Wire type of a msgpack value: bin.
 *
 * @example
 * ```ts
 * import { T_BIN, wireTypeOfByte } from "@loom/streaming/kafka";
 * wireTypeOfByte(0xc4) === T_BIN; // true (bin8)
 * ```
 */
export const T_BIN = 5;
/**
 * Wire type of a msgpack value: array.
 *
 * @example
 * ```ts
 * import { T_ARRAY, wireTypeOfByte } from "@loom/streaming/kafka";
 * wireTypeOfByte(0x92) === T_ARRAY; // true (fixarray)
 * ```
 */
export const T_ARRAY = 6;
/**
 * Wire type of a msgpack value: map.
 *
 * @example
 * ```ts
 * import { T_MAP, wireTypeOfByte } from "@loom/streaming/kafka";
 * wireTypeOfByte(0x81) === T_MAP; // true (fixmap)
 * ```
 */
export const T_MAP = 7;
/**
 * Wire type of a msgpack value: extension (including timestamps).
 *
 * @example
 * ```ts
 * import { T_EXT, wireTypeOfByte } from "@loom/streaming/kafka";
 * wireTypeOfByte(0xd6) === T_EXT; // true (fixext4, e.g. a timestamp)
 * ```
 */
export const T_EXT = 8;
/** Not a valid first byte (0xc1). */
const T_INVALID = 9;

/**
 * msgspec's word for each wire type, indexed by `T_*` (used in ``got `...` `` of error messages).
 *
 * @example
 * ```ts
 * import { T_BIN, WIRE_TYPE_NAMES } from "@loom/streaming/kafka";
 * WIRE_TYPE_NAMES[T_BIN]; // "bytes"
 * ```
 */
export const WIRE_TYPE_NAMES: readonly string[] = [
  "None",
  "bool",
  "int",
  "float",
  "str",
  "bytes",
  "array",
  "object",
  "ext",
  "invalid",
];

const TYPE_OF_BYTE: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (let b = 0; b < 256; b++) {
    let k: number;
    if (b <= 0x7f || b >= 0xe0) k = T_INT;
    else if (b <= 0x8f) k = T_MAP;
    else if (b <= 0x9f) k = T_ARRAY;
    else if (b <= 0xbf) k = T_STR;
    else if (b === 0xc0) k = T_NIL;
    else if (b === 0xc1) k = T_INVALID;
    else if (b <= 0xc3) k = T_BOOL;
    else if (b <= 0xc6) k = T_BIN;
    else if (b <= 0xc9) k = T_EXT;
    else if (b <= 0xcb) k = T_FLOAT;
    else if (b <= 0xd3) k = T_INT;
    else if (b <= 0xd8) k = T_EXT;
    else if (b <= 0xdb) k = T_STR;
    else if (b <= 0xdd) k = T_ARRAY;
    else k = T_MAP;
    t[b] = k;
  }
  return t;
})();

/**
 * The wire type (`T_*`) announced by a first byte (9 for the invalid byte 0xc1).
 *
 * @example
 * ```ts
 * import { wireTypeOfByte, T_STR } from "./_msgpack.ts";
 * wireTypeOfByte(0xa3) === T_STR; // true
 * ```
 */
export function wireTypeOfByte(b: number): number {
  return TYPE_OF_BYTE[b];
}

const TEXT_ENCODER = new TextEncoder();
// The non-fatal decoder is much faster on some runtimes; a U+FFFD in its output triggers a strict re-decode.
const TEXT_DECODER = new TextDecoder("utf-8", { ignoreBOM: true });
const STRICT_TEXT_DECODER = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

const TWO_32 = 4294967296;
const TWO_64 = 18446744073709551616;
const MIN_INT64 = -9223372036854775808;
const BIG_MAX_UINT64 = 0xffffffffffffffffn;
const BIG_MIN_INT64 = -0x8000000000000000n;

// ---------------------------------------------------------------------------------------------------------------
// Writer
// ---------------------------------------------------------------------------------------------------------------

/**
 * A growable msgpack output buffer. Reuse one instance (call {@link Writer.reset}) to avoid per-message
 * allocations; {@link Writer.toBytes} returns a copy the caller owns.
 *
 * @example
 * ```ts
 * import { Writer } from "./_msgpack.ts";
 * const w = new Writer();
 * w.mapHeader(1);
 * w.str("amount");
 * w.int(5);
 * const bytes = w.toBytes(); // 81 a6 616d6f756e74 05
 * ```
 */
export class Writer {
  /** Current buffer (replaced when it grows). */
  buf: Uint8Array;
  /** DataView over {@link Writer.buf}. */
  view: DataView;
  /** Write offset in {@link Writer.buf}. */
  pos: number;
  /** Offset where the current message starts (advanced by {@link Writer.finish}). */
  start: number;

  /**
   * Creates a writer with an initial buffer (it grows by doubling).
   *
   * @param initialCapacity initial buffer size in bytes
   */
  constructor(initialCapacity: number = 1024) {
    this.buf = new Uint8Array(Math.max(16, initialCapacity));
    this.view = new DataView(this.buf.buffer);
    this.pos = 0;
    this.start = 0;
  }

  /**
   * Forgets the current message (keeps the buffer; bytes returned by {@link Writer.finish} are not touched).
   *
   * @example
   * ```ts
   * import { Writer } from "./_msgpack.ts";
   * const w = new Writer();
   * w.nil();
   * w.reset();
   * w.pos; // 0
   * ```
   */
  reset(): void {
    this.pos = this.start;
  }

  /**
   * Makes room for `n` more bytes.
   *
   * @example
   * ```ts
   * import { Writer } from "./_msgpack.ts";
   * new Writer(16).ensure(1000);
   * ```
   */
  ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.grow(n);
  }

  /** Replaces the buffer by a larger one holding the message in progress. */
  private grow(n: number): void {
    // Only the message in progress (from `start`) moves: views returned by finish() keep the old buffer.
    const start = this.start;
    const used = this.pos - start;
    let size = start === 0 ? this.buf.length * 2 : this.buf.length;
    while (size < used + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(start, this.pos));
    this.buf = next;
    this.view = new DataView(next.buffer);
    this.start = 0;
    this.pos = used;
  }

  /**
   * Ends the current message and returns it as a view (no copy). Later messages are written after it, and when
   * the buffer is full a new one is allocated instead of reusing this one, so the view stays valid and is owned by
   * the caller (it shares its `ArrayBuffer` with neighbouring messages: use `byteOffset`/`length` when converting
   * it). This avoids one allocation per message, which is expensive on some runtimes.
   *
   * @example
   * ```ts
   * import { Writer } from "./_msgpack.ts";
   * const w = new Writer();
   * w.int(1);
   * const a = w.finish(); // [0x01]
   * w.int(2);
   * const b = w.finish(); // [0x02]; a is unchanged
   * ```
   */
  finish(): Uint8Array {
    const out = this.buf.subarray(this.start, this.pos);
    this.start = this.pos;
    return out;
  }

  /**
   * A copy of the current message's bytes (owned by the caller).
   *
   * @example
   * ```ts
   * import { Writer } from "./_msgpack.ts";
   * const w = new Writer();
   * w.bool(true);
   * w.toBytes(); // Uint8Array [0xc3]
   * ```
   */
  toBytes(): Uint8Array {
    return this.buf.slice(this.start, this.pos);
  }

  /**
   * A view of the current message's bytes, valid only until the next write or reset.
   *
   * @example
   * ```ts
   * import { Writer } from "./_msgpack.ts";
   * const w = new Writer();
   * w.nil();
   * w.written().length; // 1
   * ```
   */
  written(): Uint8Array {
    return this.buf.subarray(this.start, this.pos);
  }

  /**
   * Writes raw, already-encoded msgpack bytes.
   *
   * @example
   * ```ts
   * import { Writer } from "./_msgpack.ts";
   * new Writer().raw(new Uint8Array([0xc0]));
   * ```
   */
  raw(bytes: Uint8Array): void {
    const n = bytes.length;
    this.ensure(n);
    const buf = this.buf;
    let p = this.pos;
    if (n < 40) {
      for (let i = 0; i < n; i++) buf[p++] = bytes[i];
    } else {
      buf.set(bytes, p);
      p += n;
    }
    this.pos = p;
  }

  /**
   * Writes nil.
   *
   * @example
   * ```ts
   * import { Writer } from "./_msgpack.ts";
   * new Writer().nil();
   * ```
   */
  nil(): void {
    this.ensure(1);
    this.buf[this.pos++] = 0xc0;
  }

  /**
   * Writes a bool.
   *
   * @example
   * ```ts
   * import { Writer } from "./_msgpack.ts";
   * new Writer().bool(false);
   * ```
   */
  bool(value: boolean): void {
    this.ensure(1);
    this.buf[this.pos++] = value ? 0xc3 : 0xc2;
  }

  /**
   * Writes an integral JS number in the smallest msgpack int form (positive fixint, uint8..uint64 for
   * non-negative values; negative fixint, int8..int64 for negative ones). Integral numbers beyond 2^53 are
   * written exactly (they are exact in float64). Throws {@link WireEncodeError} for a non-integer or a value
   * outside the int64/uint64 range.
   *
   * @example
   * ```ts
   * import { Writer } from "./_msgpack.ts";
   * const w = new Writer();
   * w.int(128); // cc 80
   * w.int(-33); // d0 df
   * ```
   */
  int(n: number): void {
    if (!Number.isInteger(n)) {
      throw new WireEncodeError(
        `Expected \`int\`, got \`float\` (${n}); an integer field needs an integral number`,
      );
    }
    this.ensure(9);
    const buf = this.buf;
    let p = this.pos;
    if (n >= 0) {
      if (n < 128) {
        buf[p++] = n;
      } else if (n < 256) {
        buf[p++] = 0xcc;
        buf[p++] = n;
      } else if (n < 65536) {
        buf[p++] = 0xcd;
        buf[p++] = n >>> 8;
        buf[p++] = n & 0xff;
      } else if (n < TWO_32) {
        buf[p++] = 0xce;
        this.view.setUint32(p, n);
        p += 4;
      } else if (n < TWO_64) {
        buf[p++] = 0xcf;
        this.view.setUint32(p, Math.floor(n / TWO_32));
        this.view.setUint32(p + 4, n >>> 0);
        p += 8;
      } else {
        throw new WireEncodeError(`Integer ${n} is out of range: msgpack integers must fit in uint64`);
      }
    } else {
      if (n >= -32) {
        buf[p++] = n & 0xff;
      } else if (n >= -128) {
        buf[p++] = 0xd0;
        buf[p++] = n & 0xff;
      } else if (n >= -32768) {
        buf[p++] = 0xd1;
        this.view.setInt16(p, n);
        p += 2;
      } else if (n >= -2147483648) {
        buf[p++] = 0xd2;
        this.view.setInt32(p, n);
        p += 4;
      } else if (n >= MIN_INT64) {
        buf[p++] = 0xd3;
        const hi = Math.floor(n / TWO_32);
        this.view.setInt32(p, hi);
        this.view.setUint32(p + 4, n - hi * TWO_32);
        p += 8;
      } else {
        throw new WireEncodeError(`Integer ${n} is out of range: msgpack integers must fit in int64`);
      }
    }
    this.pos = p;
  }

  /**
   * Writes a bigint in the smallest msgpack int form. Throws {@link WireEncodeError} outside
   * [-2^63, 2^64-1].
   *
   * @example
   * ```ts
   * import { Writer } from "./_msgpack.ts";
   * new Writer().bigint(2n ** 64n - 1n); // cf ffffffffffffffff
   * ```
   */
  bigint(n: bigint): void {
    if (n >= 0n) {
      if (n < 0x100000000n) return this.int(Number(n));
      if (n > BIG_MAX_UINT64) {
        throw new WireEncodeError(`Integer ${n} is out of range: msgpack integers must fit in uint64`);
      }
      this.ensure(9);
      this.buf[this.pos] = 0xcf;
      this.view.setBigUint64(this.pos + 1, n);
      this.pos += 9;
    } else {
      if (n >= -0x80000000n) return this.int(Number(n));
      if (n < BIG_MIN_INT64) {
        throw new WireEncodeError(`Integer ${n} is out of range: msgpack integers must fit in int64`);
      }
      this.ensure(9);
      this.buf[this.pos] = 0xd3;
      this.view.setBigInt64(this.pos + 1, n);
      this.pos += 9;
    }
  }

  /**
   * Writes a float64 (msgspec writes every Python `float` as float64).
   *
   * @example
   * ```ts
   * import { Writer } from "./_msgpack.ts";
   * new Writer().float64(5); // cb 4014000000000000
   * ```
   */
  float64(n: number): void {
    this.ensure(9);
    this.buf[this.pos] = 0xcb;
    this.view.setFloat64(this.pos + 1, n);
    this.pos += 9;
  }

  /** Writes a str header for `byteLen` bytes at `p`; returns the offset after it. */
  private strHeader(p: number, byteLen: number): number {
    const buf = this.buf;
    if (byteLen < 32) {
      buf[p++] = 0xa0 | byteLen;
    } else if (byteLen < 256) {
      buf[p++] = 0xd9;
      buf[p++] = byteLen;
    } else if (byteLen < 65536) {
      buf[p++] = 0xda;
      buf[p++] = byteLen >>> 8;
      buf[p++] = byteLen & 0xff;
    } else {
      buf[p++] = 0xdb;
      this.view.setUint32(p, byteLen);
      p += 4;
    }
    return p;
  }

  /**
   * Writes a UTF-8 string with the smallest str header (fixstr, str8, str16, str32).
   *
   * @example
   * ```ts
   * import { Writer } from "./_msgpack.ts";
   * new Writer().str("é"); // a2 c3a9
   * ```
   */
  str(s: string): void {
    const len = s.length;
    this.ensure(len * 3 + 5);
    const buf = this.buf;
    const start = this.pos;
    if (len < 64) {
      // Optimistic ASCII fast path: the header size is the one for `len` bytes.
      const hdr = len < 32 ? 1 : 2;
      let p = start + hdr;
      let i = 0;
      for (; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        buf[p++] = c;
      }
      if (i === len) {
        if (hdr === 1) buf[start] = 0xa0 | len;
        else {
          buf[start] = 0xd9;
          buf[start + 1] = len;
        }
        this.pos = p;
        return;
      }
    }
    // General path: encode after the largest header needed for 3*len bytes, then move if the header is smaller.
    const maxBytes = len * 3;
    const reserved = maxBytes < 32 ? 1 : maxBytes < 256 ? 2 : maxBytes < 65536 ? 3 : 5;
    const dataStart = start + reserved;
    const byteLen = TEXT_ENCODER.encodeInto(s, buf.subarray(dataStart)).written;
    const actual = byteLen < 32 ? 1 : byteLen < 256 ? 2 : byteLen < 65536 ? 3 : 5;
    if (actual !== reserved) buf.copyWithin(start + actual, dataStart, dataStart + byteLen);
    this.strHeader(start, byteLen);
    this.pos = start + actual + byteLen;
  }

  /**
   * Writes bytes as msgpack bin (bin8, bin16, bin32).
   *
   * @example
   * ```ts
   * import { Writer } from "./_msgpack.ts";
   * new Writer().bin(new Uint8Array([1, 2, 3])); // c4 03 010203
   * ```
   */
  bin(bytes: Uint8Array): void {
    const n = bytes.length;
    this.ensure(n + 5);
    const buf = this.buf;
    let p = this.pos;
    if (n < 256) {
      buf[p++] = 0xc4;
      buf[p++] = n;
    } else if (n < 65536) {
      buf[p++] = 0xc5;
      buf[p++] = n >>> 8;
      buf[p++] = n & 0xff;
    } else {
      buf[p++] = 0xc6;
      this.view.setUint32(p, n);
      p += 4;
    }
    this.pos = p;
    this.raw(bytes);
  }

  /**
   * Writes an array header for `n` items (fixarray, array16, array32).
   *
   * @example
   * ```ts
   * import { Writer } from "./_msgpack.ts";
   * new Writer().arrayHeader(2); // 92
   * ```
   */
  arrayHeader(n: number): void {
    this.ensure(5);
    const buf = this.buf;
    if (n < 16) {
      buf[this.pos++] = 0x90 | n;
    } else if (n < 65536) {
      buf[this.pos] = 0xdc;
      buf[this.pos + 1] = n >>> 8;
      buf[this.pos + 2] = n & 0xff;
      this.pos += 3;
    } else {
      buf[this.pos] = 0xdd;
      this.view.setUint32(this.pos + 1, n);
      this.pos += 5;
    }
  }

  /**
   * Writes a map header for `n` key/value pairs (fixmap, map16, map32).
   *
   * @example
   * ```ts
   * import { Writer } from "./_msgpack.ts";
   * new Writer().mapHeader(2); // 82
   * ```
   */
  mapHeader(n: number): void {
    this.ensure(5);
    const buf = this.buf;
    if (n < 16) {
      buf[this.pos++] = 0x80 | n;
    } else if (n < 65536) {
      buf[this.pos] = 0xde;
      buf[this.pos + 1] = n >>> 8;
      buf[this.pos + 2] = n & 0xff;
      this.pos += 3;
    } else {
      buf[this.pos] = 0xdf;
      this.view.setUint32(this.pos + 1, n);
      this.pos += 5;
    }
  }

  /**
   * Writes an extension value (fixext 1/2/4/8/16, ext8/16/32).
   *
   * @example
   * ```ts
   * import { Writer } from "./_msgpack.ts";
   * new Writer().ext(5, new Uint8Array([1])); // d4 05 01
   * ```
   */
  ext(type: number, data: Uint8Array): void {
    const n = data.length;
    this.ensure(n + 6);
    const buf = this.buf;
    let p = this.pos;
    if (n === 1) buf[p++] = 0xd4;
    else if (n === 2) buf[p++] = 0xd5;
    else if (n === 4) buf[p++] = 0xd6;
    else if (n === 8) buf[p++] = 0xd7;
    else if (n === 16) buf[p++] = 0xd8;
    else if (n < 256) {
      buf[p++] = 0xc7;
      buf[p++] = n;
    } else if (n < 65536) {
      buf[p++] = 0xc8;
      buf[p++] = n >>> 8;
      buf[p++] = n & 0xff;
    } else {
      buf[p++] = 0xc9;
      this.view.setUint32(p, n);
      p += 4;
    }
    buf[p++] = type & 0xff;
    this.pos = p;
    this.raw(data);
  }

  /**
   * Writes a `Date` as a msgpack timestamp (extension type -1) in the smallest form msgspec uses: timestamp32
   * when there are no sub-second nanoseconds and the seconds fit in uint32, timestamp64 when the seconds fit in
   * 34 bits, else timestamp96. Throws {@link WireEncodeError} for an invalid date.
   *
   * @example
   * ```ts
   * import { Writer } from "./_msgpack.ts";
   * new Writer().timestamp(new Date(Date.UTC(2020, 0, 1))); // d6 ff 5e0be100
   * ```
   */
  timestamp(date: Date): void {
    const ms = date.getTime();
    if (Number.isNaN(ms)) throw new WireEncodeError("Cannot encode an invalid Date (its time is NaN)");
    const secs = Math.floor(ms / 1000);
    const nsec = (ms - secs * 1000) * 1000000;
    this.ensure(15);
    const buf = this.buf;
    const p = this.pos;
    if (secs >= 0 && secs < 17179869184) {
      if (nsec === 0 && secs < TWO_32) {
        buf[p] = 0xd6;
        buf[p + 1] = 0xff;
        this.view.setUint32(p + 2, secs);
        this.pos = p + 6;
      } else {
        buf[p] = 0xd7;
        buf[p + 1] = 0xff;
        this.view.setUint32(p + 2, nsec * 4 + Math.floor(secs / TWO_32));
        this.view.setUint32(p + 6, secs >>> 0);
        this.pos = p + 10;
      }
    } else {
      buf[p] = 0xc7;
      buf[p + 1] = 12;
      buf[p + 2] = 0xff;
      this.view.setUint32(p + 3, nsec);
      const hi = Math.floor(secs / TWO_32);
      this.view.setInt32(p + 7, hi);
      this.view.setUint32(p + 11, secs - hi * TWO_32);
      this.pos = p + 15;
    }
  }

  /**
   * Writes any JS value with the dynamic rules: `null`/`undefined` → nil, boolean → bool, safe-integer number →
   * int (smallest form), other number → float64, bigint → int, string → str, `Uint8Array` → bin, `Date` →
   * timestamp, {@link MsgpackExt} → ext, array → array, `Map` or plain object → map in insertion order (object
   * properties whose value is `undefined` are written as nil). Throws {@link WireEncodeError} for anything else
   * (functions, symbols, class instances other than the above).
   *
   * @example
   * ```ts
   * import { Writer } from "./_msgpack.ts";
   * const w = new Writer();
   * w.any({ a: 1, b: [true, null], c: 2.5 });
   * ```
   */
  any(value: unknown): void {
    switch (typeof value) {
      case "string":
        return this.str(value);
      case "number":
        if (Number.isSafeInteger(value)) return this.int(value);
        return this.float64(value);
      case "boolean":
        return this.bool(value);
      case "undefined":
        return this.nil();
      case "bigint":
        return this.bigint(value);
      case "object": {
        if (value === null) return this.nil();
        if (Array.isArray(value)) {
          const n = value.length;
          this.arrayHeader(n);
          let i = 0;
          try {
            for (; i < n; i++) this.any(value[i]);
          } catch (e) {
            if (e instanceof WireError) e.prependPath(`[${i}]`);
            throw e;
          }
          return;
        }
        if (value instanceof Uint8Array) return this.bin(value);
        if (value instanceof Date) return this.timestamp(value);
        if (value instanceof MsgpackExt) return this.ext(value.type, value.data);
        if (value instanceof Map) {
          this.mapHeader(value.size);
          for (const [k, v] of value) {
            try {
              this.any(k);
            } catch (e) {
              if (e instanceof WireError) throw new WireEncodeError(e.reason, "$", true);
              throw e;
            }
            try {
              this.any(v);
            } catch (e) {
              if (e instanceof WireError) e.prependPath("[...]");
              throw e;
            }
          }
          return;
        }
        const proto = Object.getPrototypeOf(value);
        if (proto === Object.prototype || proto === null) {
          const obj = value as Record<string, unknown>;
          const keys = Object.keys(obj);
          const n = keys.length;
          this.mapHeader(n);
          let i = 0;
          try {
            for (; i < n; i++) {
              this.str(keys[i]);
              this.any(obj[keys[i]]);
            }
          } catch (e) {
            if (e instanceof WireError) e.prependPath(`.${keys[i]}`);
            throw e;
          }
          return;
        }
        throw new WireEncodeError(
          `Cannot encode a \`${
            (value as object).constructor?.name ?? "object"
          }\` instance: use a plain object, ` +
            "array, Map, Uint8Array or Date",
        );
      }
      default:
        throw new WireEncodeError(`Cannot encode a value of type \`${typeof value}\` to msgpack`);
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Reader
// ---------------------------------------------------------------------------------------------------------------

const EMPTY = new Uint8Array(0);
const fromCharCode = String.fromCharCode;

// Big-endian reads straight from the bytes (no DataView per input); floats and 64-bit ints go through a scratch.
const SCRATCH = new Uint8Array(8);
const SCRATCH_VIEW = new DataView(SCRATCH.buffer);
function u16(b: Uint8Array, p: number): number {
  return (b[p] << 8) | b[p + 1];
}
function u32(b: Uint8Array, p: number): number {
  return b[p] * 0x1000000 + ((b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]);
}
function i8(b: Uint8Array, p: number): number {
  return (b[p] << 24) >> 24;
}
function i16(b: Uint8Array, p: number): number {
  return ((b[p] << 24) | (b[p + 1] << 16)) >> 16;
}
function i32(b: Uint8Array, p: number): number {
  return (b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3];
}
function toScratch(b: Uint8Array, p: number, n: number): void {
  for (let i = 0; i < n; i++) SCRATCH[i] = b[p + i];
}
function f32(b: Uint8Array, p: number): number {
  toScratch(b, p, 4);
  return SCRATCH_VIEW.getFloat32(0);
}
function f64(b: Uint8Array, p: number): number {
  toScratch(b, p, 8);
  return SCRATCH_VIEW.getFloat64(0);
}
function bu64(b: Uint8Array, p: number): bigint {
  toScratch(b, p, 8);
  return SCRATCH_VIEW.getBigUint64(0);
}
function bi64(b: Uint8Array, p: number): bigint {
  toScratch(b, p, 8);
  return SCRATCH_VIEW.getBigInt64(0);
}

// Map-key cache (see Reader.readKey): slot -> bytes (in one arena, no allocation per entry), length, string.
const KEY_CACHE_SLOTS = 4096;
const KEY_CACHE_MAX_LEN = 16;
const KEY_CACHE_BYTES = new Uint8Array(KEY_CACHE_SLOTS * KEY_CACHE_MAX_LEN);
const KEY_CACHE_LEN = new Uint8Array(KEY_CACHE_SLOTS);
const KEY_CACHE_STR: string[] = new Array<string>(KEY_CACHE_SLOTS).fill("");

// Reusable argument arrays for String.fromCharCode.apply (index = length).
const CHAR_CODES: number[][] = [];
for (let n = 0; n <= 32; n++) CHAR_CODES.push(new Array<number>(n).fill(0));

/**
 * A cursor over msgpack bytes. `peekType()` tells the wire type of the next value without consuming it; the
 * `read*` methods consume one value of the expected type and otherwise throw a msgspec-style
 * {@link WireDecodeError} (``Expected `str`, got `int` ``). Integers outside the safe range decode as `bigint`.
 * Every read is bounds-checked: truncated input throws `Input data was truncated`, never a `RangeError`.
 *
 * @example
 * ```ts
 * import { Reader, T_INT } from "./_msgpack.ts";
 * const r = new Reader(new Uint8Array([0x92, 0x05, 0xa1, 0x61]));
 * const n = r.readArrayHeader(); // 2
 * r.peekType() === T_INT; // true
 * r.readInt(); // 5
 * r.readStr(); // "a"
 * r.finish();
 * ```
 */
export class Reader {
  /** Input bytes. */
  buf: Uint8Array;
  /** Offset of the next byte to read. */
  pos: number;
  /** End offset (exclusive). */
  end: number;

  /**
   * Creates a reader positioned at the start of `bytes`.
   *
   * @param bytes input (not copied)
   */
  constructor(bytes: Uint8Array = EMPTY) {
    this.buf = bytes;
    this.pos = 0;
    this.end = bytes.length;
  }

  /**
   * Points the reader at new input.
   *
   * @example
   * ```ts
   * import { Reader } from "./_msgpack.ts";
   * const r = new Reader();
   * r.reset(new Uint8Array([0xc0]));
   * r.readAny(); // null
   * ```
   */
  reset(bytes: Uint8Array): void {
    this.buf = bytes;
    this.pos = 0;
    this.end = bytes.length;
  }

  /**
   * The error for truncated input.
   *
   * @example
   * ```ts
   * import { Reader } from "./_msgpack.ts";
   * new Reader().truncated().message; // "Input data was truncated"
   * ```
   */
  truncated(): WireDecodeError {
    return new WireDecodeError(TRUNCATED_REASON);
  }

  /**
   * Throws unless `n` more bytes are available.
   *
   * @example
   * ```ts
   * import { Reader } from "./_msgpack.ts";
   * new Reader(new Uint8Array(4)).need(4);
   * ```
   */
  need(n: number): void {
    if (this.pos + n > this.end) throw this.truncated();
  }

  /**
   * The first byte of the next value, without consuming it.
   *
   * @example
   * ```ts
   * import { Reader } from "./_msgpack.ts";
   * new Reader(new Uint8Array([0xc0])).peekByte(); // 0xc0
   * ```
   */
  peekByte(): number {
    if (this.pos >= this.end) throw this.truncated();
    return this.buf[this.pos];
  }

  /**
   * The wire type (`T_*`) of the next value, without consuming it. Throws on a malformed first byte (0xc1).
   *
   * @example
   * ```ts
   * import { Reader, T_STR } from "./_msgpack.ts";
   * new Reader(new Uint8Array([0xa1, 0x61])).peekType() === T_STR; // true
   * ```
   */
  peekType(): number {
    if (this.pos >= this.end) throw this.truncated();
    const t = TYPE_OF_BYTE[this.buf[this.pos]];
    if (t === T_INVALID) throw this.malformed();
    return t;
  }

  /**
   * The error for an invalid first byte at the current position.
   *
   * @example
   * ```ts
   * import { Reader } from "./_msgpack.ts";
   * new Reader(new Uint8Array([0xc1])).malformed().message;
   * // "MessagePack data is malformed: invalid opcode '\\xc1' (byte 0)"
   * ```
   */
  malformed(): WireDecodeError {
    const b = this.buf[this.pos];
    return new WireDecodeError(
      `${MALFORMED_PREFIX}: invalid opcode '\\x${b.toString(16).padStart(2, "0")}' (byte ${this.pos})`,
    );
  }

  /**
   * The msgspec-style error ``Expected `<expected>`, got `<actual>` `` for the next value (not consumed).
   *
   * @example
   * ```ts
   * import { Reader } from "./_msgpack.ts";
   * new Reader(new Uint8Array([0x05])).typeError("str").message; // "Expected `str`, got `int`"
   * ```
   */
  typeError(expected: string): WireDecodeError {
    const t = this.peekType();
    return new WireDecodeError(`Expected \`${expected}\`, got \`${WIRE_TYPE_NAMES[t]}\``);
  }

  /**
   * Throws `MessagePack data is malformed: trailing characters (byte N)` unless all input was consumed.
   *
   * @example
   * ```ts
   * import { Reader } from "./_msgpack.ts";
   * const r = new Reader(new Uint8Array([0xc0]));
   * r.readAny();
   * r.finish();
   * ```
   */
  finish(): void {
    if (this.pos !== this.end) {
      throw new WireDecodeError(`${MALFORMED_PREFIX}: trailing characters (byte ${this.pos})`);
    }
  }

  /**
   * If the next bytes equal `bytes` (typically a pre-encoded map key), consumes them and returns true.
   *
   * @example
   * ```ts
   * import { Reader } from "./_msgpack.ts";
   * const r = new Reader(new Uint8Array([0xa1, 0x61, 0x01]));
   * r.matchRaw(new Uint8Array([0xa1, 0x61])); // true
   * ```
   */
  matchRaw(bytes: Uint8Array): boolean {
    const n = bytes.length;
    const p = this.pos;
    if (p + n > this.end) return false;
    const buf = this.buf;
    for (let i = 0; i < n; i++) if (buf[p + i] !== bytes[i]) return false;
    this.pos = p + n;
    return true;
  }

  /**
   * Consumes a nil.
   *
   * @example
   * ```ts
   * import { Reader } from "./_msgpack.ts";
   * new Reader(new Uint8Array([0xc0])).readNil(); // null
   * ```
   */
  readNil(): null {
    if (this.peekByte() !== 0xc0) throw this.typeError("null");
    this.pos++;
    return null;
  }

  /**
   * Consumes a bool.
   *
   * @example
   * ```ts
   * import { Reader } from "./_msgpack.ts";
   * new Reader(new Uint8Array([0xc3])).readBool(); // true
   * ```
   */
  readBool(): boolean {
    const b = this.peekByte();
    if (b === 0xc3) {
      this.pos++;
      return true;
    }
    if (b === 0xc2) {
      this.pos++;
      return false;
    }
    throw this.typeError("bool");
  }

  /**
   * Consumes an integer of any width: a `number` when it is a safe integer, else a `bigint`.
   *
   * @example
   * ```ts
   * import { Reader } from "./_msgpack.ts";
   * new Reader(new Uint8Array([0xcd, 0x03, 0xe8])).readInt(); // 1000
   * ```
   */
  readInt(): number | bigint {
    const b = this.peekByte();
    if (b <= 0x7f) {
      this.pos++;
      return b;
    }
    if (b >= 0xe0) {
      this.pos++;
      return b - 256;
    }
    const p = this.pos;
    switch (b) {
      case 0xcc:
        this.need(2);
        this.pos = p + 2;
        return this.buf[p + 1];
      case 0xcd:
        this.need(3);
        this.pos = p + 3;
        return u16(this.buf, p + 1);
      case 0xce:
        this.need(5);
        this.pos = p + 5;
        return u32(this.buf, p + 1);
      case 0xcf: {
        this.need(9);
        this.pos = p + 9;
        const hi = u32(this.buf, p + 1);
        if (hi < 0x200000) return hi * TWO_32 + u32(this.buf, p + 5);
        return bu64(this.buf, p + 1);
      }
      case 0xd0:
        this.need(2);
        this.pos = p + 2;
        return i8(this.buf, p + 1);
      case 0xd1:
        this.need(3);
        this.pos = p + 3;
        return i16(this.buf, p + 1);
      case 0xd2:
        this.need(5);
        this.pos = p + 5;
        return i32(this.buf, p + 1);
      case 0xd3: {
        this.need(9);
        this.pos = p + 9;
        const hi = i32(this.buf, p + 1);
        const lo = u32(this.buf, p + 5);
        if ((hi > -0x200000 && hi < 0x200000) || (hi === -0x200000 && lo !== 0)) return hi * TWO_32 + lo;
        return bi64(this.buf, p + 1);
      }
    }
    throw this.typeError("int");
  }

  /**
   * Consumes an integer as a `bigint` (any width).
   *
   * @example
   * ```ts
   * import { Reader } from "./_msgpack.ts";
   * new Reader(new Uint8Array([0x05])).readBigInt(); // 5n
   * ```
   */
  readBigInt(): bigint {
    const v = this.readInt();
    return typeof v === "bigint" ? v : BigInt(v);
  }

  /**
   * Consumes a float32/float64, or an integer (converted to a number, as msgspec accepts ints for float fields).
   *
   * @example
   * ```ts
   * import { Reader } from "./_msgpack.ts";
   * new Reader(new Uint8Array([0x05])).readFloat(); // 5
   * ```
   */
  readFloat(): number {
    const b = this.peekByte();
    const p = this.pos;
    if (b === 0xcb) {
      this.need(9);
      this.pos = p + 9;
      return f64(this.buf, p + 1);
    }
    if (b === 0xca) {
      this.need(5);
      this.pos = p + 5;
      return f32(this.buf, p + 1);
    }
    if (TYPE_OF_BYTE[b] === T_INT) return Number(this.readInt());
    throw this.typeError("float");
  }

  /**
   * Consumes a str that is probably a map key: short keys (1..16 bytes) go through a process-wide cache so that a
   * key seen before returns the same string instance (no decoding, and engines that intern property names skip
   * that work too). Otherwise like {@link Reader.readStr}.
   *
   * @example
   * ```ts
   * import { Reader } from "./_msgpack.ts";
   * new Reader(new Uint8Array([0xa1, 0x61])).readKey(); // "a"
   * ```
   */
  readKey(): string {
    const b = this.peekByte();
    const len = b - 0xa0;
    if (len > 0 && len <= KEY_CACHE_MAX_LEN) {
      const start = this.pos + 1;
      const end = start + len;
      if (end > this.end) throw this.truncated();
      const buf = this.buf;
      let h = len;
      for (let i = start; i < end; i++) h = (Math.imul(h, 31) + buf[i]) | 0;
      const slot = (h ^ (h >>> 12)) & (KEY_CACHE_SLOTS - 1);
      const base = slot * KEY_CACHE_MAX_LEN;
      if (KEY_CACHE_LEN[slot] === len) {
        let same = true;
        for (let i = 0; i < len; i++) {
          if (KEY_CACHE_BYTES[base + i] !== buf[start + i]) {
            same = false;
            break;
          }
        }
        if (same) {
          this.pos = end;
          return KEY_CACHE_STR[slot];
        }
      }
      this.pos = start;
      const s = this.utf8(len);
      for (let i = 0; i < len; i++) KEY_CACHE_BYTES[base + i] = buf[start + i];
      KEY_CACHE_LEN[slot] = len;
      KEY_CACHE_STR[slot] = s;
      return s;
    }
    return this.readStr();
  }

  /**
   * Consumes a str.
   *
   * @example
   * ```ts
   * import { Reader } from "./_msgpack.ts";
   * new Reader(new Uint8Array([0xa1, 0x61])).readStr(); // "a"
   * ```
   */
  readStr(): string {
    const b = this.peekByte();
    let len: number;
    const p = this.pos;
    if ((b & 0xe0) === 0xa0) {
      len = b & 0x1f;
      this.pos = p + 1;
    } else if (b === 0xd9) {
      this.need(2);
      len = this.buf[p + 1];
      this.pos = p + 2;
    } else if (b === 0xda) {
      this.need(3);
      len = u16(this.buf, p + 1);
      this.pos = p + 3;
    } else if (b === 0xdb) {
      this.need(5);
      len = u32(this.buf, p + 1);
      this.pos = p + 5;
    } else {
      throw this.typeError("str");
    }
    return this.utf8(len);
  }

  /**
   * Decodes `len` UTF-8 bytes at the cursor (no header) and advances.
   *
   * @example
   * ```ts
   * import { Reader } from "./_msgpack.ts";
   * new Reader(new Uint8Array([0x61, 0x62])).utf8(2); // "ab"
   * ```
   */
  utf8(len: number): string {
    const start = this.pos;
    const end = start + len;
    if (end > this.end) throw this.truncated();
    const buf = this.buf;
    this.pos = end;
    // Short ASCII strings are cheaper to build in JS than through TextDecoder (measured on V8 and JSC).
    if (len <= 8) {
      for (let i = start; i < end; i++) if (buf[i] >= 0x80) return this.utf8Slow(start, end);
      const p = start;
      switch (len) {
        case 0:
          return "";
        case 1:
          return fromCharCode(buf[p]);
        case 2:
          return fromCharCode(buf[p], buf[p + 1]);
        case 3:
          return fromCharCode(buf[p], buf[p + 1], buf[p + 2]);
        case 4:
          return fromCharCode(buf[p], buf[p + 1], buf[p + 2], buf[p + 3]);
        case 5:
          return fromCharCode(buf[p], buf[p + 1], buf[p + 2], buf[p + 3], buf[p + 4]);
        case 6:
          return fromCharCode(buf[p], buf[p + 1], buf[p + 2], buf[p + 3], buf[p + 4], buf[p + 5]);
        case 7:
          return fromCharCode(buf[p], buf[p + 1], buf[p + 2], buf[p + 3], buf[p + 4], buf[p + 5], buf[p + 6]);
        default:
          return fromCharCode(
            buf[p],
            buf[p + 1],
            buf[p + 2],
            buf[p + 3],
            buf[p + 4],
            buf[p + 5],
            buf[p + 6],
            buf[p + 7],
          );
      }
    }
    if (len <= 24) {
      const codes = CHAR_CODES[len];
      for (let i = 0; i < len; i++) {
        const c = buf[start + i];
        if (c >= 0x80) return this.utf8Slow(start, end);
        codes[i] = c;
      }
      return fromCharCode.apply(null, codes);
    }
    return this.utf8Slow(start, end);
  }

  /** Decodes non-ASCII or long strings with TextDecoder, strictly when the fast decode replaced bytes. */
  private utf8Slow(start: number, end: number): string {
    const bytes = this.buf.subarray(start, end);
    const s = TEXT_DECODER.decode(bytes);
    if (s.indexOf("\ufffd") !== -1) {
      try {
        return STRICT_TEXT_DECODER.decode(bytes);
      } catch {
        throw new WireDecodeError(`${MALFORMED_PREFIX}: invalid UTF-8 in str (byte ${start})`);
      }
    }
    return s;
  }

  /**
   * Consumes a bin and returns a copy of its bytes.
   *
   * @example
   * ```ts
   * import { Reader } from "./_msgpack.ts";
   * new Reader(new Uint8Array([0xc4, 0x01, 0x07])).readBin(); // Uint8Array [7]
   * ```
   */
  readBin(): Uint8Array {
    const b = this.peekByte();
    const p = this.pos;
    let len: number;
    if (b === 0xc4) {
      this.need(2);
      len = this.buf[p + 1];
      this.pos = p + 2;
    } else if (b === 0xc5) {
      this.need(3);
      len = u16(this.buf, p + 1);
      this.pos = p + 3;
    } else if (b === 0xc6) {
      this.need(5);
      len = u32(this.buf, p + 1);
      this.pos = p + 5;
    } else {
      throw this.typeError("bytes");
    }
    this.need(len);
    const start = this.pos;
    this.pos = start + len;
    return this.buf.slice(start, start + len);
  }

  /**
   * Consumes an array header and returns the item count.
   *
   * @example
   * ```ts
   * import { Reader } from "./_msgpack.ts";
   * new Reader(new Uint8Array([0x90])).readArrayHeader(); // 0
   * ```
   */
  readArrayHeader(): number {
    const b = this.peekByte();
    const p = this.pos;
    if ((b & 0xf0) === 0x90) {
      this.pos = p + 1;
      return b & 0x0f;
    }
    if (b === 0xdc) {
      this.need(3);
      this.pos = p + 3;
      return u16(this.buf, p + 1);
    }
    if (b === 0xdd) {
      this.need(5);
      this.pos = p + 5;
      return u32(this.buf, p + 1);
    }
    throw this.typeError("array");
  }

  /**
   * Consumes a map header and returns the pair count.
   *
   * @example
   * ```ts
   * import { Reader } from "./_msgpack.ts";
   * new Reader(new Uint8Array([0x80])).readMapHeader(); // 0
   * ```
   */
  readMapHeader(): number {
    const b = this.peekByte();
    const p = this.pos;
    if ((b & 0xf0) === 0x80) {
      this.pos = p + 1;
      return b & 0x0f;
    }
    if (b === 0xde) {
      this.need(3);
      this.pos = p + 3;
      return u16(this.buf, p + 1);
    }
    if (b === 0xdf) {
      this.need(5);
      this.pos = p + 5;
      return u32(this.buf, p + 1);
    }
    throw this.typeError("object");
  }

  /** Reads an ext header; returns the data length and leaves the cursor on the type byte. */
  private extHeader(): number {
    const b = this.peekByte();
    const p = this.pos;
    switch (b) {
      case 0xd4:
        this.pos = p + 1;
        return 1;
      case 0xd5:
        this.pos = p + 1;
        return 2;
      case 0xd6:
        this.pos = p + 1;
        return 4;
      case 0xd7:
        this.pos = p + 1;
        return 8;
      case 0xd8:
        this.pos = p + 1;
        return 16;
      case 0xc7:
        this.need(2);
        this.pos = p + 2;
        return this.buf[p + 1];
      case 0xc8:
        this.need(3);
        this.pos = p + 3;
        return u16(this.buf, p + 1);
      case 0xc9:
        this.need(5);
        this.pos = p + 5;
        return u32(this.buf, p + 1);
    }
    throw this.typeError("ext");
  }

  /**
   * Consumes an extension value: a timestamp (type -1) becomes a `Date`, anything else a {@link MsgpackExt}.
   *
   * @example
   * ```ts
   * import { Reader } from "./_msgpack.ts";
   * new Reader(new Uint8Array([0xd6, 0xff, 0, 0, 0, 0])).readExt(); // Date(0)
   * ```
   */
  readExt(): Date | MsgpackExt {
    const len = this.extHeader();
    this.need(len + 1);
    const type = i8(this.buf, this.pos);
    this.pos++;
    if (type === -1) return this.timestampBody(len);
    const start = this.pos;
    this.pos = start + len;
    return new MsgpackExt(type, this.buf.slice(start, start + len));
  }

  /**
   * Consumes a timestamp (extension type -1) as a `Date` (millisecond precision; sub-millisecond nanoseconds are
   * truncated). Throws ``Expected `datetime`, got ... `` for anything else.
   *
   * @example
   * ```ts
   * import { Reader } from "./_msgpack.ts";
   * new Reader(new Uint8Array([0xd6, 0xff, 0x5e, 0x0b, 0xe1, 0x00])).readTimestamp(); // 2020-01-01T00:00:00Z
   * ```
   */
  readTimestamp(): Date {
    const start = this.pos;
    const b = this.peekByte();
    if (TYPE_OF_BYTE[b] !== T_EXT) throw this.typeError("datetime");
    const len = this.extHeader();
    this.need(len + 1);
    if (this.buf[this.pos] !== 0xff) {
      this.pos = start;
      throw this.typeError("datetime");
    }
    this.pos++;
    return this.timestampBody(len);
  }

  /** Reads the payload of a timestamp extension of `len` bytes. */
  private timestampBody(len: number): Date {
    const p = this.pos;
    let secs: number;
    let nsec: number;
    if (len === 4) {
      secs = u32(this.buf, p);
      nsec = 0;
    } else if (len === 8) {
      const hi = u32(this.buf, p);
      nsec = hi >>> 2;
      secs = (hi & 3) * TWO_32 + u32(this.buf, p + 4);
    } else if (len === 12) {
      nsec = u32(this.buf, p);
      secs = i32(this.buf, p + 4) * TWO_32 + u32(this.buf, p + 8);
    } else {
      throw new WireDecodeError("Invalid MessagePack timestamp: unsupported length " + len);
    }
    if (nsec > 999999999) {
      throw new WireDecodeError("Invalid MessagePack timestamp: nanoseconds out of range");
    }
    this.pos = p + len;
    return new Date(secs * 1000 + Math.floor(nsec / 1000000));
  }

  /**
   * Consumes one value of any type: nil → `null`, int → number (bigint beyond the safe range), float → number,
   * str → string, bin → `Uint8Array`, array → array, map → plain object (or a `Map` when a key is not a str),
   * timestamp → `Date`, other ext → {@link MsgpackExt}.
   *
   * @example
   * ```ts
   * import { Reader } from "./_msgpack.ts";
   * new Reader(new Uint8Array([0x81, 0xa1, 0x61, 0x01])).readAny(); // { a: 1 }
   * ```
   */
  readAny(): unknown {
    const b = this.peekByte();
    if (b <= 0x7f) {
      this.pos++;
      return b;
    }
    switch (TYPE_OF_BYTE[b]) {
      case T_STR:
        return this.readStr();
      case T_INT:
        return this.readInt();
      case T_NIL:
        this.pos++;
        return null;
      case T_BOOL:
        this.pos++;
        return b === 0xc3;
      case T_FLOAT:
        return this.readFloat();
      case T_BIN:
        return this.readBin();
      case T_ARRAY: {
        const n = this.readArrayHeader();
        // Guard against absurd headers in garbage input: every item needs at least one byte.
        if (n > this.end - this.pos) throw this.truncated();
        const out = new Array(n);
        for (let i = 0; i < n; i++) out[i] = this.readAny();
        return out;
      }
      case T_MAP:
        return this.readAnyMap();
      case T_EXT:
        return this.readExt();
    }
    throw this.malformed();
  }

  /** Reads a map dynamically (plain object, or a Map when a key is not a str). */
  private readAnyMap(): unknown {
    const n = this.readMapHeader();
    if (n > this.end - this.pos) throw this.truncated();
    const obj: Record<string, unknown> = {};
    for (let i = 0; i < n; i++) {
      const b = this.peekByte();
      if (TYPE_OF_BYTE[b] !== T_STR) {
        // Non-string key: switch to a Map to stay lossless.
        const map = new Map<unknown, unknown>(Object.entries(obj));
        for (; i < n; i++) {
          const k = this.readAny();
          map.set(k, this.readAny());
        }
        return map;
      }
      const key = this.readKey();
      setOwn(obj, key, this.readAny());
    }
    return obj;
  }

  /**
   * Skips one value (validating its structure and bounds).
   *
   * @example
   * ```ts
   * import { Reader } from "./_msgpack.ts";
   * const r = new Reader(new Uint8Array([0x92, 0x01, 0x02, 0xc0]));
   * r.skip();
   * r.readNil();
   * ```
   */
  skip(): void {
    let pending = 1;
    while (pending > 0) {
      pending--;
      const b = this.peekByte();
      const p = this.pos;
      if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) {
        this.pos = p + 1;
        continue;
      }
      switch (TYPE_OF_BYTE[b]) {
        case T_STR: {
          let len: number;
          if (b <= 0xbf) {
            len = b & 0x1f;
            this.pos = p + 1;
          } else if (b === 0xd9) {
            this.need(2);
            len = this.buf[p + 1];
            this.pos = p + 2;
          } else if (b === 0xda) {
            this.need(3);
            len = u16(this.buf, p + 1);
            this.pos = p + 3;
          } else {
            this.need(5);
            len = u32(this.buf, p + 1);
            this.pos = p + 5;
          }
          this.need(len);
          this.pos += len;
          break;
        }
        case T_INT: {
          const size = b === 0xcc || b === 0xd0
            ? 2
            : b === 0xcd || b === 0xd1
            ? 3
            : b === 0xce || b === 0xd2
            ? 5
            : 9;
          this.need(size);
          this.pos = p + size;
          break;
        }
        case T_FLOAT: {
          const size = b === 0xca ? 5 : 9;
          this.need(size);
          this.pos = p + size;
          break;
        }
        case T_BIN: {
          const len = b === 0xc4
            ? (this.need(2), this.buf[p + 1])
            : b === 0xc5
            ? (this.need(3), u16(this.buf, p + 1))
            : (this.need(5), u32(this.buf, p + 1));
          const hdr = b === 0xc4 ? 2 : b === 0xc5 ? 3 : 5;
          this.need(hdr + len);
          this.pos = p + hdr + len;
          break;
        }
        case T_ARRAY:
          pending += this.readArrayHeader();
          if (pending > this.end - this.pos) throw this.truncated();
          break;
        case T_MAP:
          pending += this.readMapHeader() * 2;
          if (pending > this.end - this.pos) throw this.truncated();
          break;
        case T_EXT: {
          const len = this.extHeader();
          this.need(len + 1);
          this.pos += len + 1;
          break;
        }
        default:
          throw this.malformed();
      }
    }
  }
}

/**
 * Sets an own data property, also for the key `__proto__` (which plain assignment would treat as the prototype).
 *
 * @example
 * ```ts
 * import { setOwn } from "./_msgpack.ts";
 * const o: Record<string, unknown> = {};
 * setOwn(o, "__proto__", 1);
 * Object.keys(o); // ["__proto__"]
 * ```
 */
export function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") {
    Object.defineProperty(obj, key, { value, writable: true, enumerable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

/**
 * Encodes `value` with a fresh {@link Writer} using the dynamic rules of {@link Writer.any}.
 *
 * @example
 * ```ts
 * import { encodeAny } from "./_msgpack.ts";
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
 * import { decodeAny } from "./_msgpack.ts";
 * decodeAny(new Uint8Array([0x81, 0xa1, 0x61, 0x01])); // { a: 1 }
 * ```
 */
export function decodeAny(bytes: Uint8Array): unknown {
  const r = new Reader(bytes);
  const v = r.readAny();
  r.finish();
  return v;
}
