/**
 * The msgpack {@link Reader}: a bounds-checked cursor that exposes the wire type of the next value, so
 * that typed decoders can tell `int` from `float` and `str` from `bin`. Slightly over ~600 lines: the
 * per-format branches of the hot path are kept inline on purpose (no dispatch through helpers).
 *
 * @module
 */
import { MALFORMED_PREFIX, TOO_DEEP_REASON, TRUNCATED_REASON, WireDecodeError } from "./_msgpack_errors.ts";
import { T_INT, T_INVALID, TYPE_OF_BYTE, WIRE_TYPE_NAMES } from "./_msgpack_types.ts";
import { bi64, bu64, f32, f64, i16, i32, i8, TWO_32, u16, u32 } from "./_msgpack_bytes.ts";
import { type MsgpackExt, readExtValue, readTimestampValue } from "./_msgpack_ext.ts";
import { readAny, skipValue } from "./_msgpack_any.ts";

// The non-fatal decoder is much faster on some runtimes; a U+FFFD in its output triggers a strict re-decode.
const TEXT_DECODER = new TextDecoder("utf-8", { ignoreBOM: true });
const STRICT_TEXT_DECODER = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const EMPTY = new Uint8Array(0);
const fromCharCode = String.fromCharCode;

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
 * import { Reader, T_INT } from "@loom/streaming/kafka";
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
   * Nesting level of the value being read (arrays and maps read without a schema, recursive schema levels);
   * reading deeper than `MAX_NESTING_DEPTH` throws (see {@link Reader.tooDeep}). A counter, not a stack.
   */
  depth: number;

  /**
   * Creates a reader positioned at the start of `bytes`.
   *
   * @param bytes input (not copied)
   */
  constructor(bytes: Uint8Array = EMPTY) {
    this.buf = bytes;
    this.pos = 0;
    this.end = bytes.length;
    this.depth = 0;
  }

  /**
   * Points the reader at new input.
   *
   * @example
   * ```ts
   * import { Reader } from "@loom/streaming/kafka";
   * const r = new Reader();
   * r.reset(new Uint8Array([0xc0]));
   * r.readAny(); // null
   * ```
   */
  reset(bytes: Uint8Array): void {
    this.buf = bytes;
    this.pos = 0;
    this.end = bytes.length;
    this.depth = 0;
  }

  /**
   * The error for truncated input.
   *
   * @example
   * ```ts
   * import { Reader } from "@loom/streaming/kafka";
   * new Reader().truncated().message; // "Input data was truncated"
   * ```
   */
  truncated(): WireDecodeError {
    return new WireDecodeError(TRUNCATED_REASON);
  }

  /**
   * The error for input nested deeper than `MAX_NESTING_DEPTH` (512 levels).
   *
   * @example
   * ```ts
   * import { Reader } from "@loom/streaming/kafka";
   * new Reader().tooDeep().message; // "MessagePack data is nested deeper than 512 levels (MAX_NESTING_DEPTH)"
   * ```
   */
  tooDeep(): WireDecodeError {
    return new WireDecodeError(TOO_DEEP_REASON);
  }

  /**
   * Throws unless `n` more bytes are available.
   *
   * @example
   * ```ts
   * import { Reader } from "@loom/streaming/kafka";
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
   * import { Reader } from "@loom/streaming/kafka";
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
   * import { Reader, T_STR } from "@loom/streaming/kafka";
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
   * import { Reader } from "@loom/streaming/kafka";
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
   * import { Reader } from "@loom/streaming/kafka";
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
   * import { Reader } from "@loom/streaming/kafka";
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
   * import { Reader } from "@loom/streaming/kafka";
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
   * import { Reader } from "@loom/streaming/kafka";
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
   * import { Reader } from "@loom/streaming/kafka";
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
   * import { Reader } from "@loom/streaming/kafka";
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
   * import { Reader } from "@loom/streaming/kafka";
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
   * import { Reader } from "@loom/streaming/kafka";
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
   * import { Reader } from "@loom/streaming/kafka";
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
   * import { Reader } from "@loom/streaming/kafka";
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
   * import { Reader } from "@loom/streaming/kafka";
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
   * import { Reader } from "@loom/streaming/kafka";
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
   * import { Reader } from "@loom/streaming/kafka";
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
   * import { Reader } from "@loom/streaming/kafka";
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

  /**
   * Consumes an extension value: a timestamp (type -1) becomes a `Date`, anything else a {@link MsgpackExt}.
   *
   * @example
   * ```ts
   * import { Reader } from "@loom/streaming/kafka";
   * new Reader(new Uint8Array([0xd6, 0xff, 0, 0, 0, 0])).readExt(); // Date(0)
   * ```
   */
  readExt(): Date | MsgpackExt {
    return readExtValue(this);
  }

  /**
   * Consumes a timestamp (extension type -1) as a `Date` (millisecond precision; sub-millisecond nanoseconds are
   * truncated). Throws ``Expected `datetime`, got ... `` for anything else.
   *
   * @example
   * ```ts
   * import { Reader } from "@loom/streaming/kafka";
   * new Reader(new Uint8Array([0xd6, 0xff, 0x5e, 0x0b, 0xe1, 0x00])).readTimestamp(); // 2020-01-01T00:00:00Z
   * ```
   */
  readTimestamp(): Date {
    return readTimestampValue(this);
  }

  /**
   * Consumes one value of any type: nil → `null`, int → number (bigint beyond the safe range), float → number,
   * str → string, bin → `Uint8Array`, array → array, map → plain object (or a `Map` when a key is not a str),
   * timestamp → `Date`, other ext → {@link MsgpackExt}.
   *
   * @example
   * ```ts
   * import { Reader } from "@loom/streaming/kafka";
   * new Reader(new Uint8Array([0x81, 0xa1, 0x61, 0x01])).readAny(); // { a: 1 }
   * ```
   */
  readAny(): unknown {
    return readAny(this);
  }

  /**
   * Skips one value (validating its structure and bounds).
   *
   * @example
   * ```ts
   * import { Reader } from "@loom/streaming/kafka";
   * const r = new Reader(new Uint8Array([0x92, 0x01, 0x02, 0xc0]));
   * r.skip();
   * r.readNil();
   * ```
   */
  skip(): void {
    skipValue(this);
  }
}
