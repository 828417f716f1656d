/**
 * The payload codecs of records (cached per message type): of a payload type, of its error envelopes, and of an
 * error payload (ErrorEnvelope or DecodeError) recognised by its shape.
 *
 * @module
 */
import { decodeErrorCodec, errorEnvelopeCodec } from "../kafka/_envelope.ts";
import { codecOf, dynamicCodec, type PayloadCodec } from "../kafka/_schema_codec.ts";
import {
  DECODE_ERROR_MESSAGE_TYPE,
  type DecodeError,
  ERROR_KINDS,
  type ErrorEnvelope,
  errorMessageType,
} from "./_message.ts";
import type { MessageType } from "./_type.ts";

const codecCache = new WeakMap<object, PayloadCodec<unknown>>();

/**
 * Codec of a payload type (cached per type), or the dynamic codec.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { messageType } from "@loom/streaming";
 * import { payloadCodec } from "@loom/streaming/engine";
 * const Order = messageType("order.created", v.object({ order_id: v.string() }));
 * const codec = payloadCodec(Order); // the same codec object on every call
 * ```
 */
export function payloadCodec(type: MessageType | null | undefined): PayloadCodec<unknown> {
  if (!type) return dynamicCodec;
  let c = codecCache.get(type);
  if (!c) codecCache.set(type, c = codecOf(type));
  return c;
}

const errorCodecCache = new WeakMap<object, PayloadCodec<unknown>>();
let dynamicErrorCodec: PayloadCodec<unknown> | null = null;
/** Codec of the error envelopes of `original` (cached per type), or of error envelopes of any payload. */
export function errorCodec(original: MessageType | null): PayloadCodec<unknown> {
  if (!original) return dynamicErrorCodec ??= errorEnvelopeCodec(dynamicCodec) as PayloadCodec<unknown>;
  let c = errorCodecCache.get(original);
  if (!c) {
    errorCodecCache.set(original, c = errorEnvelopeCodec(payloadCodec(original)) as PayloadCodec<unknown>);
  }
  return c;
}

const KINDS: ReadonlySet<unknown> = new Set(ERROR_KINDS);

/** True for an object shaped like an {@link ErrorEnvelope} (its JavaScript form). */
export function isErrorEnvelopeShape(p: unknown): p is ErrorEnvelope {
  if (typeof p !== "object" || p === null) return false;
  const e = p as Partial<ErrorEnvelope>;
  return KINDS.has(e.kind) && typeof e.reason === "string" && "payloadType" in e && "originalMessage" in e;
}

/** The codec and message type of an error payload (ErrorEnvelope or DecodeError), or null for others. */
export function errorWireForm(p: unknown): { codec: PayloadCodec<unknown>; messageType: string } | null {
  if (typeof p !== "object" || p === null || p instanceof Uint8Array || Array.isArray(p)) return null;
  if (isErrorEnvelopeShape(p)) return { codec: errorCodec(null), messageType: errorMessageType(p.kind) };
  const d = p as Partial<DecodeError>;
  if (d.raw instanceof Uint8Array && isErrorEnvelopeShape(d.error) && typeof d.topic === "string") {
    return { codec: decodeErrorCodec as PayloadCodec<unknown>, messageType: DECODE_ERROR_MESSAGE_TYPE };
  }
  return null;
}
