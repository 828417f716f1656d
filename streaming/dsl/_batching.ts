/**
 * DSL shape adapters: CollectBatch (records → batches) and ForEach (batches → records).
 *
 * @module
 */
import { recordProblem, shown } from "./_problems.ts";

/**
 * Windowing strategy of {@link CollectBatch}. Only `collect` is implemented.
 *
 * @example
 * ```ts
 * import { CollectBatch, WindowStrategy } from "@loom/streaming";
 * new CollectBatch({ maxRecords: 100, timeoutMs: 500, window: WindowStrategy.COLLECT });
 * ```
 */
export const WindowStrategy = { COLLECT: "collect", TUMBLING: "tumbling", SESSION: "session" } as const;
/**
 * One of `"collect" | "tumbling" | "session"`.
 *
 * @example
 * ```ts
 * import type { WindowStrategy } from "@loom/streaming";
 * const window: WindowStrategy = "collect";
 * ```
 */
export type WindowStrategy = typeof WindowStrategy[keyof typeof WindowStrategy];

/**
 * record → batch: groups records per partition (else per key) and emits a batch when `maxRecords`
 * arrived, after `timeoutMs` without a new record, or at end of input / shutdown.
 *
 * @example
 * ```ts
 * import { CollectBatch } from "@loom/streaming";
 * const batch = new CollectBatch({ maxRecords: 100, timeoutMs: 500 });
 * ```
 */
export class CollectBatch {
  /** Marker. */
  readonly kind = "collect_batch" as const;
  /** Records per batch (> 0). */
  readonly maxRecords: number;
  /** Time in ms without a new record after which a partial batch is emitted. */
  readonly timeoutMs: number;
  /** Windowing strategy (only `collect` is implemented). */
  readonly window: WindowStrategy;
  /** Window by event time instead of arrival (needs a strategy other than `collect`). */
  readonly eventTime: boolean;
  /**
   * Creates a {@link CollectBatch}.
   *
   * @param options maxRecords > 0, timeoutMs > 0, window (collect), eventTime
   */
  constructor(
    options: { maxRecords: number; timeoutMs: number; window?: WindowStrategy; eventTime?: boolean },
  ) {
    if (!(options.maxRecords > 0) || !Number.isInteger(options.maxRecords)) {
      recordProblem(
        this,
        `CollectBatch.maxRecords must be an integer greater than zero, got ${shown(options.maxRecords)}`,
      );
    }
    if (!(options.timeoutMs > 0)) {
      recordProblem(
        this,
        `CollectBatch.timeoutMs must be greater than zero, got ${shown(options.timeoutMs)}`,
      );
    }
    const window = options.window ?? "collect";
    if (options.eventTime && window === "collect") {
      recordProblem(
        this,
        'CollectBatch.eventTime: true requires a window other than "collect"; remove eventTime or set window',
      );
    }
    this.maxRecords = options.maxRecords;
    this.timeoutMs = options.timeoutMs;
    this.window = window;
    this.eventTime = options.eventTime ?? false;
    Object.freeze(this);
  }
}

/**
 * batch → record: flattens batches back into records.
 * (QUIRK fixed: the original required a `many` input that no node produces, so it was unusable.)
 *
 * @example
 * ```ts
 * import { ForEach } from "@loom/streaming";
 * const flatten = new ForEach();
 * ```
 */
export class ForEach {
  /** Marker. */
  readonly kind = "for_each" as const;
}
