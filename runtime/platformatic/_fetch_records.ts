/**
 * Fetch responses parsed with a record reader of the adapter's own.
 *
 * platformatic reads every fetched record through its `Reader`: each field is a method call, each key,
 * value and header is a Buffer `subarray` of a DynamicBuffer (slow on JSC, which looks up the species
 * constructor), the timestamp delta is a BigInt, and each header is an array of two. Under Bun's profiler
 * that parsing was 23 % of the raw pipe's CPU (inclusive), with a dozen objects per record that the fetch
 * tap (`_fetch_tap.ts`) then turned into the adapter's own records anyway.
 *
 * {@link FetchParseTap} wraps one platformatic consumer's `Fetch` API (this instance only) so that its
 * responses are read by {@link parseFetchResponse}: the same structure, read with platformatic's own
 * `Reader`, the same errors, but each partition's uncompressed data batches are read in one pass over
 * one contiguous buffer, straight into the records the partition queues hold (`QueuedRecord`: absolute
 * offset and timestamp, keys, values and header values as plain `Uint8Array` views, header names as
 * strings decoded once per position by {@link HeaderNames}), with no per-record object in between: the
 * intermediate records, header pairs and name views took 849 of the 1,658 bytes allocated per queued
 * record (4 trace headers) on Deno. Compressed batches and control batches (whose keys platformatic's
 * aborted-transaction filter reads as Buffers) are read by platformatic's `readRecordsBatch`. Fetch versions other than 13–17 keep
 * platformatic's parser.
 *
 * @module
 */

import { Buffer } from "node:buffer";
import { Reader, readKnownTaggedFields, readRecordsBatch, ResponseError } from "./_kafka.ts";
import { tapApi } from "./_api_tap.ts";
import { type FetchedBatch, type FetchedRecord, LOG_APPEND_TIME, type QueuedRecord } from "./_fetch_tap.ts";
import { EMPTY_HEADERS, HeaderNames } from "./_header_names.ts";

/** The fetch response versions read here: v13–v15 and v16–v17 (the node endpoints) share one layout. */
export const FETCH_VERSIONS: { readonly min: number; readonly max: number } = { min: 13, max: 17 };

const BATCH_HEAD = 12; // base offset (8) + batch length (4)
const IS_COMPRESSED = 0b111;
const IS_CONTROL = 1 << 5;

/**
 * The batches of one partition's records (`bytes`: the COMPACT_RECORDS payload, contiguous). Uncompressed
 * data batches come with their records {@link FetchedBatch.ready} (topic left empty) and no `records`.
 */
export function readBatches(bytes: Uint8Array, partition: number, names: HeaderNames): FetchedBatch[] {
  const batches: FetchedBatch[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = bytes.byteLength;
  let pos = 0;
  while (end - pos >= BATCH_HEAD && end - pos - BATCH_HEAD >= view.getInt32(pos + 8)) {
    const length = view.getInt32(pos + 8);
    const batchEnd = pos + BATCH_HEAD + length;
    const attributes = view.getInt16(pos + 21);
    if ((attributes & (IS_COMPRESSED | IS_CONTROL)) !== 0) {
      // platformatic's reader (decompression; Buffer keys for its aborted-transaction filter)
      const sub = Buffer.from(bytes.buffer, bytes.byteOffset + pos, batchEnd - pos);
      batches.push(readRecordsBatch(Reader.from(sub)) as unknown as FetchedBatch);
      pos = batchEnd;
      continue;
    }
    const count = view.getInt32(pos + 57);
    const ready: QueuedRecord[] = new Array(count);
    const firstOffset = view.getBigInt64(pos);
    const firstTimestamp = view.getBigInt64(pos + 27);
    const maxTimestamp = view.getBigInt64(pos + 35);
    const batch = {
      firstOffset,
      length,
      partitionLeaderEpoch: view.getInt32(pos + 12),
      magic: view.getInt8(pos + 16),
      crc: view.getUint32(pos + 17),
      attributes,
      lastOffsetDelta: view.getInt32(pos + 23),
      firstTimestamp,
      maxTimestamp,
      producerId: view.getBigInt64(pos + 43),
      producerEpoch: view.getInt16(pos + 51),
      firstSequence: view.getInt32(pos + 53),
      records: NO_RECORDS,
      ready,
    };
    const logAppend = (attributes & LOG_APPEND_TIME) !== 0;
    const base = Number(firstOffset);
    const firstTs = Number(logAppend ? maxTimestamp : firstTimestamp);
    cursor = pos + 61;
    for (let i = 0; i < count; i++) ready[i] = readRecord(bytes, partition, base, firstTs, logAppend, names);
    if (cursor > batchEnd) throw new RangeError(`fetch response: a record batch overran its ${length} bytes`);
    batches.push(batch);
    pos = batchEnd;
  }
  return batches;
}

const NO_RECORDS: readonly FetchedRecord[] = Object.freeze([]);

/** Where {@link readRecord} reads next (module state: one record at a time, no object per read). */
let cursor = 0;

/** An unsigned varint (≤ 5 bytes) at {@link cursor}. */
function uvarint(b: Uint8Array): number {
  let x = b[cursor++];
  if (x < 128) return x;
  x &= 127;
  let shift = 7;
  let c: number;
  do {
    if (shift > 28) throw new RangeError("fetch response: a varint longer than 5 bytes");
    c = b[cursor++];
    x |= (c & 127) << shift;
    shift += 7;
  } while (c >= 128);
  return x >>> 0;
}

/** A zigzag varint (int32). */
const varint = (b: Uint8Array): number => {
  const u = uvarint(b);
  return (u >>> 1) ^ -(u & 1);
};

/** A zigzag varlong, as a number (timestamp deltas: exact below 2^53). */
function varlong(b: Uint8Array): number {
  let u = 0;
  let scale = 1;
  let c: number;
  do {
    if (scale > 2 ** 63) throw new RangeError("fetch response: a varlong longer than 10 bytes");
    c = b[cursor++];
    u += (c & 127) * scale;
    scale *= 128;
  } while (c >= 128);
  return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
}

/** Length-prefixed bytes as a view (null for length −1). */
function bytesAt(b: Uint8Array): Uint8Array | null {
  const n = varint(b);
  if (n < 0) return null;
  const start = cursor;
  cursor += n;
  if (cursor > b.length) throw new RangeError("fetch response: a record field runs past the response");
  // the (buffer, offset, length) constructor: `subarray` looks up the species constructor, slow on JSC
  return new Uint8Array(b.buffer, b.byteOffset + start, n);
}

/**
 * One record, ready for the queues: the last duplicate header wins, a header with a null name or value is
 * dropped (as the queues do with platformatic's records).
 */
function readRecord(
  b: Uint8Array,
  partition: number,
  base: number,
  firstTs: number,
  logAppend: boolean,
  names: HeaderNames,
): QueuedRecord {
  varint(b); // length
  cursor++; // attributes (unused by v2 records)
  const timestampDelta = varlong(b);
  const offsetDelta = varint(b);
  const key = bytesAt(b);
  const value = bytesAt(b);
  const n = varint(b);
  let headers: Record<string, Uint8Array> | undefined;
  for (let h = 0; h < n; h++) {
    const nameLength = varint(b);
    const nameStart = cursor;
    if (nameLength > 0) cursor += nameLength;
    // (a name that runs past the bytes needs no check of its own: the value's read below throws then, as
    // reads beyond a Uint8Array give undefined, a length of 0 and a cursor still past the end)
    const v = bytesAt(b);
    if (v === null || nameLength < 0) continue;
    if (headers === undefined) headers = {};
    headers[names.nameAt(b, nameStart, nameLength, h)] = v;
  }
  const ts = logAppend ? firstTs : firstTs + timestampDelta;
  return {
    topic: "",
    partition,
    offset: base + offsetDelta,
    key,
    value,
    headers: headers ?? EMPTY_HEADERS,
    timestampMs: ts >= 0 ? ts : null,
  };
}

type AnyReader = InstanceType<typeof Reader>;

/**
 * Parses a fetch response of version 13–17 like platformatic's `fetchV<version>.parseResponse`, with the
 * data batches read by {@link readBatches}.
 *
 * @param apiKey The request's API key (for the error).
 * @param version The fetch version (13–17).
 * @param reader platformatic's reader at the response body.
 * @param names The header-name decoder of the records (one per consumer).
 * @returns The response.
 * @throws {ResponseError} Like platformatic's: for a top-level or partition error code.
 * @example
 * ```ts ignore
 * const response = parseFetchResponse(1, 17, reader);
 * ```
 */
export function parseFetchResponse(
  apiKey: number,
  version: number,
  reader: AnyReader,
  names: HeaderNames = new HeaderNames(),
): unknown {
  const errors: [string, [number, null]][] = [];
  const throttleTimeMs = reader.readInt32();
  const errorCode = reader.readInt16();
  if (errorCode !== 0) errors.push([version >= 16 ? "" : "/", [errorCode, null]]);
  const response: Record<string, unknown> = { throttleTimeMs, errorCode, sessionId: reader.readInt32() };
  if (version >= 16) response.nodeEndpoints = [];
  response.responses = reader.readArray((r: AnyReader, i: number) => ({
    topicId: r.readUUID(),
    partitions: r.readArray(
      (r: AnyReader, j: number) => {
        const partition: Record<string, unknown> = {
          partitionIndex: r.readInt32(),
          errorCode: r.readInt16(),
          highWatermark: r.readInt64(),
          lastStableOffset: r.readInt64(),
          logStartOffset: r.readInt64(),
          divergingEpoch: { epoch: -1, endOffset: -1n },
          currentLeader: { leaderId: -1, leaderEpoch: -1 },
          snapshotId: { endOffset: -1n, epoch: -1 },
          abortedTransactions: r.readNullableArray((r: AnyReader) => ({
            producerId: r.readInt64(),
            firstOffset: r.readInt64(),
          })),
          preferredReadReplica: r.readInt32(),
          records: [],
        };
        if (partition.errorCode !== 0) {
          errors.push([`/responses/${i}/partitions/${j}`, [partition.errorCode as number, null]]);
        }
        let size = r.readUnsignedVarInt(); // COMPACT_RECORDS: the size plus one, 0 for null
        if (size === 0) partition.records = null;
        if (size > 1) {
          size--;
          // the response's chunks as one buffer: a view when they are one chunk, else one copy
          const records = r.buffer.subarray(r.position, r.position + size).buffer;
          partition.records = readBatches(records, partition.partitionIndex as number, names);
          r.skip(size);
        }
        readKnownTaggedFields(r, {
          0: (r: AnyReader) =>
            void (partition.divergingEpoch = { epoch: r.readInt32(), endOffset: r.readInt64() }),
          1: (r: AnyReader) =>
            void (partition.currentLeader = { leaderId: r.readInt32(), leaderEpoch: r.readInt32() }),
          2: (r: AnyReader) =>
            void (partition.snapshotId = { endOffset: r.readInt64(), epoch: r.readInt32() }),
        });
        return partition;
      },
      true,
      false,
    ),
  }));
  readKnownTaggedFields(
    reader,
    version >= 16
      ? {
        0: (r: AnyReader) =>
          void (response.nodeEndpoints = r.readArray((r: AnyReader) => ({
            nodeId: r.readInt32(),
            host: r.readString(),
            port: r.readInt32(),
            rack: r.readNullableString(),
          }))),
      }
      : {},
  );
  if (errors.length) throw new ResponseError(apiKey, version, Object.fromEntries(errors), response);
  return response;
}

/**
 * Whether {@link FetchParseTap}s parse fetch responses themselves (true) or leave them to platformatic, read
 * at every request. Only for A/B measurements.
 */
export const ownFetchParser: { enabled: boolean } = { enabled: true };

/** Wraps one platformatic consumer's `Fetch` API so that {@link parseFetchResponse} reads its responses. */
export class FetchParseTap {
  /** Responses parsed here, and by platformatic (A/B runs; other versions are not counted). */
  readonly counts: { parsed: number; fallback: number } = { parsed: 0, fallback: 0 };
  readonly #names = new HeaderNames();

  /**
   * Wraps `consumer`'s API lookup (this instance only; its prototype is untouched).
   *
   * @param consumer The platformatic consumer.
   */
  constructor(consumer: object) {
    tapApi(
      consumer,
      "Fetch",
      (version) =>
        version < FETCH_VERSIONS.min || version > FETCH_VERSIONS.max ? null : {
          parse: (theirs) => (correlationId, apiKey, v, reader) => {
            if (!ownFetchParser.enabled) {
              this.counts.fallback++;
              return theirs(correlationId, apiKey, v, reader);
            }
            this.counts.parsed++;
            return parseFetchResponse(apiKey, v, reader, this.#names);
          },
        },
    );
  }
}
