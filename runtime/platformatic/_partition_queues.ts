/**
 * Per-partition queues of the platformatic consumer: each fetched record batch (see `_fetch_tap.ts`) is
 * appended to its partition's queue (no promise per record) and handed out as one batch per partition,
 * at most `concurrency` partitions at once, one batch per partition at a time.
 *
 * @module
 */

import type { SourceRecord, TopicPartition } from "../../streaming/_transport.ts";
import { type FetchedBatch, LOG_APPEND_TIME, type QueuedRecord } from "./_fetch_tap.ts";
import { EMPTY_HEADERS, HeaderNames } from "./_header_names.ts";

/** One assigned partition: records fetched but not yet handed out, and its delivery state. */
interface Part {
  readonly tp: TopicPartition;
  pending: SourceRecord[];
  pendingBytes: number;
  /** Next offset expected (records below it are duplicates of a refetch and dropped). */
  next: number;
  busy: boolean;
  paused: boolean;
}

/** What a queued record counts for against the byte bounds. */
const recordBytes = (r: SourceRecord): number =>
  64 + (r.value === null ? 0 : r.value.byteLength) + (r.key === null ? 0 : r.key.byteLength);

/** A plain Uint8Array view of fetched bytes (the adapter's fetch parser makes them already; platformatic's are Buffers). */
const asBytes = (buf: Uint8Array): Uint8Array =>
  buf.constructor === Uint8Array ? buf : new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);

/** Queues of the current assignment. */
export class PartitionQueues {
  readonly #limitBytes: number;
  readonly #batchBytes: number;
  readonly #onPressure: () => void;
  readonly #deliver: (tp: TopicPartition, records: SourceRecord[]) => Promise<void>;
  readonly #canDeliver: () => boolean;
  #parts = new Map<string, Map<number, Part>>();
  #order: Part[] = [];
  #cursor = 0;
  #queuedBytes = 0;
  #overLimit = false;
  #pausedCount = 0;
  #active = 0;
  #idleWaiters: (() => void)[] = [];
  #scheduled = false;
  readonly #headerNames = new HeaderNames();
  /** How many partitions' batches may be out at once. */
  concurrency = 1;

  /**
   * Creates empty queues.
   *
   * @param limitBytes Queued bytes above which {@link PartitionQueues.overLimit} turns true (false again at half).
   * @param batchBytes Most bytes handed out in one batch (at least one record): a partition's queue can hold
   *   several fetches, and one huge batch would overshoot the run loop's `max_in_flight` bound.
   * @param onPressure Called when `overLimit` changes.
   * @param deliver Hands a batch out; must not reject.
   * @param canDeliver Whether batches may be handed out now.
   */
  constructor(
    limitBytes: number,
    batchBytes: number,
    onPressure: () => void,
    deliver: (tp: TopicPartition, records: SourceRecord[]) => Promise<void>,
    canDeliver: () => boolean,
  ) {
    this.#limitBytes = limitBytes;
    this.#batchBytes = batchBytes;
    this.#onPressure = onPressure;
    this.#deliver = deliver;
    this.#canDeliver = canDeliver;
  }

  /** True while the queued bytes exceed the limit (fetching should pause). */
  get overLimit(): boolean {
    return this.#overLimit;
  }

  /** How many partitions are paused. */
  get pausedCount(): number {
    return this.#pausedCount;
  }

  /** Replaces the assignment (queues start empty, nothing paused). */
  assign(tps: readonly TopicPartition[]): void {
    this.clear();
    for (const tp of tps) {
      const part: Part = { tp, pending: [], pendingBytes: 0, next: -1, busy: false, paused: false };
      let byPartition = this.#parts.get(tp.topic);
      if (byPartition === undefined) this.#parts.set(tp.topic, byPartition = new Map());
      byPartition.set(tp.partition, part);
      this.#order.push(part);
    }
  }

  /** Drops every queue (batches out keep running; their settlement is still counted). */
  clear(): void {
    this.#parts = new Map();
    this.#order = [];
    this.#cursor = 0;
    this.#queuedBytes = 0;
    this.#pausedCount = 0;
    if (this.#overLimit) {
      this.#overLimit = false;
      this.#onPressure();
    }
  }

  /** Sets the next expected offset of every partition (`at` returns the start position, if known). */
  setPositions(at: (tp: TopicPartition) => bigint | undefined): void {
    for (const part of this.#order) {
      const p = at(part.tp);
      part.next = typeof p === "bigint" ? Number(p) : -1;
    }
  }

  /** True when the partition is assigned and paused. */
  isPaused(topic: string, partition: number): boolean {
    return this.#parts.get(topic)?.get(partition)?.paused === true;
  }

  /** Pauses partitions (unknown ones are ignored). */
  pause(tps: readonly TopicPartition[]): void {
    for (const tp of tps) {
      const part = this.#parts.get(tp.topic)?.get(tp.partition);
      if (part === undefined || part.paused) continue;
      part.paused = true;
      this.#pausedCount++;
    }
  }

  /** Resumes partitions; returns whether any changed. */
  resume(tps: readonly TopicPartition[]): boolean {
    let changed = false;
    for (const tp of tps) {
      const part = this.#parts.get(tp.topic)?.get(tp.partition);
      if (part === undefined || !part.paused) continue;
      part.paused = false;
      this.#pausedCount--;
      changed = true;
    }
    if (changed) this.schedule();
    return changed;
  }

  /**
   * Queues the records of one fetched batch as {@link SourceRecord}s: byte views without copies, the last
   * duplicate header wins, a null header is dropped. Records below the partition's position or below
   * `fromOffset` (the offset the fetch asked for: a whole batch may start before it) and batches of an
   * unassigned partition are dropped.
   */
  pushBatch(topic: string, partition: number, batch: FetchedBatch, fromOffset = 0): void {
    const part = this.#parts.get(topic)?.get(partition);
    if (part === undefined) return;
    if (batch.ready !== undefined) return this.#pushReady(part, topic, batch.ready, fromOffset);
    const records = batch.records;
    const base = Number(batch.firstOffset);
    const logAppend = (batch.attributes & LOG_APPEND_TIME) !== 0;
    const firstTs = Number(logAppend ? batch.maxTimestamp : batch.firstTimestamp);
    const pending = part.pending;
    const names = this.#headerNames;
    // offsets rise within a batch: one bound covers both the partition's position and the fetch's
    let next = Math.max(part.next, fromOffset);
    let bytes = 0;
    for (let i = 0; i < records.length; i++) {
      const r = records[i];
      const offset = base + r.offsetDelta;
      if (offset < next) continue;
      next = offset + 1;
      let headers: Record<string, Uint8Array> | undefined;
      const entries = r.headers;
      for (let h = 0; h < entries.length; h++) {
        const [k, v] = entries[h];
        if (v == null || k == null) continue;
        if (headers === undefined) headers = {};
        headers[names.name(k, h)] = asBytes(v);
      }
      const ts = logAppend ? firstTs : firstTs + Number(r.timestampDelta);
      const key = r.key == null ? null : asBytes(r.key);
      const value = r.value == null ? null : asBytes(r.value);
      pending.push({
        topic,
        partition,
        offset,
        key,
        value,
        headers: headers ?? EMPTY_HEADERS,
        timestampMs: ts >= 0 ? ts : null,
      });
      bytes += 64 + (value === null ? 0 : value.byteLength) + (key === null ? 0 : key.byteLength);
    }
    this.#queued(part, next, bytes);
  }

  /** Queues records the adapter's fetch parser made (`_fetch_records.ts`), with the same rules. */
  #pushReady(part: Part, topic: string, records: QueuedRecord[], fromOffset: number): void {
    const pending = part.pending;
    let next = Math.max(part.next, fromOffset);
    let bytes = 0;
    for (let i = 0; i < records.length; i++) {
      const r = records[i];
      if (r.offset < next) continue;
      next = r.offset + 1;
      r.topic = topic;
      pending.push(r);
      bytes += recordBytes(r);
    }
    this.#queued(part, next, bytes);
  }

  #queued(part: Part, next: number, bytes: number): void {
    if (bytes === 0) return;
    part.next = next;
    part.pendingBytes += bytes;
    this.#queuedBytes += bytes;
    if (!this.#overLimit && this.#queuedBytes > this.#limitBytes) {
      this.#overLimit = true;
      this.#onPressure();
    }
    this.schedule();
  }

  /** Resolves once no batch is out. */
  waitIdle(): Promise<void> {
    if (this.#active === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Hands batches out at the next microtask (after the whole fetch response was pushed). */
  schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => this.#pump());
  }

  #pump(): void {
    this.#scheduled = false;
    if (!this.#canDeliver()) return;
    const order = this.#order;
    const n = order.length;
    for (let i = 0; i < n && this.#active < this.concurrency; i++) {
      const part = order[(this.#cursor + i) % n];
      if (part.busy || part.paused || part.pending.length === 0) continue;
      this.#cursor = (this.#cursor + i + 1) % n;
      this.#handOut(part);
    }
  }

  #handOut(part: Part): void {
    let records = part.pending;
    if (part.pendingBytes <= this.#batchBytes) {
      part.pending = [];
      this.#queuedBytes -= part.pendingBytes;
      part.pendingBytes = 0;
    } else {
      let bytes = 0, n = 0;
      while (n < records.length) {
        const size = recordBytes(records[n]);
        if (n > 0 && bytes + size > this.#batchBytes) break;
        bytes += size;
        n++;
      }
      part.pending = records.slice(n);
      records = records.slice(0, n);
      part.pendingBytes -= bytes;
      this.#queuedBytes -= bytes;
    }
    if (this.#overLimit && this.#queuedBytes <= this.#limitBytes / 2) {
      this.#overLimit = false;
      this.#onPressure();
    }
    part.busy = true;
    this.#active++;
    this.#deliver(part.tp, records).finally(() => {
      part.busy = false;
      if (--this.#active === 0 && this.#idleWaiters.length > 0) {
        const waiters = this.#idleWaiters;
        this.#idleWaiters = [];
        for (const w of waiters) w();
      }
      this.schedule();
    });
  }
}
