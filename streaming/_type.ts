/**
 * Payload types: a valibot schema plus the stable wire name and version of the message.
 *
 * @module
 */
import type * as v from "valibot";

/** Any valibot schema usable as a payload schema. */
export type AnySchema = v.GenericSchema<unknown, unknown>;

/**
 * A payload type: the valibot `schema` of the payload, and the `name`/`version` written to
 * `descriptor.message_type` / `descriptor.message_version` on the wire. Use the same name as the
 * Python producer (`"<module>.<QualName>"` there by default) to share topics with Python services.
 */
export interface MessageType<S extends AnySchema = AnySchema> {
  readonly kind: "loom.message_type";
  readonly name: string;
  readonly version: number;
  readonly schema: S;
}

/** The payload (output) type of a {@link MessageType}. */
export type PayloadOf<T> = T extends MessageType<infer S> ? v.InferOutput<S> : never;

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
