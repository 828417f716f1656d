/**
 * msgpack extension values: {@link MsgpackExt}, and timestamps (extension type -1) as `Date`s.
 *
 * @module
 */
import { WireDecodeError } from "./_msgpack_errors.ts";
import { T_EXT, TYPE_OF_BYTE } from "./_msgpack_types.ts";
import { i32, i8, TWO_32, u16, u32 } from "./_msgpack_bytes.ts";
import type { Reader } from "./_msgpack_reader.ts";

/**
 * A msgpack extension value other than a timestamp (type -1 decodes to a `Date`).
 *
 * @example
 * ```ts
 * import { MsgpackExt } from "@loom/streaming/kafka";
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

/** Reads an ext header; returns the data length and leaves the cursor on the type byte. */
export function readExtHeader(r: Reader): number {
  const b = r.peekByte();
  const p = r.pos;
  switch (b) {
    case 0xd4:
      r.pos = p + 1;
      return 1;
    case 0xd5:
      r.pos = p + 1;
      return 2;
    case 0xd6:
      r.pos = p + 1;
      return 4;
    case 0xd7:
      r.pos = p + 1;
      return 8;
    case 0xd8:
      r.pos = p + 1;
      return 16;
    case 0xc7:
      r.need(2);
      r.pos = p + 2;
      return r.buf[p + 1];
    case 0xc8:
      r.need(3);
      r.pos = p + 3;
      return u16(r.buf, p + 1);
    case 0xc9:
      r.need(5);
      r.pos = p + 5;
      return u32(r.buf, p + 1);
  }
  throw r.typeError("ext");
}

/** {@link Reader.readExt}. */
export function readExtValue(r: Reader): Date | MsgpackExt {
  const len = readExtHeader(r);
  r.need(len + 1);
  const type = i8(r.buf, r.pos);
  r.pos++;
  if (type === -1) return readTimestampBody(r, len);
  const start = r.pos;
  r.pos = start + len;
  return new MsgpackExt(type, r.buf.slice(start, start + len));
}

/** {@link Reader.readTimestamp}. */
export function readTimestampValue(r: Reader): Date {
  const start = r.pos;
  const b = r.peekByte();
  if (TYPE_OF_BYTE[b] !== T_EXT) throw r.typeError("datetime");
  const len = readExtHeader(r);
  r.need(len + 1);
  if (r.buf[r.pos] !== 0xff) {
    r.pos = start;
    throw r.typeError("datetime");
  }
  r.pos++;
  return readTimestampBody(r, len);
}

/** Reads the payload of a timestamp extension of `len` bytes. */
function readTimestampBody(r: Reader, len: number): Date {
  const p = r.pos;
  let secs: number;
  let nsec: number;
  if (len === 4) {
    secs = u32(r.buf, p);
    nsec = 0;
  } else if (len === 8) {
    const hi = u32(r.buf, p);
    nsec = hi >>> 2;
    secs = (hi & 3) * TWO_32 + u32(r.buf, p + 4);
  } else if (len === 12) {
    nsec = u32(r.buf, p);
    secs = i32(r.buf, p + 4) * TWO_32 + u32(r.buf, p + 8);
  } else {
    throw new WireDecodeError("Invalid MessagePack timestamp: unsupported length " + len);
  }
  if (nsec > 999999999) {
    throw new WireDecodeError("Invalid MessagePack timestamp: nanoseconds out of range");
  }
  r.pos = p + len;
  return new Date(secs * 1000 + Math.floor(nsec / 1000000));
}
