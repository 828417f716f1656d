// deno-lint-ignore-file no-explicit-any -- type-erased positions (node lists, policies, selectors) accept any payload type
/**
 * DSL source boundary: FromTopic, FromMultiTypeTopic and the multi-type payload declarations.
 *
 * @module
 */
import type { AnySchema, MessageType } from "../_type.ts";
import type { StreamShape } from "./_shape.ts";

/**
 * Kafka input of one payload type. `name` is a logical reference selecting `kafka.consumers.<name>`
 * (else `kafka.consumer`).
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { FromTopic, messageType } from "@loom/streaming";
 * const Order = messageType("order.created", v.object({ order_id: v.string() }));
 * const source = new FromTopic("orders.raw", Order);
 * ```
 */
export class FromTopic<P = unknown> {
  /** Marker. */
  readonly kind = "from_topic" as const;
  /** Phantom payload type. */
  declare readonly __payload?: P;
  /**
   * Creates a {@link FromTopic}.
   *
   * @param name logical ref
   * @param payload payload type
   * @param options shape (record by default)
   */
  constructor(
    readonly name: string,
    readonly payload: MessageType<AnySchema<P>>,
    readonly options: { readonly shape?: StreamShape } = {},
  ) {}
  /** Declared shape. */
  get shape(): StreamShape {
    return this.options.shape ?? "record";
  }
  /** Logical reference (validated non-empty). */
  get logicalRef(): string {
    if (!this.name.trim()) throw new Error("LogicalRef.value must be a non-empty string.");
    return this.name;
  }
}

/**
 * The payload types a {@link FromMultiTypeTopic} may declare: plain types, error envelopes of a type, or decode errors.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { DecodeErrors, errorEnvelopeOf, messageType, type MultiPayload } from "@loom/streaming";
 * const Order = messageType("order.created", v.object({ order_id: v.string() }));
 * const accepted: MultiPayload[] = [Order, errorEnvelopeOf(Order), DecodeErrors];
 * ```
 */
export type MultiPayload = MessageType | ErrorEnvelopeOf | typeof DecodeErrors;

/**
 * Marks "error envelopes whose original payload has type T" in a {@link FromMultiTypeTopic}.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { type ErrorEnvelopeOf, errorEnvelopeOf, messageType } from "@loom/streaming";
 * const Order = messageType("order.created", v.object({ order_id: v.string() }));
 * const failedOrders: ErrorEnvelopeOf = errorEnvelopeOf(Order);
 * ```
 */
export interface ErrorEnvelopeOf {
  /** Discriminant. */
  readonly kind: "error_envelope_of";
  /** Payload type of the original messages. */
  readonly original: MessageType;
}

/**
 * Declares error envelopes of a payload type as an accepted input of a {@link FromMultiTypeTopic}.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { errorEnvelopeOf, messageType } from "@loom/streaming";
 * const Order = messageType("order.created", v.object({ order_id: v.string() }));
 * const accepted = errorEnvelopeOf(Order);
 * ```
 */
export function errorEnvelopeOf(original: MessageType): ErrorEnvelopeOf {
  return { kind: "error_envelope_of", original };
}

/**
 * Declares decode errors (`loom.streaming.error.wire`) as an accepted input of a {@link FromMultiTypeTopic}.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { DecodeErrors, FromMultiTypeTopic, messageType } from "@loom/streaming";
 * const Order = messageType("order.created", v.object({ order_id: v.string() }));
 * const source = new FromMultiTypeTopic("orders.errors", [Order, DecodeErrors]);
 * ```
 */
export const DecodeErrors: { readonly kind: "decode_errors" } = { kind: "decode_errors" };

/**
 * Kafka input carrying several payload types, dispatched by `descriptor.message_type`.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { FromMultiTypeTopic, messageType } from "@loom/streaming";
 * const A = messageType("a", v.object({ a: v.string() }));
 * const B = messageType("b", v.object({ b: v.string() }));
 * const source = new FromMultiTypeTopic("events", [A, B]);
 * ```
 */
export class FromMultiTypeTopic {
  /** Marker. */
  readonly kind = "from_multi_type_topic" as const;
  /**
   * Creates a {@link FromMultiTypeTopic}.
   *
   * @param name logical ref
   * @param payloads at least two payload declarations
   * @param options shape
   */
  constructor(
    readonly name: string,
    readonly payloads: readonly MultiPayload[],
    readonly options: { readonly shape?: StreamShape } = {},
  ) {
    if (!Array.isArray(payloads) || payloads.length < 2) {
      throw new Error(
        "FromMultiTypeTopic requires at least two payload types. Use FromTopic for a single-type source.",
      );
    }
  }
  /** Declared shape. */
  get shape(): StreamShape {
    return this.options.shape ?? "record";
  }
  /** Logical reference. */
  get logicalRef(): string {
    if (!this.name.trim()) throw new Error("LogicalRef.value must be a non-empty string.");
    return this.name;
  }
}

/**
 * A source declaration.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { FromTopic, messageType, type Source } from "@loom/streaming";
 * const source: Source = new FromTopic("orders.raw", messageType("order", v.object({ id: v.string() })));
 * ```
 */
export type Source = FromTopic<any> | FromMultiTypeTopic;
