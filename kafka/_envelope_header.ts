/**
 * The envelope's header types: {@link EnvelopeHeader} (what is written), {@link DecodedEnvelopeHeader} and
 * {@link DecodedEnvelope} (what is read), and the loom content type.
 *
 * @module
 */

/**
 * `content_type.media_type` written by loom.
 *
 * @example
 * ```ts
 * import { LOOM_MSGPACK_MEDIA_TYPE } from "@loom/streaming/kafka";
 * LOOM_MSGPACK_MEDIA_TYPE; // "application/x-loom-msgpack"
 * ```
 */
export const LOOM_MSGPACK_MEDIA_TYPE = "application/x-loom-msgpack";

/**
 * `descriptor.content_type` of an envelope.
 *
 * @example
 * ```ts
 * import type { ContentType } from "@loom/streaming/kafka";
 * const contentType: ContentType = { mediaType: "application/x-loom-msgpack", encoding: null };
 * ```
 */
export interface ContentType {
  /** Media type (`application/x-loom-msgpack` for loom). */
  readonly mediaType: string;
  /** Content encoding, `null` when none. */
  readonly encoding: string | null;
}

/**
 * The content type loom writes (`application/x-loom-msgpack`, no encoding).
 *
 * @example
 * ```ts
 * import { DEFAULT_CONTENT_TYPE } from "@loom/streaming/kafka";
 * DEFAULT_CONTENT_TYPE.encoding; // null
 * ```
 */
export const DEFAULT_CONTENT_TYPE: ContentType = Object.freeze({
  mediaType: LOOM_MSGPACK_MEDIA_TYPE,
  encoding: null,
});

/**
 * What we put in (and read from) an envelope's `meta`, flattened and camelCased.
 *
 * @example
 * ```ts
 * import { dynamicCodec, encodeEnvelope, type EnvelopeHeader } from "@loom/streaming/kafka";
 * const header: EnvelopeHeader = {
 *   messageType: "order.created",
 *   messageVersion: 1,
 *   traceId: null,
 *   parentTraceId: null,
 *   correlationId: "corr-1",
 *   causationId: null,
 *   producedAtMs: 1_700_000_000_000,
 * };
 * const bytes = encodeEnvelope(header, { order_id: "o-1" }, dynamicCodec);
 * ```
 */
export interface EnvelopeHeader {
  /** `meta.descriptor.message_type`. */
  readonly messageType: string;
  /** `meta.descriptor.message_version`. */
  readonly messageVersion: number;
  /** `meta.trace_id`. */
  readonly traceId: string | null;
  /** `meta.parent_trace_id`. */
  readonly parentTraceId: string | null;
  /** `meta.correlation_id`. */
  readonly correlationId: string | null;
  /** `meta.causation_id`. */
  readonly causationId: string | null;
  /** `meta.produced_at_ms` (ms since epoch). */
  readonly producedAtMs: number;
}

/**
 * A decoded header: {@link EnvelopeHeader} plus the descriptor's content type and schema reference.
 *
 * @example
 * ```ts
 * import { decodeEnvelope, dynamicCodec } from "@loom/streaming/kafka";
 * declare const bytes: Uint8Array;
 * const { header } = decodeEnvelope(bytes, dynamicCodec, 0);
 * console.log(header.messageType, header.contentType.mediaType, header.schemaRef);
 * ```
 */
export interface DecodedEnvelopeHeader extends EnvelopeHeader {
  /** `meta.descriptor.content_type`. */
  readonly contentType: ContentType;
  /** `descriptor.schema_ref` as a plain object (`{namespace, name, version, format}`), or `null`. */
  readonly schemaRef: Readonly<Record<string, unknown>> | null;
}

/**
 * Result of {@link decodeEnvelope}.
 *
 * @example
 * ```ts
 * import { decodeEnvelope, dynamicCodec, type DecodedEnvelope } from "@loom/streaming/kafka";
 * declare const bytes: Uint8Array;
 * const envelope: DecodedEnvelope = decodeEnvelope(bytes, dynamicCodec, 0);
 * console.log(envelope.header.traceId, envelope.payload);
 * ```
 */
export interface DecodedEnvelope<P = unknown> {
  /** The envelope `meta`, flattened. */
  readonly header: DecodedEnvelopeHeader;
  /** The decoded payload. */
  readonly payload: P;
}
