/**
 * The last resort of a record whose fate cannot be written (`streaming.runtime.on_unwritable`): what the
 * driver knows of such a record, and the dead-letter record made of it (the raw input record, with the
 * reason and its source coordinates in headers).
 *
 * @module
 */
import type { Origin } from "./_tracker.ts";
import type { OutgoingRecord, SourceRecord, TopicPartitionOffset } from "./_transport.ts";
import { HEADERS } from "./_wire_headers.ts";

const utf8 = new TextEncoder();

/** The hint of a `DeliveryFailure` that `streaming.runtime.on_unwritable` would have let past. */
export const UNWRITABLE_HINT: string =
  "the broker refused the record itself: set streaming.runtime.on_unwritable to " +
  "dead_letter (with dead_letter_topic) or log_and_skip to let the flow go on past such records";

/** An output whose every delivery path failed for its content: its source record goes to `on_unwritable`. */
export interface Unwritable {
  /** The source record's completion state (it holds the fetched record). */
  readonly origin: Origin;
  /** Where the output was to go (topic, with its DLQ when it had one). */
  readonly target: string;
  /** The last refusal. */
  readonly error: unknown;
}

/** Topic, partition and offset of an origin's source record, or null when unknown. */
export function coordinates(o: Origin): TopicPartitionOffset | null {
  const r = o.record;
  if (r !== null) return { topic: r.topic, partition: r.partition, offset: r.offset };
  return o.partition === null
    ? null
    : { topic: o.partition.topic, partition: o.partition.partition, offset: o.offset };
}

/** A reason short enough for a header (512 characters at most). */
export function cutReason(text: string): string {
  return text.length <= 512 ? text : `${text.slice(0, 480)} … [cut: ${text.length} characters in all]`;
}

/** The record `on_unwritable: dead_letter` writes: `r` as fetched, plus `x-dlq-error` and `x-dlq-source-*`. */
export function deadLetterRecord(r: SourceRecord, reason: string): OutgoingRecord {
  return {
    key: r.key,
    value: r.value ?? new Uint8Array(0),
    headers: {
      ...r.headers,
      [HEADERS.dlqError]: utf8.encode(cutReason(reason)),
      [HEADERS.dlqSourceTopic]: utf8.encode(r.topic),
      [HEADERS.dlqSourcePartition]: utf8.encode(String(r.partition)),
      [HEADERS.dlqSourceOffset]: utf8.encode(String(r.offset)),
    },
    timestampMs: r.timestampMs,
  };
}
