/**
 * Record-level wire rules (reference §4.3–§4.6): decoding source records into messages (single and
 * multi-type), and encoding outputs, error envelopes and decode errors into Kafka records with their
 * keys, headers and trace lineage.
 *
 * Slightly over ~600 lines: decoding and encoding of one record share the codec caches and header rules
 * kept here; error-record limits live in `_error_limits.ts`.
 *
 * @module
 */
import type { Clock, IdSource } from "./_clock.ts";
import {
  decodeEnvelope,
  decodeErrorCodec,
  encodeEnvelope,
  type EnvelopeHeader,
  errorEnvelopeCodec,
  probeErrorPayloadType,
  probeMessageType,
} from "../kafka/_envelope.ts";
import { codecOf, dynamicCodec, type PayloadCodec } from "../kafka/_schema_codec.ts";
import {
  DECODE_ERROR_MESSAGE_TYPE,
  type DecodeError,
  DEFAULT_MESSAGE_TYPE,
  ERROR_KINDS,
  ERROR_MESSAGE_TYPE_PREFIX,
  type ErrorEnvelope,
  errorMessageType,
  isErrorEnvelopeType,
  type Message,
  type MessageMeta,
} from "./_message.ts";
import type { CompiledPlan, CompiledTopicSink } from "./_plan.ts";
import type { OutgoingRecord, SourceRecord } from "./_transport.ts";
import {
  boundedEnvelope,
  boundReason,
  cut,
  forwardedErrorHeaders,
  headerReason,
  smallHeaders,
} from "./_error_limits.ts";
import type { ErrorSource } from "./engine/_emission.ts";
import { isMessageType, type MessageType } from "./_type.ts";

/**
 * Header names (same as the original).
 *
 * @example
 * ```ts
 * import { HEADERS } from "@loom/streaming/engine";
 * HEADERS.traceId; // "x-trace-id"
 * ```
 */
export const HEADERS = {
  correlationId: "x-correlation-id",
  causationId: "x-causation-id",
  traceId: "x-trace-id",
  parentTraceId: "x-parent-trace-id",
  errorKind: "x-error-kind",
  errorReason: "x-error-reason",
  dlqError: "x-dlq-error",
  dlqSourceTopic: "x-dlq-source-topic",
  dlqSourcePartition: "x-dlq-source-partition",
  dlqSourceOffset: "x-dlq-source-offset",
} as const;

const utf8e = new TextEncoder();
const utf8d = new TextDecoder();

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
function errorCodec(original: MessageType | null): PayloadCodec<unknown> {
  if (!original) return dynamicErrorCodec ??= errorEnvelopeCodec(dynamicCodec) as PayloadCodec<unknown>;
  let c = errorCodecCache.get(original);
  if (!c) {
    errorCodecCache.set(original, c = errorEnvelopeCodec(payloadCodec(original)) as PayloadCodec<unknown>);
  }
  return c;
}

function str(v: Uint8Array | undefined): string | null {
  return v === undefined ? null : utf8d.decode(v);
}

function keyToBytes(key: Uint8Array | string | null): Uint8Array | null {
  if (key === null || key === undefined) return null;
  return typeof key === "string" ? utf8e.encode(key) : key;
}

// The `topic:partition:` prefix of the last record's message id: records come in batches of one partition,
// so a message id costs one concatenation instead of a three-part template.
let idTopic = "";
let idPartition = -1;
let idPrefix = ":-1:";

function messageIdOf(r: SourceRecord): string {
  if (r.partition !== idPartition || r.topic !== idTopic) {
    idTopic = r.topic;
    idPartition = r.partition;
    idPrefix = `${r.topic}:${r.partition}:`;
  }
  return idPrefix + r.offset;
}

/**
 * Result of decoding one record.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { compileFlow, FromTopic, IntoTopic, messageType, Process, RecordStep, StreamFlow } from "@loom/streaming";
 * const Order = messageType("order.created", v.object({ order_id: v.string() }));
 * const plan = compileFlow(new StreamFlow({
 *   name: "orders",
 *   source: new FromTopic("orders", Order),
 *   process: new Process(RecordStep.of((m: { payload: { order_id: string } }) => m.payload)),
 *   output: new IntoTopic("orders.out"),
 * }), { kafka: { consumer: { brokers: ["b:9092"], group_id: "g", topics: ["orders"] }, producer: { brokers: ["b:9092"] } } });
 * import { seededIds, VirtualClock } from "@loom/streaming";
 * import { encodeSourceValue, type SourceRecord, Wire } from "@loom/streaming/engine";
 * const record: SourceRecord = {
 *   topic: "orders", partition: 0, offset: 0, key: null, headers: {}, timestampMs: 0,
 *   value: encodeSourceValue({ order_id: "o-1" }, Order, { producedAtMs: 0 }),
 * };
 * const result = new Wire(plan, new VirtualClock(), seededIds(1)).decode(record);
 * if (result.ok) console.log(result.message.payload);
 * else console.error(result.error);
 * ```
 */
export type DecodeResult =
  | { readonly ok: true; readonly message: Message; readonly type: MessageType | null }
  | { readonly ok: false; readonly error: string };

/**
 * Decodes and encodes records for one compiled plan.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { compileFlow, FromTopic, IntoTopic, messageType, Process, RecordStep, StreamFlow } from "@loom/streaming";
 * const Order = messageType("order.created", v.object({ order_id: v.string() }));
 * const plan = compileFlow(new StreamFlow({
 *   name: "orders",
 *   source: new FromTopic("orders", Order),
 *   process: new Process(RecordStep.of((m: { payload: { order_id: string } }) => m.payload)),
 *   output: new IntoTopic("orders.out"),
 * }), { kafka: { consumer: { brokers: ["b:9092"], group_id: "g", topics: ["orders"] }, producer: { brokers: ["b:9092"] } } });
 * import { seededIds, VirtualClock } from "@loom/streaming";
 * import { encodeSourceValue, type SourceRecord, Wire } from "@loom/streaming/engine";
 * const record: SourceRecord = {
 *   topic: "orders", partition: 0, offset: 0, key: null, headers: {}, timestampMs: 0,
 *   value: encodeSourceValue({ order_id: "o-1" }, Order, { producedAtMs: 0 }),
 * };
 * const wire = new Wire(plan, new VirtualClock(), seededIds(1));
 * const decoded = wire.decode(record); // { ok: true, message, type }
 * ```
 */
export class Wire {
  readonly #plan: CompiledPlan;
  readonly #clock: Clock;
  readonly #ids: IdSource;
  readonly #single: PayloadCodec<unknown> | null;

  /**
   * Creates a {@link Wire}.
   *
   * @param plan the plan
   * @param clock time source
   * @param ids trace-id source
   */
  constructor(plan: CompiledPlan, clock: Clock, ids: IdSource) {
    this.#plan = plan;
    this.#clock = clock;
    this.#ids = ids;
    this.#single = plan.source.kind === "single" ? payloadCodec(plan.source.payloadType) : null;
  }

  /** Decodes a source record into a message (never throws: failures are wire errors). */
  decode(r: SourceRecord): DecodeResult {
    if (r.value === null) {
      // QUIRK fixed: the original crashed its source on a tombstone.
      return { ok: false, error: "tombstone record (null value) cannot be decoded as an envelope" };
    }
    const src = this.#plan.source;
    let type: MessageType | null;
    let codec: PayloadCodec<unknown>;
    if (this.#single) {
      type = src.payloadType;
      codec = this.#single;
    } else {
      const d = src.dispatch!;
      const probe = probeMessageType(r.value);
      if (!probe) return { ok: false, error: "failed to probe message_type from envelope" };
      const plain = d.plain.get(probe.messageType);
      if (plain) {
        type = plain;
        codec = payloadCodec(plain);
      } else if (isErrorEnvelopeType(probe.messageType)) {
        const inner = probeErrorPayloadType(r.value);
        if (inner === null) {
          return { ok: false, error: `error envelope missing payload_type for '${probe.messageType}'` };
        }
        const original = d.error.get(inner);
        if (!original) return { ok: false, error: `unknown error payload_type: '${inner}'` };
        type = null;
        codec = errorCodec(original);
      } else if (probe.messageType === DECODE_ERROR_MESSAGE_TYPE && d.wire) {
        type = null;
        codec = decodeErrorCodec as PayloadCodec<unknown>;
      } else {
        return { ok: false, error: `unknown message_type: '${probe.messageType}'` };
      }
    }
    let decoded: { header: EnvelopeHeader; payload: unknown };
    try {
      decoded = decodeEnvelope(r.value, codec, this.#clock.now());
    } catch (e) {
      return { ok: false, error: e instanceof Error ? e.message : String(e) };
    }
    const h = decoded.header;
    const meta = metaOf(r, h, h.traceId ?? this.#ids.traceId());
    return { ok: true, message: { payload: decoded.payload, meta }, type };
  }

  /** Encodes a message for a Kafka sink (new trace id; parent = incoming trace; key rules §4.5). */
  encodeMessage(m: Message, type: MessageType | null, sink: CompiledTopicSink): OutgoingRecord {
    const meta = m.meta;
    const t = sink.payloadType ?? type;
    const producedAtMs = this.#clock.now();
    const traceId = this.#ids.traceId();
    let codec: PayloadCodec<unknown>;
    let messageType: string;
    let messageVersion: number;
    if (sink.errorEnvelopeOf) {
      // IntoTopic({ payload: errorEnvelopeOf(T) }): error envelopes of T, schema-exact, in their wire form.
      if (!isErrorEnvelopeShape(m.payload)) {
        throw new Error(
          `output '${sink.logical}' is declared as errorEnvelopeOf(${sink.errorEnvelopeOf.name}) but the payload is not an ErrorEnvelope`,
        );
      }
      codec = errorCodec(sink.errorEnvelopeOf);
      messageType = errorMessageType(m.payload.kind);
      messageVersion = 1;
    } else if (t) {
      // A declared type encodes the payload schema-exactly and names the message — unless the sink says
      // the input's type travels on (IntoTopic({ messageType: "inherit" })).
      codec = payloadCodec(t);
      const inherit = sink.inheritMessageType === true && meta.messageType !== null;
      messageType = inherit ? meta.messageType! : t.name;
      messageVersion = inherit ? meta.messageVersion ?? 1 : t.version;
    } else {
      // The message type is decided by the payload written (our choice; the original keeps the input's
      // type even when a step replaced the payload): an ErrorEnvelope or a DecodeError is encoded in its
      // wire form (snake_case fields, `loom.streaming.error.<kind>`), however it was produced, so it reads
      // back as one everywhere. Any other payload keeps the input's type — unless that type names an error
      // payload it no longer is, which would make the record undecodable: it becomes the default type.
      const wire = errorWireForm(m.payload);
      if (wire) {
        ({ codec, messageType } = wire);
        messageVersion = 1;
      } else {
        codec = dynamicCodec;
        const inherited = meta.messageType;
        const stale = inherited !== null && inherited.startsWith(ERROR_MESSAGE_TYPE_PREFIX);
        messageType = stale ? DEFAULT_MESSAGE_TYPE : inherited ?? DEFAULT_MESSAGE_TYPE;
        messageVersion = stale ? 1 : meta.messageVersion ?? 1;
      }
    }
    const header: EnvelopeHeader = {
      messageType,
      messageVersion,
      traceId,
      parentTraceId: meta.traceId,
      correlationId: meta.correlationId,
      causationId: meta.causationId,
      producedAtMs,
    };
    const spans = TRACE_SPANS;
    const value = encodeEnvelope(header, m.payload, codec, spans);
    const headers: Record<string, Uint8Array> = { ...meta.headers };
    // the trace headers are views of the envelope's own trace fields (no copy, no backing store); a
    // forwarded header that already holds the value is kept
    setView(headers, HEADERS.correlationId, header.correlationId, value, spans, 4);
    setView(headers, HEADERS.parentTraceId, header.parentTraceId, value, spans, 2);
    setView(headers, HEADERS.causationId, header.causationId, value, spans, 6);
    setView(headers, HEADERS.traceId, header.traceId, value, spans, 0);
    return {
      key: keyToBytes(this.#resolveKey(m, sink)),
      value,
      headers,
      timestampMs: producedAtMs,
    };
  }

  #resolveKey(m: Message, sink: CompiledTopicSink): Uint8Array | string | null {
    const incoming = m.meta.key;
    const policy = sink.partitioning;
    if (!policy) return incoming;
    const s = policy.strategy;
    const policyKey = typeof s === "function" ? s(m) : s.partitionKey(m);
    if (incoming === null) return policyKey ?? null;
    if (policy.allowRepartition) return policyKey ?? incoming;
    return incoming;
  }

  /**
   * Encodes an error envelope (original trace lineage and key; `x-error-*` headers). The reason is bounded
   * (`ERROR_RECORD_LIMITS`). When the envelope cannot be encoded even without a schema (a payload
   * nested too deep, say), it is encoded without the original payload (its meta is kept) and the reason
   * says why, so the error still has a fate.
   */
  encodeError(
    envelope: ErrorEnvelope,
    originalType: MessageType | null,
    meta: MessageMeta,
    _sink: CompiledTopicSink,
  ): OutgoingRecord {
    const o = envelope.originalMessage;
    const producedAtMs = o?.meta.producedAtMs ?? this.#clock.now();
    const header: EnvelopeHeader = {
      messageType: errorMessageType(envelope.kind),
      messageVersion: 1,
      traceId: o ? o.meta.traceId : this.#ids.traceId(),
      parentTraceId: o?.meta.parentTraceId ?? null,
      correlationId: o?.meta.correlationId ?? null,
      causationId: o?.meta.causationId ?? null,
      producedAtMs,
    };
    let env = boundedEnvelope(envelope);
    let value: Uint8Array;
    try {
      value = encodeEnvelope(header, env, errorCodec(originalType));
    } catch (e) {
      if (originalType !== null || env.originalMessage === null || env.originalMessage.payload === null) {
        throw e;
      }
      env = {
        ...env,
        reason: boundReason(
          `${env.reason} [original payload omitted: it could not be encoded: ${
            e instanceof Error ? e.message : String(e)
          }]`,
        ),
        originalMessage: { ...env.originalMessage, payload: null },
      };
      value = encodeEnvelope(header, env, errorCodec(null));
    }
    const headers = forwardedErrorHeaders(meta.headers);
    headers[HEADERS.errorKind] = utf8e.encode(env.kind);
    headers[HEADERS.errorReason] = utf8e.encode(headerReason(env.reason));
    return {
      key: keyToBytes(meta.key),
      value,
      headers: traceHeaders(headers, header),
      timestampMs: this.#clock.now(),
    };
  }

  /**
   * The last resort of an error record the error topic refused for its content (too large, say): the same
   * error encoded again without the original payload (an envelope's original message keeps its meta; a
   * decode error keeps its coordinates and key but not its raw bytes), input headers over
   * `ERROR_RECORD_LIMITS.forwardedHeaderBytes` left out, and the reason prefixed with a marker
   * saying so and why.
   */
  encodeReducedError(src: ErrorSource, refusal: string, sink: CompiledTopicSink): OutgoingRecord {
    const marker = `[original payload omitted: the error topic refused the error record: ${
      cut(refusal, 512)
    }] `;
    if (src.kind === "decode") {
      const r = src.record;
      const reduced: SourceRecord = { ...r, value: EMPTY, headers: smallHeaders(r.headers) };
      return this.encodeDecodeError(reduced, marker + src.reason, sink);
    }
    const e = src.envelope;
    const o = e.originalMessage;
    const envelope: ErrorEnvelope = {
      ...e,
      reason: marker + e.reason,
      originalMessage: o === null
        ? null
        : { payload: null, meta: { ...o.meta, headers: smallHeaders(o.meta.headers) } },
    };
    return this.encodeError(envelope, null, { ...src.meta, headers: smallHeaders(src.meta.headers) }, sink);
  }

  /** Encodes a decode error (lineage from the record's `x-*` headers; raw key and headers kept). */
  encodeDecodeError(r: SourceRecord, reason: string, _sink: CompiledTopicSink): OutgoingRecord {
    const bounded = boundReason(reason);
    const de: DecodeError = {
      error: { kind: "wire", reason: bounded, payloadType: null, originalMessage: null },
      raw: r.value ?? new Uint8Array(0),
      topic: r.topic,
      key: r.key,
      headers: r.headers,
      partition: r.partition,
      offset: r.offset,
      timestampMs: r.timestampMs,
    };
    const h = r.headers;
    const header: EnvelopeHeader = {
      messageType: DECODE_ERROR_MESSAGE_TYPE,
      messageVersion: 1,
      traceId: str(h[HEADERS.traceId]) ?? this.#ids.traceId(),
      parentTraceId: str(h[HEADERS.parentTraceId]),
      correlationId: str(h[HEADERS.correlationId]),
      causationId: str(h[HEADERS.causationId]),
      producedAtMs: r.timestampMs ?? this.#clock.now(),
    };
    const value = encodeEnvelope(header, de, decodeErrorCodec as PayloadCodec<unknown>);
    const headers = forwardedErrorHeaders(h);
    headers[HEADERS.errorKind] = utf8e.encode("wire");
    headers[HEADERS.errorReason] = utf8e.encode(headerReason(bounded));
    return { key: r.key, value, headers: traceHeaders(headers, header), timestampMs: this.#clock.now() };
  }
}

const EMPTY = new Uint8Array(0);

const KINDS: ReadonlySet<unknown> = new Set(ERROR_KINDS);

/** True for an object shaped like an {@link ErrorEnvelope} (its JavaScript form). */
function isErrorEnvelopeShape(p: unknown): p is ErrorEnvelope {
  if (typeof p !== "object" || p === null) return false;
  const e = p as Partial<ErrorEnvelope>;
  return KINDS.has(e.kind) && typeof e.reason === "string" && "payloadType" in e && "originalMessage" in e;
}

/** The codec and message type of an error payload (ErrorEnvelope or DecodeError), or null for others. */
function errorWireForm(p: unknown): { codec: PayloadCodec<unknown>; messageType: string } | null {
  if (typeof p !== "object" || p === null || p instanceof Uint8Array || Array.isArray(p)) return null;
  if (isErrorEnvelopeShape(p)) return { codec: errorCodec(null), messageType: errorMessageType(p.kind) };
  const d = p as Partial<DecodeError>;
  if (d.raw instanceof Uint8Array && isErrorEnvelopeShape(d.error) && typeof d.topic === "string") {
    return { codec: decodeErrorCodec as PayloadCodec<unknown>, messageType: DECODE_ERROR_MESSAGE_TYPE };
  }
  return null;
}

/** True when `bytes` holds exactly the ASCII/UTF-8 text `text` (ASCII fast path). */
function sameText(bytes: Uint8Array | undefined, text: string): boolean {
  if (bytes === undefined || bytes.length !== text.length) return false;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== text.charCodeAt(i)) return false;
  return true;
}

/** UTF-8 bytes of a header value (error records); short ASCII strings avoid a native call. */
function headerBytes(text: string): Uint8Array {
  const n = text.length;
  if (n <= 64) {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c > 127) return utf8e.encode(text);
      b[i] = c;
    }
    return b;
  }
  return utf8e.encode(text);
}

/**
 * Sets the trace headers (only for non-null values). A value equal to the header already present (e.g.
 * the forwarded `x-correlation-id`) reuses its bytes.
 */
function traceHeaders(headers: Record<string, Uint8Array>, h: EnvelopeHeader): Record<string, Uint8Array> {
  set(headers, HEADERS.correlationId, h.correlationId);
  set(headers, HEADERS.parentTraceId, h.parentTraceId);
  set(headers, HEADERS.causationId, h.causationId);
  set(headers, HEADERS.traceId, h.traceId);
  return headers;
}

/** Where `encodeEnvelope` wrote the trace fields of the last envelope (reused: read right after each call). */
const TRACE_SPANS = new Int32Array(8);

/** Sets a trace header to the bytes of the envelope field at `spans[i]` unless the same value is present. */
function setView(
  headers: Record<string, Uint8Array>,
  name: string,
  text: string | null,
  envelope: Uint8Array,
  spans: Int32Array,
  i: number,
): void {
  if (text === null) return;
  const start = spans[i];
  if (start < 0 || sameText(headers[name], text)) return;
  // the (buffer, offset, length) constructor: `subarray` looks up the species constructor, slow on JSC
  headers[name] = new Uint8Array(envelope.buffer, envelope.byteOffset + start, spans[i + 1] - start);
}

function set(headers: Record<string, Uint8Array>, name: string, value: string | null): void {
  if (value === null) return;
  if (!sameText(headers[name], value)) headers[name] = headerBytes(value);
}

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

/** Message metadata of a decoded record: envelope lineage and type, record coordinates, key and headers. */
function metaOf(r: SourceRecord, h: EnvelopeHeader, traceId: string | null): MessageMeta {
  return {
    messageId: messageIdOf(r),
    correlationId: h.correlationId,
    traceId,
    parentTraceId: h.parentTraceId,
    causationId: h.causationId,
    producedAtMs: h.producedAtMs,
    messageType: h.messageType,
    messageVersion: h.messageVersion,
    topic: r.topic,
    partition: r.partition,
    offset: r.offset,
    key: r.key,
    headers: r.headers,
  };
}

export { isMessageType };
