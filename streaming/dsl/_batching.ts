/**
 * DSL shape adapters: CollectBatch (records → batches) and ForEach (batches → records).
 *
 * @module
 */
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
      throw new Error("CollectBatch.max_records must be greater than zero.");
    }
    if (!(options.timeoutMs > 0)) throw new Error("CollectBatch.timeout_ms must be greater than zero.");
    const window = options.window ?? "collect";
    if (options.eventTime && window === "collect") {
      throw new Error("event_time=True requires a windowing strategy other than COLLECT.");
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
