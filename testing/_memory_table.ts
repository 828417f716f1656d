/**
 * `MemoryTable`: the simulator's in-memory twin of a table sink. It runs the same buffer code as the real
 * backends (`BufferedTableWriter` of the core, with the sink's `streaming.sinks.<name>` policy) over an
 * in-memory backend on the simulator's virtual clock, so a test sees when rows land (after a flush), how
 * many flushes there were, and what the fault injection did: transient failures retried per policy, rows
 * refused for good isolated by halving and error-routed by the driver.
 *
 * @module
 */
import { type Clock, systemClock } from "../streaming/_clock.ts";
import { type Logger, silentLogger } from "../streaming/_logger.ts";
import type { BufferedSinkWriter, RowFailure, RowSource } from "../streaming/_table_delivery.ts";
import { BufferedTableWriter, type BufferPolicy, DEFAULT_BUFFER_POLICY } from "../streaming/_table_buffer.ts";

/**
 * Options of a {@link MemoryTable}.
 *
 * @example
 * ```ts
 * import { DEFAULT_BUFFER_POLICY, VirtualClock } from "@loom/streaming";
 * import type { MemoryTableOptions } from "@loom/streaming/testing";
 * const options: MemoryTableOptions = {
 *   policy: { ...DEFAULT_BUFFER_POLICY, maxRecords: 100 },
 *   clock: new VirtualClock(0),
 * };
 * ```
 */
export interface MemoryTableOptions {
  /** Buffer and retry policy (default `DEFAULT_BUFFER_POLICY`; the simulator passes the sink's own). */
  readonly policy?: BufferPolicy;
  /** Clock of the age timer and the retry backoff (default: the system clock; the simulator's: virtual). */
  readonly clock?: Clock;
  /** Structured logger of the buffer (`sink_flush`, `sink_flush_retry`, `sink_rows_refused`). */
  readonly logger?: Logger;
}

/**
 * A row the twin refused for good (see {@link MemoryTable.refuse}).
 *
 * @example
 * ```ts
 * import type { RefusedRow } from "@loom/streaming/testing";
 * const r: RefusedRow = { row: { id: -1 }, reason: 'simulated constraint violation (row: {"id":-1})' };
 * ```
 */
export interface RefusedRow<R = unknown> {
  /** The row. */
  readonly row: R;
  /** The reason the driver writes into the row's error envelope. */
  readonly reason: string;
}

/** A permanent (row) failure of the twin: retrying cannot succeed, the buffer isolates the row. */
class SimulatedRowError extends Error {}

/**
 * An in-memory table twin: a {@link BufferedSinkWriter} with the real buffer policy whose "database" is
 * {@link rows}. Rows land only when a flush writes them (records/bytes reached, the oldest row's age or
 * `max_commit_delay_s` passed on its clock, a flush on request, close); a flush is all-or-nothing.
 *
 * Faults: {@link failures} makes the next write attempts fail with a transient error (retried with
 * backoff per policy; more failures than `retries` keep the sink down and the flow stops without
 * committing); {@link refuse} makes rows fail for good (isolated by halving, error-routed).
 *
 * @example
 * ```ts
 * import { DEFAULT_BUFFER_POLICY, VirtualClock } from "@loom/streaming";
 * import { MemoryTable } from "@loom/streaming/testing";
 * const clock = new VirtualClock(0);
 * const table = new MemoryTable<{ id: number }>("orders_sink", { policy: DEFAULT_BUFFER_POLICY, clock });
 * table.refuse((row) => row.id < 0);
 * const settled = table.enqueue([{ id: 1 }, { id: -1 }]);
 * table.rows.length; // 0: buffered
 * await clock.advance(DEFAULT_BUFFER_POLICY.maxCommitDelayMs); // the commit delay flushes
 * (await settled).map((f) => f.index); // [1]
 * table.rows; // [{ id: 1 }]
 * table.flushes; // 1
 * ```
 */
export class MemoryTable<R = unknown> implements BufferedSinkWriter<R> {
  /** Rows written so far (by successful flushes), in order. */
  readonly rows: R[] = [];
  /** Rows refused for good so far, with their reason. */
  readonly refused: RefusedRow<R>[] = [];
  /**
   * Number of upcoming write attempts that fail with a transient error (each failed attempt is retried
   * after the policy's backoff, up to `retries`).
   */
  failures = 0;
  /** Write attempts that failed with an injected transient error. */
  failedWrites = 0;
  /** Successful writes to the in-memory table (one per flush, more when a flush isolated refused rows). */
  writes = 0;
  readonly #rules: { match: (row: R) => boolean; reason: string }[] = [];
  readonly #writers: BufferedTableWriter<R>[] = [];
  readonly #o: MemoryTableOptions;
  #writer: BufferedTableWriter<R> | null = null;

  /**
   * Creates a {@link MemoryTable}.
   *
   * @param name sink name
   * @param options policy, clock, logger
   */
  constructor(readonly name: string, options: MemoryTableOptions = {}) {
    this.#o = options;
  }

  /** The buffer of the current run (a new one after {@link close} or {@link crash}). */
  #current(): BufferedTableWriter<R> {
    if (this.#writer === null) {
      this.#writer = new BufferedTableWriter<R>(
        {
          label: `memory table '${this.name}'`,
          write: (rows) => this.#write(rows),
          isPermanent: (e) => e instanceof SimulatedRowError,
          close: () => Promise.resolve(),
        },
        this.policy,
        this.#o.logger ?? silentLogger,
        this.#o.clock ?? systemClock,
      );
      this.#writers.push(this.#writer);
    }
    return this.#writer;
  }

  #write(rows: readonly R[]): Promise<void> {
    if (this.failures > 0) {
      this.failures--;
      this.failedWrites++;
      return Promise.reject(new Error(`simulated failure of table sink '${this.name}'`));
    }
    for (const row of rows) {
      const rule = this.#rules.find((r) => r.match(row));
      if (rule) return Promise.reject(new SimulatedRowError(rule.reason));
    }
    this.writes++;
    this.rows.push(...rows);
    return Promise.resolve();
  }

  /**
   * From now on, rows for which `match` is true are refused for good with `reason` (like a constraint
   * violation): the flush holding one is halved until the row is alone, the other rows are written, and
   * the driver routes the refused row's message to the task error route.
   */
  refuse(
    match: (row: R) => boolean,
    reason = `simulated constraint violation in table sink '${this.name}'`,
  ): void {
    this.#rules.push({ match, reason });
  }

  /** The buffer and retry policy. */
  get policy(): BufferPolicy {
    return this.#o.policy ?? DEFAULT_BUFFER_POLICY;
  }

  /** `flush_on_shutdown` of the policy. */
  get flushOnShutdown(): boolean {
    return this.policy.flushOnShutdown;
  }

  /** Rows buffered, not yet handed to a flush. */
  get buffered(): number {
    return this.#writer?.buffered ?? 0;
  }

  /** Flushes that finished (over every run of this table, including crashed ones). */
  get flushes(): number {
    return this.#writers.reduce((n, w) => n + w.flushes, 0);
  }

  /** While a flush waits to retry a transient failure: the clock time of the retry; else null. */
  get retryAt(): number | null {
    return this.#writer?.retryAt ?? null;
  }

  /** Buffers rows; resolves with the refused ones once the flush holding them finished. */
  async enqueue(rows: readonly R[], sources?: readonly (RowSource | null)[]): Promise<readonly RowFailure[]> {
    const failures = await this.#current().enqueue(rows, sources);
    for (const f of failures) this.refused.push({ row: rows[f.index], reason: f.reason });
    return failures;
  }

  /** Flushes what is buffered now; resolves when that flush finished. */
  flush(): Promise<void> {
    return this.#writer?.flush() ?? Promise.resolve();
  }

  /** Writes rows at once (buffer, flush, wait); throws when a row is refused or the sink stays down. */
  write(rows: readonly R[]): Promise<void> {
    return this.#current().write(rows);
  }

  /**
   * Closes the current buffer: flushes it, or discards it when `flush_on_shutdown` is false. Written rows
   * stay; a later write opens a new buffer (the simulator reuses its twins after a crash).
   */
  async close(): Promise<void> {
    const w = this.#writer;
    this.#writer = null;
    await w?.close();
  }

  /**
   * Loses the buffer as a crashed process does: buffered rows are not written (their inputs stay
   * uncommitted and are delivered again), a flush waiting to retry gives up. Written rows stay.
   */
  crash(): void {
    this.#writer?.abandon();
    this.#writer = null;
  }
}
