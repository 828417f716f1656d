/**
 * Records as producers and consumers outside a flow see them: {@link encodeSourceValue} encodes a payload as
 * a producer of a source topic would, {@link decodeOutputRecord} / {@link inspectOutputRecord} read any
 * envelope record back without a schema.
 *
 * @module
 */
import {
  decodeEnvelope,
  decodeErrorCodec,
  encodeEnvelope,
  type EnvelopeHeader,
  probeMessageType,
} from "../kafka/_envelope.ts";
import { dynamicCodec, type PayloadCodec } from "../kafka/_schema_codec.ts";
import {
  DECODE_ERROR_MESSAGE_TYPE,
  DEFAULT_MESSAGE_TYPE,
  ERROR_MESSAGE_TYPE_PREFIX,
  type MessageMeta,
} from "./_message.ts";
import type { SourceRecord } from "./_transport.ts";
import type { MessageType } from "./_type.ts";
import { errorCodec, payloadCodec } from "./_wire_codecs.ts";
import { messageIdOf, metaOf } from "./_wire_meta.ts";

/**
 * Envelope fields a producer may set (missing ones default to null; version to 1).
 *
 * @example
 * ```ts
 * import { encodeSourceValue, type SourceEnvelopeFields } from "@loom/streaming/engine";
 * const fields: SourceEnvelopeFields = { producedAtMs: 1_000, traceId: "0af7651916cd43dd8448eb211c80319c" };
 * const bytes = encodeSourceValue({ order_id: "o-1" }, null, fields);
 * ```
 */
export interface SourceEnvelopeFields {
  /** `descriptor.message_type` (default: the payload type's name, else the default message type). */
  readonly messageType?: string | null;
  /** `descriptor.message_version` (default: the payload type's version, else 1). */
  readonly messageVersion?: number | null;
  /** Trace id. */
  readonly traceId?: string | null;
  /** Parent trace id. */
  readonly parentTraceId?: string | null;
  /** Correlation id. */
  readonly correlationId?: string | null;
  /** Causation id. */
  readonly causationId?: string | null;
  /** Producer timestamp in ms since the epoch. */
  readonly producedAtMs: number;
}

/**
 * Encodes a payload as a complete envelope, as a producer of the source topic would.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { messageType } from "@loom/streaming";
 * import { encodeSourceValue } from "@loom/streaming/engine";
 * const Order = messageType("order.created", v.object({ order_id: v.string() }));
 * const bytes = encodeSourceValue({ order_id: "o-1" }, Order, { producedAtMs: 1000 });
 * ```
 */
export function encodeSourceValue(
  payload: unknown,
  type: MessageType | null,
  fields: SourceEnvelopeFields,
): Uint8Array {
  return encodeEnvelope(
    {
      messageType: fields.messageType ?? type?.name ?? DEFAULT_MESSAGE_TYPE,
      messageVersion: fields.messageVersion ?? type?.version ?? 1,
      traceId: fields.traceId ?? null,
      parentTraceId: fields.parentTraceId ?? null,
      correlationId: fields.correlationId ?? null,
      causationId: fields.causationId ?? null,
      producedAtMs: fields.producedAtMs,
    },
    payload,
    payloadCodec(type),
  );
}

/**
 * A decoded output record (as read back from a topic).
 *
 * @example
 * ```ts
 * import { decodeOutputRecord, encodeSourceValue, type OutputMessage } from "@loom/streaming/engine";
 * const value = encodeSourceValue({ id: 1 }, null, { producedAtMs: 0 });
 * const out: OutputMessage = decodeOutputRecord({
 *   topic: "t", partition: 0, offset: 0, key: null, value, headers: {}, timestampMs: 0,
 * });
 * console.log(out.meta.messageType, out.payload);
 * ```
 */
export interface OutputMessage<P = unknown> {
  /** The decoded payload. */
  readonly payload: P;
  /** Metadata read from the envelope and the record. */
  readonly meta: MessageMeta;
  /** The raw record. */
  readonly record: SourceRecord;
  /**
   * Set by {@link inspectOutputRecord} when the record could not be decoded: the reason (the payload is
   * then `undefined` and the meta holds only the record's coordinates, key and headers).
   */
  readonly undecodable?: string;
}

/**
 * Decodes any envelope record without a schema. Error envelopes and decode errors are decoded into
 * {@link ErrorEnvelope} / {@link DecodeError} objects; other payloads dynamically (snake_case keys as on the wire).
 *
 * @example
 * ```ts
 * import { decodeOutputRecord, encodeSourceValue } from "@loom/streaming/engine";
 * const value = encodeSourceValue({ id: 1 }, null, { producedAtMs: 0 });
 * const out = decodeOutputRecord({ topic: "t", partition: 0, offset: 0, key: null, value, headers: {}, timestampMs: 0 });
 * out.meta.messageType; // "loom.streaming.message"
 * ```
 */
export function decodeOutputRecord(r: SourceRecord): OutputMessage {
  if (r.value === null) throw new Error(`tombstone at ${messageIdOf(r)}`);
  const probe = probeMessageType(r.value);
  let d: { header: EnvelopeHeader; payload: unknown };
  if (probe?.messageType === DECODE_ERROR_MESSAGE_TYPE) {
    try {
      d = decodeEnvelope(r.value, decodeErrorCodec as PayloadCodec<unknown>, 0);
    } catch (e) {
      // `loom.streaming.error.wire` also names an ErrorEnvelope of kind wire (e.g. `decodeError.error`
      // written out by a step): read it as one before giving up.
      try {
        d = decodeEnvelope(r.value, errorCodec(null), 0);
      } catch {
        throw e;
      }
    }
  } else {
    const codec = probe && probe.messageType.startsWith(ERROR_MESSAGE_TYPE_PREFIX)
      ? errorCodec(null)
      : dynamicCodec;
    d = decodeEnvelope(r.value, codec, 0);
  }
  const h = d.header;
  return { payload: d.payload, meta: metaOf(r, h, h.traceId), record: r };
}

/**
 * Like {@link decodeOutputRecord}, but never throws: a record that cannot be decoded (a tombstone, foreign
 * bytes, an envelope whose payload does not match its message type) is returned with `payload: undefined`
 * and `undecodable` set to the reason, so listing a topic never fails for one record.
 *
 * @example
 * ```ts
 * import { inspectOutputRecord } from "@loom/streaming/engine";
 * const out = inspectOutputRecord({
 *   topic: "t", partition: 0, offset: 0, key: null, value: new Uint8Array([0xc1]), headers: {}, timestampMs: 0,
 * });
 * out.undecodable !== undefined; // true
 * ```
 */
export function inspectOutputRecord(r: SourceRecord): OutputMessage {
  try {
    return decodeOutputRecord(r);
  } catch (e) {
    const meta: MessageMeta = {
      messageId: messageIdOf(r),
      correlationId: null,
      traceId: null,
      parentTraceId: null,
      causationId: null,
      producedAtMs: null,
      messageType: null,
      messageVersion: null,
      topic: r.topic,
      partition: r.partition,
      offset: r.offset,
      key: r.key,
      headers: r.headers,
    };
    return {
      payload: undefined,
      meta,
      record: r,
      undecodable: e instanceof Error ? e.message : String(e),
    };
  }
}
