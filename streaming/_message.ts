/**
 * Message model: {@link Message}, {@link MessageMeta}, {@link ErrorKind},
 * {@link ErrorEnvelope} and {@link DecodeError}.
 *
 * @module
 */

/** Transport metadata carried by every {@link Message}. Field names are the camelCase forms of the wire names. */
export interface MessageMeta {
  /** Stable id: `"<topic>:<partition>:<offset>"` for Kafka records. */
  readonly messageId: string;
  readonly correlationId: string | null;
  readonly traceId: string | null;
  readonly parentTraceId: string | null;
  readonly causationId: string | null;
  /** Producer timestamp (ms since epoch) from the envelope. */
  readonly producedAtMs: number | null;
  /** `descriptor.message_type` of the envelope this message was decoded from (or declared by a step). */
  readonly messageType: string | null;
  readonly messageVersion: number | null;
  readonly topic: string | null;
  readonly partition: number | null;
  readonly offset: number | null;
  /** Kafka key, as received (bytes) or as set by a step (bytes or text). */
  readonly key: Uint8Array | string | null;
  /** Kafka headers of the record (later duplicates win). */
  readonly headers: Readonly<Record<string, Uint8Array>>;
}

/** A payload plus its metadata. Immutable by convention: steps return new payloads or new messages. */
export interface Message<P = unknown> {
  readonly payload: P;
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

/** The four error families. String values match the Python original (and the wire). */
export const ErrorKind = {
  WIRE: "wire",
  ROUTING: "routing",
  TASK: "task",
  BUSINESS: "business",
} as const;
/** One of `"wire" | "routing" | "task" | "business"`. */
export type ErrorKind = typeof ErrorKind[keyof typeof ErrorKind];

/** All error kinds, in the original's order. */
export const ERROR_KINDS: readonly ErrorKind[] = ["wire", "routing", "task", "business"];

/** Metadata snapshot stored in an {@link ErrorEnvelope}: like {@link MessageMeta} but the key is always bytes. */
export interface ErrorMessageMeta extends Omit<MessageMeta, "key"> {
  readonly key: Uint8Array | null;
}

/** The original message inside an {@link ErrorEnvelope}. */
export interface ErrorMessage<P = unknown> {
  readonly payload: P;
  readonly meta: ErrorMessageMeta;
}

/** A failure captured as a value: written to the error route of its kind. */
export interface ErrorEnvelope<P = unknown> {
  readonly kind: ErrorKind;
  readonly reason: string;
  /** `message_type` of the original payload, when known. */
  readonly payloadType: string | null;
  readonly originalMessage: ErrorMessage<P> | null;
}

/** A record that could not be decoded (error kind `wire`). Keeps the raw bytes and the record's provenance. */
export interface DecodeError {
  readonly error: ErrorEnvelope<never>;
  readonly raw: Uint8Array;
  readonly topic: string;
  readonly key: Uint8Array | null;
  readonly headers: Readonly<Record<string, Uint8Array>>;
  readonly partition: number | null;
  readonly offset: number | null;
  readonly timestampMs: number | null;
}

/** Wire `message_type` of a {@link DecodeError}. */
export const DECODE_ERROR_MESSAGE_TYPE = "loom.streaming.error.wire";
/** Default wire `message_type` of a message whose type is unknown. */
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
  return `loom.streaming.error.${kind}`;
}

/** Domain (business) failure: steps throw it (or a subclass) to produce a `business` error envelope. */
export class DomainError extends Error {
  /** @param message reason written to the envelope */
  constructor(message: string) {
    super(message);
    this.name = "DomainError";
  }
}

/** A violated business rule on one field; its reason is `"<field>: <message>"` as in the original. */
export class RuleViolation extends DomainError {
  /** Field that broke the rule. */
  readonly field: string;
  /** @param field the field @param message what is wrong */
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = "RuleViolation";
    this.field = field;
  }
}
