/**
 * Envelope decoding: {@link decodeEnvelope} reads the header with msgspec's strict typed-decode rules, then
 * the payload with its codec.
 *
 * @module
 */
import { Reader, T_MAP, WireDecodeError, WireError } from "./_msgpack.ts";
import type { PayloadCodec } from "./_schema_codec.ts";
import {
  type ContentType,
  type DecodedEnvelope,
  DEFAULT_CONTENT_TYPE,
  LOOM_MSGPACK_MEDIA_TYPE,
} from "./_envelope_header.ts";
import {
  CONTENT_TYPE_INDEX,
  CONTENT_TYPE_KEY_BYTES,
  CONTENT_TYPE_KEYS,
  DESCRIPTOR_INDEX,
  DESCRIPTOR_KEY_BYTES,
  DESCRIPTOR_KEYS,
  ENVELOPE_INDEX,
  ENVELOPE_KEYS,
  fieldIndex,
  fragment,
  META_INDEX,
  META_KEY_BYTES,
  META_KEYS,
} from "./_envelope_keys.ts";

function withPath<T>(e: T, segment: string): T {
  if (e instanceof WireError) e.prependPath(segment);
  return e;
}

export function readOptionalStr(r: Reader): string | null {
  const b = r.peekByte();
  if (b === 0xc0) {
    r.pos++;
    return null;
  }
  if ((b & 0xe0) !== 0xa0 && (b < 0xd9 || b > 0xdb)) throw r.typeError("str | null");
  return r.readStr();
}

export function readSafeInt(r: Reader): number {
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
 * import { decodeEnvelope, dynamicCodec } from "@loom/streaming/kafka";
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
