/**
 * Per-message completion tracking and per-partition commit watermarks.
 *
 * Every fetched record gets an {@link Origin} holding a pending count. Fan-out adds to it; each fate
 * (written and acknowledged, error-routed and acknowledged, or deliberately discarded) releases one.
 * A partition's watermark is the offset after the longest contiguous prefix of completed records.
 *
 * @module
 */
import type { SourceRecord, TopicPartition, TopicPartitionOffset } from "./_transport.ts";

/**
 * The completion state of one fetched record.
 *
 * @example
 * ```ts
 * import { OffsetTracker } from "@loom/streaming/engine";
 * const origin = new OffsetTracker().register("orders", 0, 7);
 * origin.pending; // 1
 * ```
 */
export class Origin {
  /** Outstanding fates (starts at 1). */
  pending = 1;
  /** True once every fate is settled. */
  done = false;
  /**
   * Set once the record itself was dead-lettered or skipped (`streaming.runtime.on_unwritable`) because
   * one of its outputs could not be written: its other failed outputs settle without a second write.
   */
  lastResort: "dead_letter" | "log_and_skip" | null = null;
  /**
   * Creates a {@link Origin}.
   *
   * @param partition owning partition state (null for untracked test injections)
   * @param offset record offset
   * @param record the fetched record (its raw key, value and headers: the last resort of
   *   `on_unwritable: dead_letter` writes it as it came), or null when unknown
   */
  constructor(
    readonly partition: PartitionState | null,
    readonly offset: number,
    readonly record: SourceRecord | null = null,
  ) {}
}

/**
 * Watermark state of one topic partition.
 *
 * @example
 * ```ts
 * import { PartitionState } from "@loom/streaming/engine";
 * const state = new PartitionState("orders", 0);
 * state.inFlight; // 0
 * ```
 */
export class PartitionState {
  /** Registered, not yet committed records in offset order. */
  queue: Origin[] = [];
  /** Index in `queue` of the first record not yet committed. */
  head = 0;
  /** Next offset to commit (offset after the completed prefix), or null before the first completion. */
  watermark: number | null = null;
  /** Watermark last handed out by {@link OffsetTracker.takeCommits}. */
  committed: number | null = null;
  /** False once the partition was revoked: late completions are ignored. */
  active = true;
  /** Highest offset ever registered (registration must be strictly increasing). */
  last: number = -1;
  /** Registered records not yet complete. */
  unfinished = 0;
  /**
   * Creates a {@link PartitionState}.
   *
   * @param topic topic
   * @param partition partition
   */
  constructor(readonly topic: string, readonly partition: number) {}

  /** Records fetched and not yet complete. */
  get inFlight(): number {
    return this.unfinished;
  }
}

/**
 * Tracks completions and computes commit watermarks.
 *
 * @example
 * ```ts
 * import { OffsetTracker } from "@loom/streaming/engine";
 * const t = new OffsetTracker();
 * const a = t.register("orders", 0, 3), b = t.register("orders", 0, 4);
 * t.release(b);
 * t.takeCommits(); // [] — offset 3 is not complete yet
 * t.release(a);
 * t.takeCommits(); // [{ topic: "orders", partition: 0, offset: 5 }]
 * ```
 */
export class OffsetTracker {
  readonly #parts = new Map<string, PartitionState>();
  #inFlight = 0;
  #dirty = new Set<PartitionState>();

  /** Records registered and not yet complete, over every partition. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Partition state (created on first use). */
  partition(topic: string, partition: number): PartitionState {
    const key = `${topic}\u0000${partition}`;
    let p = this.#parts.get(key);
    if (!p || !p.active) {
      p = new PartitionState(topic, partition);
      this.#parts.set(key, p);
    }
    return p;
  }

  /** Registers a fetched record; records must be registered in offset order per partition. */
  register(topic: string, partition: number, offset: number, record: SourceRecord | null = null): Origin {
    return this.registerIn(this.partition(topic, partition), offset, record);
  }

  /**
   * Registers a fetched record of a partition state already looked up with {@link partition} (one lookup
   * per fetched batch instead of one per record). The origin keeps a reference to `record` (no copy).
   */
  registerIn(p: PartitionState, offset: number, record: SourceRecord | null = null): Origin {
    if (offset <= p.last) {
      throw new Error(
        `offset ${offset} of ${p.topic}[${p.partition}] registered after ${p.last}: records must arrive in offset order`,
      );
    }
    p.last = offset;
    const o = new Origin(p, offset, record);
    p.queue.push(o);
    p.unfinished++;
    this.#inFlight++;
    return o;
  }

  /** Adds `extra` outstanding fates to an origin (fan-out). */
  fork(origin: Origin, extra: number): void {
    if (extra > 0 && !origin.done) origin.pending += extra;
  }

  /** Settles one fate of an origin; advances the partition watermark when possible. */
  release(origin: Origin): void {
    if (origin.done) return;
    if (--origin.pending > 0) return;
    origin.done = true;
    const p = origin.partition;
    if (!p) return;
    if (!p.active) return;
    this.#inFlight--;
    p.unfinished--;
    const q = p.queue;
    let h = p.head;
    if (q[h] !== origin) return;
    while (h < q.length && q[h].done) h++;
    p.watermark = q[h - 1].offset + 1;
    if (h === q.length) {
      p.queue = [];
      p.head = 0;
    } else if (h > 1024 && h * 2 > q.length) {
      p.queue = q.slice(h);
      p.head = 0;
    } else p.head = h;
    this.#dirty.add(p);
  }

  /** Watermarks that moved since the last call (offset = next offset to read). */
  takeCommits(): TopicPartitionOffset[] {
    if (this.#dirty.size === 0) return [];
    const out: TopicPartitionOffset[] = [];
    for (const p of this.#dirty) {
      if (p.active && p.watermark !== null && p.watermark !== p.committed) {
        out.push({ topic: p.topic, partition: p.partition, offset: p.watermark });
        p.committed = p.watermark;
      }
    }
    this.#dirty.clear();
    return out;
  }

  /** Puts commits back (after a failed commit) so the next {@link takeCommits} returns them again. */
  restoreCommits(failed: readonly TopicPartitionOffset[]): void {
    for (const c of failed) {
      const p = this.#parts.get(`${c.topic}\u0000${c.partition}`);
      if (p && p.active) {
        p.committed = null;
        this.#dirty.add(p);
      }
    }
  }

  /** Current watermark of a partition (next offset to commit), or null. */
  watermark(topic: string, partition: number): number | null {
    return this.#parts.get(`${topic}\u0000${partition}`)?.watermark ?? null;
  }

  /** Forgets revoked partitions: their in-flight records will be redelivered to the new owner. */
  revoke(tps: readonly TopicPartition[]): void {
    for (const tp of tps) {
      const key = `${tp.topic}\u0000${tp.partition}`;
      const p = this.#parts.get(key);
      if (!p) continue;
      p.active = false;
      this.#inFlight -= p.unfinished;
      p.unfinished = 0;
      this.#parts.delete(key);
      this.#dirty.delete(p);
    }
  }

  /** In-flight count of one partition. */
  inFlightOf(topic: string, partition: number): number {
    return this.#parts.get(`${topic}\u0000${partition}`)?.inFlight ?? 0;
  }
}
