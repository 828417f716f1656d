/**
 * The buffer policy shared by every table backend (§5.13): rows accumulate across batches and are written
 * in one flush when the buffer holds `buffer_max_records` rows or `buffer_max_bytes` bytes, when its oldest
 * row is `buffer_max_age_s` old (or `max_commit_delay_s`, whichever comes first: a buffered row holds the
 * commit of its input back), on request (revoke, shutdown, commit pressure) and at close when
 * `flush_on_shutdown`.
 *
 * Flushes run one at a time, in order. A failed flush is retried with exponential backoff when the error is
 * transient (connection refused or reset, timeout, server overloaded); when it is permanent (a bad value,
 * a constraint violation) the flush is split in halves until the refused rows are isolated, so only they
 * are reported (and error-routed by the driver) while every other row is written. A sink that stays down
 * rejects the enqueued rows: the driver then stops the flow without committing past them.
 *
 * Time is read, and waited for, only through the injected {@link Clock}: the table backends of
 * `@loom/streaming/sinks` run it on the system clock, the simulator's in-memory twins on its virtual clock
 * (so `advanceTime` past `max_commit_delay_s` flushes, and retry backoffs are virtual time).
 *
 * @module
 */
import type { BufferedSinkWriter, RowFailure, RowSource } from "./_table_delivery.ts";
import { type Logger, silentLogger } from "./_logger.ts";
import { type Clock, systemClock } from "./_clock.ts";
import { ConfigError } from "./config/mod.ts";
import type { SinkSection } from "./_settings.ts";

/**
 * Buffer and retry policy of a table sink (from `streaming.sinks.<name>`).
 *
 * @example
 * ```ts
 * import { type BufferPolicy, DEFAULT_BUFFER_POLICY } from "@loom/streaming";
 * const policy: BufferPolicy = { ...DEFAULT_BUFFER_POLICY, maxRecords: 10_000 };
 * ```
 */
export interface BufferPolicy {
  /** `buffer_max_records` (default 50 000). */
  readonly maxRecords: number;
  /** `buffer_max_bytes` (default 128 MiB; rows are sized by a cheap estimate of their JSON length). */
  readonly maxBytes: number;
  /** `buffer_max_age_s` in ms (default 60 s). */
  readonly maxAgeMs: number;
  /** `max_commit_delay_s` in ms (default 10 s): the longest a buffered row may hold its input's commit back. */
  readonly maxCommitDelayMs: number;
  /** `flush_on_shutdown` (default true): flush at close, else discard (the rows are not committed either). */
  readonly flushOnShutdown: boolean;
  /** `retries` (default 5): extra attempts of a flush failing with a transient error. */
  readonly retries: number;
  /** `retry_backoff_ms` (default 200): backoff before retry k is this × 2^k, capped at 10 s. */
  readonly retryBackoffMs: number;
}

/**
 * Defaults of {@link BufferPolicy}.
 *
 * @example
 * ```ts
 * import { DEFAULT_BUFFER_POLICY } from "@loom/streaming";
 * DEFAULT_BUFFER_POLICY.maxRecords; // 50000
 * ```
 */
export const DEFAULT_BUFFER_POLICY: BufferPolicy = Object.freeze({
  maxRecords: 50_000,
  maxBytes: 134_217_728,
  maxAgeMs: 60_000,
  maxCommitDelayMs: 10_000,
  flushOnShutdown: true,
  retries: 5,
  retryBackoffMs: 200,
});

/**
 * How a backend writes one flush. `write` must be all-or-nothing (one transaction, one insert, one commit)
 * so a retried or bisected flush never writes a row twice (except where the backend's idempotence covers it).
 *
 * @example
 * ```ts
 * import type { TableBackend } from "@loom/streaming";
 * const rows: unknown[] = [];
 * const backend: TableBackend<unknown> = {
 *   label: "memory",
 *   write: (batch) => (rows.push(...batch), Promise.resolve()),
 *   isPermanent: () => false,
 *   close: () => Promise.resolve(),
 * };
 * ```
 */
export interface TableBackend<E> {
  /** For messages, e.g. `postgres table public.orders`. */
  readonly label: string;
  /** Writes rows (all or nothing). */
  write(rows: readonly E[], info: FlushInfo): Promise<void>;
  /** True when retrying `error` cannot succeed (the rows themselves are refused). */
  isPermanent(error: unknown): boolean;
  /** Releases the client. */
  close(): Promise<void>;
}

/**
 * Context of one flush given to {@link TableBackend.write}.
 *
 * @example
 * ```ts
 * import type { FlushInfo } from "@loom/streaming";
 * const info: FlushInfo = { sequence: 1, attempt: 0, sources: [] };
 * ```
 */
export interface FlushInfo {
  /** The source record of each row (same index; null when unknown). */
  readonly sources: readonly (RowSource | null)[];
  /** Flush number of this writer (1-based). */
  readonly sequence: number;
  /** Attempt (0 = first). */
  readonly attempt: number;
}

interface Pending<E> {
  readonly rows: readonly E[];
  readonly sources: readonly (RowSource | null)[] | undefined;
  readonly resolve: (f: readonly RowFailure[]) => void;
  readonly reject: (e: unknown) => void;
}

/**
 * A cheap estimate of the JSON length of a row (no serialisation), for `buffer_max_bytes`.
 *
 * @example
 * ```ts
 * import { estimateSize } from "@loom/streaming";
 * estimateSize({ id: 1, name: "ab" }); // 28
 * ```
 */
export function estimateSize(v: unknown, depth = 0): number {
  switch (typeof v) {
    case "string":
      return v.length + 2;
    case "number":
      return 8;
    case "boolean":
      return 5;
    case "bigint":
      return 20;
    case "object": {
      if (v === null) return 4;
      if (v instanceof Uint8Array) return v.length * 2;
      if (v instanceof Date) return 26;
      if (depth > 8) return 16;
      let n = 2;
      if (Array.isArray(v)) { for (const x of v) n += estimateSize(x, depth + 1) + 1; }
      else for (const k in v) n += k.length + 4 + estimateSize((v as Record<string, unknown>)[k], depth + 1);
      return n;
    }
    default:
      return 4;
  }
}

/** A short JSON preview of a row (for error reasons). */
function preview(row: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(
      row,
      (_k, v) => (typeof v === "bigint" ? v.toString() : v instanceof Uint8Array ? `<${v.length} bytes>` : v),
    );
  } catch {
    s = String(row);
  }
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
}

/** The error message of anything thrown. */
export function reason(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * The {@link BufferPolicy} of a `streaming.sinks.<name>` section: the validated buffer keys of
 * `readSinkSection` plus `max_commit_delay_s`, `retries` and `retry_backoff_ms` (numbers ≥ 0, numeric text
 * accepted), defaults otherwise. A bad value is a {@link ConfigError} naming the key.
 *
 * @example
 * ```ts
 * import { bufferPolicyOf, ConfigContext, readSinkSection } from "@loom/streaming";
 * const ctx = ConfigContext.fromObject({ streaming: { sinks: { orders: { max_commit_delay_s: 2 } } } });
 * bufferPolicyOf(readSinkSection(ctx, "orders")).maxCommitDelayMs; // 2000
 * ```
 */
export function bufferPolicyOf(section: SinkSection): BufferPolicy {
  const d = DEFAULT_BUFFER_POLICY;
  const num = (key: string, fallback: number, integer: boolean): number => {
    const v = section.options[key];
    if (v === undefined || v === null) return fallback;
    const n = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
    const path = `streaming.sinks.${section.name}.${key}`;
    if (typeof n !== "number" || !Number.isFinite(n) || n < 0) {
      throw new ConfigError(`${path}: expected a number ≥ 0, got ${JSON.stringify(v)}`, { path });
    }
    if (integer && !Number.isInteger(n)) {
      throw new ConfigError(`${path}: expected an integer, got ${n}`, { path });
    }
    return n;
  };
  return {
    maxRecords: section.bufferMaxRecords,
    maxBytes: section.bufferMaxBytes,
    maxAgeMs: section.bufferMaxAgeS * 1000,
    maxCommitDelayMs: num("max_commit_delay_s", d.maxCommitDelayMs / 1000, false) * 1000,
    flushOnShutdown: section.flushOnShutdown,
    retries: num("retries", d.retries, true),
    retryBackoffMs: num("retry_backoff_ms", d.retryBackoffMs, false),
  };
}

/**
 * A {@link BufferedSinkWriter} over a {@link TableBackend} with the shared buffer policy, timed by a
 * {@link Clock} (the system clock unless given).
 *
 * @example
 * ```ts
 * import { BufferedTableWriter, DEFAULT_BUFFER_POLICY } from "@loom/streaming";
 * const rows: unknown[] = [];
 * const writer = new BufferedTableWriter({
 *   label: "memory",
 *   write: (batch) => (rows.push(...batch), Promise.resolve()),
 *   isPermanent: () => false,
 *   close: () => Promise.resolve(),
 * }, DEFAULT_BUFFER_POLICY);
 * await writer.write([{ id: 1 }]);
 * await writer.close();
 * ```
 */
export class BufferedTableWriter<E> implements BufferedSinkWriter<E> {
  readonly #backend: TableBackend<E>;
  readonly #p: BufferPolicy;
  readonly #log: Logger;
  readonly #clock: Clock;
  #buf: Pending<E>[] = [];
  #rows = 0;
  #bytes = 0;
  #firstAt = 0;
  #timer: AbortController | null = null;
  #chain: Promise<void> = Promise.resolve();
  #seq = 0;
  #flushed = 0;
  #retryAt: number | null = null;
  #closed = false;
  #abandoned = new AbortController();
  #down: unknown = null;

  /**
   * Creates a {@link BufferedTableWriter}.
   *
   * @param backend how a flush is written
   * @param policy buffer and retry policy
   * @param logger structured logger (`sink_flush`, `sink_flush_retry`, `sink_rows_refused`)
   * @param clock time of the age and commit-delay timers and of the retry backoff (default: the system clock)
   */
  constructor(
    backend: TableBackend<E>,
    policy: BufferPolicy,
    logger: Logger = silentLogger,
    clock: Clock = systemClock,
  ) {
    this.#backend = backend;
    this.#p = policy;
    this.#log = logger;
    this.#clock = clock;
  }

  /** The policy this writer follows. */
  get policy(): BufferPolicy {
    return this.#p;
  }

  /** `flush_on_shutdown`: false leaves the buffered rows (and their inputs) alone at a graceful shutdown. */
  get flushOnShutdown(): boolean {
    return this.#p.flushOnShutdown;
  }

  /** Rows buffered and not yet handed to a flush. */
  get buffered(): number {
    return this.#rows;
  }

  /** Flushes that finished (written, possibly with refused rows); a flush that gave up is not counted. */
  get flushes(): number {
    return this.#flushed;
  }

  /** While a flush waits to retry a transient failure: the clock time of the retry; else null. */
  get retryAt(): number | null {
    return this.#retryAt;
  }

  /** Buffers rows; resolves with the refused rows once the flush holding them finished. */
  enqueue(rows: readonly E[], sources?: readonly (RowSource | null)[]): Promise<readonly RowFailure[]> {
    if (this.#closed) return Promise.reject(new Error(`${this.#backend.label}: the writer is closed`));
    if (this.#down !== null) return Promise.reject(this.#down);
    if (rows.length === 0) return Promise.resolve([]);
    return new Promise((resolve, reject) => {
      if (this.#rows === 0) {
        this.#firstAt = this.#clock.now();
        const timer = this.#timer = new AbortController();
        const wait = Math.min(this.#p.maxAgeMs, this.#p.maxCommitDelayMs);
        void this.#clock.sleep(wait, timer.signal).then(() => {
          if (!timer.signal.aborted) void this.flush().catch(() => {});
        });
      }
      this.#buf.push({ rows, sources, resolve, reject });
      this.#rows += rows.length;
      for (const r of rows) this.#bytes += estimateSize(r);
      if (this.#rows >= this.#p.maxRecords || this.#bytes >= this.#p.maxBytes) {
        void this.flush().catch(() => {});
      }
    });
  }

  /** Writes rows and resolves once they are written (the plain {@link SinkWriter} contract). */
  async write(rows: readonly E[]): Promise<void> {
    const p = this.enqueue(rows);
    await this.flush();
    const failures = await p;
    if (failures.length) {
      throw new Error(`${this.#backend.label} refused ${failures.length} row(s): ${failures[0].reason}`);
    }
  }

  #stopTimer(): void {
    this.#timer?.abort();
    this.#timer = null;
  }

  /** Hands the buffer to a flush (after the flushes before it) and resolves when it finished. */
  flush(): Promise<void> {
    this.#stopTimer();
    const batch = this.#buf;
    if (batch.length === 0) return this.#chain;
    const age = this.#clock.now() - this.#firstAt;
    this.#buf = [];
    this.#rows = 0;
    this.#bytes = 0;
    const run = this.#chain.then(() => this.#run(batch, age));
    this.#chain = run.catch(() => {});
    return run;
  }

  /** Rejects the buffered rows with `err` and empties the buffer; returns how many rows it held. */
  #drop(err: Error): number {
    this.#stopTimer();
    const n = this.#rows;
    for (const p of this.#buf) p.reject(err);
    this.#buf = [];
    this.#rows = 0;
    this.#bytes = 0;
    return n;
  }

  /** Flushes what is left (or discards it when `flush_on_shutdown` is false) and closes the backend. */
  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      if (this.#p.flushOnShutdown && !this.#abandoned.signal.aborted) await this.flush().catch(() => {});
      else {
        const n = this.#rows;
        this.#drop(
          new Error(
            `${this.#backend.label}: ${n} buffered row(s) discarded at close (flush_on_shutdown: false)`,
          ),
        );
        if (n) this.#log.warn("sink_records_discarded_on_close", { sink: this.#backend.label, records: n });
        await this.#chain;
      }
    } finally {
      this.#closed = true;
      await this.#backend.close();
    }
  }

  /**
   * Drops the buffer as a crashed process loses it: the buffered rows are not written (their `enqueue`
   * promises reject), a flush waiting to retry gives up, and a later {@link close} writes nothing.
   */
  abandon(): void {
    this.#abandoned.abort();
    this.#drop(new Error(`${this.#backend.label}: the writer was abandoned (crash)`));
  }

  async #run(batch: Pending<E>[], ageMs: number): Promise<void> {
    const rows: E[] = [];
    const sources: (RowSource | null)[] = [];
    for (const p of batch) {
      for (let i = 0; i < p.rows.length; i++) {
        rows.push(p.rows[i]);
        sources.push(p.sources?.[i] ?? null);
      }
    }
    const started = this.#clock.now();
    const seq = ++this.#seq;
    let refused: Map<number, string>;
    try {
      if (this.#down !== null) throw this.#down;
      refused = new Map();
      await this.#writeIsolating(rows, sources, 0, refused, seq);
    } catch (e) {
      if (!this.#abandoned.signal.aborted) this.#down ??= e;
      for (const p of batch) p.reject(e);
      throw e;
    }
    this.#flushed++;
    this.#log.info("sink_flush", {
      sink: this.#backend.label,
      records: rows.length - refused.size,
      refused: refused.size,
      duration_ms: this.#clock.now() - started,
      age_ms: ageMs,
    });
    let base = 0;
    for (const p of batch) {
      const failures: RowFailure[] = [];
      for (let i = 0; i < p.rows.length; i++) {
        const r = refused.get(base + i);
        if (r !== undefined) failures.push({ index: i, reason: r });
      }
      base += p.rows.length;
      p.resolve(failures);
    }
  }

  /** Writes `rows` (at `offset` of the flush); a permanent failure is bisected down to the refused rows. */
  async #writeIsolating(
    rows: readonly E[],
    sources: readonly (RowSource | null)[],
    offset: number,
    refused: Map<number, string>,
    seq: number,
  ): Promise<void> {
    try {
      await this.#writeRetrying(rows, sources, seq);
    } catch (e) {
      if (!this.#backend.isPermanent(e)) throw e;
      if (rows.length === 1) {
        refused.set(offset, `${reason(e)} (row: ${preview(rows[0])})`);
        this.#log.warn("sink_rows_refused", { sink: this.#backend.label, reason: reason(e) });
        return;
      }
      const mid = rows.length >> 1;
      await this.#writeIsolating(rows.slice(0, mid), sources.slice(0, mid), offset, refused, seq);
      await this.#writeIsolating(rows.slice(mid), sources.slice(mid), offset + mid, refused, seq);
    }
  }

  async #writeRetrying(
    rows: readonly E[],
    sources: readonly (RowSource | null)[],
    seq: number,
  ): Promise<void> {
    const abandoned = this.#abandoned.signal;
    for (let k = 0;; k++) {
      if (abandoned.aborted) throw new Error(`${this.#backend.label}: the writer was abandoned (crash)`);
      try {
        await this.#backend.write(rows, { sequence: seq, attempt: k, sources });
        return;
      } catch (e) {
        if (this.#backend.isPermanent(e) || k >= this.#p.retries) {
          if (!this.#backend.isPermanent(e)) {
            throw new Error(`${this.#backend.label} is unavailable after ${k + 1} attempt(s): ${reason(e)}`, {
              cause: e,
            });
          }
          throw e;
        }
        const wait = Math.min(10_000, this.#p.retryBackoffMs * 2 ** k);
        this.#log.warn("sink_flush_retry", {
          sink: this.#backend.label,
          attempt: k + 1,
          wait_ms: wait,
          reason: reason(e),
        });
        this.#retryAt = this.#clock.now() + wait;
        try {
          await this.#clock.sleep(wait, abandoned);
        } finally {
          this.#retryAt = null;
        }
      }
    }
  }
}
