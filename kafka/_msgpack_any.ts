/**
 * Schema-less msgpack values: write any JS value ({@link Writer.any}), read any value
 * ({@link Reader.readAny}), skip a value ({@link Reader.skip}).
 *
 * @module
 */
import { MAX_NESTING_DEPTH, WireEncodeError, WireError } from "./_msgpack_errors.ts";
import {
  T_ARRAY,
  T_BIN,
  T_BOOL,
  T_EXT,
  T_FLOAT,
  T_INT,
  T_MAP,
  T_NIL,
  T_STR,
  TYPE_OF_BYTE,
} from "./_msgpack_types.ts";
import { u16, u32 } from "./_msgpack_bytes.ts";
import { MsgpackExt, readExtHeader, readExtValue } from "./_msgpack_ext.ts";
import type { Reader } from "./_msgpack_reader.ts";
import type { Writer } from "./_msgpack_writer.ts";

/** {@link Writer.any}. */
export function writeAny(w: Writer, value: unknown): void {
  switch (typeof value) {
    case "string":
      return w.str(value);
    case "number":
      if (Number.isSafeInteger(value)) return w.int(value);
      return w.float64(value);
    case "boolean":
      return w.bool(value);
    case "undefined":
      return w.nil();
    case "bigint":
      return w.bigint(value);
    case "object": {
      if (value === null) return w.nil();
      if (Array.isArray(value)) {
        const n = value.length;
        if (++w.depth > MAX_NESTING_DEPTH) throw w.tooDeep();
        w.arrayHeader(n);
        let i = 0;
        try {
          for (; i < n; i++) writeAny(w, value[i]);
        } catch (e) {
          if (e instanceof WireError) e.prependPath(`[${i}]`);
          throw e;
        }
        w.depth--;
        return;
      }
      if (value instanceof Uint8Array) return w.bin(value);
      if (value instanceof Date) return w.timestamp(value);
      if (value instanceof MsgpackExt) return w.ext(value.type, value.data);
      if (value instanceof Map) {
        if (++w.depth > MAX_NESTING_DEPTH) throw w.tooDeep();
        w.mapHeader(value.size);
        for (const [k, v] of value) {
          try {
            writeAny(w, k);
          } catch (e) {
            if (e instanceof WireError) throw new WireEncodeError(e.reason, "$", true);
            throw e;
          }
          try {
            writeAny(w, v);
          } catch (e) {
            if (e instanceof WireError) e.prependPath("[...]");
            throw e;
          }
        }
        w.depth--;
        return;
      }
      const proto = Object.getPrototypeOf(value);
      if (proto === Object.prototype || proto === null) {
        const obj = value as Record<string, unknown>;
        const keys = Object.keys(obj);
        const n = keys.length;
        if (++w.depth > MAX_NESTING_DEPTH) throw w.tooDeep();
        w.mapHeader(n);
        let i = 0;
        try {
          for (; i < n; i++) {
            w.str(keys[i]);
            writeAny(w, obj[keys[i]]);
          }
        } catch (e) {
          if (e instanceof WireError) e.prependPath(`.${keys[i]}`);
          throw e;
        }
        w.depth--;
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

/** {@link Reader.readAny}. */
export function readAny(r: Reader): unknown {
  const b = r.peekByte();
  if (b <= 0x7f) {
    r.pos++;
    return b;
  }
  switch (TYPE_OF_BYTE[b]) {
    case T_STR:
      return r.readStr();
    case T_INT:
      return r.readInt();
    case T_NIL:
      r.pos++;
      return null;
    case T_BOOL:
      r.pos++;
      return b === 0xc3;
    case T_FLOAT:
      return r.readFloat();
    case T_BIN:
      return r.readBin();
    case T_ARRAY: {
      const n = r.readArrayHeader();
      // Guard against absurd headers in garbage input: every item needs at least one byte.
      if (n > r.end - r.pos) throw r.truncated();
      if (++r.depth > MAX_NESTING_DEPTH) throw r.tooDeep();
      const out = new Array(n);
      for (let i = 0; i < n; i++) out[i] = readAny(r);
      r.depth--;
      return out;
    }
    case T_MAP:
      return readAnyMap(r);
    case T_EXT:
      return readExtValue(r);
  }
  throw r.malformed();
}

/** Reads a map dynamically (plain object, or a Map when a key is not a str). */
function readAnyMap(r: Reader): unknown {
  const n = r.readMapHeader();
  if (n > r.end - r.pos) throw r.truncated();
  if (++r.depth > MAX_NESTING_DEPTH) throw r.tooDeep();
  const obj: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) {
    const b = r.peekByte();
    if (TYPE_OF_BYTE[b] !== T_STR) {
      // Non-string key: switch to a Map to stay lossless.
      const map = new Map<unknown, unknown>(Object.entries(obj));
      for (; i < n; i++) {
        const k = readAny(r);
        map.set(k, readAny(r));
      }
      r.depth--;
      return map;
    }
    const key = r.readKey();
    setOwn(obj, key, readAny(r));
  }
  r.depth--;
  return obj;
}

/** {@link Reader.skip}. */
export function skipValue(r: Reader): void {
  let pending = 1;
  while (pending > 0) {
    pending--;
    const b = r.peekByte();
    const p = r.pos;
    if (b <= 0x7f || b >= 0xe0 || b === 0xc0 || b === 0xc2 || b === 0xc3) {
      r.pos = p + 1;
      continue;
    }
    switch (TYPE_OF_BYTE[b]) {
      case T_STR: {
        let len: number;
        if (b <= 0xbf) {
          len = b & 0x1f;
          r.pos = p + 1;
        } else if (b === 0xd9) {
          r.need(2);
          len = r.buf[p + 1];
          r.pos = p + 2;
        } else if (b === 0xda) {
          r.need(3);
          len = u16(r.buf, p + 1);
          r.pos = p + 3;
        } else {
          r.need(5);
          len = u32(r.buf, p + 1);
          r.pos = p + 5;
        }
        r.need(len);
        r.pos += len;
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
        r.need(size);
        r.pos = p + size;
        break;
      }
      case T_FLOAT: {
        const size = b === 0xca ? 5 : 9;
        r.need(size);
        r.pos = p + size;
        break;
      }
      case T_BIN: {
        const len = b === 0xc4
          ? (r.need(2), r.buf[p + 1])
          : b === 0xc5
          ? (r.need(3), u16(r.buf, p + 1))
          : (r.need(5), u32(r.buf, p + 1));
        const hdr = b === 0xc4 ? 2 : b === 0xc5 ? 3 : 5;
        r.need(hdr + len);
        r.pos = p + hdr + len;
        break;
      }
      case T_ARRAY:
        pending += r.readArrayHeader();
        if (pending > r.end - r.pos) throw r.truncated();
        break;
      case T_MAP:
        pending += r.readMapHeader() * 2;
        if (pending > r.end - r.pos) throw r.truncated();
        break;
      case T_EXT: {
        const len = readExtHeader(r);
        r.need(len + 1);
        r.pos += len + 1;
        break;
      }
      default:
        throw r.malformed();
    }
  }
}

/**
 * Sets an own data property, also for the key `__proto__` (which plain assignment would treat as the prototype).
 *
 * @example
 * ```ts
 * import { setOwn } from "@loom/streaming/kafka";
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
