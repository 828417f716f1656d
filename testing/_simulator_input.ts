/**
 * The simulator's inputs: how a payload, raw bytes or a fixture record becomes a record on an in-memory
 * topic ({@link SendOptions}; real wire envelopes, lineage headers, fixture replay).
 *
 * @module
 */
import type { VirtualClock } from "../streaming/_clock.ts";
import type { CompiledSource } from "../streaming/_plan.ts";
import type { SourceRecord } from "../streaming/_transport.ts";
import type { MessageType } from "../streaming/_type.ts";
import { HEADERS } from "../streaming/_wire_headers.ts";
import { encodeSourceValue, type SourceEnvelopeFields } from "../streaming/_wire_records.ts";
import type { InMemoryBroker } from "./_broker.ts";
import type { FixtureRecord } from "./_fixture.ts";

/**
 * Options of {@link FlowSimulator.send}.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { FromTopic, IntoTopic, messageType, Process, RecordStep, StreamFlow } from "@loom/streaming";
 * const Order = messageType("order.created", v.object({ order_id: v.string() }));
 * const flow = new StreamFlow({
 *   name: "orders",
 *   source: new FromTopic("orders.raw", Order),
 *   process: new Process(RecordStep.of((m: { payload: { order_id: string } }) => m.payload)),
 *   output: new IntoTopic("orders.out"),
 * });
 * import { FlowSimulator, type SendOptions } from "@loom/streaming/testing";
 * const sim = await FlowSimulator.create(flow);
 * const options: SendOptions = { key: "o-1", headers: { "x-risk": "high" }, partition: 0, traceId: "t-1" };
 * sim.send({ order_id: "o-1" }, options);
 * ```
 */
export interface SendOptions {
  /** Topic to append to (default: the first source topic). */
  readonly topic?: string;
  /** Kafka key (text is UTF-8 encoded). */
  readonly key?: Uint8Array | string | null;
  /** Kafka headers (text values are UTF-8 encoded). */
  readonly headers?: Readonly<Record<string, Uint8Array | string>>;
  /** Explicit partition (default: murmur2 of the key, round-robin without key). */
  readonly partition?: number;
  /** Record timestamp and envelope `produced_at_ms` (default: the virtual clock's time). */
  readonly timestampMs?: number;
  /** Envelope `message_type` (default: the payload type's name). */
  readonly messageType?: string;
  /** Envelope `message_version` (default: the payload type's version). */
  readonly messageVersion?: number;
  /** Envelope trace id. */
  readonly traceId?: string | null;
  /** Envelope parent trace id. */
  readonly parentTraceId?: string | null;
  /** Envelope correlation id. */
  readonly correlationId?: string | null;
  /** Envelope causation id. */
  readonly causationId?: string | null;
  /** Payload type used to encode (default: the source's type, or the one whose name is `messageType`). */
  readonly type?: MessageType;
}

const utf8 = new TextEncoder();
const toBytes = (v: Uint8Array | string): Uint8Array => typeof v === "string" ? utf8.encode(v) : v;

/** Where inputs go: the broker holding the topics, the virtual clock and the flow's source. */
export interface InputTarget {
  /** The in-memory broker the records are appended to. */
  readonly broker: InMemoryBroker;
  /** The clock giving default timestamps. */
  readonly clock: VirtualClock;
  /** The compiled source: default topic and payload types. */
  readonly source: CompiledSource;
}

/**
 * The payload type of messages named `name` on `source`: the single type (when the name matches or is
 * absent), else the dispatch table's type of that name.
 */
export function payloadTypeFor(source: CompiledSource, name: string | undefined): MessageType | null {
  if (source.payloadType && (!name || name === source.payloadType.name)) return source.payloadType;
  if (source.dispatch && name) return source.dispatch.plain.get(name) ?? null;
  return source.payloadType ?? null;
}

/** Envelope metadata given with a payload (send options or a fixture record). */
type EnvelopeMeta = Pick<
  SendOptions,
  "messageType" | "messageVersion" | "traceId" | "parentTraceId" | "correlationId" | "causationId"
>;

/** The envelope fields of a payload of `type`: message type and version default to the type's. */
function envelopeFields(
  meta: EnvelopeMeta,
  type: MessageType | null,
  producedAtMs: number,
): SourceEnvelopeFields {
  return {
    messageType: meta.messageType ?? type?.name,
    messageVersion: meta.messageVersion ?? type?.version,
    traceId: meta.traceId,
    parentTraceId: meta.parentTraceId,
    correlationId: meta.correlationId,
    causationId: meta.causationId,
    producedAtMs,
  };
}

/** Encodes `payload` as a real envelope and appends it (see `FlowSimulator.send`). */
export function sendPayload(target: InputTarget, payload: unknown, options: SendOptions): SourceRecord {
  const topic = options.topic ?? target.source.topics[0];
  const type = options.type ?? payloadTypeFor(target.source, options.messageType);
  const value = encodeSourceValue(
    payload,
    type,
    envelopeFields(options, type, options.timestampMs ?? target.clock.now()),
  );
  // As the original's message producer does: the envelope's lineage also travels as x-* headers
  // (written after the caller's headers, so they win), each only when set.
  const headers: Record<string, Uint8Array | string> = { ...options.headers };
  if (options.correlationId != null) headers[HEADERS.correlationId] = options.correlationId;
  if (options.parentTraceId != null) headers[HEADERS.parentTraceId] = options.parentTraceId;
  if (options.causationId != null) headers[HEADERS.causationId] = options.causationId;
  if (options.traceId != null) headers[HEADERS.traceId] = options.traceId;
  return sendRawValue(target, value, { ...options, topic, headers });
}

/** Appends raw bytes to a topic (default: the first source topic; see `FlowSimulator.sendRaw`). */
export function sendRawValue(
  target: InputTarget,
  value: Uint8Array | string | null,
  options: Pick<SendOptions, "topic" | "key" | "headers" | "partition" | "timestampMs">,
): SourceRecord {
  const topic = options.topic ?? target.source.topics[0];
  const headers: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(options.headers ?? {})) headers[k] = toBytes(v);
  return target.broker.append({
    topic,
    partition: options.partition ?? null,
    key: options.key === undefined || options.key === null ? null : toBytes(options.key),
    value: value === null ? null : toBytes(value),
    headers,
    timestampMs: options.timestampMs ?? target.clock.now(),
  });
}

/**
 * Appends fixture records to their topics (creating a missing topic with enough partitions): raw values
 * byte for byte, JSON values encoded with the source's payload types (see `FlowSimulator.loadFixture`).
 */
export function loadFixtureRecords(target: InputTarget, records: readonly FixtureRecord[]): SourceRecord[] {
  return records.map((r) => {
    let value: Uint8Array | null = null;
    if (r.value && "raw" in r.value) value = r.value.raw;
    else if (r.value && "json" in r.value) {
      const type = payloadTypeFor(target.source, r.messageType);
      const fields = envelopeFields(r, type, r.timestampMs ?? target.clock.now());
      try {
        value = encodeSourceValue(r.value.json, type, fields);
      } catch {
        // A payload that does not fit its schema (recorded poison traffic) is replayed as it was
        // written, so the flow sees the same wire error as in production.
        value = encodeSourceValue(r.value.json, null, fields);
      }
    }
    if (!target.broker.hasTopic(r.topic)) {
      target.broker.createTopic(r.topic, { partitions: (r.partition ?? 0) + 1 });
    }
    return target.broker.append({
      topic: r.topic,
      partition: r.partition,
      offset: r.offset,
      key: r.key,
      value,
      headers: r.headers,
      timestampMs: r.timestampMs,
    });
  });
}
