/**
 * Record-level wire rules of one compiled plan (reference §4.3–§4.6): {@link Wire} decodes source records into
 * messages (single and multi-type) and encodes outputs, error envelopes and decode errors into Kafka records
 * with their keys, headers and trace lineage.
 *
 * The pieces it uses live beside it: payload codecs (`_wire_codecs.ts`), header names and trace headers
 * (`_wire_headers.ts`), message metadata (`_wire_meta.ts`), error-record limits (`_error_limits.ts`); records
 * as seen outside a flow (`encodeSourceValue`, `decodeOutputRecord`) are in `_wire_records.ts`.
 *
 * @module
 */
import type { Clock, IdSource } from "./_clock.ts";
import {
  decodeEnvelope,
  decodeErrorCodec,
  encodeEnvelope,
  type EnvelopeHeader,
  probeErrorPayloadType,
  probeMessageType,
} from "../kafka/_envelope.ts";
import { dynamicCodec, type PayloadCodec } from "../kafka/_schema_codec.ts";
import {
  DECODE_ERROR_MESSAGE_TYPE,
  type DecodeError,
  DEFAULT_MESSAGE_TYPE,
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
import { errorCodec, errorWireForm, isErrorEnvelopeShape, payloadCodec } from "./_wire_codecs.ts";
import { EncodedRecord } from "./_encoded_record.ts";
import { HEADERS, keyToBytes, str, TRACE_SPANS, traceHeaders, utf8e } from "./_wire_headers.ts";
import { metaOf } from "./_wire_meta.ts";

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
    // the trace headers become views of the envelope's own trace fields when a transport reads them
    return new EncodedRecord(keyToBytes(this.#resolveKey(m, sink)), value, meta.headers, spans, producedAtMs);
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

export { isMessageType };
