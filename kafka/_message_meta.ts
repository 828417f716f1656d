/**
 * {@link MessageMeta}: the transport metadata of a message (envelope fields plus the Kafka record's
 * provenance), as carried by the error payloads on the wire.
 *
 * @module
 */

/**
 * Transport metadata carried by every {@link Message}. Field names are the camelCase forms of the wire names.
 *
 * @example
 * ```ts
 * import { messageMeta, type MessageMeta } from "@loom/streaming";
 * const meta: MessageMeta = messageMeta({ messageId: "orders:0:7", topic: "orders", partition: 0, offset: 7 });
 * meta.traceId; // null
 * ```
 */
export interface MessageMeta {
  /** Stable id: `"<topic>:<partition>:<offset>"` for Kafka records. */
  readonly messageId: string;
  /** Id shared by every message of one business operation (wire `correlation_id`). */
  readonly correlationId: string | null;
  /** Trace id (wire `trace_id`). */
  readonly traceId: string | null;
  /** Trace id of the message this one was derived from (wire `parent_trace_id`). */
  readonly parentTraceId: string | null;
  /** Id of the message that caused this one (wire `causation_id`). */
  readonly causationId: string | null;
  /** Producer timestamp (ms since epoch) from the envelope. */
  readonly producedAtMs: number | null;
  /** `descriptor.message_type` of the envelope this message was decoded from (or declared by a step). */
  readonly messageType: string | null;
  /** `descriptor.message_version` of the envelope. */
  readonly messageVersion: number | null;
  /** Source topic, when read from Kafka. */
  readonly topic: string | null;
  /** Source partition, when read from Kafka. */
  readonly partition: number | null;
  /** Source offset, when read from Kafka. */
  readonly offset: number | null;
  /** Kafka key, as received (bytes) or as set by a step (bytes or text). */
  readonly key: Uint8Array | string | null;
  /** Kafka headers of the record (later duplicates win). */
  readonly headers: Readonly<Record<string, Uint8Array>>;
}
