/**
 * Message model: {@link Message}, {@link MessageMeta}, {@link ErrorKind},
 * {@link ErrorEnvelope} and {@link DecodeError}.
 *
 * @module
 */

/**
 * Transport metadata carried by every {@link Message}. Field names are the camelCase forms of the wire names.
 *
 * @example
 * ```ts
 * import { messageMeta, type MessageMeta } from "@loom/streaming";
 * const meta: MessageMeta = messageMeta({ messageId: "orders:0:7", topic: "orders", partition: 0, offset: 7 });
 * meta.traceId; // null
 * ```
 */
export interface MessageMeta {
  /** Stable id: `"<topic>:<partition>:<offset>"` for Kafka records. */
  readonly messageId: string;
  /** Id shared by every message of one business operation (wire `correlation_id`). */
  readonly correlationId: string | null;
  /** Trace id (wire `trace_id`). */
  readonly traceId: string | null;
  /** Trace id of the message this one was derived from (wire `parent_trace_id`). */
  readonly parentTraceId: string | null;
  /** Id of the message that caused this one (wire `causation_id`). */
  readonly causationId: string | null;
  /** Producer timestamp (ms since epoch) from the envelope. */
  readonly producedAtMs: number | null;
  /** `descriptor.message_type` of the envelope this message was decoded from (or declared by a step). */
  readonly messageType: string | null;
  /** `descriptor.message_version` of the envelope. */
  readonly messageVersion: number | null;
  /** Source topic, when read from Kafka. */
  readonly topic: string | null;
  /** Source partition, when read from Kafka. */
  readonly partition: number | null;
  /** Source offset, when read from Kafka. */
  readonly offset: number | null;
  /** Kafka key, as received (bytes) or as set by a step (bytes or text). */
  readonly key: Uint8Array | string | null;
  /** Kafka headers of the record (later duplicates win). */
  readonly headers: Readonly<Record<string, Uint8Array>>;
}

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
 * The four error families. String values match the Python original (and the wire).
 *
 * @example
 * ```ts
 * import { ErrorKind, errorMessageType } from "@loom/streaming";
 * errorMessageType(ErrorKind.TASK); // "loom.streaming.error.task"
 * ```
 */
export const ErrorKind = {
  WIRE: "wire",
  ROUTING: "routing",
  TASK: "task",
  BUSINESS: "business",
} as const;
/**
 * One of `"wire" | "routing" | "task" | "business"`.
 *
 * @example
 * ```ts
 * import type { ErrorKind } from "@loom/streaming";
 * const kind: ErrorKind = "business";
 * ```
 */
export type ErrorKind = typeof ErrorKind[keyof typeof ErrorKind];

/**
 * All error kinds, in the original's order.
 *
 * @example
 * ```ts
 * import { ERROR_KINDS } from "@loom/streaming";
 * ERROR_KINDS.includes("task"); // true
 * ```
 */
export const ERROR_KINDS: readonly ErrorKind[] = ["wire", "routing", "task", "business"];

/**
 * Metadata snapshot stored in an {@link ErrorEnvelope}: like {@link MessageMeta} but the key is always bytes.
 *
 * @example
 * ```ts
 * import type { ErrorEnvelope, ErrorMessageMeta } from "@loom/streaming";
 * declare const envelope: ErrorEnvelope;
 * const meta: ErrorMessageMeta | undefined = envelope.originalMessage?.meta;
 * ```
 */
export interface ErrorMessageMeta extends Omit<MessageMeta, "key"> {
  /** Kafka key as bytes. */
  readonly key: Uint8Array | null;
}

/**
 * The original message inside an {@link ErrorEnvelope}.
 *
 * @example
 * ```ts
 * import type { ErrorEnvelope, ErrorMessage } from "@loom/streaming";
 * declare const envelope: ErrorEnvelope<{ order_id: string }>;
 * const original: ErrorMessage<{ order_id: string }> | null = envelope.originalMessage;
 * ```
 */
export interface ErrorMessage<P = unknown> {
  /** The original payload. */
  readonly payload: P;
  /** The original metadata. */
  readonly meta: ErrorMessageMeta;
}

/**
 * A failure captured as a value: written to the error route of its kind.
 *
 * @example
 * ```ts
 * import type { ErrorEnvelope } from "@loom/streaming";
 * const envelope: ErrorEnvelope = {
 *   kind: "business",
 *   reason: "amount: must be positive",
 *   payloadType: "order.created",
 *   originalMessage: null,
 * };
 * ```
 */
export interface ErrorEnvelope<P = unknown> {
  /** Error family. */
  readonly kind: ErrorKind;
  /** Why it failed. */
  readonly reason: string;
  /** `message_type` of the original payload, when known. */
  readonly payloadType: string | null;
  /** The message that failed, when there is one. */
  readonly originalMessage: ErrorMessage<P> | null;
}

/**
 * A record that could not be decoded (error kind `wire`). Keeps the raw bytes and the record's provenance.
 *
 * @example
 * ```ts
 * import type { DecodeError } from "@loom/streaming";
 * declare const failed: DecodeError;
 * console.log(failed.topic, failed.offset, failed.error.reason, failed.raw.length);
 * ```
 */
export interface DecodeError {
  /** The `wire` error envelope (no original message). */
  readonly error: ErrorEnvelope<never>;
  /** The undecodable value bytes. */
  readonly raw: Uint8Array;
  /** Topic of the record. */
  readonly topic: string;
  /** Kafka key of the record. */
  readonly key: Uint8Array | null;
  /** Kafka headers of the record. */
  readonly headers: Readonly<Record<string, Uint8Array>>;
  /** Partition of the record, when known. */
  readonly partition: number | null;
  /** Offset of the record, when known. */
  readonly offset: number | null;
  /** Record timestamp in ms, when known. */
  readonly timestampMs: number | null;
}

/**
 * Wire `message_type` of a {@link DecodeError}.
 *
 * @example
 * ```ts
 * import { DECODE_ERROR_MESSAGE_TYPE } from "@loom/streaming";
 * DECODE_ERROR_MESSAGE_TYPE; // "loom.streaming.error.wire"
 * ```
 */
export const DECODE_ERROR_MESSAGE_TYPE = "loom.streaming.error.wire";
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

/**
 * Wire `message_type` of an error envelope of the given kind (`loom.streaming.error.<kind>`).
 *
 * @example
 * ```ts
 * import { errorMessageType } from "@loom/streaming";
 * errorMessageType("task"); // "loom.streaming.error.task"
 * ```
 */
export function errorMessageType(kind: ErrorKind): string {
  return `${ERROR_MESSAGE_TYPE_PREFIX}${kind}`;
}

/**
 * Prefix of the wire `message_type` of every error message: error envelopes and decode errors.
 *
 * @example
 * ```ts
 * import { ERROR_MESSAGE_TYPE_PREFIX } from "@loom/streaming";
 * "loom.streaming.error.task".startsWith(ERROR_MESSAGE_TYPE_PREFIX); // true
 * ```
 */
export const ERROR_MESSAGE_TYPE_PREFIX = "loom.streaming.error.";

const ENVELOPE_MESSAGE_TYPES: ReadonlySet<string> = new Set(
  (["task", "routing", "business"] as const).map(errorMessageType),
);

/**
 * True when `messageType` is the wire type of an error envelope (`task`, `routing` or `business`
 * kind); decode errors (`wire` kind) have their own shape and are not envelopes.
 *
 * @example
 * ```ts
 * import { isErrorEnvelopeType } from "@loom/streaming";
 * isErrorEnvelopeType("loom.streaming.error.task"); // true
 * isErrorEnvelopeType("loom.streaming.error.wire"); // false
 * ```
 */
export function isErrorEnvelopeType(messageType: string): boolean {
  return ENVELOPE_MESSAGE_TYPES.has(messageType);
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
