/**
 * The error payloads written to error routes and their wire names: {@link ErrorKind},
 * {@link ErrorEnvelope} (`loom.streaming.error.<kind>`) and {@link DecodeError}
 * (`loom.streaming.error.wire`).
 *
 * @module
 */
import type { MessageMeta } from "./_message_meta.ts";

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
 * import { ERROR_MESSAGE_TYPE_PREFIX } from "@loom/streaming/kafka";
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
 * import { isErrorEnvelopeType } from "@loom/streaming/kafka";
 * isErrorEnvelopeType("loom.streaming.error.task"); // true
 * isErrorEnvelopeType("loom.streaming.error.wire"); // false
 * ```
 */
export function isErrorEnvelopeType(messageType: string): boolean {
  return ENVELOPE_MESSAGE_TYPES.has(messageType);
}
