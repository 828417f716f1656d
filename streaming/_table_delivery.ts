/**
 * Buffered table delivery: how the driver hands rows to a {@link BufferedSinkWriter} without waiting for
 * the flush, and settles the rows' origins when the flush holding them resolves.
 *
 * - Written rows release their origins (so commits move past them only then).
 * - Rows the sink refused for good (bad value, constraint violation) are error-routed as `task` errors
 *   with the sink's reason, like a failing step.
 * - A sink that stays down (the writer gave up retrying) makes the driver fail at its next call; its rows
 *   are never released, so nothing past them is committed.
 * - Commit pressure: when the records in flight reach half of `streaming.runtime.max_in_flight` (where the
 *   runner starts to pause fetching at the full value), every buffered writer is asked to flush, so
 *   buffering never stalls consumption or commits.
 *
 * @module
 */
import type { Emission, Item, TableBatch } from "./engine/mod.ts";
import type { SinkWriter } from "./dsl/mod.ts";
import type { OffsetTracker } from "./_tracker.ts";

/**
 * A row a table sink refused for good, by its index in the enqueued rows.
 *
 * @example
 * ```ts
 * import type { RowFailure } from "@loom/streaming";
 * const f: RowFailure = { index: 2, reason: 'invalid input syntax for type integer: "x"' };
 * ```
 */
export interface RowFailure {
  /** Index in the rows given to {@link BufferedSinkWriter.enqueue}. */
  readonly index: number;
  /** The sink's (server's) reason. */
  readonly reason: string;
}

/**
 * The source record a row came from (Delta stamps its commits with the last offset per partition).
 *
 * @example
 * ```ts
 * import type { RowSource } from "@loom/streaming";
 * const src: RowSource = { topic: "orders", partition: 0, offset: 41 };
 * ```
 */
export interface RowSource {
  /** Source topic. */
  readonly topic: string;
  /** Source partition. */
  readonly partition: number;
  /** Source offset. */
  readonly offset: number;
}

/**
 * A sink writer that buffers rows across batches and writes them in large flushes. The driver does not
 * wait for it: each {@link enqueue} promise settles the enqueued rows once the flush holding them finished.
 *
 * @example
 * ```ts
 * import type { BufferedSinkWriter, RowFailure } from "@loom/streaming";
 * const rows: unknown[] = [];
 * const writer: BufferedSinkWriter = {
 *   buffered: 0,
 *   enqueue: (items): Promise<RowFailure[]> => (rows.push(...items), Promise.resolve([])),
 *   flush: () => Promise.resolve(),
 *   write: (items) => void rows.push(...items),
 * };
 * ```
 */
export interface BufferedSinkWriter<E = unknown> extends SinkWriter<E> {
  /**
   * Buffers rows. Resolves once the flush holding them finished, with the rows refused for good (empty
   * when all were written); rejects when the sink stays down (retries exhausted).
   */
  enqueue(rows: readonly E[], sources?: readonly (RowSource | null)[]): Promise<readonly RowFailure[]>;
  /** Flushes what is buffered now (revoke, shutdown, commit pressure); resolves when that flush finished. */
  flush(): Promise<void>;
  /** Rows buffered and not yet handed to a flush. */
  readonly buffered: number;
  /**
   * `flush_on_shutdown` (absent: true). When false, a graceful shutdown neither flushes the buffered rows
   * nor commits their inputs: closing the writer discards them (their `enqueue` promises reject) and they
   * are delivered again after a restart.
   */
  readonly flushOnShutdown?: boolean;
}

/**
 * True when `w` implements {@link BufferedSinkWriter}.
 *
 * @example
 * ```ts
 * import { isBufferedSinkWriter } from "@loom/streaming";
 * isBufferedSinkWriter({ write() {} }); // false
 * ```
 */
export function isBufferedSinkWriter(w: SinkWriter<unknown>): w is BufferedSinkWriter<unknown> {
  const b = w as Partial<BufferedSinkWriter<unknown>>;
  return typeof b.enqueue === "function" && typeof b.flush === "function";
}

/** What the delivery needs from the driver. */
export interface TableDeliveryHost {
  /** Completion tracker (origins are released there). */
  readonly tracker: OffsetTracker;
  /** Rows written per sink name (driver stats). */
  readonly tableRows: Record<string, number>;
  /** `streaming.runtime.max_in_flight`. */
  readonly maxInFlight: number;
  /** Routes an item as a `task` error of the sink at `path` into `em`. */
  fail(item: Item, reason: Error, path: string, em: Emission): void;
  /** A fresh emission. */
  emission(): Emission;
  /** Delivers an emission (error envelopes). */
  deliver(em: Emission): Promise<void>;
  /** The driver's delivery error for a table sink. */
  deliveryFailure(target: string, cause: unknown): Error;
}

/**
 * Buffered-writer bookkeeping of one driver (internal; the driver calls it from `writeTable`).
 *
 * @example
 * ```ts
 * import type { TableBatch } from "./engine/mod.ts";
 * import { type BufferedSinkWriter, TableDelivery, type TableDeliveryHost } from "./_table_delivery.ts";
 * export async function deliver(host: TableDeliveryHost, batch: TableBatch, writer: BufferedSinkWriter): Promise<void> {
 *   const delivery = new TableDelivery(host);
 *   delivery.enqueue(batch, writer); // does not wait for the flush
 *   await delivery.flushAll(); // revoke / shutdown: flush and wait until every row is settled
 * }
 * ```
 */
export class TableDelivery {
  readonly #host: TableDeliveryHost;
  readonly #pending = new Map<Promise<void>, BufferedSinkWriter<unknown>>();
  readonly #writers = new Set<BufferedSinkWriter<unknown>>();
  #failure: unknown = null;
  #shuttingDown = false;

  /**
   * Creates a {@link TableDelivery}.
   *
   * @param host the driver's side
   */
  constructor(host: TableDeliveryHost) {
    this.#host = host;
  }

  /** The error of a sink that stayed down, or null. */
  get failure(): unknown {
    return this.#failure;
  }

  /**
   * A graceful shutdown began: from now on writers with `flushOnShutdown: false` are not flushed (nor
   * waited for), and their rows rejected at close leave their inputs uncommitted instead of failing.
   */
  beginShutdown(): void {
    this.#shuttingDown = true;
  }

  /** The writers a flush now covers (at shutdown, not those with `flushOnShutdown: false`). */
  #flushable(): BufferedSinkWriter<unknown>[] {
    return [...this.#writers].filter((w) => !this.#shuttingDown || w.flushOnShutdown !== false);
  }

  /** Throws the error of a sink that stayed down (the driver then fails). */
  throwIfFailed(): void {
    if (this.#failure !== null) throw this.#failure;
  }

  /** Hands a table batch to a buffered writer; its origins settle when the flush holding it resolves. */
  enqueue(t: TableBatch, w: BufferedSinkWriter<unknown>): void {
    this.throwIfFailed();
    this.#writers.add(w);
    let p: Promise<void>;
    try {
      const sources = t.origins.map((o) =>
        o.partition ? { topic: o.partition.topic, partition: o.partition.partition, offset: o.offset } : null
      );
      p = w.enqueue(t.rows, sources).then((failures) => this.#settle(t, failures), (e) => this.#down(t, e));
    } catch (e) {
      p = Promise.resolve(this.#down(t, e));
    }
    this.#track(p, w);
    const h = this.#host;
    if (h.tracker.inFlight >= Math.max(1, Math.floor(h.maxInFlight / 2))) {
      for (const x of this.#flushable()) if (x.buffered > 0) this.#track(x.flush().catch(() => {}), x);
    }
  }

  /**
   * Flushes every buffered writer and waits until every enqueued row is settled; then throws a sink
   * failure. During a shutdown, writers with `flushOnShutdown: false` are left as they are.
   */
  async flushAll(): Promise<void> {
    const writers = new Set(this.#flushable());
    await Promise.all([...writers].map((w) => w.flush().catch(() => {})));
    const waiting = () => [...this.#pending].filter(([, w]) => writers.has(w)).map(([p]) => p);
    for (let ps = waiting(); ps.length; ps = waiting()) await Promise.all(ps);
    this.throwIfFailed();
  }

  /** Waits until every enqueued row is settled (no flush requested). */
  async settled(): Promise<void> {
    while (this.#pending.size) await Promise.all([...this.#pending.keys()]);
  }

  #track(p: Promise<void>, w: BufferedSinkWriter<unknown>): void {
    this.#pending.set(p, w);
    void p.finally(() => this.#pending.delete(p));
  }

  async #settle(t: TableBatch, failures: readonly RowFailure[]): Promise<void> {
    const h = this.#host;
    const refused = new Map<number, string>();
    for (const f of failures) refused.set(f.index, f.reason);
    const written = t.rows.length - refused.size;
    h.tableRows[t.name] = (h.tableRows[t.name] ?? 0) + written;
    for (let i = 0; i < t.origins.length; i++) if (!refused.has(i)) h.tracker.release(t.origins[i]);
    if (refused.size === 0) return;
    const em = h.emission();
    for (const [i, reason] of refused) {
      h.fail(t.items[i], new Error(`table sink '${t.name}' refused the row: ${reason}`), t.path, em);
    }
    try {
      await h.deliver(em);
    } catch (e) {
      this.#failure ??= e;
    }
  }

  #down(t: TableBatch, e: unknown): void {
    // rows discarded at close during a shutdown (flush_on_shutdown: false): their inputs stay uncommitted
    if (this.#failure !== null || this.#shuttingDown) return;
    this.#failure = this.#host.deliveryFailure(`table sink '${t.name}'`, e);
  }
}
