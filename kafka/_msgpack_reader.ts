/**
 * The msgpack {@link Reader}: a bounds-checked cursor that exposes the wire type of the next value, so
 * that typed decoders can tell `int` from `float` and `str` from `bin`. The cursor, its errors and the scalar
 * reads (nil, bool, int, float) are inherited from {@link ScalarReader} (`_msgpack_scalar_reader.ts`); this file
 * holds the reads of strings (with the map-key cache), bins, container headers, extensions and schema-less values.
 *
 * @module
 */
import { MALFORMED_PREFIX, WireDecodeError } from "./_msgpack_errors.ts";
import { u16, u32 } from "./_msgpack_bytes.ts";
import { type MsgpackExt, readExtValue, readTimestampValue } from "./_msgpack_ext.ts";
import { readAny, skipValue } from "./_msgpack_any.ts";
import { ScalarReader } from "./_msgpack_scalar_reader.ts";

// The non-fatal decoder is much faster on some runtimes; a U+FFFD in its output triggers a strict re-decode.
const TEXT_DECODER = new TextDecoder("utf-8", { ignoreBOM: true });
const STRICT_TEXT_DECODER = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const fromCharCode = String.fromCharCode;

// Map-key cache (see Reader.readKey): slot -> bytes (in one arena, no allocation per entry), length, string.
const KEY_CACHE_SLOTS = 4096;
const KEY_CACHE_MAX_LEN = 16;
const KEY_CACHE_BYTES = new Uint8Array(KEY_CACHE_SLOTS * KEY_CACHE_MAX_LEN);
const KEY_CACHE_LEN = new Uint8Array(KEY_CACHE_SLOTS);
const KEY_CACHE_STR: string[] = new Array<string>(KEY_CACHE_SLOTS).fill("");

/**
 * The longest ASCII string built in JS (String.fromCharCode) rather than by TextDecoder, per runtime. Measured
 * on 2026-12-03 (ns per decode of an ASCII string, JS / TextDecoder): V8 (Deno) 37/115 at 16 bytes, 58/110
 * at 32 (a trace id), 71/109 at 40; JSC (Bun) 65/73 at 12, 82/79 at 16, 116/81 at 24, 110/82 at 32. Both
 * TextDecoders cost about the same at any of these lengths (V8 ~110 ns, JSC ~80 ns).
 */
export const JS_ASCII_MAX_LEN: number = (globalThis as { Bun?: unknown }).Bun === undefined ? 48 : 16;

// Reusable argument arrays for String.fromCharCode.apply (index = length).
const CHAR_CODES: number[][] = [];
for (let n = 0; n <= JS_ASCII_MAX_LEN; n++) CHAR_CODES.push(new Array<number>(n).fill(0));

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
export class Reader extends ScalarReader {
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
    if (len <= JS_ASCII_MAX_LEN) {
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
