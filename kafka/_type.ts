/**
 * Payload types: a valibot schema plus the stable wire name and version of the message, and the default
 * wire name of a message whose type is unknown.
 *
 * @module
 */

/**
 * Any synchronous valibot schema usable as a payload schema, described structurally (the members this
 * library relies on) so that the public API does not expose valibot's own types. Every synchronous
 * valibot schema (`v.object(...)`, `v.pipe(...)`, ...) is assignable to it; `TOutput` is the type of
 * the parsed value.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import type { AnySchema } from "@loom/streaming";
 * const schema: AnySchema<{ order_id: string }> = v.object({ order_id: v.string() });
 * ```
 */
export interface AnySchema<TOutput = unknown> {
  /** Always `"schema"` for valibot schemas. */
  readonly kind: "schema";
  /** The schema's type name, e.g. `"object"` or `"string"`. */
  readonly type: string;
  /** What the schema expects, as text (used in validation messages). */
  readonly expects: string;
  /** Always `false`: payload schemas are synchronous. */
  readonly async: false;
  /** Type-level only (never set at runtime): the input and output types declared by valibot. */
  readonly "~types"?: { readonly input: unknown; readonly output: TOutput } | undefined;
}

/**
 * The type of the value a schema produces (what `v.parse(schema, x)` returns), like valibot's
 * `v.InferOutput`.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import type { SchemaOutput } from "@loom/streaming";
 * const Order = v.object({ order_id: v.string() });
 * type Order = SchemaOutput<typeof Order>; // { order_id: string }
 * ```
 */
export type SchemaOutput<S extends AnySchema> = NonNullable<S["~types"]>["output"];

/**
 * A payload type: the valibot `schema` of the payload, and the `name`/`version` written to
 * `descriptor.message_type` / `descriptor.message_version` on the wire. Use the same name as the
 * Python producer (`"<module>.<QualName>"` there by default) to share topics with Python services.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { messageType, type MessageType } from "@loom/streaming";
 * const Order = messageType("order.created", v.object({ order_id: v.string() }), { version: 2 });
 * const declared: MessageType = Order;
 * declared.version; // 2
 * ```
 */
export interface MessageType<S extends AnySchema = AnySchema> {
  /** Brand checked by {@link isMessageType}. */
  readonly kind: "loom.message_type";
  /** Wire `descriptor.message_type`. */
  readonly name: string;
  /** Wire `descriptor.message_version` (default 1). */
  readonly version: number;
  /** The valibot schema of the payload. */
  readonly schema: S;
}

/**
 * The payload (output) type of a {@link MessageType}.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { messageType, type PayloadOf } from "@loom/streaming";
 * const Order = messageType("order.created", v.object({ order_id: v.string() }));
 * type Order = PayloadOf<typeof Order>; // { order_id: string }
 * ```
 */
export type PayloadOf<T> = T extends MessageType<infer S extends AnySchema> ? SchemaOutput<S> : never;

/**
 * Declares a payload type.
 *
 * Integer fields must use `v.pipe(v.number(), v.integer())` (encoded as msgpack ints); a plain
 * `v.number()` is a float and is always encoded as float64, as msgspec does for Python `float`.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { messageType } from "@loom/streaming";
 * const Order = messageType("order.created", v.object({
 *   order_id: v.string(),
 *   amount: v.pipe(v.number(), v.integer()),
 * }));
 * ```
 */
export function messageType<S extends AnySchema>(
  name: string,
  schema: S,
  options: { version?: number } = {},
): MessageType<S> {
  if (typeof name !== "string" || name.trim() === "") {
    throw new TypeError("messageType name must be a non-empty string (the wire descriptor.message_type).");
  }
  const version = options.version ?? 1;
  if (!Number.isInteger(version) || version < 0) {
    throw new TypeError(`messageType '${name}': version must be a non-negative integer, got ${version}.`);
  }
  return Object.freeze({ kind: "loom.message_type" as const, name, version, schema });
}

/**
 * True when `value` is a {@link MessageType}.
 *
 * @example
 * ```ts
 * import { isMessageType } from "@loom/streaming";
 * isMessageType({}); // false
 * ```
 */
export function isMessageType(value: unknown): value is MessageType {
  return typeof value === "object" && value !== null &&
    (value as { kind?: unknown }).kind === "loom.message_type";
}

/**
 * Default wire `message_type` of a message whose type is unknown.
 *
 * @example
 * ```ts
 * import { DEFAULT_MESSAGE_TYPE } from "@loom/streaming";
 * DEFAULT_MESSAGE_TYPE; // "loom.streaming.message"
 * ```
 */
export const DEFAULT_MESSAGE_TYPE = "loom.streaming.message";
