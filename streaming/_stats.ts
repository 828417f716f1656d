/**
 * The counters of a running flow ({@link DriverStats}), kept by the driver and read by the metrics, the
 * simulator and the tests, and {@link emptyStats}, their zeroed start.
 *
 * @module
 */
import type { ErrorKind } from "./_message.ts";

/**
 * Counters of a running flow.
 *
 * @example
 * ```ts
 * import { type DriverStats, emptyStats } from "@loom/streaming/engine";
 * const stats: DriverStats = emptyStats();
 * stats.consumed += 10;
 * ```
 */
export interface DriverStats {
  /** Source records handed to the driver. */
  consumed: number;
  /** Records produced per topic (dead-letter topics included). */
  produced: Record<string, number>;
  /** Rows written per storage sink name. */
  tableRows: Record<string, number>;
  /** Error envelopes per error kind. */
  errors: Record<ErrorKind, number>;
  /** Messages deliberately discarded. */
  discarded: number;
  /** Errors without an error route (policy `log`). */
  unrouted: number;
  /** Records sent to dead-letter topics (IntoTopic DLQs and `on_unwritable: dead_letter`). */
  deadLettered: number;
  /** Error records written again as a reduced envelope (original payload omitted) after a refusal. */
  reducedErrors: number;
  /** Source records skipped by `on_unwritable: log_and_skip` (logged, committed, nothing written). */
  skipped: number;
  /** Delivery retries (produces and table writes). */
  retries: number;
  /** Batches handled. */
  batches: number;
}

/**
 * Zeroed counters.
 *
 * @example
 * ```ts
 * import { emptyStats } from "@loom/streaming/engine";
 * emptyStats().consumed; // 0
 * ```
 */
export function emptyStats(): DriverStats {
  return {
    consumed: 0,
    produced: {},
    tableRows: {},
    errors: { wire: 0, routing: 0, task: 0, business: 0 },
    discarded: 0,
    unrouted: 0,
    deadLettered: 0,
    reducedErrors: 0,
    skipped: 0,
    retries: 0,
    batches: 0,
  };
}
