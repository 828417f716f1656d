/**
 * `FlowMetrics`: the standard instruments of a running flow in a {@link MetricsRegistry}, fed by the run
 * loop's observation port (once per batch, delivery, commit or group event) and by the driver's
 * counters (read when a snapshot is taken, so the per-record paths do no extra work).
 *
 * @module
 */
import type { DriverStats } from "../_stats.ts";
import type { LoopState } from "../_loop.ts";
import type { RecordBatch, TopicPartition, TopicPartitionOffset } from "../_transport.ts";
import {
  type Counter,
  DURATION_BUCKETS,
  type Gauge,
  type Histogram,
  type HistogramChild,
  MetricsRegistry,
  type ScalarChild,
} from "./_metrics.ts";
import type { NodeTimer } from "./_node_timing.ts";
import type { FlowObserver } from "./_observer.ts";

/**
 * What {@link FlowMetrics} reads at snapshot time.
 *
 * @example
 * ```ts ignore
 * const source: FlowStatsSource = { stats: runner.driver.stats, inFlight: () => runner.driver.inFlight };
 * ```
 */
export interface FlowStatsSource {
  /** The driver's counters. */
  readonly stats: DriverStats;
  /** Messages fetched and not yet settled. */
  inFlight(): number;
}

/** Batch-size buckets (records per fetched batch). */
const BATCH_BUCKETS = [1, 5, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000];

const LOOP_STATES: readonly LoopState[] = ["new", "starting", "running", "stopping", "stopped", "failed"];

/**
 * Per-partition offsets of a flow (what the admin page shows as lag).
 *
 * @example
 * ```ts
 * import type { PartitionStatus } from "@loom/streaming/engine";
 * const p: PartitionStatus = { topic: "orders", partition: 0, committed: 90, end: 100, lag: 10 };
 * ```
 */
export interface PartitionStatus {
  /** Topic. */
  readonly topic: string;
  /** Partition. */
  readonly partition: number;
  /**
   * Last committed offset (next offset to read) — when the group committed nothing yet, where it starts
   * reading, as read from the cluster — or null while unknown.
   */
  readonly committed: number | null;
  /** End offset (high watermark) as last seen in a fetched batch or read from the cluster, or null while unknown. */
  readonly end: number | null;
  /** `end - committed` when both are known. */
  readonly lag: number | null;
}

/**
 * The instruments of one flow, and a {@link FlowObserver} that feeds them.
 *
 * Metrics (label `flow` on every one): `loom_records_consumed_total{topic}`,
 * `loom_records_produced_total{topic}` (dead-letter topics included), `loom_errors_total{kind}`,
 * `loom_dead_lettered_total`, `loom_delivery_retries_total`, `loom_delivery_failures_total{target}`,
 * `loom_discarded_total`, `loom_unrouted_errors_total`, `loom_table_rows_written_total{sink}`,
 * `loom_batches_total`, `loom_batch_size` and `loom_batch_duration_seconds` (histograms),
 * `loom_delivery_duration_seconds{target}` (histogram), `loom_in_flight_messages`,
 * `loom_assigned_partitions`, `loom_committed_offset{topic,partition}`, `loom_end_offset{topic,partition}`,
 * `loom_consumer_lag{topic,partition}`, `loom_rebalances_total`, `loom_commits_total`,
 * `loom_flow_state{state}` (1 for the current state).
 *
 * @example
 * ```ts
 * import { emptyStats, FlowMetrics, toPrometheusText } from "@loom/streaming/engine";
 * const stats = emptyStats();
 * const metrics = new FlowMetrics("orders", { stats, inFlight: () => 0 });
 * metrics.batchHandled({ topic: "orders", partition: 0, records: [] }, 1.5, null);
 * toPrometheusText(metrics.registry.collect()).includes("loom_batches_total"); // true
 * ```
 */
export class FlowMetrics implements FlowObserver {
  /** The registry holding the instruments. */
  readonly registry: MetricsRegistry;
  readonly #flow: string;
  readonly #consumed: Counter;
  readonly #batchSize: Histogram;
  readonly #batchDuration: Histogram;
  readonly #deliveryDuration: Histogram;
  readonly #deliveryFailures: Counter;
  readonly #committed: Gauge;
  readonly #end: Gauge;
  readonly #lag: Gauge;
  readonly #rebalances: Counter;
  readonly #commits: Counter;
  readonly #assignedGauge: Gauge;
  readonly #state: Gauge;
  readonly #nodeDuration: Histogram;
  readonly #nodeErrors: Counter;
  readonly #offsets = new Map<string, { tp: TopicPartition; committed: number | null; end: number | null }>();
  #revokedOffsets = new Map<string, { tp: TopicPartition; committed: number | null; end: number | null }>();
  #assigned: readonly TopicPartition[] = [];
  #loopState: LoopState = "new";

  /**
   * Creates the instruments in `registry` (default: a new one).
   *
   * @param flow flow name (the `flow` label)
   * @param source driver counters read at snapshot time
   * @param registry registry to add the instruments to
   */
  constructor(flow: string, source: FlowStatsSource, registry: MetricsRegistry = new MetricsRegistry()) {
    this.registry = registry;
    this.#flow = flow;
    const r = registry;
    this.#consumed = r.counter("loom_records_consumed_total", "Source records consumed.", ["flow", "topic"]);
    const produced = r.counter(
      "loom_records_produced_total",
      "Records produced (dead-letter topics included).",
      [
        "flow",
        "topic",
      ],
    );
    const errors = r.counter("loom_errors_total", "Error envelopes by error kind.", ["flow", "kind"]);
    const dlq = r.counter("loom_dead_lettered_total", "Records written to dead-letter topics.", ["flow"]);
    const retries = r.counter("loom_delivery_retries_total", "Delivery retries (produces and writes).", [
      "flow",
    ]);
    this.#deliveryFailures = r.counter(
      "loom_delivery_failures_total",
      "Delivery attempts that failed for good.",
      [
        "flow",
        "target",
      ],
    );
    const discarded = r.counter("loom_discarded_total", "Messages deliberately discarded.", ["flow"]);
    const unrouted = r.counter("loom_unrouted_errors_total", "Errors without an error route (logged).", [
      "flow",
    ]);
    const rows = r.counter("loom_table_rows_written_total", "Rows written per storage sink.", [
      "flow",
      "sink",
    ]);
    const batches = r.counter("loom_batches_total", "Fetched batches handled.", ["flow"]);
    this.#batchSize = r.histogram("loom_batch_size", "Records per fetched batch.", ["flow"], BATCH_BUCKETS);
    this.#batchDuration = r.histogram(
      "loom_batch_duration_seconds",
      "Time to process a fetched batch and deliver its outputs.",
      ["flow"],
      DURATION_BUCKETS,
    );
    this.#deliveryDuration = r.histogram(
      "loom_delivery_duration_seconds",
      "Time of one delivery (topic send, dead-letter send, table write), retries included.",
      ["flow", "target"],
      DURATION_BUCKETS,
    );
    const inFlight = r.gauge("loom_in_flight_messages", "Messages fetched and not yet settled.", ["flow"]);
    this.#assignedGauge = r.gauge("loom_assigned_partitions", "Partitions assigned to this consumer.", [
      "flow",
    ]);
    this.#committed = r.gauge(
      "loom_committed_offset",
      "Last committed offset (next to read; where the group starts when it has committed nothing).",
      [
        "flow",
        "topic",
        "partition",
      ],
    );
    this.#end = r.gauge("loom_end_offset", "End offset (high watermark) last seen by the consumer or read.", [
      "flow",
      "topic",
      "partition",
    ]);
    this.#lag = r.gauge("loom_consumer_lag", "End offset minus committed offset.", [
      "flow",
      "topic",
      "partition",
    ]);
    this.#rebalances = r.counter("loom_rebalances_total", "Group assignments received (joins).", ["flow"]);
    this.#commits = r.counter("loom_commits_total", "Successful offset commits.", ["flow"]);
    this.#state = r.gauge("loom_flow_state", "1 for the current state of the run loop.", ["flow", "state"]);
    this.#nodeDuration = r.histogram(
      "loom_node_duration_seconds",
      "Duration of one step invocation (a record for record steps, a batch for batch steps).",
      ["flow", "node", "path"],
      DURATION_BUCKETS,
    );
    this.#nodeErrors = r.counter("loom_node_errors_total", "Step invocations that threw or rejected.", [
      "flow",
      "node",
      "path",
    ]);
    const f = flow;
    const inFlightChild = inFlight.labels(f);
    r.addCollector(() => {
      const s = source.stats;
      for (const [topic, n] of Object.entries(s.produced)) produced.labels(f, topic).set(n);
      for (const [kind, n] of Object.entries(s.errors)) errors.labels(f, kind).set(n);
      for (const [sink, n] of Object.entries(s.tableRows)) rows.labels(f, sink).set(n);
      dlq.labels(f).set(s.deadLettered);
      retries.labels(f).set(s.retries);
      discarded.labels(f).set(s.discarded);
      unrouted.labels(f).set(s.unrouted);
      batches.labels(f).set(s.batches);
      inFlightChild.set(source.inFlight());
      this.#assignedGauge.labels(f).set(this.#assigned.length);
      for (const st of LOOP_STATES) this.#state.labels(f, st).set(st === this.#loopState ? 1 : 0);
    });
  }

  /**
   * A {@link NodeTimer} feeding `loom_node_duration_seconds{node,path}` and `loom_node_errors_total` (for
   * `instrumentPlan`); the labelled children are looked up once per node.
   */
  nodeTimer(): NodeTimer {
    const children = new Map<string, { h: HistogramChild; e: ScalarChild | null }>();
    const flow = this.#flow;
    return (path, name, ms, error) => {
      let c = children.get(path);
      if (c === undefined) {
        children.set(path, c = { h: this.#nodeDuration.labels(flow, name, path), e: null });
      }
      c.h.observe(ms / 1000);
      if (error !== null) (c.e ??= this.#nodeErrors.labels(flow, name, path)).inc();
    };
  }

  /** Per-partition committed and end offsets, and the lag, of the assigned partitions. */
  partitions(): PartitionStatus[] {
    return [...this.#offsets.values()].map(({ tp, committed, end }) => ({
      topic: tp.topic,
      partition: tp.partition,
      committed,
      end,
      lag: committed !== null && end !== null ? Math.max(0, end - committed) : null,
    }));
  }

  /** Current state of the loop. */
  get state(): LoopState {
    return this.#loopState;
  }

  /** The partitions last assigned. */
  get assignment(): readonly TopicPartition[] {
    return this.#assigned;
  }

  /** Counts the batch's records per topic, observes its size and duration, notes the end offset. */
  batchHandled(batch: RecordBatch, durationMs: number, _error: unknown): void {
    const n = batch.records.length;
    this.#consumed.labels(this.#flow, batch.topic).inc(n);
    this.#batchSize.labels(this.#flow).observe(n);
    this.#batchDuration.labels(this.#flow).observe(durationMs / 1000);
    const hw = batch.highWatermark;
    if (hw !== undefined) this.#setOffsets(batch, null, hw);
  }

  /** Observes a delivery's duration; counts it when it failed for good. */
  delivered(target: string, _records: number, durationMs: number, error: unknown, _headers?: unknown): void {
    this.#deliveryDuration.labels(this.#flow, target).observe(durationMs / 1000);
    if (error) this.#deliveryFailures.labels(this.#flow, target).inc();
  }

  /** Counts a group assignment and remembers the partitions. */
  assigned(tps: readonly TopicPartition[]): void {
    this.#rebalances.labels(this.#flow).inc();
    this.#assigned = tps;
    // a partition that comes straight back (eager rebalances revoke everything) keeps its offsets
    const back = this.#revokedOffsets;
    this.#revokedOffsets = new Map();
    const keep = new Set(tps.map((tp) => `${tp.topic}[${tp.partition}]`));
    const stale = [...this.#offsets.values()].filter((e) => !keep.has(`${e.tp.topic}[${e.tp.partition}]`));
    if (stale.length) this.revoked(stale.map((e) => e.tp));
    this.#revokedOffsets.clear();
    this.#assigned = tps;
    for (const tp of tps) {
      this.#entry(tp);
      const prev = back.get(`${tp.topic}[${tp.partition}]`);
      if (prev) this.#setOffsets(tp, prev.committed, prev.end);
    }
  }

  /** Drops the revoked partitions' offset gauges (kept aside until the next assignment). */
  revoked(tps: readonly TopicPartition[]): void {
    for (const tp of tps) {
      const p = String(tp.partition);
      const key = `${tp.topic}[${p}]`;
      const e = this.#offsets.get(key);
      if (e) this.#revokedOffsets.set(key, e);
      this.#offsets.delete(key);
      this.#committed.remove(this.#flow, tp.topic, p);
      this.#end.remove(this.#flow, tp.topic, p);
      this.#lag.remove(this.#flow, tp.topic, p);
    }
    this.#assigned = [];
  }

  /** Counts a commit and updates the committed offset and lag gauges. */
  committed(offsets: readonly TopicPartitionOffset[]): void {
    this.#commits.labels(this.#flow).inc();
    for (const o of offsets) this.#setOffsets(o, o.offset, null);
  }

  /**
   * Offsets read from the cluster for assigned partitions (the runtime reads them periodically, so a
   * partition that never delivered a batch — idle, or caught up at start — also shows its offsets and lag).
   * `committed` is the group's committed offset, or where the group starts reading when it has committed
   * nothing; it only fills a partition whose committed offset this consumer has not set itself (its own
   * commits are newer). Partitions no longer assigned are ignored.
   *
   * @param offsets one entry per partition (null: unknown)
   */
  offsetsRead(
    offsets: readonly { topic: string; partition: number; committed: number | null; end: number | null }[],
  ): void {
    const assigned = new Set(this.#assigned.map((t) => `${t.topic}[${t.partition}]`));
    for (const o of offsets) {
      const key = `${o.topic}[${o.partition}]`;
      if (!assigned.has(key)) continue;
      const known = this.#offsets.get(key)?.committed ?? null;
      this.#setOffsets(o, known === null ? o.committed : null, o.end);
    }
  }

  /** Remembers the loop state (`loom_flow_state`). */
  stateChanged(state: LoopState): void {
    this.#loopState = state;
  }

  #entry(tp: TopicPartition) {
    const key = `${tp.topic}[${tp.partition}]`;
    let e = this.#offsets.get(key);
    if (!e) {
      this.#offsets.set(
        key,
        e = { tp: { topic: tp.topic, partition: tp.partition }, committed: null, end: null },
      );
    }
    return e;
  }

  #setOffsets(tp: TopicPartition, committed: number | null, end: number | null): void {
    const e = this.#entry(tp);
    const p = String(tp.partition);
    if (committed !== null) {
      e.committed = committed;
      this.#committed.labels(this.#flow, tp.topic, p).set(committed);
    }
    if (end !== null) {
      e.end = Math.max(end, e.end ?? 0);
      this.#end.labels(this.#flow, tp.topic, p).set(e.end);
    }
    if (e.committed !== null && e.end !== null) {
      this.#lag.labels(this.#flow, tp.topic, p).set(Math.max(0, e.end - e.committed));
    }
  }
}
