/**
 * The observation port of the run loop and the driver: a few optional callbacks, each called once per
 * batch, per delivery, per commit or per group event — never once per message — so observing costs
 * nothing on the per-record paths. {@link FlowMetrics} and the lifecycle events implement it;
 * {@link combineObservers} fans one port out to several.
 *
 * @module
 */
import type { LoopState } from "../_loop.ts";
import type { RecordBatch, TopicPartition, TopicPartitionOffset } from "../_transport.ts";

/**
 * Callbacks of a running flow (every one optional; they must not throw).
 *
 * @example
 * ```ts
 * import type { FlowObserver } from "@loom/streaming/engine";
 * let consumed = 0;
 * const observer: FlowObserver = { batchHandled: (batch) => void (consumed += batch.records.length) };
 * ```
 */
export interface FlowObserver {
  /** A fetched batch is about to be processed. */
  batchStarted?(batch: RecordBatch): void;
  /** A fetched batch was processed and its outputs delivered (`error` when that failed). */
  batchHandled?(batch: RecordBatch, durationMs: number, error: unknown): void;
  /**
   * One delivery (a topic send, a dead-letter send or a table write) finished after `durationMs`
   * (retries included). `error` is null on success. `firstHeaders` are the first record's headers (trace ids);
   * `source` is the source partition of the first record (null when unknown).
   */
  delivered?(
    target: string,
    records: number,
    durationMs: number,
    error: unknown,
    firstHeaders: Readonly<Record<string, Uint8Array>> | null,
    source?: TopicPartition | null,
  ): void;
  /** The group assigned these partitions (after every join; possibly none). */
  assigned?(tps: readonly TopicPartition[]): void;
  /** These partitions were revoked (rebalance or stop). */
  revoked?(tps: readonly TopicPartition[]): void;
  /** These offsets were committed. */
  committed?(offsets: readonly TopicPartitionOffset[]): void;
  /** The loop changed state (`failure` set when it failed). */
  stateChanged?(state: LoopState, failure: unknown): void;
}

/**
 * One observer calling several (absent ones skipped); undefined when none is given.
 *
 * @example
 * ```ts
 * import { combineObservers } from "@loom/streaming/engine";
 * const seen: string[] = [];
 * const both = combineObservers({ assigned: () => void seen.push("a") }, { assigned: () => void seen.push("b") });
 * both?.assigned?.([]);
 * seen; // ["a", "b"]
 * ```
 */
export function combineObservers(...observers: (FlowObserver | undefined)[]): FlowObserver | undefined {
  const list = observers.filter((o): o is FlowObserver => o !== undefined);
  if (list.length <= 1) return list[0];
  const fan = <K extends keyof FlowObserver>(k: K) => {
    const fs = list.map((o) => o[k]?.bind(o)).filter((f) => f !== undefined) as ((...a: unknown[]) => void)[];
    return fs.length === 0 ? undefined : (...a: unknown[]) => {
      for (const f of fs) f(...a);
    };
  };
  return {
    batchStarted: fan("batchStarted"),
    batchHandled: fan("batchHandled"),
    delivered: fan("delivered"),
    assigned: fan("assigned"),
    revoked: fan("revoked"),
    committed: fan("committed"),
    stateChanged: fan("stateChanged"),
  } as FlowObserver;
}
