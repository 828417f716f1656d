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
 * @module
 */
import * as v from "valibot";
import type { DecodeError, ErrorEnvelope } from "./_error_payloads.ts";
import { ERROR_KINDS } from "./_error_payloads.ts";
import {
  Reader,
  T_BIN,
  T_MAP,
  T_NIL,
  T_STR,
  WIRE_TYPE_NAMES,
  WireDecodeError,
  WireEncodeError,
  WireError,
  Writer,
} from "./_msgpack.ts";
import { compileSchema, defineCodec, dynamicCodec, nullableCodec, structCodec } from "./_schema_codec.ts";
import type { PayloadCodec } from "./_schema_codec.ts";

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

// ---------------------------------------------------------------------------------------------------------------
// Pre-encoded constant fragments
// ---------------------------------------------------------------------------------------------------------------

function fragment(build: (w: Writer) => void): Uint8Array {
  const w = new Writer(256);
  build(w);
  return w.toBytes();
}

function keyBytes(name: string): Uint8Array {
  return fragment((w) => w.str(name));
}

// {meta: {descriptor: {message_type:
const F_START = fragment((w) => {
  w.mapHeader(2);
  w.str("meta");
  w.mapHeader(6);
  w.str("descriptor");
  w.mapHeader(4);
  w.str("message_type");
});
const F_MESSAGE_VERSION = keyBytes("message_version");
// content_type: {...}, schema_ref: nil}, trace_id:
const F_CONTENT_TO_TRACE = fragment((w) => {
  w.str("content_type");
  w.mapHeader(2);
  w.str("media_type");
  w.str(LOOM_MSGPACK_MEDIA_TYPE);
  w.str("encoding");
  w.nil();
  w.str("schema_ref");
  w.nil();
  w.str("trace_id");
});
const F_PARENT_TRACE_ID = keyBytes("parent_trace_id");
const F_CORRELATION_ID = keyBytes("correlation_id");
const F_CAUSATION_ID = keyBytes("causation_id");
const F_PRODUCED_AT_MS = keyBytes("produced_at_ms");
const F_PAYLOAD = keyBytes("payload");

// Keys used when decoding.
const K_META = keyBytes("meta");
const ENVELOPE_KEYS = [K_META, F_PAYLOAD];
const ENVELOPE_INDEX = new Map([["meta", 0], ["payload", 1]]);
const META_KEYS = [
  "descriptor",
  "trace_id",
  "parent_trace_id",
  "correlation_id",
  "causation_id",
  "produced_at_ms",
];
const META_KEY_BYTES = META_KEYS.map(keyBytes);
const META_INDEX = new Map(META_KEYS.map((k, i) => [k, i]));
const DESCRIPTOR_KEYS = ["message_type", "message_version", "content_type", "schema_ref"];
const DESCRIPTOR_KEY_BYTES = DESCRIPTOR_KEYS.map(keyBytes);
const DESCRIPTOR_INDEX = new Map(DESCRIPTOR_KEYS.map((k, i) => [k, i]));
const CONTENT_TYPE_KEYS = ["media_type", "encoding"];
const CONTENT_TYPE_KEY_BYTES = CONTENT_TYPE_KEYS.map(keyBytes);
const CONTENT_TYPE_INDEX = new Map(CONTENT_TYPE_KEYS.map((k, i) => [k, i]));

// ---------------------------------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------------------------------

// Messages are carved out of 64 KiB slabs (see Writer.finish): no allocation per message.
const sharedWriter = new Writer(65536);
let sharedBusy = false;

function optionalStr(w: Writer, value: string | null | undefined, path: string): void {
  if (typeof value === "string") w.str(value);
  else if (value === null || value === undefined) w.nil();
  else throw new WireEncodeError(`Expected \`str | null\`, got \`${typeof value}\``, path);
}

function requiredInt(w: Writer, value: number, path: string): void {
  if (typeof value !== "number" || !Number.isInteger(value)) {
    throw new WireEncodeError(`Expected \`int\`, got \`${value === null ? "null" : typeof value}\``, path);
  }
  w.int(value);
}

function writeEnvelope(
  w: Writer,
  header: EnvelopeHeader,
  payload: unknown,
  codec: PayloadCodec<unknown>,
): void {
  w.raw(F_START);
  if (typeof header.messageType !== "string") {
    throw new WireEncodeError(
      `Expected \`str\`, got \`${typeof header.messageType}\``,
      "$.meta.descriptor.message_type",
    );
  }
  w.str(header.messageType);
  w.raw(F_MESSAGE_VERSION);
  requiredInt(w, header.messageVersion, "$.meta.descriptor.message_version");
  w.raw(F_CONTENT_TO_TRACE);
  optionalStr(w, header.traceId, "$.meta.trace_id");
  w.raw(F_PARENT_TRACE_ID);
  optionalStr(w, header.parentTraceId, "$.meta.parent_trace_id");
  w.raw(F_CORRELATION_ID);
  optionalStr(w, header.correlationId, "$.meta.correlation_id");
  w.raw(F_CAUSATION_ID);
  optionalStr(w, header.causationId, "$.meta.causation_id");
  w.raw(F_PRODUCED_AT_MS);
  requiredInt(w, header.producedAtMs, "$.meta.produced_at_ms");
  w.raw(F_PAYLOAD);
  try {
    codec.encode(w, payload);
  } catch (e) {
    if (e instanceof WireError) e.prependPath(".payload");
    throw e;
  }
}

/**
 * Encodes a complete envelope. `codec` is the payload's compiled codec (`codecOf(MessageType)`,
 * {@link errorEnvelopeCodec}, {@link decodeErrorCodec}) or `dynamicCodec`. `content_type` is always
 * `application/x-loom-msgpack` and `schema_ref` nil, as when the Python original produces. Returns bytes owned by
 * the caller: a view into a shared 64 KiB slab that is never written again (use `byteOffset`/`length` if you
 * convert it, e.g. `Buffer.from(b.buffer, b.byteOffset, b.length)`). Throws {@link WireEncodeError} (with a `$.payload...` path) when the payload
 * does not match its schema.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { compileSchema } from "./_schema_codec.ts";
 * import { encodeEnvelope } from "./_envelope.ts";
 * const Order = compileSchema(v.object({ order_id: v.string(), amount: v.pipe(v.number(), v.integer()) }));
 * const bytes = encodeEnvelope({
 *   messageType: "order.created", messageVersion: 1, traceId: "trace-1", parentTraceId: null,
 *   correlationId: "corr-1", causationId: null, producedAtMs: 1000,
 * }, { order_id: "o-1", amount: 5 }, Order); // the 255-byte golden vector
 * ```
 */
export function encodeEnvelope<P>(header: EnvelopeHeader, payload: P, codec: PayloadCodec<P>): Uint8Array {
  const anyCodec = codec as PayloadCodec<unknown>;
  if (sharedBusy) {
    const w = new Writer(512);
    writeEnvelope(w, header, payload, anyCodec);
    return w.toBytes();
  }
  sharedBusy = true;
  try {
    sharedWriter.reset();
    writeEnvelope(sharedWriter, header, payload, anyCodec);
    return sharedWriter.finish();
  } finally {
    sharedBusy = false;
  }
}

/**
 * Writes a complete envelope into a caller-owned {@link Writer} (no copy). Use it to batch several records into
 * one buffer; otherwise prefer {@link encodeEnvelope}.
 *
 * @example
 * ```ts
 * import { Writer } from "./_msgpack.ts";
 * import { dynamicCodec } from "./_schema_codec.ts";
 * import { encodeEnvelopeInto } from "./_envelope.ts";
 * const w = new Writer();
 * encodeEnvelopeInto(w, {
 *   messageType: "x", messageVersion: 1, traceId: null, parentTraceId: null, correlationId: null,
 *   causationId: null, producedAtMs: 0,
 * }, { a: 1 }, dynamicCodec);
 * ```
 */
export function encodeEnvelopeInto<P>(
  w: Writer,
  header: EnvelopeHeader,
  payload: P,
  codec: PayloadCodec<P>,
): void {
  writeEnvelope(w, header, payload, codec as PayloadCodec<unknown>);
}

// ---------------------------------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------------------------------

/** Index of the next key: `hint` when the bytes match it, else a lookup; -1 for an unknown key. */
function fieldIndex(
  r: Reader,
  keys: readonly Uint8Array[],
  hint: number,
  index: Map<string, number>,
): number {
  if (hint < keys.length && r.matchRaw(keys[hint])) return hint;
  const t = r.peekType();
  if (t !== T_STR) throw new WireDecodeError(`Expected \`str\`, got \`${WIRE_TYPE_NAMES[t]}\``, "$", true);
  return index.get(r.readKey()) ?? -1;
}

function withPath<T>(e: T, segment: string): T {
  if (e instanceof WireError) e.prependPath(segment);
  return e;
}

function readOptionalStr(r: Reader): string | null {
  const b = r.peekByte();
  if (b === 0xc0) {
    r.pos++;
    return null;
  }
  if ((b & 0xe0) !== 0xa0 && (b < 0xd9 || b > 0xdb)) throw r.typeError("str | null");
  return r.readStr();
}

function readSafeInt(r: Reader): number {
  const b = r.peekByte();
  if (b <= 0x7f) {
    r.pos++;
    return b;
  }
  const n = r.readInt();
  if (typeof n === "bigint") {
    throw new WireDecodeError(`Expected \`int\` within the safe integer range (±(2^53-1)), got ${n}`);
  }
  return n;
}

// A few recently seen message types, kept as encoded bytes: a topic carries few types, so the string is reused.
const TYPE_CACHE_SIZE = 8;
const typeCacheBytes: Uint8Array[] = [];
const typeCacheStrings: string[] = [];
let typeCacheNext = 0;

function readMessageType(r: Reader): string {
  for (let i = 0; i < typeCacheBytes.length; i++) {
    if (r.matchRaw(typeCacheBytes[i])) return typeCacheStrings[i];
  }
  const start = r.pos;
  const s = r.readStr();
  if (s.length <= 128) {
    typeCacheBytes[typeCacheNext] = r.buf.slice(start, r.pos);
    typeCacheStrings[typeCacheNext] = s;
    typeCacheNext = (typeCacheNext + 1) % TYPE_CACHE_SIZE;
  }
  return s;
}

interface MutableHeader {
  messageType: string;
  messageVersion: number;
  contentType: ContentType;
  schemaRef: Readonly<Record<string, unknown>> | null;
  traceId: string | null;
  parentTraceId: string | null;
  correlationId: string | null;
  causationId: string | null;
  producedAtMs: number;
}

const DEFAULT_CONTENT_TYPE_BYTES = fragment((w) => {
  w.mapHeader(2);
  w.str("media_type");
  w.str(LOOM_MSGPACK_MEDIA_TYPE);
  w.str("encoding");
  w.nil();
});

function readContentType(r: Reader): ContentType {
  if (r.matchRaw(DEFAULT_CONTENT_TYPE_BYTES)) return DEFAULT_CONTENT_TYPE;
  const n = r.readMapHeader();
  let mediaType = LOOM_MSGPACK_MEDIA_TYPE;
  let encoding: string | null = null;
  let next = 0;
  let fi = -1;
  try {
    for (let i = 0; i < n; i++) {
      fi = -1;
      fi = fieldIndex(r, CONTENT_TYPE_KEY_BYTES, next, CONTENT_TYPE_INDEX);
      if (fi === 0) mediaType = r.readStr();
      else if (fi === 1) encoding = readOptionalStr(r);
      else r.skip();
      next = fi + 1;
    }
  } catch (e) {
    if (fi >= 0) throw withPath(e, `.${CONTENT_TYPE_KEYS[fi]}`);
    throw e;
  }
  if (mediaType === LOOM_MSGPACK_MEDIA_TYPE && encoding === null) return DEFAULT_CONTENT_TYPE;
  return { mediaType, encoding };
}

function readDescriptor(r: Reader, h: MutableHeader): void {
  const n = r.readMapHeader();
  let next = 0;
  let fi = -1;
  let seenType = false;
  let seenVersion = false;
  try {
    for (let i = 0; i < n; i++) {
      fi = -1;
      fi = fieldIndex(r, DESCRIPTOR_KEY_BYTES, next, DESCRIPTOR_INDEX);
      switch (fi) {
        case 0:
          h.messageType = readMessageType(r);
          seenType = true;
          break;
        case 1:
          h.messageVersion = readSafeInt(r);
          seenVersion = true;
          break;
        case 2:
          h.contentType = readContentType(r);
          break;
        case 3: {
          const b = r.peekByte();
          if (b === 0xc0) {
            r.pos++;
            h.schemaRef = null;
          } else if (r.peekType() === T_MAP) {
            h.schemaRef = r.readAny() as Record<string, unknown>;
          } else {
            throw r.typeError("object | null");
          }
          break;
        }
        default:
          r.skip();
      }
      next = fi + 1;
    }
  } catch (e) {
    if (fi >= 0) throw withPath(e, `.${DESCRIPTOR_KEYS[fi]}`);
    throw e;
  }
  if (!seenType) throw new WireDecodeError("Object missing required field `message_type`");
  if (!seenVersion) throw new WireDecodeError("Object missing required field `message_version`");
}

function readMeta(r: Reader, h: MutableHeader): void {
  const n = r.readMapHeader();
  let next = 0;
  let fi = -1;
  let seenDescriptor = false;
  try {
    for (let i = 0; i < n; i++) {
      fi = -1;
      fi = fieldIndex(r, META_KEY_BYTES, next, META_INDEX);
      switch (fi) {
        case 0:
          readDescriptor(r, h);
          seenDescriptor = true;
          break;
        case 1:
          h.traceId = readOptionalStr(r);
          break;
        case 2:
          h.parentTraceId = readOptionalStr(r);
          break;
        case 3:
          h.correlationId = readOptionalStr(r);
          break;
        case 4:
          h.causationId = readOptionalStr(r);
          break;
        case 5:
          h.producedAtMs = readSafeInt(r);
          break;
        default:
          r.skip();
      }
      next = fi + 1;
    }
  } catch (e) {
    if (fi >= 0) throw withPath(e, `.${META_KEYS[fi]}`);
    throw e;
  }
  if (!seenDescriptor) throw new WireDecodeError("Object missing required field `descriptor`");
}

/**
 * Decodes a complete envelope with the payload codec `codec`, following msgspec's typed-decode rules: unknown keys
 * are ignored, a missing `produced_at_ms` becomes `nowMs` (pass the injected clock's time), types are strict.
 * Throws {@link WireDecodeError} with msgspec's message (e.g. ``Expected `object`, got `int` `` for non-msgpack
 * bytes, `Input data was truncated`, ``Expected `int`, got `str` - at `$.payload.amount` ``); use `error.message`
 * as the `DecodeError` reason.
 *
 * @example
 * ```ts
 * import { decodeEnvelope } from "./_envelope.ts";
 * import { dynamicCodec } from "./_schema_codec.ts";
 * declare const bytes: Uint8Array;
 * const { header, payload } = decodeEnvelope(bytes, dynamicCodec, 0);
 * header.messageType; // e.g. "order.created"
 * ```
 */
export function decodeEnvelope<P>(
  bytes: Uint8Array,
  codec: PayloadCodec<P>,
  nowMs: number,
): DecodedEnvelope<P> {
  const r = new Reader(bytes);
  const h: MutableHeader = {
    messageType: "",
    messageVersion: 0,
    contentType: DEFAULT_CONTENT_TYPE,
    schemaRef: null,
    traceId: null,
    parentTraceId: null,
    correlationId: null,
    causationId: null,
    producedAtMs: nowMs,
  };
  const n = r.readMapHeader();
  let payload: P | undefined = undefined;
  let seenMeta = false;
  let seenPayload = false;
  let next = 0;
  let fi = -1;
  try {
    for (let i = 0; i < n; i++) {
      fi = -1;
      fi = fieldIndex(r, ENVELOPE_KEYS, next, ENVELOPE_INDEX);
      if (fi === 0) {
        readMeta(r, h);
        seenMeta = true;
      } else if (fi === 1) {
        payload = codec.decode(r);
        seenPayload = true;
      } else {
        r.skip();
      }
      next = fi + 1;
    }
  } catch (e) {
    if (fi === 0) throw withPath(e, ".meta");
    if (fi === 1) throw withPath(e, ".payload");
    throw e;
  }
  if (!seenMeta) throw new WireDecodeError("Object missing required field `meta`");
  if (!seenPayload) throw new WireDecodeError("Object missing required field `payload`");
  r.finish();
  return { header: h, payload: payload as P };
}

// ---------------------------------------------------------------------------------------------------------------
// Probes (multi-type sources, §4.6)
// ---------------------------------------------------------------------------------------------------------------

const PROBE_META_KEYS = [K_META];
const PROBE_META_INDEX = new Map([["meta", 0]]);
const PROBE_DESCRIPTOR_KEYS = [META_KEY_BYTES[0]];
const PROBE_DESCRIPTOR_INDEX = new Map([["descriptor", 0]]);
const PROBE_TYPE_KEYS = [DESCRIPTOR_KEY_BYTES[0], DESCRIPTOR_KEY_BYTES[1]];
const PROBE_TYPE_INDEX = new Map([["message_type", 0], ["message_version", 1]]);
const PROBE_PAYLOAD_KEYS = [F_PAYLOAD];
const PROBE_PAYLOAD_INDEX = new Map([["payload", 0]]);
const ERROR_PROBE_NAMES = ["kind", "reason", "payload_type"];
const ERROR_PROBE_KEYS = ERROR_PROBE_NAMES.map(keyBytes);
const ERROR_PROBE_INDEX = new Map(ERROR_PROBE_NAMES.map((k, i) => [k, i]));

/**
 * Reads `meta.descriptor.message_type` and `message_version` without decoding the payload (§4.6 step 1). The
 * probe succeeds only for well-formed msgpack whose top level is a map with `meta.descriptor.message_type` (str)
 * and `meta.descriptor.message_version` (int); otherwise it returns `null` (the caller reports
 * `"failed to probe message_type from envelope"`).
 *
 * @example
 * ```ts
 * import { probeMessageType } from "./_envelope.ts";
 * declare const bytes: Uint8Array;
 * const probe = probeMessageType(bytes); // e.g. { messageType: "order.created", messageVersion: 1 } or null
 * ```
 */
export function probeMessageType(bytes: Uint8Array): { messageType: string; messageVersion: number } | null {
  try {
    const r = new Reader(bytes);
    let messageType: string | null = null;
    let messageVersion: number | null = null;
    const n = r.readMapHeader();
    for (let i = 0; i < n; i++) {
      if (fieldIndex(r, PROBE_META_KEYS, 0, PROBE_META_INDEX) !== 0) {
        r.skip();
        continue;
      }
      messageType = null;
      messageVersion = null;
      const m = r.readMapHeader();
      for (let j = 0; j < m; j++) {
        if (fieldIndex(r, PROBE_DESCRIPTOR_KEYS, 0, PROBE_DESCRIPTOR_INDEX) !== 0) {
          r.skip();
          continue;
        }
        messageType = null;
        messageVersion = null;
        const d = r.readMapHeader();
        for (let k = 0; k < d; k++) {
          const fi = fieldIndex(r, PROBE_TYPE_KEYS, k === 0 ? 0 : 1, PROBE_TYPE_INDEX);
          if (fi === 0) messageType = r.readStr();
          else if (fi === 1) messageVersion = readSafeInt(r);
          else r.skip();
        }
      }
    }
    r.finish();
    if (messageType === null || messageVersion === null) return null;
    return { messageType, messageVersion };
  } catch {
    return null;
  }
}

/**
 * Reads `payload.payload_type` of an error envelope without decoding it (§4.6 step 3). The probe requires
 * well-formed msgpack with a top-level map whose `payload` map has `kind` and `reason` strings; it returns
 * `payload.payload_type` when it is a string, else `null` (probe failed, or the type is nil/missing: the caller
 * reports `"error envelope missing payload_type for '<outer>'"` in both cases).
 *
 * @example
 * ```ts
 * import { probeErrorPayloadType } from "./_envelope.ts";
 * declare const bytes: Uint8Array;
 * const inner = probeErrorPayloadType(bytes); // e.g. "order.created" or null
 * ```
 */
export function probeErrorPayloadType(bytes: Uint8Array): string | null {
  try {
    const r = new Reader(bytes);
    let seenPayload = false;
    let kind: string | null = null;
    let reason: string | null = null;
    let payloadType: string | null = null;
    const n = r.readMapHeader();
    for (let i = 0; i < n; i++) {
      if (fieldIndex(r, PROBE_PAYLOAD_KEYS, 0, PROBE_PAYLOAD_INDEX) !== 0) {
        r.skip();
        continue;
      }
      seenPayload = true;
      kind = null;
      reason = null;
      payloadType = null;
      const m = r.readMapHeader();
      for (let j = 0; j < m; j++) {
        const fi = fieldIndex(r, ERROR_PROBE_KEYS, j < 3 ? j : 0, ERROR_PROBE_INDEX);
        if (fi === 0) kind = r.readStr();
        else if (fi === 1) reason = r.readStr();
        else if (fi === 2) payloadType = readOptionalStr(r);
        else r.skip();
      }
    }
    r.finish();
    if (!seenPayload || kind === null || reason === null) return null;
    return payloadType;
  } catch {
    return null;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// ErrorEnvelope and DecodeError wire shapes (§4.2)
// ---------------------------------------------------------------------------------------------------------------

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
 * import { dynamicCodec } from "./_schema_codec.ts";
 * import { encodeEnvelope, errorEnvelopeCodec } from "./_envelope.ts";
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
 * import { decodeErrorCodec, encodeEnvelope } from "./_envelope.ts";
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
