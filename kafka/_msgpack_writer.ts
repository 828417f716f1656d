/**
 * The msgpack {@link Writer}: a growable output buffer, byte-compatible with msgspec (integers in their
 * smallest form, Python floats as float64, strings in their smallest str header, timestamps as
 * extension type -1).
 *
 * @module
 */
import { TOO_DEEP_REASON, WireEncodeError } from "./_msgpack_errors.ts";
import { TWO_32 } from "./_msgpack_bytes.ts";
import { writeAny } from "./_msgpack_any.ts";

const TEXT_ENCODER = new TextEncoder();

const TWO_64 = 18446744073709551616;
const MIN_INT64 = -9223372036854775808;
const BIG_MAX_UINT64 = 0xffffffffffffffffn;
const BIG_MIN_INT64 = -0x8000000000000000n;

/**
 * A growable msgpack output buffer. Reuse one instance (call {@link Writer.reset}) to avoid per-message
 * allocations; {@link Writer.toBytes} returns a copy the caller owns.
 *
 * @example
 * ```ts
 * import { Writer } from "@loom/streaming/kafka";
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
   * Nesting level of the value being written (arrays and maps written without a schema, recursive schema
   * levels); writing deeper than `MAX_NESTING_DEPTH` throws (see {@link Writer.tooDeep}).
   */
  depth: number;

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
    this.depth = 0;
  }

  /**
   * Forgets the current message (keeps the buffer; bytes returned by {@link Writer.finish} are not touched).
   *
   * @example
   * ```ts
   * import { Writer } from "@loom/streaming/kafka";
   * const w = new Writer();
   * w.nil();
   * w.reset();
   * w.pos; // 0
   * ```
   */
  reset(): void {
    this.pos = this.start;
    this.depth = 0;
  }

  /**
   * The error for a value nested deeper than `MAX_NESTING_DEPTH` (512 levels).
   *
   * @example
   * ```ts
   * import { Writer } from "@loom/streaming/kafka";
   * new Writer().tooDeep().message; // "MessagePack data is nested deeper than 512 levels (MAX_NESTING_DEPTH)"
   * ```
   */
  tooDeep(): WireEncodeError {
    return new WireEncodeError(TOO_DEEP_REASON);
  }

  /**
   * Makes room for `n` more bytes.
   *
   * @example
   * ```ts
   * import { Writer } from "@loom/streaming/kafka";
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
   * import { Writer } from "@loom/streaming/kafka";
   * const w = new Writer();
   * w.int(1);
   * const a = w.finish(); // [0x01]
   * w.int(2);
   * const b = w.finish(); // [0x02]; a is unchanged
   * ```
   */
  finish(): Uint8Array {
    const buf = this.buf;
    // not `subarray`: it looks up the species constructor, which is slow on JSC
    const out = new Uint8Array(buf.buffer, buf.byteOffset + this.start, this.pos - this.start);
    this.start = this.pos;
    return out;
  }

  /**
   * A copy of the current message's bytes (owned by the caller).
   *
   * @example
   * ```ts
   * import { Writer } from "@loom/streaming/kafka";
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
   * import { Writer } from "@loom/streaming/kafka";
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
   * import { Writer } from "@loom/streaming/kafka";
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
   * import { Writer } from "@loom/streaming/kafka";
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
   * import { Writer } from "@loom/streaming/kafka";
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
   * import { Writer } from "@loom/streaming/kafka";
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
   * import { Writer } from "@loom/streaming/kafka";
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
   * import { Writer } from "@loom/streaming/kafka";
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
   * import { Writer } from "@loom/streaming/kafka";
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
   * import { Writer } from "@loom/streaming/kafka";
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
   * import { Writer } from "@loom/streaming/kafka";
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
   * import { Writer } from "@loom/streaming/kafka";
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
   * import { Writer } from "@loom/streaming/kafka";
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
   * import { Writer } from "@loom/streaming/kafka";
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
   * import { Writer } from "@loom/streaming/kafka";
   * const w = new Writer();
   * w.any({ a: 1, b: [true, null], c: 2.5 });
   * ```
   */
  any(value: unknown): void {
    writeAny(this, value);
  }
}
