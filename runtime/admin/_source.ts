/**
 * What the admin API reads from a running flow host (one thread or a worker pool): the plan, the
 * merged metrics and a status snapshot with the workers, partitions, totals and readiness.
 *
 * @module
 */
import type { CompiledPlan } from "../../streaming/_plan.ts";
import type { MetricFamily, ScalarSample } from "../../streaming/observe/_metrics.ts";
import type { PartitionStatus } from "../../streaming/observe/_flow_metrics.ts";

/**
 * State of one worker (a Web Worker, or the main thread).
 *
 * @example
 * ```ts
 * import type { WorkerStatus } from "@loom/streaming/runtime";
 * const w: WorkerStatus = {
 *   index: 0, thread: "worker", state: "running", assigned: ["orders[0]"], restarts: 0, lastError: null,
 *   joined: true,
 * };
 * ```
 */
export interface WorkerStatus {
  /** Worker index (0-based). */
  readonly index: number;
  /** Where it runs. */
  readonly thread: "main" | "worker";
  /** `starting`, `running`, `stopping`, `stopped`, `failed`, or `restarting` (waiting for its backoff). */
  readonly state: string;
  /** Assigned partitions as `topic[partition]`. */
  readonly assigned: readonly string[];
  /** True once the worker's consumer joined the group (received an assignment, possibly empty). */
  readonly joined: boolean;
  /** How many times it was restarted. */
  readonly restarts: number;
  /** The last failure, if any. */
  readonly lastError: string | null;
}

/**
 * Readiness: all workers up and joined, and the group assigned them partitions.
 *
 * @example
 * ```ts
 * import type { Readiness } from "@loom/streaming/runtime";
 * const r: Readiness = { ready: false, reasons: ["worker 1 is restarting"] };
 * ```
 */
export interface Readiness {
  /** True when ready. */
  readonly ready: boolean;
  /** Why not (empty when ready). */
  readonly reasons: readonly string[];
}

/**
 * A status snapshot of a running flow (`GET /status`, the status page's server-sent events).
 *
 * @example
 * ```ts ignore
 * const status: FlowStatus = source.status();
 * console.log(status.totals.consumed, status.ready.ready);
 * ```
 */
export interface FlowStatus {
  /** Flow name. */
  readonly flow: string;
  /** Host state: `starting`, `running`, `stopping`, `stopped`, `failed`. */
  readonly state: string;
  /** Milliseconds since the host started. */
  readonly uptimeMs: number;
  /** The workers. */
  readonly workers: readonly WorkerStatus[];
  /** Offsets and lag per assigned partition. */
  readonly partitions: readonly PartitionStatus[];
  /** Totals since start (over every worker, restarts included). */
  readonly totals: FlowTotals;
  /** Readiness. */
  readonly ready: Readiness;
}

/**
 * Totals of a flow.
 *
 * @example
 * ```ts
 * import type { FlowTotals } from "@loom/streaming/runtime";
 * const t: FlowTotals = { consumed: 10, produced: 9, errors: 1, deadLettered: 0, inFlight: 0, lag: 0 };
 * ```
 */
export interface FlowTotals {
  /** Records consumed. */
  readonly consumed: number;
  /** Records produced (dead-letter topics included). */
  readonly produced: number;
  /** Error envelopes. */
  readonly errors: number;
  /** Dead-lettered records. */
  readonly deadLettered: number;
  /** Messages in flight. */
  readonly inFlight: number;
  /** Sum of the known partition lags. */
  readonly lag: number;
}

/**
 * The admin API's view of a flow host.
 *
 * @example
 * ```ts ignore
 * const app = createAdminApp(source);
 * ```
 */
export interface AdminSource {
  /** The compiled plan. */
  readonly plan: CompiledPlan;
  /** Merged metric snapshots. */
  metrics(): readonly MetricFamily[];
  /** A status snapshot. */
  status(): FlowStatus;
}

const sum = (families: readonly MetricFamily[], name: string): number => {
  const f = families.find((x) => x.name === name);
  let n = 0;
  for (const s of f?.samples ?? []) n += (s as ScalarSample).value ?? 0;
  return n;
};

/**
 * Totals from merged metric snapshots (consumed, produced, errors, dead-lettered, in flight) and partitions.
 *
 * @example
 * ```ts
 * import { totalsOf } from "@loom/streaming/runtime";
 * totalsOf([], []).consumed; // 0
 * ```
 */
export function totalsOf(
  families: readonly MetricFamily[],
  partitions: readonly PartitionStatus[],
): FlowTotals {
  return {
    consumed: sum(families, "loom_records_consumed_total"),
    produced: sum(families, "loom_records_produced_total"),
    errors: sum(families, "loom_errors_total"),
    deadLettered: sum(families, "loom_dead_lettered_total"),
    inFlight: sum(families, "loom_in_flight_messages"),
    lag: partitions.reduce((a, p) => a + (p.lag ?? 0), 0),
  };
}

/**
 * Readiness of a set of workers: every worker running and joined, and at least one partition assigned.
 *
 * @example
 * ```ts
 * import { readinessOf } from "@loom/streaming/runtime";
 * readinessOf([]).ready; // false
 * ```
 */
export function readinessOf(workers: readonly WorkerStatus[]): Readiness {
  const reasons: string[] = [];
  if (workers.length === 0) reasons.push("no worker is running");
  for (const w of workers) {
    if (w.state !== "running") reasons.push(`worker ${w.index} is ${w.state}`);
    else if (!w.joined) reasons.push(`worker ${w.index} has not joined the consumer group yet`);
  }
  if (reasons.length === 0 && workers.every((w) => w.assigned.length === 0)) {
    reasons.push("no partition is assigned to any worker");
  }
  return { ready: reasons.length === 0, reasons };
}
