/**
 * Container codecs: arrays and sets, tuples, records and maps, and structs (objects, {@link structCodec}).
 *
 * @module
 */
import * as v from "valibot";
import { T_STR, WIRE_TYPE_NAMES, WireDecodeError, WireEncodeError, WireError, Writer } from "./_msgpack.ts";
import type { AnySchema } from "./_type.ts";
import {
  A_ARRAY,
  A_MAP,
  encodeMismatch,
  isPlainObjectLike,
  type Node,
  type PayloadCodec,
  withSegment,
} from "./_schema_codec_node.ts";
import { asNode, required, STR } from "./_schema_codec_leaves.ts";

export function arrayNode(item: Node, asSet: boolean): Node {
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

export function tupleNode(items: readonly Node[], rest: Node | null, exact: boolean): Node {
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

export function recordNode(key: Node, value: Node, asMap: boolean): Node {
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

export function structNode(fields: readonly StructField[], options: StructOptions): Node {
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
 * import { compileSchema, structCodec } from "@loom/streaming/kafka";
 * const meta = structCodec([
 *   { name: "trace_id", prop: "traceId", codec: compileSchema(v.nullable(v.string())) },
 *   { name: "produced_at_ms", prop: "producedAtMs", codec: compileSchema(v.pipe(v.number(), v.integer())) },
 * ]);
 * ```
 */
export function structCodec(fields: readonly StructField[]): PayloadCodec<Record<string, unknown>> {
  return structNode(fields, { rest: null, schema: null }) as PayloadCodec<Record<string, unknown>>;
}
