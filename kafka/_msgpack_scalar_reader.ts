/**
 * The first half of the msgpack reader: {@link ScalarReader}, a bounds-checked cursor (position, end, nesting
 * depth) with the errors it throws, peeking at the wire type of the next value, and the scalar reads (nil, bool,
 * int, float). `Reader` (`_msgpack_reader.ts`) extends it with strings, bins, container headers, extensions and
 * schema-less values; the split is by inheritance so that every read stays a plain method (no dispatch through
 * helpers on the hot path).
 *
 * @module
 */
import { MALFORMED_PREFIX, TOO_DEEP_REASON, TRUNCATED_REASON, WireDecodeError } from "./_msgpack_errors.ts";
import { T_INT, T_INVALID, TYPE_OF_BYTE, WIRE_TYPE_NAMES } from "./_msgpack_types.ts";
import { bi64, bu64, f32, f64, i16, i32, i8, TWO_32, u16, u32 } from "./_msgpack_bytes.ts";

const EMPTY = new Uint8Array(0);

/**
 * The cursor and scalar reads of a msgpack `Reader` (which extends this class with strings, bins, containers and
 * extensions; use `Reader`). `peekType()` tells the wire type of the next value without consuming it; the
 * `read*` methods consume one value of the expected type and otherwise throw a msgspec-style
 * {@link WireDecodeError}. Every read is bounds-checked: truncated input throws `Input data was truncated`.
 *
 * @example
 * ```ts
 * import { Reader, ScalarReader } from "@loom/streaming/kafka";
 * const r = new Reader(new Uint8Array([0x05]));
 * r instanceof ScalarReader; // true
 * r.readInt(); // 5
 * ```
 */
export class ScalarReader {
  /** Input bytes. */
  buf: Uint8Array;
  /** Offset of the next byte to read. */
  pos: number;
  /** End offset (exclusive). */
  end: number;
  /**
   * Nesting level of the value being read (arrays and maps read without a schema, recursive schema levels);
   * reading deeper than `MAX_NESTING_DEPTH` throws (see {@link ScalarReader.tooDeep}). A counter, not a stack.
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
}
