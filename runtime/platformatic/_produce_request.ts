/**
 * Produce requests encoded in one buffer.
 *
 * platformatic builds every produce request from small pieces. Each record is a `Writer` of its own, with a
 * Buffer per varint and per field. These pieces are appended to the batch and concatenated for the CRC,
 * then concatenated again into the request. On the Kafka pipe benches that was a quarter of the raw pipe's
 * CPU (`createRequest` of produce v11 under Bun's profiler), and a dozen short-lived objects per record.
 *
 * {@link ProduceTap} wraps one platformatic producer's `Produce` API (this instance only, like the
 * consumer's fetch tap). Its requests are encoded by {@link encodeProduceRequest}: it sizes the request,
 * writes it into one Buffer and computes the batch CRC with platformatic's own `crc32c`. Everything around
 * the request stays platformatic's: metadata, leader routing, idempotent sequences, transactions, retries and
 * the response parser. The request bytes are those platformatic writes (`_produce_request_test.ts` compares
 * them for produce v3 to v11). Compressed batches, and any request it does not know, go to platformatic's
 * own encoder.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { crc32c, groupByProperty, Writer } from "./_kafka.ts";
import { tapApi } from "./_api_tap.ts";
import { EncodedRecord } from "../../streaming/_encoded_record.ts";
import { headerName } from "./_header_names.ts";
import { RecordRun } from "./_record_run.ts";

/** A message as platformatic hands it to its produce API (after partitioning). */
export interface ProduceMessage {
  readonly topic: string;
  partition?: number | string;
  readonly key?: Uint8Array | null;
  /**
   * The value; or an engine output (`EncodedRecord`, from the adapter's producer), whose value and headers
   * this encoder writes straight from the envelope (then `headers` is absent).
   */
  readonly value?: Uint8Array | EncodedRecord | RecordRun | null;
  readonly headers?: ReadonlyMap<Uint8Array, Uint8Array> | null;
  /** ms since the epoch: a bigint as platformatic takes it, or an integer number (this encoder only). */
  timestamp?: bigint | number;
}

/** The produce options platformatic passes with a request. */
export interface ProduceOptions {
  readonly transactionalId?: string | null;
  readonly producerId?: bigint;
  readonly producerEpoch?: number;
  readonly sequences?: { getWithDefault(key: string, fallback: number): number };
  readonly compression?: string;
  readonly partitionLeaderEpoch?: number;
}

/** The produce request versions this encoder writes: v3–v8 classic, v9–v11 flexible (compact) layout. */
export const PRODUCE_VERSIONS: { readonly min: number; readonly max: number; readonly flexibleFrom: number } =
  {
    min: 3,
    max: 11,
    flexibleFrom: 9,
  };

/** Record batch v2 header: base offset … record count (Kafka's DefaultRecordBatch.RECORD_BATCH_OVERHEAD). */
const BATCH_OVERHEAD = 61;
/** Where the CRC'd part of a batch starts (attributes), from the batch start. */
const CRC_FROM = 21;
const MAGIC = 2;
const IS_TRANSACTIONAL = 1 << 4;

/** Bytes of `n` (≥ 0, < 2^53) as an unsigned varint. */
function uvarintSize(n: number): number {
  let size = 1;
  while (n >= 128) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

/** Zigzag of a signed integer (|n| < 2^51) as a non-negative number. */
const zigzag = (n: number): number => (n >= 0 ? n * 2 : -n * 2 - 1);

function writeUvarint(buf: Uint8Array, pos: number, n: number): number {
  while (n >= 128) {
    buf[pos++] = (n % 128) | 128;
    n = Math.floor(n / 128);
  }
  buf[pos++] = n;
  return pos;
}

const lengthOf = (
  b: Uint8Array | null | undefined,
): number => (b === null || b === undefined ? -1 : b.length);

/** A message's timestamp as a number (ms), with platformatic's normalisation (`now` when absent). */
function timestampOf(m: ProduceMessage, now: bigint): number {
  const t = m.timestamp;
  if (typeof t === "number") return t;
  if (t === undefined) m.timestamp = now;
  return Number(m.timestamp);
}

/**
 * Runs as one message per record, in place, before a request goes to platformatic's encoder (the array
 * keeps its identity: the tap's retry bookkeeping is per array).
 */
function expandRuns(messages: ProduceMessage[]): void {
  if (!messages.some((m) => m.value instanceof RecordRun)) return;
  const expanded: ProduceMessage[] = [];
  for (const m of messages) {
    const run = m.value;
    if (!(run instanceof RecordRun)) {
      expanded.push(m);
      continue;
    }
    for (const r of run.records) {
      const one: ProduceMessage = { topic: m.topic, partition: m.partition, value: r };
      if (r.key !== null) (one as { key?: Uint8Array }).key = r.key;
      if (r.timestampMs !== null) one.timestamp = r.timestampMs;
      expanded.push(one);
    }
  }
  messages.length = 0;
  for (const m of expanded) messages.push(m);
}

/**
 * Number timestamps as bigints, before a request goes to platformatic's encoder: it takes numbers only
 * when the first message of a batch has a bigint (it subtracts that from each record's bigint).
 */
function bigintTimestamps(messages: ProduceMessage[]): void {
  for (const m of messages) if (typeof m.timestamp === "number") m.timestamp = BigInt(m.timestamp);
}

/**
 * Engine outputs as platformatic's encoder takes messages, before a request goes to it: the envelope as the
 * value, the headers as a Map (the trace headers as views of the envelope).
 */
function plainValues(messages: ProduceMessage[]): void {
  for (const m of messages) {
    const r = m.value;
    if (!(r instanceof EncodedRecord)) continue;
    const headers = new Map<Uint8Array, Uint8Array>();
    const all = r.headers;
    for (const name in all) headers.set(headerName(name), all[name]);
    const mutable = m as {
      value?: Uint8Array | EncodedRecord | null;
      headers?: ReadonlyMap<Uint8Array, Uint8Array>;
    };
    mutable.value = r.value;
    mutable.headers = headers;
  }
}

/** Per-record sizes, timestamps and header counts of the batch being encoded (reused; grown as needed). */
let bodySizes = new Int32Array(1024);
let timestamps = new Float64Array(1024);
let headerCounts = new Int32Array(1024);

// An EncodedRecord's headers are visited with `eachHeader`; these module-level callbacks and their state
// size and write them without a closure per record.
let hCount = 0;
let hSize = 0;
function sizeHeader(name: string, _bytes: Uint8Array, start: number, end: number): void {
  const k = headerName(name).length;
  const n = end - start;
  hCount++;
  hSize += uvarintSize(k * 2) + k + uvarintSize(n * 2) + n;
}
const EMPTY: Buffer = Buffer.alloc(0);
let wBuf: Buffer = EMPTY;
let wPos = 0;
function writeHeader(name: string, bytes: Uint8Array, start: number, end: number): void {
  const buf = wBuf;
  let pos = writeBytes(buf, wPos, headerName(name));
  const n = end - start;
  pos = writeUvarint(buf, pos, n * 2);
  if (n > 32) buf.set(bytes.subarray(start, end), pos);
  else for (let i = 0; i < n; i++) buf[pos + i] = bytes[start + i];
  wPos = pos + n;
}

/** Timestamps this encoder takes: |t| < 2^50 ms (year ±35,000), so deltas and their zigzags stay exact. */
const MAX_TIMESTAMP = 2 ** 50;
const MAX_TIMESTAMP_BIG = BigInt(MAX_TIMESTAMP);
/** Whether a number timestamp is one this encoder takes: an integer within ±2^50 ms. */
const encodableMs = (t: number): boolean => Number.isInteger(t) && t < MAX_TIMESTAMP && t > -MAX_TIMESTAMP;

/**
 * Whether {@link encodeProduceRequest} can write these messages (else platformatic's encoder does): no
 * compression, headers as a Map (platformatic also takes an object), timestamps within ±2^50 ms (bigints,
 * or integer numbers).
 */
function encodable(messages: readonly ProduceMessage[], options: ProduceOptions): boolean {
  if ((options.compression ?? "none") !== "none") return false;
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i];
    const run = m.value;
    if (run instanceof RecordRun) {
      for (const r of run.records) if (r.timestampMs !== null && !encodableMs(r.timestampMs)) return false;
      continue;
    }
    const h = m.headers;
    if (h !== undefined && h !== null && !(h instanceof Map)) return false;
    const t = m.timestamp;
    if (typeof t === "number") {
      if (!encodableMs(t)) return false;
    } else if (
      t !== undefined && (typeof t !== "bigint" || t >= MAX_TIMESTAMP_BIG || t <= -MAX_TIMESTAMP_BIG)
    ) {
      return false;
    }
  }
  return true;
}

/** A run's record's timestamp (now when it has none). */
const runTimestamp = (r: EncodedRecord, now: bigint): number => r.timestampMs ?? Number(now);

/** The records in one partition's messages (a run counts its records). */
function recordCount(messages: readonly ProduceMessage[]): number {
  let n = 0;
  for (let i = 0; i < messages.length; i++) {
    const v = messages[i].value;
    n += v instanceof RecordRun ? v.records.length : 1;
  }
  return n;
}

/** Sizes record `i` of a batch into {@link bodySizes} and {@link timestamps} (from `at`); returns its bytes. */
function sizeRecord(
  key: Uint8Array | null | undefined,
  value: Uint8Array | EncodedRecord | null | undefined,
  h: ReadonlyMap<Uint8Array, Uint8Array> | null | undefined,
  ts: number,
  first: number,
  i: number,
  at: number,
): number {
  timestamps[at + i] = ts;
  const k = lengthOf(key);
  const record = value instanceof EncodedRecord ? value : null;
  const v = lengthOf(record === null ? value as Uint8Array | null | undefined : record.value);
  let body = 1 + uvarintSize(zigzag(ts - first)) + uvarintSize(i * 2) +
    uvarintSize(zigzag(k)) + (k > 0 ? k : 0) + uvarintSize(zigzag(v)) + (v > 0 ? v : 0);
  if (record !== null) {
    hCount = 0;
    hSize = 0;
    record.eachHeader(sizeHeader);
    headerCounts[at + i] = hCount;
    body += uvarintSize(hCount * 2) + hSize;
  } else if (h === undefined || h === null) body += 1;
  else {
    body += uvarintSize(h.size * 2);
    for (const [name, value] of h) {
      const hk = lengthOf(name);
      const hv = lengthOf(value);
      body += uvarintSize(zigzag(hk)) + (hk > 0 ? hk : 0) + uvarintSize(zigzag(hv)) + (hv > 0 ? hv : 0);
    }
  }
  bodySizes[at + i] = body;
  return uvarintSize(body * 2) + body;
}

/**
 * Sizes one partition's record batch, filling {@link bodySizes} and {@link timestamps} from index `at`.
 *
 * @returns The batch's size in bytes.
 */
function sizeBatch(messages: readonly ProduceMessage[], now: bigint, at: number): number {
  let size = BATCH_OVERHEAD;
  const m0 = messages[0];
  const v0 = m0.value;
  const first = v0 instanceof RecordRun ? runTimestamp(v0.records[0], now) : timestampOf(m0, now);
  let i = 0;
  for (let j = 0; j < messages.length; j++) {
    const m = messages[j];
    const v = m.value;
    if (v instanceof RecordRun) {
      const rs = v.records;
      for (let k = 0; k < rs.length; k++) {
        const r = rs[k];
        size += sizeRecord(r.key, r, null, runTimestamp(r, now), first, i++, at);
      }
    } else size += sizeRecord(m.key, v, m.headers, timestampOf(m, now), first, i++, at);
  }
  return size;
}

function writeBytes(buf: Buffer, pos: number, b: Uint8Array | null | undefined): number {
  if (b === null || b === undefined) {
    buf[pos] = 1; // zigzag(-1)
    return pos + 1;
  }
  const n = b.length;
  pos = writeUvarint(buf, pos, n * 2);
  if (n > 32) buf.set(b, pos);
  else for (let i = 0; i < n; i++) buf[pos + i] = b[i]; // a native call costs more than a short copy
  return pos + n;
}

/** Writes record `i` of a batch (sized by {@link sizeRecord}, from `at`) at `pos`; returns its end. */
function writeRecord(
  buf: Buffer,
  pos: number,
  key: Uint8Array | null | undefined,
  value: Uint8Array | EncodedRecord | null | undefined,
  h: ReadonlyMap<Uint8Array, Uint8Array> | null | undefined,
  first: number,
  i: number,
  at: number,
): number {
  pos = writeUvarint(buf, pos, bodySizes[at + i] * 2);
  buf[pos++] = 0; // attributes
  pos = writeUvarint(buf, pos, zigzag(timestamps[at + i] - first));
  pos = writeUvarint(buf, pos, i * 2);
  pos = writeBytes(buf, pos, key);
  if (value instanceof EncodedRecord) {
    pos = writeBytes(buf, pos, value.value);
    pos = writeUvarint(buf, pos, headerCounts[at + i] * 2);
    wBuf = buf;
    wPos = pos;
    value.eachHeader(writeHeader);
    pos = wPos;
    wBuf = EMPTY;
    return pos;
  }
  pos = writeBytes(buf, pos, value);
  if (h === undefined || h === null) buf[pos++] = 0;
  else {
    pos = writeUvarint(buf, pos, h.size * 2);
    for (const [name, bytes] of h) {
      pos = writeBytes(buf, pos, name);
      pos = writeBytes(buf, pos, bytes);
    }
  }
  return pos;
}

/** Writes the batch sized by {@link sizeBatch} (from index `at`) at `start`; returns its end. */
function writeBatch(
  buf: Buffer,
  start: number,
  size: number,
  messages: readonly ProduceMessage[],
  options: ProduceOptions,
  at: number,
): number {
  const n = recordCount(messages);
  const first = timestamps[at];
  let max = first;
  for (let i = 1; i < n; i++) if (timestamps[at + i] > max) max = timestamps[at + i];
  let sequence = 0;
  if (options.sequences) {
    sequence = options.sequences.getWithDefault(`${messages[0].topic}:${messages[0].partition}`, 0);
  }
  buf.writeBigInt64BE(0n, start); // base offset
  buf.writeInt32BE(size - 12, start + 8); // batch length: what follows this field
  buf.writeInt32BE(options.partitionLeaderEpoch ?? 0, start + 12);
  buf[start + 16] = MAGIC;
  // start + 17: the CRC, written last
  buf.writeInt16BE(options.transactionalId ? IS_TRANSACTIONAL : 0, start + 21);
  buf.writeInt32BE(n - 1, start + 23); // last offset delta
  buf.writeBigInt64BE(BigInt(first), start + 27);
  buf.writeBigInt64BE(BigInt(max), start + 35);
  buf.writeBigInt64BE(options.producerId ?? -1n, start + 43);
  buf.writeInt16BE(options.producerEpoch ?? 0, start + 51);
  buf.writeInt32BE(sequence, start + 53);
  buf.writeInt32BE(n, start + 57);
  let pos = start + BATCH_OVERHEAD;
  let i = 0;
  for (let j = 0; j < messages.length; j++) {
    const m = messages[j];
    const v = m.value;
    if (v instanceof RecordRun) {
      const rs = v.records;
      for (let k = 0; k < rs.length; k++) pos = writeRecord(buf, pos, rs[k].key, rs[k], null, first, i++, at);
    } else pos = writeRecord(buf, pos, m.key, v, m.headers, first, i++, at);
  }
  const end = start + size;
  if (pos !== end) throw new Error(`produce request: record batch sized ${size} bytes, wrote ${pos - start}`);
  // as a DynamicBuffer: given a Uint8Array, platformatic's native crc32c copies it first
  const crcd = Writer.create().append(buf.subarray(start + CRC_FROM, end)).dynamicBuffer;
  buf.writeUInt32BE(crc32c(crcd), start + 17);
  return end;
}

/**
 * Encodes a produce request body (what platformatic's `produceV<version>.createRequest` returns), with the
 * same normalisation of the messages (a missing partition is 0, a missing timestamp is now).
 *
 * @param version The produce API version ({@link PRODUCE_VERSIONS}).
 * @param acks The acks of the request.
 * @param timeout The request's timeout (ms).
 * @param messages The messages, partitioned.
 * @param options The producer's produce options.
 * @returns The request as a platformatic Writer, or null when this encoder does not write it (compression,
 *   headers that are not a Map, an unknown version): the caller then uses platformatic's encoder.
 * @example
 * ```ts ignore
 * const request = encodeProduceRequest(11, -1, 30000, [{ topic: "t", partition: 0, value: bytes }], {});
 * ```
 */
export function encodeProduceRequest(
  version: number,
  acks: number,
  timeout: number,
  messages: ProduceMessage[],
  options: ProduceOptions,
): InstanceType<typeof Writer> | null {
  if (version < PRODUCE_VERSIONS.min || version > PRODUCE_VERSIONS.max) return null;
  if (!encodable(messages, options)) return null;
  const flexible = version >= PRODUCE_VERSIONS.flexibleFrom;
  const now = BigInt(Date.now());
  for (const m of messages) if (m.partition === undefined) m.partition = 0;
  // grouped as platformatic groups them: its key order is the request's order
  const topics = groupByProperty<string, ProduceMessage>(messages, "topic");
  const txn = options.transactionalId ?? null;
  const txnBytes = txn === null ? 0 : Buffer.byteLength(txn, "utf8");
  // the request's size first (the per-record sizes go to bodySizes, from index `at` per batch), then its bytes
  let size = (flexible ? (txn === null ? 1 : uvarintSize(txnBytes + 1) + txnBytes) : 2 + txnBytes) + 2 + 4;
  size += flexible ? uvarintSize(topics.length + 1) : 4;
  const records = recordCount(messages);
  if (bodySizes.length < records) {
    bodySizes = new Int32Array(records * 2);
    timestamps = new Float64Array(records * 2);
    headerCounts = new Int32Array(records * 2);
  }
  const groups: [string, ProduceMessage[]][][] = [];
  const batchSizes: number[] = [];
  let at = 0;
  for (const [topic, list] of topics) {
    const name = Buffer.byteLength(topic, "utf8");
    const partitions = groupByProperty<string, ProduceMessage>(list, "partition");
    groups.push(partitions);
    size += (flexible ? uvarintSize(name + 1) + uvarintSize(partitions.length + 1) : 2 + 4) + name;
    for (const [, records] of partitions) {
      const batch = sizeBatch(records, now, at);
      at += recordCount(records);
      batchSizes.push(batch);
      size += 4 + (flexible ? uvarintSize(batch + 1) + 1 : 4) + batch;
    }
    if (flexible) size++; // the topic's tagged fields
  }
  if (flexible) size++; // the request's tagged fields
  const buf = Buffer.allocUnsafe(size);
  let pos = 0;
  if (flexible) {
    pos = writeUvarint(buf, pos, txn === null ? 0 : txnBytes + 1);
  } else {
    buf.writeInt16BE(txn === null ? -1 : txnBytes, pos);
    pos += 2;
  }
  if (txn !== null) pos += buf.write(txn, pos, "utf8");
  buf.writeInt16BE(acks, pos);
  buf.writeInt32BE(timeout, pos + 2);
  pos += 6;
  if (flexible) pos = writeUvarint(buf, pos, topics.length + 1);
  else pos = buf.writeInt32BE(topics.length, pos);
  let b = 0;
  at = 0;
  for (let t = 0; t < topics.length; t++) {
    const topic = topics[t][0];
    const partitions = groups[t];
    const name = Buffer.byteLength(topic, "utf8");
    if (flexible) pos = writeUvarint(buf, pos, name + 1);
    else pos = buf.writeInt16BE(name, pos);
    pos += buf.write(topic, pos, "utf8");
    if (flexible) pos = writeUvarint(buf, pos, partitions.length + 1);
    else pos = buf.writeInt32BE(partitions.length, pos);
    for (const [partition, records] of partitions) {
      const batch = batchSizes[b++];
      pos = buf.writeInt32BE(Number(partition), pos);
      if (flexible) pos = writeUvarint(buf, pos, batch + 1);
      else pos = buf.writeInt32BE(batch, pos);
      pos = writeBatch(buf, pos, batch, records, options, at);
      at += recordCount(records);
      if (flexible) buf[pos++] = 0;
    }
    if (flexible) buf[pos++] = 0;
  }
  if (flexible) buf[pos++] = 0;
  if (pos !== size) throw new Error(`produce request: sized ${size} bytes, wrote ${pos}`);
  const writer = Writer.create().append(buf);
  if (acks === 0) writer.context.noResponse = true;
  return writer;
}

/**
 * Whether {@link ProduceTap}s encode requests themselves (true) or leave them all to platformatic, read at
 * every request. Only for A/B measurements (`bench/kafka_raw_bench.ts --produce-ab`).
 */
export const ownProduceEncoder: { enabled: boolean } = { enabled: true };

/** `topic:partition` of a message (platformatic has set the partition by the time its API is called). */
const partitionKey = (m: ProduceMessage): string => `${m.topic}:${m.partition ?? 0}`;

/** A produce response as platformatic parses it (the parts read here). */
interface ProduceResponse {
  readonly responses: readonly {
    readonly name: string;
    readonly partitionResponses: readonly {
      readonly index: number;
      readonly errorCode: number;
      readonly recordErrors?: readonly { readonly batchIndexErrorMessage?: string | null }[];
    }[];
  }[];
}

/**
 * Wraps one platformatic producer's `Produce` API so that {@link encodeProduceRequest} encodes its requests,
 * and so that a retried request carries only the partitions the broker has not acknowledged yet.
 *
 * platformatic retries a produce request as a whole when any partition in it failed (NOT_LEADER_OR_FOLLOWER
 * while a new topic's leaders settle, a leader change, a timeout on one partition): the partitions the
 * broker had already written were written again. A non-idempotent producer duplicated them (seen as
 * duplicated outputs in the conformance and worker tests right after topic creation). Kafka's Java producer
 * retries only the failed partitions' batches; so does this tap. platformatic calls the API again with the
 * same messages array for each retry of one request (and for its stale-metadata repeat): the tap notes,
 * per array, the partitions whose response had no error, and leaves their messages out of the next call.
 */
export class ProduceTap {
  /** Requests encoded here, and by platformatic's encoder (compression, other versions). */
  readonly counts: { encoded: number; fallback: number; retries: number } = {
    encoded: 0,
    fallback: 0,
    retries: 0,
  };
  /** Per messages array (one request and its retries): the `topic:partition`s acknowledged so far. */
  readonly #acked = new WeakMap<readonly ProduceMessage[], Set<string>>();

  /**
   * Wraps `producer`'s API lookup (this instance only; its prototype is untouched).
   *
   * @param producer The platformatic producer.
   */
  constructor(producer: object) {
    tapApi(producer, "Produce", (version, args) => {
      const [acks, timeout, all, options] = args as [number, number, ProduceMessage[], ProduceOptions];
      const acked = this.#acked.get(all);
      let messages = all;
      if (acked === undefined) this.#acked.set(all, new Set());
      else {
        this.counts.retries++;
        if (acked.size > 0) messages = all.filter((m) => !acked.has(partitionKey(m)));
      }
      return {
        args: messages === all ? undefined : [acks, timeout, messages, options],
        create: (theirs) => {
          const ours = ownProduceEncoder.enabled
            ? encodeProduceRequest(version, acks, timeout, messages, options)
            : null;
          if (ours !== null) {
            this.counts.encoded++;
            return ours;
          }
          this.counts.fallback++;
          expandRuns(messages);
          bigintTimestamps(messages);
          plainValues(messages);
          return theirs();
        },
        // acks=0 has no response; otherwise a failed response still says which partitions were written
        parse: acks === 0 ? undefined : (theirs) => (correlationId, apiKey, apiVersion, reader) => {
          try {
            return theirs(correlationId, apiKey, apiVersion, reader);
          } catch (e) {
            this.#noteAcknowledged(all, e);
            throw e;
          }
        },
      };
    });
  }

  /** Notes the partitions a failed response (platformatic's ResponseError) acknowledged, for `all`'s retry. */
  #noteAcknowledged(all: readonly ProduceMessage[], error: unknown): void {
    const response = (error as { response?: ProduceResponse } | null)?.response;
    if (typeof response !== "object" || response === null) return;
    const acked = this.#acked.get(all);
    if (acked === undefined) return;
    for (const topic of response.responses ?? []) {
      for (const p of topic.partitionResponses ?? []) {
        if (p.errorCode !== 0 || p.recordErrors?.some((r) => r.batchIndexErrorMessage)) continue;
        acked.add(`${topic.name}:${p.index}`);
      }
    }
  }
}
