/**
 * Pre-encoded envelope fragments and the key tables the decoder and the probes match keys against.
 *
 * @module
 */
import { type Reader, T_STR, WIRE_TYPE_NAMES, WireDecodeError, Writer } from "./_msgpack.ts";
import { LOOM_MSGPACK_MEDIA_TYPE } from "./_envelope_header.ts";

export function fragment(build: (w: Writer) => void): Uint8Array {
  const w = new Writer(256);
  build(w);
  return w.toBytes();
}

export function keyBytes(name: string): Uint8Array {
  return fragment((w) => w.str(name));
}

// {meta: {descriptor: {message_type:
export const F_START = fragment((w) => {
  w.mapHeader(2);
  w.str("meta");
  w.mapHeader(6);
  w.str("descriptor");
  w.mapHeader(4);
  w.str("message_type");
});
export const F_MESSAGE_VERSION = keyBytes("message_version");
// content_type: {...}, schema_ref: nil}, trace_id:
export const F_CONTENT_TO_TRACE = fragment((w) => {
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
export const F_PARENT_TRACE_ID = keyBytes("parent_trace_id");
export const F_CORRELATION_ID = keyBytes("correlation_id");
export const F_CAUSATION_ID = keyBytes("causation_id");
export const F_PRODUCED_AT_MS = keyBytes("produced_at_ms");
export const F_PAYLOAD = keyBytes("payload");

// Keys used when decoding.
export const K_META = keyBytes("meta");
export const ENVELOPE_KEYS = [K_META, F_PAYLOAD];
export const ENVELOPE_INDEX = new Map([["meta", 0], ["payload", 1]]);
export const META_KEYS = [
  "descriptor",
  "trace_id",
  "parent_trace_id",
  "correlation_id",
  "causation_id",
  "produced_at_ms",
];
export const META_KEY_BYTES = META_KEYS.map(keyBytes);
export const META_INDEX = new Map(META_KEYS.map((k, i) => [k, i]));
export const DESCRIPTOR_KEYS = ["message_type", "message_version", "content_type", "schema_ref"];
export const DESCRIPTOR_KEY_BYTES = DESCRIPTOR_KEYS.map(keyBytes);
export const DESCRIPTOR_INDEX = new Map(DESCRIPTOR_KEYS.map((k, i) => [k, i]));
export const CONTENT_TYPE_KEYS = ["media_type", "encoding"];
export const CONTENT_TYPE_KEY_BYTES = CONTENT_TYPE_KEYS.map(keyBytes);
export const CONTENT_TYPE_INDEX = new Map(CONTENT_TYPE_KEYS.map((k, i) => [k, i]));

/** Index of the next key: `hint` when the bytes match it, else a lookup; -1 for an unknown key. */
export function fieldIndex(
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
