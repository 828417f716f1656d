/**
 * `streaming.runtime.heap_limit_mb`: a soft limit on the JavaScript heap of this isolate (the process, or
 * one Web Worker), in the spirit of Go's GOMEMLIMIT. Deno and Bun size their heaps from the machine's RAM
 * and let them grow to several times the live set before collecting: a flow with a 31 MB live heap
 * (10,000 records in flight) peaked at 409 MB RSS on a 24 GB machine. Launch flags bound that
 * (`deno task run:lean`), but a library cannot set them for its users; this limit works with any launch.
 *
 * How: every {@link HEAP_CHECK_INTERVAL_MS} the heap in use is read (about 1 µs); above the
 * limit, a full collection runs, so garbage never piles up far beyond it. Two rules keep it from costing a
 * flow whose live set is larger than the limit:
 * - it collects only when the heap has grown by a quarter beyond what the last collection left live;
 * - forced collections take at most {@link MAX_GC_SHARE} of the time: after one that took `d` ms, the next
 *   waits at least `d / MAX_GC_SHARE` ms.
 * The runtime's own collector still runs as before; this one only adds collections.
 *
 * One limit per isolate: every runner that acquires it shares one timer, at the lowest limit asked for.
 * It trades throughput for memory, so it is off unless configured. Measured on a 2-core VM (README,
 * Benchmarks): on Bun, 48 MB took a 1M-record backlog drain (async steps) from 367–370 MB to 218–241 MB peak
 * RSS at 0–4 % of its rate, but cost a CPU-bound Kafka pipe about 7 % of its rate (median of 12 runs, 6–8
 * forced collections per 200,000 records); on Deno a forced full collection blocks for 70–95 ms,
 * so at 64 MB the drain peaked at 313–318 MB (from 404–496) at 12–15 % of its rate. The lean launch flags
 * (`deno task run:lean`, `bun run run:lean`) bound memory better where they can be set.
 *
 * @module
 */
import v8 from "node:v8";
import vm from "node:vm";
import type { Logger } from "../streaming/_logger.ts";

/** How often the heap in use is read, in ms. */
export const HEAP_CHECK_INTERVAL_MS = 25;
/** The largest share of the time that forced collections may take. */
export const MAX_GC_SHARE = 0.1;
/** Collect only once the heap is this many times what the last collection left live. */
const REGROWTH = 1.25;
const MB = 1024 * 1024;

/**
 * What the limit needs from the runtime: the heap in use, in bytes, and a full collection.
 *
 * @example
 * ```ts
 * import { type HeapCollector, runtimeHeapCollector } from "./_heap_limit.ts";
 * const collector: HeapCollector | null = runtimeHeapCollector();
 * collector?.collect();
 * ```
 */
export interface HeapCollector {
  /** Bytes of the JavaScript heap in use. */
  readonly used: () => number;
  /** Runs a full, synchronous collection. */
  readonly collect: () => void;
}

let cached: HeapCollector | null | undefined;

/**
 * This runtime's {@link HeapCollector}, or null when it has no way to collect on demand.
 * - Bun: `Bun.gc(true)`; the heap in use from `bun:jsc`'s `heapSize()` (`v8.getHeapStatistics` costs 5 ms there).
 * - V8 (Deno, Node): `gc` exists only under `--expose-gc` (a global `gc` from that launch flag is used as
 *   is); otherwise the flag is turned on just long enough to create one new context holding `gc`, and off
 *   again, so that no later context gets a global `gc`.
 *
 * @returns the collector, or null
 * @example
 * ```ts
 * import { runtimeHeapCollector } from "./_heap_limit.ts";
 * const c = runtimeHeapCollector();
 * if (c !== null) console.log(Math.round(c.used() / 1e6), "MB in use");
 * ```
 */
export function runtimeHeapCollector(): HeapCollector | null {
  if (cached !== undefined) return cached;
  const bun = (globalThis as { Bun?: { gc?: (force: boolean) => void } }).Bun;
  if (bun !== undefined) {
    // bun:jsc's heapSize() is the heap in use now (1 µs); process.memoryUsage().heapUsed stopped following
    // allocations in a `bun test` process that had run KafkaFlowRunner tests (runtime/_heap_limit_test.ts)
    const require = (import.meta as unknown as { require?: (id: string) => unknown }).require;
    const jsc = require?.("bun:jsc") as { heapSize?: () => number } | undefined;
    cached = typeof bun.gc === "function" && typeof jsc?.heapSize === "function"
      ? { used: jsc.heapSize, collect: () => bun.gc!(true) }
      : null;
    return cached;
  }
  // launched with --expose-gc: use it, and leave the flag as the user set it
  const own = (globalThis as { gc?: unknown }).gc;
  if (typeof own === "function") {
    cached = { used: () => v8.getHeapStatistics().used_heap_size, collect: own as () => void };
    return cached;
  }
  let gc: unknown = null;
  try {
    v8.setFlagsFromString("--expose-gc");
    gc = vm.runInNewContext("typeof gc === 'function' ? gc : null");
  } catch {
    gc = null;
  } finally {
    try {
      v8.setFlagsFromString("--no-expose-gc");
    } catch { /* the flag was never set */ }
  }
  cached = typeof gc === "function"
    ? { used: () => v8.getHeapStatistics().used_heap_size, collect: gc as () => void }
    : null;
  return cached;
}

/**
 * The decisions of the soft heap limit, on injected time and collector (the timer is {@link acquireHeapLimit}).
 *
 * @example
 * ```ts
 * import { SoftHeapLimit } from "./_heap_limit.ts";
 * let used = 200e6;
 * const limit = new SoftHeapLimit(64e6, { used: () => used, collect: () => void (used = 30e6) });
 * limit.check(0); // true: 200 MB in use, above the limit
 * limit.collections; // 1
 * ```
 */
export class SoftHeapLimit {
  /** Forced collections so far. */
  collections = 0;
  /** Time the forced collections took, in ms. */
  collectMs = 0;
  /** Heap in use after the last forced collection, in bytes (0 before the first). */
  live = 0;
  #limit: number;
  #notBefore = -Infinity;
  readonly #collector: HeapCollector;
  readonly #now: () => number;

  /**
   * Creates a {@link SoftHeapLimit}.
   *
   * @param limitBytes the limit, in bytes
   * @param collector the runtime's heap access
   * @param now a monotonic clock in ms (the collection's own duration is measured with it)
   */
  constructor(limitBytes: number, collector: HeapCollector, now: () => number = () => performance.now()) {
    this.#limit = limitBytes;
    this.#collector = collector;
    this.#now = now;
  }

  /** The limit, in bytes. */
  get limit(): number {
    return this.#limit;
  }

  set limit(bytes: number) {
    this.#limit = bytes;
  }

  /**
   * Collects when the heap in use is above the limit, has grown by a quarter beyond the last collection's
   * live heap, and the time share allows it.
   *
   * @param at the time of the check, in ms (the clock of the constructor)
   * @returns true when it collected
   */
  check(at: number): boolean {
    if (at < this.#notBefore) return false;
    const used = this.#collector.used();
    if (used <= this.#limit || used <= this.live * REGROWTH) return false;
    const t0 = this.#now();
    this.#collector.collect();
    const took = Math.max(0, this.#now() - t0);
    this.collections++;
    this.collectMs += took;
    this.live = this.#collector.used();
    this.#notBefore = at + took / MAX_GC_SHARE;
    return true;
  }
}

interface Shared {
  readonly limit: SoftHeapLimit;
  readonly holders: Map<symbol, number>;
  readonly timer: ReturnType<typeof setInterval>;
  warned: boolean;
}

let shared: Shared | null = null;
let unavailableLogged = false;

/**
 * Starts (or joins) this isolate's soft heap limit at `limitMb` (the lowest limit of all holders applies)
 * and returns the function that leaves it; the timer stops when the last holder left. Without a way to
 * collect on demand (see {@link runtimeHeapCollector}) it logs `heap_limit_unavailable` once and does nothing.
 * When even a forced collection leaves more than the limit live, it logs `heap_limit_below_live_set` once
 * (to the logger of the holder that started the limit).
 *
 * @param limitMb the limit in MiB (> 0)
 * @param log where the two notices go
 * @returns leaves the limit (idempotent)
 * @example
 * ```ts
 * import { acquireHeapLimit } from "./_heap_limit.ts";
 * const release = acquireHeapLimit(64, { info() {}, warn() {}, error() {} });
 * // ... run flows
 * release();
 * ```
 */
export function acquireHeapLimit(limitMb: number, log: Logger): () => void {
  const collector = runtimeHeapCollector();
  if (collector === null) {
    if (unavailableLogged) return () => {};
    unavailableLogged = true;
    log.info("heap_limit_unavailable", {
      reason: "this runtime cannot collect garbage on demand; streaming.runtime.heap_limit_mb has no effect",
    });
    return () => {};
  }
  const id = Symbol("heap-limit-holder");
  if (shared === null) {
    const limit = new SoftHeapLimit(limitMb * MB, collector);
    const s: Shared = {
      limit,
      holders: new Map(),
      warned: false,
      timer: setInterval(() => {
        if (!limit.check(performance.now()) || s.warned || limit.live <= limit.limit) return;
        s.warned = true;
        log.warn("heap_limit_below_live_set", {
          live_mb: Math.round(limit.live / MB),
          heap_limit_mb: Math.round(limit.limit / MB),
          hint: "the live heap alone is above streaming.runtime.heap_limit_mb: raise it, or lower " +
            `streaming.runtime.max_in_flight (collections are spaced so they take at most ${
              MAX_GC_SHARE * 100
            } % of the time)`,
        });
      }, HEAP_CHECK_INTERVAL_MS),
    };
    // never keeps the process alive by itself
    (s.timer as { unref?: () => void }).unref?.();
    shared = s;
  }
  const s = shared;
  s.holders.set(id, limitMb * MB);
  s.limit.limit = Math.min(...s.holders.values());
  return () => {
    if (!s.holders.delete(id)) return;
    if (s.holders.size > 0) {
      s.limit.limit = Math.min(...s.holders.values());
      return;
    }
    clearInterval(s.timer);
    if (shared === s) shared = null;
  };
}

/**
 * The state of this isolate's soft heap limit, or null when none runs (metrics, tests).
 *
 * @returns limit, forced collections, their time and the last live heap
 * @example
 * ```ts
 * import { heapLimitStats } from "@loom/streaming/runtime";
 * heapLimitStats()?.collections;
 * ```
 */
export function heapLimitStats(): {
  readonly limitBytes: number;
  readonly collections: number;
  readonly collectMs: number;
  readonly liveBytes: number;
} | null {
  if (shared === null) return null;
  const l = shared.limit;
  return { limitBytes: l.limit, collections: l.collections, collectMs: l.collectMs, liveBytes: l.live };
}
