/**
 * Message metadata of decoded records: the message id (`topic:partition:offset`) and the meta of a decoded
 * envelope (lineage and type, record coordinates, key and headers).
 *
 * @module
 */
import type { EnvelopeHeader } from "../kafka/_envelope.ts";
import type { MessageMeta } from "./_message.ts";
import type { SourceRecord } from "./_transport.ts";

// The `topic:partition:` prefix of the last record's message id: records come in batches of one partition,
// so a message id costs one concatenation instead of a three-part template.
let idTopic = "";
let idPartition = -1;
let idPrefix = ":-1:";

/** The message id of a record: `topic:partition:offset`. */
export function messageIdOf(r: SourceRecord): string {
  if (r.partition !== idPartition || r.topic !== idTopic) {
    idTopic = r.topic;
    idPartition = r.partition;
    idPrefix = `${r.topic}:${r.partition}:`;
  }
  return idPrefix + r.offset;
}

/** Message metadata of a decoded record: envelope lineage and type, record coordinates, key and headers. */
export function metaOf(r: SourceRecord, h: EnvelopeHeader, traceId: string | null): MessageMeta {
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
