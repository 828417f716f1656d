/**
 * `FlowInstance`: one KafkaFlowRunner with its metrics and lifecycle events — what each Web Worker
 * runs, and what the main thread runs when there is a single worker. It reports itself as a
 * {@link WorkerSnapshot} (plain data, posted from a worker to the supervisor).
 *
 * @module
 */
import type { Logger } from "../../streaming/_logger.ts";
import type { CompiledPlan } from "../../streaming/_plan.ts";
import { FlowMetrics, type PartitionStatus } from "../../streaming/observe/_flow_metrics.ts";
import { type MetricFamily, MetricsRegistry } from "../../streaming/observe/_metrics.ts";
import { combineObservers, type FlowObserver } from "../../streaming/observe/_observer.ts";
import {
  jsonLinesObserver,
  lifecycleFlowObserver,
  lifecycleNodeTimer,
  type LifecycleObserver,
  ObservabilityRuntime,
  prometheusObserver,
} from "../../streaming/observe/_events.ts";
import type { ObservabilityConfig } from "../../streaming/observe/_config.ts";
import { bothNodeTimers, instrumentPlan } from "../../streaming/observe/_node_timing.ts";
import { KafkaFlowRunner, type KafkaRunnerOptions } from "../_kafka_runner.ts";
import { PartitionOffsetsPoller, type PartitionOffsetsPollerOptions } from "../_partition_offsets.ts";
import { redactSecrets } from "../admin/_redact.ts";

/**
 * The state of one worker as the supervisor sees it (plain data).
 *
 * @example
 * ```ts
 * import type { WorkerSnapshot } from "@loom/streaming/runtime";
 * const s: WorkerSnapshot = { state: "running", joined: true, assigned: [], partitions: [], metrics: [], failure: null };
 * ```
 */
export interface WorkerSnapshot {
  /** Loop state. */
  readonly state: string;
  /** True once the consumer joined the group. */
  readonly joined: boolean;
  /** Assigned partitions as `topic[partition]`. */
  readonly assigned: readonly string[];
  /** Offsets and lag of the assigned partitions. */
  readonly partitions: readonly PartitionStatus[];
  /** Metric snapshot. */
  readonly metrics: readonly MetricFamily[];
  /** Failure text, if the loop failed. */
  readonly failure: string | null;
}

/**
 * Options of {@link FlowInstance}.
 *
 * @example
 * ```ts ignore
 * const instance = new FlowInstance(plan, { logger, observability: readObservabilityConfig(config) });
 * ```
 */
export interface FlowInstanceOptions {
  /** Structured logger. */
  readonly logger?: Logger;
  /** The `observability` section (lifecycle observers). */
  readonly observability?: ObservabilityConfig;
  /** Where the JSON-lines lifecycle logger writes (default: stderr). */
  readonly writeLine?: (line: string) => void;
  /** Extra runner options (tests). */
  readonly runner?: Omit<KafkaRunnerOptions, "observer" | "logger">;
  /** Extra observer (tests). */
  readonly observer?: FlowObserver;
  /** Extra lifecycle observers (the OpenTelemetry one: see {@link configuredLifecycleObservers}). */
  readonly lifecycleObservers?: readonly LifecycleObserver[];
  /**
   * Reading the assigned partitions' committed and end offsets from the cluster (so idle partitions show
   * their lag too): on by default unless `runner.consumer` is injected; `false` turns it off.
   */
  readonly partitionOffsets?: PartitionOffsetsPollerOptions | false;
}

/**
 * The lifecycle observers `observability` asks for beyond the logger and Prometheus: the OpenTelemetry
 * observer when `otel.enabled` (its module, and `@opentelemetry/api`, are loaded only then).
 *
 * @example
 * ```ts ignore
 * const extra = await configuredLifecycleObservers(readObservabilityConfig(config), logger);
 * const instance = new FlowInstance(plan, { logger, lifecycleObservers: extra });
 * ```
 */
export async function configuredLifecycleObservers(
  obs: ObservabilityConfig,
  logger?: Logger,
): Promise<LifecycleObserver[]> {
  if (!obs.otel.enabled) return [];
  if (obs.otel.exportLogs) {
    logger?.warn("otel_export_logs_not_supported", {
      reason:
        "observability.otel.export_logs: logs stay JSON lines on stderr (Deno's OTEL_DENO exports console output)",
    });
  }
  const { otelObserver, otelOptionsFromConfig } = await import("../otel/_observer.ts");
  return [otelObserver(otelOptionsFromConfig(obs.otel.config, logger))];
}

/**
 * A runner with its metrics and lifecycle events.
 *
 * @example
 * ```ts ignore
 * const instance = new FlowInstance(plan);
 * await instance.start();
 * console.log(instance.snapshot().metrics.length);
 * await instance.stop();
 * ```
 */
export class FlowInstance {
  /** The runner. */
  readonly runner: KafkaFlowRunner;
  /** The flow's metrics. */
  readonly metrics: FlowMetrics;
  /** The metrics registry. */
  readonly registry: MetricsRegistry;
  #joined = false;
  readonly #offsets: PartitionOffsetsPoller | null;

  /**
   * Creates the instance (nothing is connected yet).
   *
   * @param plan compiled plan
   * @param options logger, observability, runner options
   */
  constructor(readonly plan: CompiledPlan, options: FlowInstanceOptions = {}) {
    this.registry = new MetricsRegistry();
    let runner: KafkaFlowRunner | null = null;
    this.metrics = new FlowMetrics(plan.name, {
      get stats() {
        return runner!.driver.stats;
      },
      inFlight: () => runner?.driver.inFlight ?? 0,
    }, this.registry);
    const obs = options.observability;
    const observers: LifecycleObserver[] = [];
    if (obs?.log.enabled !== false) {
      observers.push(jsonLinesObserver(obs?.log.level ?? "info", options.writeLine));
    }
    if (obs?.prometheus.enabled) observers.push(prometheusObserver(this.registry));
    observers.push(...options.lifecycleObservers ?? []);
    const events = new ObservabilityRuntime(observers, (e) => {
      options.logger?.warn("observer_error", { reason: e instanceof Error ? e.message : String(e) });
    });
    const offsets = options.partitionOffsets ?? (options.runner?.consumer ? false : {});
    this.#offsets = offsets === false
      ? null
      : new PartitionOffsetsPoller(plan.source.settings, this.metrics, {
        logger: options.logger,
        ...offsets,
      });
    const joined: FlowObserver = {
      assigned: () => {
        this.#joined = true;
        this.#offsets?.assigned();
      },
    };
    const log = options.logger;
    // per-node durations: the steps of a copy of the plan time themselves
    const timedPlan = instrumentPlan(
      plan,
      bothNodeTimers(this.metrics.nodeTimer(), lifecycleNodeTimer(plan, events)),
    );
    runner = new KafkaFlowRunner(timedPlan, {
      // kafkajs lines go through the JSON logger too (stderr stays JSON lines)
      client: log
        ? {
          logger: (r) =>
            log[r.level === "error" ? "error" : r.level === "warn" ? "warn" : "info"]("kafka_client", {
              namespace: r.namespace,
              message: r.message,
              ...(redactSecrets(r.fields) as Record<string, unknown>),
            }),
        }
        : undefined,
      ...options.runner,
      logger: options.logger,
      observer: combineObservers(this.metrics, lifecycleFlowObserver(plan, events), joined, options.observer),
    });
    this.runner = runner;
  }

  /** Starts the runner (and the partition offsets poller, which stops when the runner does). */
  async start(): Promise<void> {
    const poller = this.#offsets;
    if (poller) void this.runner.done.then(() => poller.stop(), () => poller.stop());
    try {
      await this.runner.start();
    } catch (e) {
      await poller?.stop();
      throw e;
    }
    poller?.start();
  }

  /** Stops the runner gracefully. */
  async stop(): Promise<void> {
    try {
      await this.runner.stop();
    } finally {
      await this.#offsets?.stop();
    }
  }

  /** A snapshot for the supervisor. */
  snapshot(): WorkerSnapshot {
    const f = this.runner.failure;
    return {
      state: this.runner.state,
      joined: this.#joined,
      assigned: this.metrics.assignment.map((t) => `${t.topic}[${t.partition}]`),
      partitions: this.metrics.partitions(),
      metrics: this.registry.collect(),
      failure: f ? (f instanceof Error ? `${f.name}: ${f.message}` : String(f)) : null,
    };
  }
}
