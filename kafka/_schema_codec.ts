/**
 * Schema-driven msgpack codecs: a valibot schema is compiled ONCE into an encoder that writes exactly what msgspec
 * writes for the equivalent Python struct (map keys in declaration order, explicit nils, floats as float64, ints
 * in the smallest form) and a strict decoder that follows msgspec's typed-decode rules and error messages.
 *
 * Mapping (valibot → wire):
 * - `object` / `looseObject` / `strictObject` → map with the declared keys, in declaration order, all written;
 *   unknown keys are ignored when decoding.
 * - `number` → float64; `pipe(number(), integer())` or `safeInteger()` → int; `bigint` → int (int64/uint64).
 * - `string`, `picklist`, `enum`, `literal` → str / int / float / bool; `boolean` → bool.
 * - `instance(Uint8Array)` → bin; `date` / `instance(Date)` → timestamp (ext -1).
 * - `array`, `tuple`, `set` → array; `record(string(), X)` → map; `map` → map (decoded as a JS `Map`).
 * - `optional` / `nullable` / `nullish` → the inner type or nil.
 * - `union` / `variant` → the first matching option; `any` / `unknown` → dynamic encoding.
 *
 * This module is the compiler; the codecs it assembles live in `_schema_codec_node.ts` (the node contract and
 * error helpers), `_schema_codec_leaves.ts` (scalars, enums, optional/nullable), `_schema_codec_containers.ts`
 * (arrays, tuples, records, structs) and `_schema_codec_unions.ts` (unions, variants, pipe checks, fallbacks).
 *
 * @module
 */
import { MAX_NESTING_DEPTH, Reader, Writer } from "./_msgpack.ts";
import { type AnySchema, isMessageType, type MessageType, type SchemaOutput } from "./_type.ts";
import { A_ALL, A_STR, type Node, type PayloadCodec, type SchemaLike } from "./_schema_codec_node.ts";
import {
  BIGINT,
  BOOL,
  BYTES,
  DATE,
  DYNAMIC,
  enumNode,
  FLOAT,
  INT,
  NEVER,
  NULL,
  required,
  STR,
  UNDEFINED,
  withDefault,
  withNil,
} from "./_schema_codec_leaves.ts";
import {
  arrayNode,
  recordNode,
  type StructField,
  structNode,
  tupleNode,
} from "./_schema_codec_containers.ts";
import { unionNode, variantNode, withCheck, withFallback } from "./_schema_codec_unions.ts";

export { WireDecodeError, WireEncodeError, WireError } from "./_msgpack.ts";
/** Re-exported for hand-written codecs. */
export { MsgpackExt } from "./_msgpack.ts";
export type { PayloadCodec } from "./_schema_codec_node.ts";
export { defineCodec, dynamicCodec, nullableCodec } from "./_schema_codec_leaves.ts";
export { structCodec, type StructField } from "./_schema_codec_containers.ts";

/** Actions that need no runtime check: handled structurally (integer) or identities (brand, metadata). */
const NO_CHECK_ACTIONS = new Set(["integer", "safe_integer", "brand", "readonly", "flavor"]);

interface PipeInfo {
  isInt: boolean;
  needsCheck: boolean;
}

function pipeInfo(schema: SchemaLike): PipeInfo {
  const info: PipeInfo = { isInt: false, needsCheck: false };
  const visit = (s: SchemaLike): void => {
    const pipe = s.pipe;
    if (!pipe) return;
    for (let i = 0; i < pipe.length; i++) {
      const item = pipe[i];
      if (i === 0) {
        visit(item);
        continue;
      }
      if (item.kind === "metadata") continue;
      if (item.type === "integer" || item.type === "safe_integer") info.isInt = true;
      if (!NO_CHECK_ACTIONS.has(item.type)) info.needsCheck = true;
    }
  };
  visit(schema);
  return info;
}

function getDefaultOf(schema: SchemaLike): (() => unknown) | null {
  const d = schema.default;
  if (d === undefined) return null;
  return typeof d === "function" ? () => (d as () => unknown)() : () => d;
}

const cache = new WeakMap<object, Node>();

function compileNode(schema: SchemaLike, path: string): Node {
  const cached = cache.get(schema);
  if (cached !== undefined) return cached;
  let node = compileUncached(schema, path);
  if (schema.fallback !== undefined) node = withFallback(node, schema);
  cache.set(schema, node);
  return node;
}

function unsupported(schema: SchemaLike, path: string, hint: string): TypeError {
  return new TypeError(
    `Cannot build a msgpack codec for the valibot \`${schema.type}\` schema at \`${path}\`: ${hint}`,
  );
}

function compileUncached(schema: SchemaLike, path: string): Node {
  if (typeof schema !== "object" || schema === null || schema.kind !== "schema") {
    throw new TypeError(`Expected a valibot schema at \`${path}\`, got ${String(schema)}`);
  }
  const info = pipeInfo(schema);
  if (info.needsCheck && schema.async) {
    throw unsupported(schema, path, "async validation actions are not supported; use synchronous actions");
  }
  let node: Node;
  switch (schema.type) {
    case "string":
      node = STR;
      break;
    case "number":
      node = info.isInt ? INT : FLOAT;
      break;
    case "nan":
      node = FLOAT;
      break;
    case "bigint":
      node = BIGINT;
      break;
    case "boolean":
      node = BOOL;
      break;
    case "date":
      node = DATE;
      break;
    case "null":
      node = NULL;
      break;
    case "undefined":
    case "void":
      node = UNDEFINED;
      break;
    case "any":
    case "unknown":
      node = DYNAMIC;
      break;
    case "never":
      node = NEVER;
      break;
    case "custom":
      node = DYNAMIC;
      info.needsCheck = true;
      break;
    case "literal":
      node = enumNode([schema.literal]);
      break;
    case "picklist":
    case "enum":
      node = enumNode(schema.options ?? []);
      break;
    case "instance":
      if (schema.class === Uint8Array) node = BYTES;
      else if (schema.class === Date) node = DATE;
      else {
        throw unsupported(
          schema,
          path,
          "only instance(Uint8Array) (bin) and instance(Date) (timestamp) are encodable",
        );
      }
      break;
    case "array":
      node = arrayNode(compileNode(schema.item as SchemaLike, `${path}[...]`), false);
      break;
    case "set":
      node = arrayNode(compileNode(schema.value as SchemaLike, `${path}[...]`), true);
      break;
    case "tuple":
    case "strict_tuple":
    case "loose_tuple":
    case "tuple_with_rest": {
      const items = (schema.items ?? []).map((s, i) => compileNode(s, `${path}[${i}]`));
      const rest = schema.type === "tuple_with_rest"
        ? compileNode(schema.rest as SchemaLike, `${path}[...]`)
        : null;
      node = tupleNode(items, rest, schema.type !== "loose_tuple");
      break;
    }
    case "object":
    case "loose_object":
    case "strict_object":
    case "object_with_rest": {
      const entries = schema.entries ?? {};
      const fields: StructField[] = Object.keys(entries).map((name) => ({
        name,
        codec: compileNode(entries[name], `${path}.${name}`),
      }));
      const rest = schema.type === "object_with_rest"
        ? compileNode(schema.rest as SchemaLike, `${path}[...]`)
        : null;
      node = structNode(fields, { rest, schema: schema as unknown as AnySchema });
      break;
    }
    case "record":
    case "map": {
      const keySchema = schema.key as SchemaLike;
      const keyNode = compileNode(keySchema, `${path}[key]`);
      if (schema.type === "record" && keyNode.accepts !== A_STR) {
        throw unsupported(
          schema,
          path,
          "record keys must be strings (string(), picklist or enum of strings)",
        );
      }
      node = recordNode(
        keyNode,
        compileNode(schema.value as SchemaLike, `${path}[...]`),
        schema.type === "map",
      );
      break;
    }
    case "optional":
    case "exact_optional":
    case "undefinedable": {
      // With a default this is Python's `x: T = default` (nil is not a T); without, `x: T | None = None`.
      const def = getDefaultOf(schema);
      const inner = compileNode(schema.wrapped as SchemaLike, path);
      node = def === null ? withNil(inner, () => undefined, null) : withDefault(inner, def);
      break;
    }
    case "nullable":
    case "nullish": {
      const def = getDefaultOf(schema);
      node = withNil(compileNode(schema.wrapped as SchemaLike, path), def ?? (() => null), def);
      break;
    }
    case "non_optional":
    case "non_nullable":
    case "non_nullish": {
      let inner = schema.wrapped as SchemaLike;
      while (
        inner.type === "optional" || inner.type === "nullable" || inner.type === "nullish" ||
        inner.type === "exact_optional" || inner.type === "undefinedable"
      ) inner = inner.wrapped as SchemaLike;
      node = compileNode(inner, path);
      break;
    }
    case "union":
      node = unionNode((schema.options as SchemaLike[]).map((o) => compileNode(o, path)));
      break;
    case "variant": {
      const key = schema.key as string;
      const options = schema.options as SchemaLike[];
      const nodes = options.map((o) => compileNode(o, path));
      const discriminators = options.map((o) => {
        const entry = o.entries?.[key];
        if (!entry) throw unsupported(schema, path, `every option must declare the discriminator \`${key}\``);
        return compileNode(entry, `${path}.${key}`);
      });
      node = variantNode(key, nodes, discriminators);
      break;
    }
    case "intersect": {
      const options = schema.options as SchemaLike[];
      if (options.every((o) => o.entries !== undefined && !o.pipe)) {
        const fields: StructField[] = [];
        const seen = new Set<string>();
        for (const o of options) {
          for (const [name, entry] of Object.entries(o.entries as Record<string, SchemaLike>)) {
            if (seen.has(name)) continue;
            seen.add(name);
            fields.push({ name, codec: compileNode(entry, `${path}.${name}`) });
          }
        }
        node = structNode(fields, { rest: null, schema: schema as unknown as AnySchema });
      } else {
        node = DYNAMIC;
      }
      info.needsCheck = true;
      break;
    }
    case "lazy": {
      const getter = schema.getter as (input: unknown) => SchemaLike;
      let resolved: Node | null = null;
      const get = (): Node => (resolved ??= compileNode(getter(undefined), path));
      node = {
        expects: "any",
        accepts: A_ALL,
        missing: required,
        matches: (x) => get().matches(x),
        // Each level of a recursive schema counts towards MAX_NESTING_DEPTH (a counter on the writer/reader).
        encode: (w, x) => {
          if (++w.depth > MAX_NESTING_DEPTH) throw w.tooDeep();
          get().encode(w, x);
          w.depth--;
        },
        decode: (r) => {
          if (++r.depth > MAX_NESTING_DEPTH) throw r.tooDeep();
          const value = get().decode(r);
          r.depth--;
          return value;
        },
      };
      break;
    }
    default:
      throw unsupported(
        schema,
        path,
        "it has no msgpack representation; use strings, numbers, booleans, bigint, Uint8Array, Date, arrays, " +
          "tuples, records, objects, unions or optional/nullable wrappers",
      );
  }
  if (info.needsCheck) node = withCheck(node, schema as unknown as AnySchema);
  return node;
}

/**
 * Compiles a valibot schema into a {@link PayloadCodec} (cached per schema object: compiling twice is free).
 * Throws a `TypeError` naming the path when part of the schema has no msgpack representation.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { compileSchema, encodeWith } from "@loom/streaming/kafka";
 * const Order = v.object({ order_id: v.string(), amount: v.pipe(v.number(), v.integer()) });
 * encodeWith(compileSchema(Order), { order_id: "o-1", amount: 5 });
 * // 82 a8 6f726465725f6964 a3 6f2d31 a6 616d6f756e74 05
 * ```
 */
export function compileSchema<S extends AnySchema>(schema: S): PayloadCodec<SchemaOutput<S>> {
  return compileNode(schema as unknown as SchemaLike, "$") as PayloadCodec<SchemaOutput<S>>;
}

/**
 * The codec of a payload type: compiled from a {@link MessageType}'s schema or a bare valibot schema, or the
 * {@link dynamicCodec} when none is given.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { codecOf, messageType } from "@loom/streaming/kafka";
 * const Order = messageType("order.created", v.object({ order_id: v.string() }));
 * const codec = codecOf(Order);
 * ```
 */
export function codecOf(type: MessageType | AnySchema | null | undefined): PayloadCodec<unknown> {
  if (type === null || type === undefined) return DYNAMIC;
  if (isMessageType(type)) return compileSchema(type.schema) as PayloadCodec<unknown>;
  return compileSchema(type) as PayloadCodec<unknown>;
}

const sharedWriter = new Writer(65536);
let sharedBusy = false;

/**
 * Encodes one value with a codec; returns bytes owned by the caller (a view into a shared slab that is never
 * written again, see `Writer.finish`).
 *
 * @example
 * ```ts
 * import { dynamicCodec, encodeWith } from "@loom/streaming/kafka";
 * encodeWith(dynamicCodec, [1, "a"]); // 92 01 a1 61
 * ```
 */
export function encodeWith<T>(codec: PayloadCodec<T>, value: T): Uint8Array {
  if (sharedBusy) {
    const w = new Writer(256);
    codec.encode(w, value);
    return w.toBytes();
  }
  sharedBusy = true;
  try {
    sharedWriter.reset();
    codec.encode(sharedWriter, value);
    return sharedWriter.finish();
  } finally {
    sharedBusy = false;
  }
}

/**
 * Decodes exactly one value with a codec (trailing bytes are an error).
 *
 * @example
 * ```ts
 * import { decodeWith, dynamicCodec } from "@loom/streaming/kafka";
 * decodeWith(dynamicCodec, new Uint8Array([0x92, 0x01, 0xa1, 0x61])); // [1, "a"]
 * ```
 */
export function decodeWith<T>(codec: PayloadCodec<T>, bytes: Uint8Array): T {
  const r = new Reader(bytes);
  const value = codec.decode(r);
  r.finish();
  return value;
}
