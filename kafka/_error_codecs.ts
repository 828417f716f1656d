/**
 * The wire shapes of the error payloads (§4.2): {@link errorEnvelopeCodec} and {@link decodeErrorCodec}.
 *
 * @module
 */
import * as v from "valibot";
import { type DecodeError, ERROR_KINDS, type ErrorEnvelope } from "./_error_payloads.ts";
import { T_BIN, T_MAP, T_NIL, WireEncodeError } from "./_msgpack.ts";
import {
  compileSchema,
  defineCodec,
  dynamicCodec,
  nullableCodec,
  type PayloadCodec,
  structCodec,
} from "./_schema_codec.ts";

const STR = compileSchema(v.string()) as PayloadCodec<unknown>;
const NSTR = compileSchema(v.nullable(v.string())) as PayloadCodec<unknown>;
const NINT = compileSchema(v.nullable(v.pipe(v.number(), v.integer()))) as PayloadCodec<unknown>;
const KIND = compileSchema(v.picklist(ERROR_KINDS)) as PayloadCodec<unknown>;
const BYTES = compileSchema(v.instance(Uint8Array)) as PayloadCodec<unknown>;
const HEADER_MAP = compileSchema(v.record(v.string(), v.instance(Uint8Array))) as PayloadCodec<unknown>;
const TEXT_ENCODER = new TextEncoder();

/** `key: bytes | None`; a string key is written as its UTF-8 bytes (as `snapshot_message` does). */
const KEY_BYTES: PayloadCodec<unknown> = defineCodec<unknown>({
  expects: "bytes | null",
  accepts: [T_BIN, T_NIL],
  missing: () => null,
  encode(w, key) {
    if (key === null || key === undefined) w.nil();
    else if (key instanceof Uint8Array) w.bin(key);
    else if (typeof key === "string") w.bin(TEXT_ENCODER.encode(key));
    else throw new WireEncodeError(`Expected \`bytes | null\`, got \`${typeof key}\``);
  },
  decode(r) {
    const b = r.peekByte();
    if (b === 0xc0) {
      r.pos++;
      return null;
    }
    if (b < 0xc4 || b > 0xc6) throw r.typeError("bytes | null");
    return r.readBin();
  },
});

/** `headers: dict[str, bytes]` (default `{}`; `null`/`undefined` are written as an empty map). */
const HEADERS: PayloadCodec<unknown> = defineCodec<unknown>({
  expects: "object",
  accepts: [T_MAP],
  missing: () => ({}),
  encode(w, headers) {
    if (headers === null || headers === undefined) w.mapHeader(0);
    else HEADER_MAP.encode(w, headers);
  },
  decode: (r) => HEADER_MAP.decode(r),
});

const ERROR_MESSAGE_META = structCodec([
  { name: "message_id", prop: "messageId", codec: STR },
  { name: "correlation_id", prop: "correlationId", codec: NSTR },
  { name: "trace_id", prop: "traceId", codec: NSTR },
  { name: "parent_trace_id", prop: "parentTraceId", codec: NSTR },
  { name: "causation_id", prop: "causationId", codec: NSTR },
  { name: "produced_at_ms", prop: "producedAtMs", codec: NINT },
  { name: "message_type", prop: "messageType", codec: NSTR },
  { name: "message_version", prop: "messageVersion", codec: NINT },
  { name: "topic", codec: NSTR },
  { name: "partition", codec: NINT },
  { name: "offset", codec: NINT },
  { name: "key", codec: KEY_BYTES },
  { name: "headers", codec: HEADERS },
]) as PayloadCodec<unknown>;

const errorEnvelopeCache = new WeakMap<PayloadCodec<unknown>, PayloadCodec<unknown>>();

/**
 * Codec of an {@link ErrorEnvelope} whose original payload uses `originalPayloadCodec` (use `dynamicCodec` when
 * the payload type is unknown). Wire shape: `{kind, reason, payload_type, original_message: {payload, meta:
 * {message_id, correlation_id, trace_id, parent_trace_id, causation_id, produced_at_ms, message_type,
 * message_version, topic, partition, offset, key: bin|nil, headers: {str: bin}}} | nil}`; JS side: the camelCase
 * interfaces of `kafka/_error_payloads.ts`. Cached per payload codec.
 *
 * @example
 * ```ts
 * import { dynamicCodec, encodeEnvelope, errorEnvelopeCodec } from "@loom/streaming/kafka";
 * const bytes = encodeEnvelope({
 *   messageType: "loom.streaming.error.task", messageVersion: 1, traceId: null, parentTraceId: null,
 *   correlationId: null, causationId: null, producedAtMs: 0,
 * }, { kind: "task", reason: "boom", payloadType: null, originalMessage: null }, errorEnvelopeCodec(dynamicCodec));
 * ```
 */
export function errorEnvelopeCodec<P>(originalPayloadCodec: PayloadCodec<P>): PayloadCodec<ErrorEnvelope<P>> {
  const inner = originalPayloadCodec as PayloadCodec<unknown>;
  let codec = errorEnvelopeCache.get(inner);
  if (codec === undefined) {
    const original = structCodec([
      { name: "payload", codec: inner },
      { name: "meta", codec: ERROR_MESSAGE_META },
    ]) as PayloadCodec<unknown>;
    codec = structCodec([
      { name: "kind", codec: KIND },
      { name: "reason", codec: STR },
      { name: "payload_type", prop: "payloadType", codec: NSTR },
      {
        name: "original_message",
        prop: "originalMessage",
        codec: nullableCodec(original) as PayloadCodec<unknown>,
      },
    ]) as PayloadCodec<unknown>;
    errorEnvelopeCache.set(inner, codec);
  }
  return codec as PayloadCodec<ErrorEnvelope<P>>;
}

/**
 * Codec of a {@link DecodeError} (wire `message_type` `loom.streaming.error.wire`). Wire shape: `{error: {kind,
 * reason, payload_type, original_message}, raw: bin, topic: str, key: bin|nil, headers: {str: bin}, partition:
 * int|nil, offset: int|nil, timestamp_ms: int|nil}`.
 *
 * @example
 * ```ts
 * import { decodeErrorCodec, encodeEnvelope } from "@loom/streaming/kafka";
 * const bytes = encodeEnvelope({
 *   messageType: "loom.streaming.error.wire", messageVersion: 1, traceId: null, parentTraceId: null,
 *   correlationId: null, causationId: null, producedAtMs: 0,
 * }, {
 *   error: { kind: "wire", reason: "Input data was truncated", payloadType: null, originalMessage: null },
 *   raw: new Uint8Array([0xa3]), topic: "orders", key: null, headers: {}, partition: 0, offset: 7,
 *   timestampMs: null,
 * }, decodeErrorCodec);
 * ```
 */
export const decodeErrorCodec: PayloadCodec<DecodeError> = structCodec([
  { name: "error", codec: errorEnvelopeCodec(dynamicCodec) as PayloadCodec<unknown> },
  { name: "raw", codec: BYTES },
  { name: "topic", codec: STR },
  { name: "key", codec: KEY_BYTES },
  { name: "headers", codec: HEADERS },
  { name: "partition", codec: NINT },
  { name: "offset", codec: NINT },
  { name: "timestamp_ms", prop: "timestampMs", codec: NINT },
]) as unknown as PayloadCodec<DecodeError>;
