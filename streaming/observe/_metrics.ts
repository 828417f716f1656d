/**
 * A small metrics registry (counters, gauges, histograms with labels), runtime-agnostic and without
 * dependencies. Instruments are cheap to update: a labelled child is looked up once and then updated
 * with a plain field write. {@link MetricsRegistry.collect} takes a plain-data snapshot that can be
 * posted between threads, merged ({@link mergeMetrics}) and written as Prometheus text
 * (`toPrometheusText`).
 *
 * @module
 */

/**
 * Kind of a metric family.
 *
 * @example
 * ```ts
 * import type { MetricType } from "@loom/streaming/engine";
 * const type: MetricType = "counter";
 * ```
 */
export type MetricType = "counter" | "gauge" | "histogram";

/**
 * One sample of a counter or gauge: its label values (in the family's label order) and value.
 *
 * @example
 * ```ts
 * import type { ScalarSample } from "@loom/streaming/engine";
 * const s: ScalarSample = { labels: ["orders"], value: 42 };
 * ```
 */
export interface ScalarSample {
  /** Label values, in the order of {@link MetricFamily.labelNames}. */
  readonly labels: readonly string[];
  /** Current value. */
  readonly value: number;
}

/**
 * One sample of a histogram: per-bucket counts (not cumulative; the last slot counts values above
 * every bound), the sum and the count of observations.
 *
 * @example
 * ```ts
 * import type { HistogramSample } from "@loom/streaming/engine";
 * const s: HistogramSample = { labels: [], counts: [1, 0, 2], sum: 7.5, count: 3 };
 * ```
 */
export interface HistogramSample {
  /** Label values, in the order of {@link MetricFamily.labelNames}. */
  readonly labels: readonly string[];
  /** Observations per bucket; `counts.length === buckets.length + 1` (the last is the +Inf overflow). */
  readonly counts: readonly number[];
  /** Sum of the observed values. */
  readonly sum: number;
  /** Number of observations. */
  readonly count: number;
}

/**
 * A snapshot of one metric family (plain data: it survives `postMessage` and JSON).
 *
 * @example
 * ```ts
 * import { MetricsRegistry } from "@loom/streaming/engine";
 * const r = new MetricsRegistry();
 * r.counter("jobs_total", "Jobs done.").inc();
 * r.collect()[0].samples; // [{ labels: [], value: 1 }]
 * ```
 */
export interface MetricFamily {
  /** Metric name (`[a-zA-Z_:][a-zA-Z0-9_:]*`). */
  readonly name: string;
  /** Help text. */
  readonly help: string;
  /** Kind. */
  readonly type: MetricType;
  /** Label names. */
  readonly labelNames: readonly string[];
  /** Upper bounds of a histogram's buckets (ascending), else empty. */
  readonly buckets: readonly number[];
  /** The samples. */
  readonly samples: readonly (ScalarSample | HistogramSample)[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const SEP = "\u0000";

/**
 * A labelled counter or gauge value.
 *
 * @example
 * ```ts
 * import { MetricsRegistry } from "@loom/streaming/engine";
 * const consumed = new MetricsRegistry().counter("consumed_total", "Records.", ["topic"]);
 * consumed.labels("orders").inc(10);
 * ```
 */
export class ScalarChild {
  /** Current value. */
  value = 0;
  /**
   * Creates a child.
   *
   * @param labels label values
   * @param monotonic true for counters (negative increments are refused)
   */
  constructor(readonly labels: readonly string[], readonly monotonic: boolean) {}
  /** Adds `n` (default 1); counters refuse negative increments. */
  inc(n = 1): void {
    if (this.monotonic && n < 0) throw new RangeError("a counter cannot decrease");
    this.value += n;
  }
  /** Sets the value (gauges; counters mirroring an external monotonic total). */
  set(v: number): void {
    this.value = v;
  }
}

/**
 * A labelled histogram.
 *
 * @example
 * ```ts
 * import { MetricsRegistry } from "@loom/streaming/engine";
 * const h = new MetricsRegistry().histogram("batch_size", "Records per batch.", [], [1, 10, 100]);
 * h.labels().observe(7);
 * ```
 */
export class HistogramChild {
  /** Observations per bucket (the last slot is the overflow above every bound). */
  readonly counts: number[];
  /** Sum of observations. */
  sum = 0;
  /** Number of observations. */
  count = 0;
  /**
   * Creates a child.
   *
   * @param labels label values
   * @param bounds bucket upper bounds (ascending)
   */
  constructor(readonly labels: readonly string[], readonly bounds: readonly number[]) {
    this.counts = new Array<number>(bounds.length + 1).fill(0);
  }
  /** Records one observation. */
  observe(v: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && v > b[i]) i++;
    this.counts[i]++;
    this.sum += v;
    this.count++;
  }
}

/**
 * The common part of every metric family: its name, help, label names and labelled children.
 *
 * @example
 * ```ts
 * import { type MetricFamilyBase, MetricsRegistry, type ScalarChild } from "@loom/streaming/engine";
 * const family: MetricFamilyBase<ScalarChild> = new MetricsRegistry().counter("n_total", "N.");
 * family.name; // "n_total"
 * ```
 */
export abstract class MetricFamilyBase<C extends ScalarChild | HistogramChild> {
  readonly #children = new Map<string, C>();
  /**
   * Creates a family.
   *
   * @param name metric name
   * @param help help text
   * @param type kind
   * @param labelNames label names
   */
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: MetricType,
    readonly labelNames: readonly string[],
  ) {
    if (!NAME.test(name)) throw new Error(`invalid metric name '${name}'`);
    for (const l of labelNames) {
      if (!LABEL.test(l) || l.startsWith("__")) throw new Error(`invalid label name '${l}' of ${name}`);
    }
  }
  /** Creates the child of these label values. */
  protected abstract make(labels: readonly string[]): C;
  /** The child of these label values (created on first use; look it up once and keep it on hot paths). */
  labels(...values: string[]): C {
    if (values.length !== this.labelNames.length) {
      throw new Error(`${this.name} takes ${this.labelNames.length} label value(s), got ${values.length}`);
    }
    const key = values.join(SEP);
    let c = this.#children.get(key);
    if (!c) this.#children.set(key, c = this.make(values));
    return c;
  }
  /** Removes the child of these label values (a partition that was revoked, say). */
  remove(...values: string[]): void {
    this.#children.delete(values.join(SEP));
  }
  /** Removes every child. */
  clear(): void {
    this.#children.clear();
  }
  /** The children. */
  children(): IterableIterator<C> {
    return this.#children.values();
  }
}

/**
 * A monotonic counter family.
 *
 * @example
 * ```ts
 * import { MetricsRegistry } from "@loom/streaming/engine";
 * const c = new MetricsRegistry().counter("errors_total", "Errors.", ["kind"]);
 * c.labels("task").inc();
 * ```
 */
export class Counter extends MetricFamilyBase<ScalarChild> {
  /** Adds `n` to the unlabelled child. */
  inc(n = 1): void {
    this.labels().inc(n);
  }
  /** A counter child. */
  protected make(labels: readonly string[]): ScalarChild {
    return new ScalarChild(labels, true);
  }
}

/**
 * A gauge family (a value that goes up and down).
 *
 * @example
 * ```ts
 * import { MetricsRegistry } from "@loom/streaming/engine";
 * const g = new MetricsRegistry().gauge("in_flight", "Messages in flight.");
 * g.set(12);
 * ```
 */
export class Gauge extends MetricFamilyBase<ScalarChild> {
  /** Sets the unlabelled child. */
  set(v: number): void {
    this.labels().set(v);
  }
  /** A gauge child. */
  protected make(labels: readonly string[]): ScalarChild {
    return new ScalarChild(labels, false);
  }
}

/**
 * A histogram family with fixed bucket bounds.
 *
 * @example
 * ```ts
 * import { MetricsRegistry } from "@loom/streaming/engine";
 * const h = new MetricsRegistry().histogram("duration_seconds", "Durations.", [], [0.01, 0.1, 1]);
 * h.observe(0.05);
 * ```
 */
export class Histogram extends MetricFamilyBase<HistogramChild> {
  /** Bucket upper bounds. */
  readonly buckets: readonly number[];
  /**
   * Creates a histogram family.
   *
   * @param name metric name
   * @param help help text
   * @param labelNames label names
   * @param buckets ascending bucket upper bounds
   */
  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]) {
    super(name, help, "histogram", labelNames);
    for (let i = 1; i < buckets.length; i++) {
      if (!(buckets[i] > buckets[i - 1])) throw new Error(`buckets of ${name} must be ascending`);
    }
    if (buckets.some((b) => !Number.isFinite(b))) throw new Error(`buckets of ${name} must be finite`);
    this.buckets = [...buckets];
  }
  /** Observes a value on the unlabelled child. */
  observe(v: number): void {
    this.labels().observe(v);
  }
  /** A histogram child. */
  protected make(labels: readonly string[]): HistogramChild {
    return new HistogramChild(labels, this.buckets);
  }
}

/**
 * Default buckets of duration histograms, in seconds (1 ms … 10 s).
 *
 * @example
 * ```ts
 * import { DURATION_BUCKETS } from "@loom/streaming/engine";
 * DURATION_BUCKETS[0]; // 0.001
 * ```
 */
export const DURATION_BUCKETS: readonly number[] = Object.freeze([
  0.001,
  0.0025,
  0.005,
  0.01,
  0.025,
  0.05,
  0.1,
  0.25,
  0.5,
  1,
  2.5,
  5,
  10,
]);

/**
 * Holds metric families by name; `collect()` snapshots them (after running the registered collectors,
 * which refresh values mirrored from elsewhere).
 *
 * @example
 * ```ts
 * import { MetricsRegistry, toPrometheusText } from "@loom/streaming/engine";
 * const registry = new MetricsRegistry();
 * const consumed = registry.counter("loom_records_consumed_total", "Records consumed.", ["topic"]);
 * consumed.labels("orders").inc(3);
 * toPrometheusText(registry.collect()).includes('loom_records_consumed_total{topic="orders"} 3'); // true
 * ```
 */
export class MetricsRegistry {
  readonly #families = new Map<string, MetricFamilyBase<ScalarChild | HistogramChild>>();
  readonly #collectors: (() => void)[] = [];

  /** A counter family (the same instance when the name is registered again with the same shape). */
  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.#register(name, "counter", labelNames, () => new Counter(name, help, "counter", labelNames));
  }

  /** A gauge family. */
  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.#register(name, "gauge", labelNames, () => new Gauge(name, help, "gauge", labelNames));
  }

  /** A histogram family (default buckets: {@link DURATION_BUCKETS}). */
  histogram(
    name: string,
    help: string,
    labelNames: readonly string[] = [],
    buckets: readonly number[] = DURATION_BUCKETS,
  ): Histogram {
    return this.#register(
      name,
      "histogram",
      labelNames,
      () => new Histogram(name, help, labelNames, buckets),
    );
  }

  /** Registers a function run before each snapshot (to refresh mirrored values). */
  addCollector(fn: () => void): void {
    this.#collectors.push(fn);
  }

  /** Snapshot of every family, in registration order (families without samples are kept). */
  collect(): MetricFamily[] {
    for (const c of this.#collectors) c();
    const out: MetricFamily[] = [];
    for (const f of this.#families.values()) {
      const samples: (ScalarSample | HistogramSample)[] = [];
      for (const c of f.children()) {
        samples.push(
          c instanceof HistogramChild
            ? { labels: c.labels, counts: [...c.counts], sum: c.sum, count: c.count }
            : { labels: c.labels, value: c.value },
        );
      }
      out.push({
        name: f.name,
        help: f.help,
        type: f.type,
        labelNames: f.labelNames,
        buckets: f instanceof Histogram ? f.buckets : [],
        samples,
      });
    }
    return out;
  }

  #register<F extends MetricFamilyBase<ScalarChild | HistogramChild>>(
    name: string,
    type: MetricType,
    labelNames: readonly string[],
    make: () => F,
  ): F {
    const existing = this.#families.get(name);
    if (existing) {
      if (existing.type !== type || existing.labelNames.join(",") !== labelNames.join(",")) {
        throw new Error(`metric ${name} is already registered as a ${existing.type} with other labels`);
      }
      return existing as F;
    }
    const f = make();
    this.#families.set(name, f);
    return f;
  }
}

/**
 * Merges snapshots (of several workers): samples with the same name and label values are added up —
 * counters, histograms, and gauges too (the gauges recorded here are additive: in-flight messages,
 * assigned partitions; per-partition gauges are owned by one worker at a time).
 *
 * @example
 * ```ts
 * import { mergeMetrics, MetricsRegistry } from "@loom/streaming/engine";
 * const a = new MetricsRegistry(), b = new MetricsRegistry();
 * a.counter("n_total", "N.").inc(2);
 * b.counter("n_total", "N.").inc(3);
 * const [n] = mergeMetrics([a.collect(), b.collect()]);
 * n.samples[0]; // { labels: [], value: 5 }
 * ```
 */
export function mergeMetrics(snapshots: readonly (readonly MetricFamily[])[]): MetricFamily[] {
  const families = new Map<
    string,
    { f: MetricFamily; samples: Map<string, ScalarSample | HistogramSample> }
  >();
  for (const snap of snapshots) {
    for (const f of snap) {
      let acc = families.get(f.name);
      if (!acc) families.set(f.name, acc = { f, samples: new Map() });
      else if (acc.f.type !== f.type) continue; // conflicting shapes: first wins
      for (const s of f.samples) {
        const key = s.labels.join(SEP);
        const prev = acc.samples.get(key);
        if (!prev) acc.samples.set(key, s);
        else if ("counts" in s && "counts" in prev) {
          acc.samples.set(key, {
            labels: s.labels,
            counts: prev.counts.map((c, i) => c + (s.counts[i] ?? 0)),
            sum: prev.sum + s.sum,
            count: prev.count + s.count,
          });
        } else if ("value" in s && "value" in prev) {
          acc.samples.set(key, { labels: s.labels, value: prev.value + s.value });
        }
      }
    }
  }
  return [...families.values()].map(({ f, samples }) => ({ ...f, samples: [...samples.values()] }));
}
