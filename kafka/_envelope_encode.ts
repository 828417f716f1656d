/**
 * Envelope encoding: {@link encodeEnvelope} writes the pre-encoded fragments around the header fields and
 * the payload, byte-identical to msgspec.
 *
 * @module
 */
import { WireEncodeError, WireError, Writer } from "./_msgpack.ts";
import type { PayloadCodec } from "./_schema_codec.ts";
import type { EnvelopeHeader } from "./_envelope_header.ts";
import {
  F_CAUSATION_ID,
  F_CONTENT_TO_TRACE,
  F_CORRELATION_ID,
  F_MESSAGE_VERSION,
  F_PARENT_TRACE_ID,
  F_PAYLOAD,
  F_PRODUCED_AT_MS,
  F_START,
} from "./_envelope_keys.ts";

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

/** Start of a str's bytes written at `at` (after its header), or -1 for nil. */
function strData(w: Writer, at: number): number {
  const b = w.buf[at];
  if ((b & 0xe0) === 0xa0) return at + 1;
  return b === 0xd9 ? at + 2 : b === 0xda ? at + 3 : b === 0xdb ? at + 5 : -1;
}

/** Writes an optional trace field and notes where its UTF-8 bytes sit (relative to the message start). */
function traceField(
  w: Writer,
  value: string | null | undefined,
  path: string,
  spans: Int32Array,
  i: number,
): void {
  const rel = w.pos - w.start; // relative: a grow while writing moves the message to a new buffer
  optionalStr(w, value, path);
  const data = strData(w, w.start + rel);
  spans[i] = data < 0 ? -1 : data - w.start;
  spans[i + 1] = data < 0 ? -1 : w.pos - w.start;
}

function writeEnvelope(
  w: Writer,
  header: EnvelopeHeader,
  payload: unknown,
  codec: PayloadCodec<unknown>,
  spans?: Int32Array,
): void {
  w.depth = 0; // a writer reused after a failed encode starts at the top level again
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
  if (spans === undefined) {
    optionalStr(w, header.traceId, "$.meta.trace_id");
    w.raw(F_PARENT_TRACE_ID);
    optionalStr(w, header.parentTraceId, "$.meta.parent_trace_id");
    w.raw(F_CORRELATION_ID);
    optionalStr(w, header.correlationId, "$.meta.correlation_id");
    w.raw(F_CAUSATION_ID);
    optionalStr(w, header.causationId, "$.meta.causation_id");
  } else {
    traceField(w, header.traceId, "$.meta.trace_id", spans, 0);
    w.raw(F_PARENT_TRACE_ID);
    traceField(w, header.parentTraceId, "$.meta.parent_trace_id", spans, 2);
    w.raw(F_CORRELATION_ID);
    traceField(w, header.correlationId, "$.meta.correlation_id", spans, 4);
    w.raw(F_CAUSATION_ID);
    traceField(w, header.causationId, "$.meta.causation_id", spans, 6);
  }
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
 * `traceSpans` (8 slots), when given, receives where the UTF-8 bytes of `trace_id`, `parent_trace_id`,
 * `correlation_id` and `causation_id` sit in the returned bytes (`[start, end)` pairs in that order; -1 for
 * nil), so a producer can hand them out as Kafka header values without encoding them again.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { compileSchema, encodeEnvelope } from "@loom/streaming/kafka";
 * const Order = compileSchema(v.object({ order_id: v.string(), amount: v.pipe(v.number(), v.integer()) }));
 * const bytes = encodeEnvelope({
 *   messageType: "order.created", messageVersion: 1, traceId: "trace-1", parentTraceId: null,
 *   correlationId: "corr-1", causationId: null, producedAtMs: 1000,
 * }, { order_id: "o-1", amount: 5 }, Order); // the 255-byte golden vector
 * ```
 */
export function encodeEnvelope<P>(
  header: EnvelopeHeader,
  payload: P,
  codec: PayloadCodec<P>,
  traceSpans?: Int32Array,
): Uint8Array {
  const anyCodec = codec as PayloadCodec<unknown>;
  if (sharedBusy) {
    const w = new Writer(512);
    writeEnvelope(w, header, payload, anyCodec, traceSpans);
    return w.toBytes();
  }
  sharedBusy = true;
  try {
    sharedWriter.reset();
    writeEnvelope(sharedWriter, header, payload, anyCodec, traceSpans);
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
 * import { dynamicCodec, encodeEnvelopeInto, Writer } from "@loom/streaming/kafka";
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
