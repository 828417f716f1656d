/**
 * Table columns derived from a payload's valibot schema (the original's mapping, §5.13): integer numbers,
 * other numbers, booleans, strings, datetimes (`v.date()`, or strings piped through `v.isoTimestamp()` /
 * `v.isoDateTime()`), bytes (`v.instance(Uint8Array)`), optional/nullable wrappers (the inner type,
 * nullable), and everything else (objects, arrays, unions, records) as JSON.
 *
 * @module
 */
import type { MessageType } from "../streaming/mod.ts";

/**
 * A column kind, mapped per backend to a concrete type.
 *
 * | kind | PostgreSQL | ClickHouse | Delta |
 * |---|---|---|---|
 * | int | bigint | Int64 | long |
 * | float | double precision | Float64 | double |
 * | bool | boolean | UInt8 | boolean |
 * | str | text | String | string |
 * | datetime | timestamptz | DateTime | timestamp |
 * | bytes | bytea | String | binary |
 * | json | jsonb | String | string |
 *
 * @example
 * ```ts
 * import type { ColumnKind } from "@loom/streaming/sinks";
 * const kind: ColumnKind = "datetime";
 * ```
 */
export type ColumnKind = "int" | "float" | "bool" | "str" | "datetime" | "bytes" | "json";

/**
 * A table column.
 *
 * @example
 * ```ts
 * import type { Column } from "@loom/streaming/sinks";
 * const c: Column = { name: "order_id", kind: "str", nullable: false };
 * ```
 */
export interface Column {
  /** Field name (the column name). */
  readonly name: string;
  /** Kind. */
  readonly kind: ColumnKind;
  /** True for optional / nullable fields. */
  readonly nullable: boolean;
}

interface SchemaLike {
  readonly type: string;
  readonly entries?: Record<string, SchemaLike>;
  readonly wrapped?: SchemaLike;
  readonly pipe?: readonly { readonly type: string; readonly kind?: string }[];
  readonly class?: unknown;
}

const NULLABLE = new Set(["optional", "nullable", "nullish", "exact_optional", "undefinedable"]);
const DATETIME_ACTIONS = new Set(["iso_timestamp", "iso_date_time"]);

function kindOf(s: SchemaLike): { kind: ColumnKind; nullable: boolean } {
  if (NULLABLE.has(s.type) && s.wrapped) return { kind: kindOf(s.wrapped).kind, nullable: true };
  const actions = s.pipe ?? [];
  switch (s.type) {
    case "number":
      return {
        kind: actions.some((a) => a.type === "integer" || a.type === "safe_integer") ? "int" : "float",
        nullable: false,
      };
    case "bigint":
      return { kind: "int", nullable: false };
    case "boolean":
      return { kind: "bool", nullable: false };
    case "string":
      return {
        kind: actions.some((a) => DATETIME_ACTIONS.has(a.type)) ? "datetime" : "str",
        nullable: false,
      };
    case "date":
      return { kind: "datetime", nullable: false };
    case "instance":
      return { kind: s.class === Uint8Array ? "bytes" : "json", nullable: false };
    case "picklist":
    case "enum":
      return { kind: "str", nullable: false };
    default:
      return { kind: "json", nullable: false };
  }
}

/**
 * The columns of a payload type (its object schema's entries, in declaration order).
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { messageType } from "@loom/streaming";
 * import { columnsOf } from "@loom/streaming/sinks";
 * const Order = messageType("order", v.object({ id: v.pipe(v.number(), v.integer()), note: v.optional(v.string()) }));
 * columnsOf(Order); // [{ name: "id", kind: "int", nullable: false }, { name: "note", kind: "str", nullable: true }]
 * ```
 */
export function columnsOf(type: MessageType): Column[] {
  const s = type.schema as unknown as SchemaLike;
  const entries = s.entries ?? (s.wrapped?.entries);
  if (!entries || !(["object", "loose_object", "strict_object", "object_with_rest"].includes(s.type))) {
    throw new TypeError(
      `payload type '${type.name}' is not an object schema (v.object(...)): a table row needs named fields`,
    );
  }
  return Object.entries(entries).map(([name, e]) => ({ name, ...kindOf(e) }));
}

/** Milliseconds since the epoch of a datetime value (Date, ISO string or epoch ms), or null. */
export function toDate(v: unknown): Date | null {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) return v;
  if (typeof v === "number") return new Date(v);
  if (typeof v === "string") {
    const d = new Date(v);
    if (!Number.isNaN(d.getTime())) return d;
  }
  throw new TypeError(`not a datetime: ${JSON.stringify(v)}`);
}

/** JSON of a nested value with sorted object keys (the original's `json.dumps(sort_keys=True)`). */
export function sortedJson(v: unknown): string {
  return JSON.stringify(v, (_k, x) => {
    if (x && typeof x === "object" && !Array.isArray(x) && !(x instanceof Date)) {
      const o: Record<string, unknown> = {};
      for (const k of Object.keys(x).sort()) o[k] = (x as Record<string, unknown>)[k];
      return o;
    }
    return typeof x === "bigint" ? x.toString() : x;
  });
}
