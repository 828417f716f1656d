/**
 * Message model: {@link Message}, {@link MessageMeta}, {@link ErrorKind},
 * {@link ErrorEnvelope} and {@link DecodeError}.
 *
 * @module
 */

import type { MessageMeta } from "../kafka/_message_meta.ts";
// The wire payload types live in the wire layer (kafka/); the public API re-exports them from here.
export type { MessageMeta } from "../kafka/_message_meta.ts";
export {
  DECODE_ERROR_MESSAGE_TYPE,
  type DecodeError,
  ERROR_KINDS,
  ERROR_MESSAGE_TYPE_PREFIX,
  type ErrorEnvelope,
  ErrorKind,
  type ErrorMessage,
  type ErrorMessageMeta,
  errorMessageType,
  isErrorEnvelopeType,
} from "../kafka/_error_payloads.ts";
export { DEFAULT_MESSAGE_TYPE } from "../kafka/_type.ts";
/**
 * A payload plus its metadata. Immutable by convention: steps return new payloads or new messages.
 *
 * @example
 * ```ts
 * import { type Message, message } from "@loom/streaming";
 * const m: Message<{ order_id: string }> = message({ order_id: "o-1" }, { messageId: "orders:0:7" });
 * m.payload.order_id; // "o-1"
 * ```
 */
export interface Message<P = unknown> {
  /** The payload. */
  readonly payload: P;
  /** Its metadata. */
  readonly meta: MessageMeta;
}

/**
 * Builds a {@link MessageMeta}, filling every field not given with `null` (headers with `{}`).
 *
 * @example
 * ```ts
 * import { messageMeta } from "@loom/streaming";
 * const meta = messageMeta({ messageId: "orders:0:7", topic: "orders", partition: 0, offset: 7 });
 * ```
 */
export function messageMeta(fields: Partial<MessageMeta> & { messageId: string }): MessageMeta {
  return {
    messageId: fields.messageId,
    correlationId: fields.correlationId ?? null,
    traceId: fields.traceId ?? null,
    parentTraceId: fields.parentTraceId ?? null,
    causationId: fields.causationId ?? null,
    producedAtMs: fields.producedAtMs ?? null,
    messageType: fields.messageType ?? null,
    messageVersion: fields.messageVersion ?? null,
    topic: fields.topic ?? null,
    partition: fields.partition ?? null,
    offset: fields.offset ?? null,
    key: fields.key ?? null,
    headers: fields.headers ?? {},
  };
}

/**
 * Builds a {@link Message}.
 *
 * @example
 * ```ts
 * import { message } from "@loom/streaming";
 * const m = message({ order_id: "o-1", amount: 5 }, { messageId: "test-0" });
 * ```
 */
export function message<P>(payload: P, meta: Partial<MessageMeta> & { messageId: string }): Message<P> {
  return { payload, meta: messageMeta(meta) };
}

/**
 * Domain (business) failure: steps throw it (or a subclass) to produce a `business` error envelope.
 *
 * @example
 * ```ts
 * import { DomainError, RecordStep } from "@loom/streaming";
 * const check = RecordStep.of((m: { payload: { amount: number } }) => {
 *   if (m.payload.amount <= 0) throw new DomainError("amount must be positive");
 *   return m.payload;
 * });
 * ```
 */
export class DomainError extends Error {
  /**
   * Creates a {@link DomainError}.
   *
   * @param message reason written to the envelope
   */
  constructor(message: string) {
    super(message);
    this.name = "DomainError";
  }
}

/**
 * A violated business rule on one field; its reason is `"<field>: <message>"` as in the original.
 *
 * @example
 * ```ts
 * import { RuleViolation } from "@loom/streaming";
 * new RuleViolation("amount", "must be positive").message; // "amount: must be positive"
 * ```
 */
export class RuleViolation extends DomainError {
  /** Field that broke the rule. */
  readonly field: string;
  /**
   * Creates a {@link RuleViolation}.
   *
   * @param field the field
   * @param message what is wrong
   */
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = "RuleViolation";
    this.field = field;
  }
}
