/**
 * Records between the engine and kafkajs: outgoing records to kafkajs messages, fetched kafkajs
 * messages to {@link RecordBatch}es (bytes are viewed, never copied), headers.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import type { IHeaders, KafkaMessage, Message } from "kafkajs";
import type {
  OutgoingRecord,
  RecordBatch,
  SourceRecord,
  TopicPartition,
} from "../../streaming/_transport.ts";

/** `{ topic, partitions }` per topic, as kafkajs pause/resume/seek take them. */
export const groupByTopic = (tps: readonly TopicPartition[]): { topic: string; partitions: number[] }[] => {
  const byTopic = new Map<string, number[]>();
  for (const { topic, partition } of tps) {
    const list = byTopic.get(topic);
    if (list === undefined) byTopic.set(topic, [partition]);
    else if (!list.includes(partition)) list.push(partition);
  }
  return [...byTopic].map(([topic, partitions]) => ({ topic, partitions }));
};

/** A Buffer over the same memory as `bytes` (no copy). */
export const asBuffer = (bytes: Uint8Array): Buffer =>
  Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** A plain Uint8Array over the same memory as `buf` (no copy). */
export const asBytes = (buf: Buffer): Uint8Array =>
  new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);

const EMPTY_HEADERS: Readonly<Record<string, Uint8Array>> = Object.freeze({});
const textEncoder = new TextEncoder();

/** An {@link OutgoingRecord} as a kafkajs message (bytes are not copied). */
export const toMessage = (r: OutgoingRecord): Message => {
  let headers: IHeaders | undefined;
  for (const name in r.headers) {
    if (headers === undefined) headers = {};
    headers[name] = asBuffer(r.headers[name]);
  }
  return {
    key: r.key === null ? null : asBuffer(r.key),
    value: asBuffer(r.value),
    headers,
    timestamp: r.timestampMs === null ? undefined : String(r.timestampMs),
    partition: r.partition,
  };
};

/** Bytes a record adds to a record batch, roughly (payload plus ~20 bytes of varints and attributes). */
export const recordSize = (r: OutgoingRecord): number => {
  let size = 21 + r.value.byteLength + (r.key === null ? 0 : r.key.byteLength);
  for (const name in r.headers) size += 2 + name.length * 3 + r.headers[name].byteLength;
  return size;
};

const headerBytes = (v: Buffer | string): Uint8Array =>
  typeof v === "string" ? textEncoder.encode(v) : asBytes(v);

/** kafkajs headers → bytes per name; a null value is dropped, and the last non-null duplicate wins. */
export const convertHeaders = (headers: IHeaders | undefined): Readonly<Record<string, Uint8Array>> => {
  let out: Record<string, Uint8Array> | undefined;
  for (const name in headers) {
    let v = headers[name];
    if (Array.isArray(v)) {
      let last: Buffer | string | undefined;
      for (let i = v.length - 1; i >= 0; i--) {
        if (v[i] != null) {
          last = v[i];
          break;
        }
      }
      v = last;
    }
    if (v == null) continue;
    if (out === undefined) out = {};
    out[name] = headerBytes(v);
  }
  return out ?? EMPTY_HEADERS;
};

/** A kafkajs batch of one partition as a {@link RecordBatch}. */
export const toRecordBatch = (
  topic: string,
  partition: number,
  messages: readonly KafkaMessage[],
  highWatermark?: number, // the end offset, for lag metrics
): RecordBatch => {
  const n = messages.length;
  const records = new Array<SourceRecord>(n);
  for (let i = 0; i < n; i++) {
    const m = messages[i];
    const ts = Number(m.timestamp);
    records[i] = {
      topic,
      partition,
      offset: Number(m.offset),
      key: m.key == null ? null : asBytes(m.key),
      value: m.value == null ? null : asBytes(m.value),
      headers: m.headers === undefined ? EMPTY_HEADERS : convertHeaders(m.headers),
      timestampMs: ts >= 0 ? ts : null,
    };
  }
  return highWatermark === undefined
    ? { topic, partition, records }
    : { topic, partition, records, highWatermark };
};
