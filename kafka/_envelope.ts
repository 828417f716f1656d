/**
 * The loom message envelope (wire format §4.1) and the wire shapes of {@link ErrorEnvelope} and
 * {@link DecodeError}:
 *
 * ```
 * { meta: { descriptor: { message_type, message_version,
 *                         content_type: { media_type: "application/x-loom-msgpack", encoding: nil },
 *                         schema_ref: nil },
 *           trace_id, parent_trace_id, correlation_id, causation_id, produced_at_ms },
 *   payload }
 * ```
 *
 * Encoding is byte-identical to the Python original (msgspec); decoding follows msgspec's strict typed-decode rules
 * and error messages.
 *
 * The envelope is written by `_envelope_encode.ts`, read by `_envelope_decode.ts` and probed by
 * `_envelope_probe.ts`; the error payloads' wire shapes are in `_error_codecs.ts`.
 *
 * @module
 */
export {
  type ContentType,
  type DecodedEnvelope,
  type DecodedEnvelopeHeader,
  DEFAULT_CONTENT_TYPE,
  type EnvelopeHeader,
  LOOM_MSGPACK_MEDIA_TYPE,
} from "./_envelope_header.ts";
export { encodeEnvelope, encodeEnvelopeInto } from "./_envelope_encode.ts";
export { decodeEnvelope } from "./_envelope_decode.ts";
export { probeErrorPayloadType, probeMessageType } from "./_envelope_probe.ts";
export { decodeErrorCodec, errorEnvelopeCodec } from "./_error_codecs.ts";
