/**
 * `FlowSupervisor`: runs a flow on N workers — module Web Workers (Deno and Bun), each loading the flow
 * module, compiling the plan and running its own consumer in the group — or on the main thread when
 * there is one worker (or `threads: false`). The supervisor aggregates the workers' snapshots (state,
 * assignment, offsets, metrics) for the admin API, restarts a crashed worker with bounded exponential
 * backoff, and stops everything gracefully.
 *
 * A crashed worker commits nothing more: what it had not committed is delivered again to whichever
 * member owns its partitions next (at-least-once). Its counters are kept as of its last snapshot (at
 * most `snapshotMs` old), so totals never go backwards across restarts.
 *
 * @module
 */
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";
import type { ConfigContext } from "../../streaming/config/mod.ts";
import { type Logger, silentLogger } from "../../streaming/_logger.ts";
import type { CompiledPlan } from "../../streaming/_plan.ts";
import { readObservabilityConfig } from "../../streaming/observe/_config.ts";
import { mergeMetrics, type MetricFamily, MetricsRegistry } from "../../streaming/observe/_metrics.ts";
import type { PartitionStatus } from "../../streaming/observe/_flow_metrics.ts";
import {
  type AdminSource,
  type FlowStatus,
  readinessOf,
  totalsOf,
  type WorkerStatus,
} from "../admin/_source.ts";
import { loadTableWriterFactory, type TableWriterFactory } from "../_table_writers.ts";
import { configuredLifecycleObservers, FlowInstance, type WorkerSnapshot } from "./_instance.ts";
import type { LifecycleObserver } from "../../streaming/observe/_events.ts";
import type { FromWorker, StartMessage } from "./_protocol.ts";

/**
 * Options of {@link FlowSupervisor}.
 *
 * @example
 * ```ts ignore
 * const options: SupervisorOptions = { flowModule: "flows/orders.ts", config, workers: 2 };
 * ```
 */
export interface SupervisorOptions {
  /** Path or file URL of the flow module (workers import it). */
  readonly flowModule: string | URL;
  /** The configuration. */
  readonly config: ConfigContext;
  /** The plan compiled on the main thread (a bad flow fails before any worker starts). */
  readonly plan: CompiledPlan;
  /** Number of workers (default: `streaming.runtime.workers_per_process`). */
  readonly workers?: number;
  /** Run a single worker on the main thread (default true when there is one worker). */
  readonly mainThread?: boolean;
  /** Structured logger of the supervisor. */
  readonly logger?: Logger;
  /** Minimum level of the workers' JSON logs (default `info`). */
  readonly logLevel?: "info" | "warn" | "error";
  /** How often workers post snapshots (default 250 ms). */
  readonly snapshotMs?: number;
  /** First restart delay (default 250 ms; doubled per consecutive crash). */
  readonly restartBaseMs?: number;
  /** Longest restart delay (default 10 000 ms). */
  readonly restartMaxMs?: number;
  /** A worker running this long resets its backoff (default 30 000 ms). */
  readonly stableAfterMs?: number;
  /** Silence kafkajs client logs (tests). */
  readonly quietClient?: boolean;
  /**
   * URL of a module exporting `openTableWriters` (a {@link TableWriterFactory}, e.g. `@loom/streaming/sinks`):
   * each worker imports it to open the flow's table sinks. Without it a flow with `IntoTable` cannot start.
   */
  readonly tableWriters?: string | URL;
}

interface Slot {
  readonly index: number;
  state: string;
  worker: Worker | null;
  main: FlowInstance | null;
  snapshot: WorkerSnapshot | null;
  restarts: number;
  consecutive: number;
  lastError: string | null;
  startedAt: number;
  restartTimer: ReturnType<typeof setTimeout> | null;
  stopped: (() => void) | null;
  stoppedGracefully: boolean;
  generation: number;
}

const WORKER_URL = new URL("./_worker_main.ts", import.meta.url);

/**
 * The supervisor (see the module documentation). It is an {@link AdminSource}.
 *
 * @example
 * ```ts ignore
 * const supervisor = new FlowSupervisor({ flowModule: "flow.ts", config, plan: compileFlow(flow, config), workers: 2 });
 * await supervisor.start();
 * await supervisor.stop();
 * ```
 */
export class FlowSupervisor implements AdminSource {
  /** The plan compiled on the main thread. */
  readonly plan: CompiledPlan;
  /** Number of workers. */
  readonly workerCount: number;
  /** True when the single worker runs on the main thread. */
  readonly inMainThread: boolean;
  readonly #o: SupervisorOptions;
  readonly #log: Logger;
  readonly #slots: Slot[] = [];
  readonly #own = new MetricsRegistry();
  /** Counters and histograms of worker incarnations that ended (so totals survive restarts). */
  #retired: MetricFamily[] = [];
  #state = "new";
  #startedAt = 0;
  #done: Promise<void>;
  #resolveDone!: () => void;
  #stopping: Promise<void> | null = null;
  #cleanStop = true;

  /**
   * Creates the supervisor (nothing starts yet).
   *
   * @param options flow module, config, compiled plan, worker count
   */
  constructor(options: SupervisorOptions) {
    this.#o = options;
    this.plan = options.plan;
    this.#log = options.logger ?? silentLogger;
    this.workerCount = Math.max(1, options.workers ?? options.plan.runtime.workersPerProcess);
    this.inMainThread = options.mainThread ?? this.workerCount === 1;
    if (this.inMainThread && this.workerCount !== 1) {
      throw new Error("only one worker can run on the main thread");
    }
    this.#done = new Promise((r) => (this.#resolveDone = r));
    const flow = this.plan.name;
    const up = this.#own.gauge("loom_workers_up", "Workers running.", ["flow"]).labels(flow);
    const configured = this.#own.gauge("loom_workers_configured", "Workers configured.", ["flow"]).labels(
      flow,
    );
    const restarts = this.#own.counter("loom_worker_restarts_total", "Worker restarts after a crash.", [
      "flow",
    ])
      .labels(flow);
    this.#own.addCollector(() => {
      up.set(this.#slots.filter((s) => s.state === "running").length);
      configured.set(this.workerCount);
      restarts.set(this.#slots.reduce((a, s) => a + s.restarts, 0));
    });
  }

  /** Supervisor state: `new`, `starting`, `running`, `stopping`, `stopped`, `failed`. */
  get state(): string {
    return this.#state;
  }

  /** Resolves when every worker has stopped. */
  get done(): Promise<void> {
    return this.#done;
  }

  /** True when every worker stopped gracefully (flushed and committed). */
  get stoppedCleanly(): boolean {
    return this.#cleanStop;
  }

  /** Starts the workers; resolves when each one has started once (or failed its first start). */
  async start(): Promise<void> {
    if (this.#state !== "new") throw new Error(`supervisor already ${this.#state}`);
    this.#state = "starting";
    this.#startedAt = performance.now();
    const started: Promise<void>[] = [];
    for (let i = 0; i < this.workerCount; i++) {
      const slot: Slot = {
        index: i,
        state: "starting",
        worker: null,
        main: null,
        snapshot: null,
        restarts: 0,
        consecutive: 0,
        lastError: null,
        startedAt: 0,
        restartTimer: null,
        stopped: null,
        stoppedGracefully: false,
        generation: 0,
      };
      this.#slots.push(slot);
      started.push(this.#spawn(slot));
    }
    await Promise.all(started);
    if (this.#state === "starting") this.#state = "running";
    this.#log.info("workers_started", {
      flow: this.plan.name,
      workers: this.workerCount,
      thread: this.inMainThread ? "main" : "workers",
    });
  }

  /** Spawns the slot's worker; resolves once it reported `started` or `failed`. */
  #spawn(slot: Slot): Promise<void> {
    slot.generation++;
    slot.state = "starting";
    slot.startedAt = performance.now();
    slot.snapshot = null;
    return this.inMainThread ? this.#spawnMain(slot) : this.#spawnWorker(slot);
  }

  #spawnWorker(slot: Slot): Promise<void> {
    const gen = slot.generation;
    return new Promise<void>((resolveStarted) => {
      const w = new Worker(WORKER_URL.href, { type: "module" });
      slot.worker = w;
      w.onmessage = (e: MessageEvent<FromWorker>) => {
        if (slot.generation !== gen) return;
        const m = e.data;
        if (m.type === "snapshot" || m.type === "started") {
          slot.snapshot = m.snapshot;
          if (m.type === "started") {
            slot.state = "running";
            resolveStarted();
          } else if (slot.state === "starting") slot.state = m.snapshot.state;
        } else if (m.type === "stopped") {
          slot.snapshot = m.snapshot;
          slot.stoppedGracefully = m.graceful;
          this.#ended(slot, null);
          resolveStarted();
        } else if (m.type === "failed") {
          if (m.snapshot) slot.snapshot = m.snapshot;
          this.#ended(slot, m.error);
          resolveStarted();
        }
      };
      w.onerror = (e: ErrorEvent) => {
        e.preventDefault?.();
        if (slot.generation !== gen) return;
        this.#ended(slot, `uncaught error in worker ${slot.index}: ${e.message}`);
        resolveStarted();
      };
      const msg: StartMessage = {
        type: "start",
        index: slot.index,
        flowModule: this.#moduleUrl(),
        config: this.#o.config.raw as Record<string, unknown>,
        configFile: this.#o.config.file,
        logLevel: this.#o.logLevel ?? "info",
        snapshotMs: this.#o.snapshotMs ?? 250,
        quietClient: this.#o.quietClient ?? false,
        tableWriters: this.#o.tableWriters === undefined ? null : String(this.#o.tableWriters),
      };
      w.postMessage(msg);
    });
  }

  async #spawnMain(slot: Slot): Promise<void> {
    const gen = slot.generation;
    const observability = readObservabilityConfig(this.#o.config);
    let lifecycleObservers: LifecycleObserver[];
    try {
      lifecycleObservers = await configuredLifecycleObservers(observability, this.#log);
    } catch (e) {
      this.#ended(slot, e instanceof Error ? `${e.name}: ${e.message}` : String(e));
      return;
    }
    if (slot.generation !== gen) return;
    const tables = this.#o.tableWriters;
    const openTables: TableWriterFactory | undefined = tables === undefined
      ? undefined
      : async (plan, options) => (await loadTableWriterFactory(String(tables)))(plan, options);
    const instance = new FlowInstance(this.plan, {
      logger: this.#log,
      observability,
      lifecycleObservers,
      runner: { ...(this.#o.quietClient ? { client: { logger: () => {} } } : {}), openTables },
    });
    slot.main = instance;
    try {
      await instance.start();
      if (slot.generation !== gen) return;
      slot.state = "running";
      void instance.runner.done.then(() => {
        if (slot.generation !== gen) return;
        slot.snapshot = instance.snapshot();
        const f = instance.runner.failure;
        slot.stoppedGracefully = f === null;
        this.#ended(slot, f ? (f instanceof Error ? `${f.name}: ${f.message}` : String(f)) : null);
      });
    } catch (e) {
      slot.snapshot = instance.snapshot();
      this.#ended(slot, e instanceof Error ? `${e.name}: ${e.message}` : String(e));
    }
  }

  #moduleUrl(): string {
    const m = this.#o.flowModule;
    return m instanceof URL ? m.href : /^file:/.test(m) ? m : pathToFileURL(resolve(m)).href;
  }

  /** A worker ended: stopped on request, or crashed (then it is restarted after its backoff). */
  #ended(slot: Slot, error: string | null): void {
    const snap = slot.snapshot ?? (slot.main ? slot.main.snapshot() : null);
    if (snap) this.#retire(snap.metrics);
    slot.snapshot = null;
    slot.worker?.terminate();
    slot.worker = null;
    slot.main = null;
    slot.generation++; // late messages of this incarnation are ignored
    if (this.#stopping) {
      slot.state = error ? "failed" : "stopped";
      if (error) {
        slot.lastError = error;
        this.#cleanStop = false;
      } else if (!slot.stoppedGracefully) this.#cleanStop = false;
      slot.stopped?.();
      return;
    }
    slot.lastError = error ?? "worker stopped unexpectedly";
    const ranFor = performance.now() - slot.startedAt;
    if (ranFor >= (this.#o.stableAfterMs ?? 30_000)) slot.consecutive = 0;
    const delay = Math.min(
      (this.#o.restartBaseMs ?? 250) * 2 ** slot.consecutive,
      this.#o.restartMaxMs ?? 10_000,
    );
    slot.consecutive++;
    slot.state = "restarting";
    this.#log.error("worker_crashed", {
      flow: this.plan.name,
      worker: slot.index,
      reason: slot.lastError,
      restart_in_ms: delay,
      restarts: slot.restarts,
    });
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = null;
      if (this.#stopping) return;
      slot.restarts++;
      this.#log.info("worker_restarting", {
        flow: this.plan.name,
        worker: slot.index,
        restarts: slot.restarts,
      });
      void this.#spawn(slot);
    }, delay);
  }

  /** Keeps the counters and histograms of an ended incarnation. */
  #retire(metrics: readonly MetricFamily[]): void {
    const monotonic = metrics.filter((f) => f.type !== "gauge");
    this.#retired = mergeMetrics([this.#retired, monotonic]);
  }

  /**
   * Kills worker `index` as a crash would (no graceful stop, nothing more committed); it is restarted
   * after its backoff. For tests and chaos drills.
   */
  kill(index: number): void {
    const slot = this.#slots[index];
    if (!slot) throw new RangeError(`no worker ${index}`);
    if (slot.worker) {
      slot.worker.terminate();
      this.#ended(slot, `worker ${index} was killed`);
    } else if (slot.main) {
      const m = slot.main;
      // as a crash: nothing more is committed (the loop has failed); the consumer is then closed so the
      // thread does not keep a member in the group (done resolves and reports the failure)
      void m.runner.loop.abandon().then(() => m.runner.consumer.disconnect().catch(() => {}));
    }
  }

  /**
   * Graceful stop of every worker: stop fetching, finish in flight, flush, commit, leave the group.
   * Workers that do not finish within `force_shutdown_timeout_ms` (plus a margin; 30 s when unset) are
   * terminated, and the stop counts as unclean.
   */
  stop(): Promise<void> {
    this.#stopping ??= this.#stop();
    return this.#stopping;
  }

  async #stop(): Promise<void> {
    this.#state = "stopping";
    const limit = (this.plan.runtime.forceShutdownTimeoutMs ?? 30_000) + 2_000;
    await Promise.all(this.#slots.map((slot) =>
      new Promise<void>((resolveStopped) => {
        if (slot.restartTimer) {
          clearTimeout(slot.restartTimer);
          slot.restartTimer = null;
        }
        if (!slot.worker && !slot.main) {
          slot.state = slot.state === "restarting" ? "stopped" : slot.state;
          return resolveStopped();
        }
        const timer = setTimeout(() => {
          this.#log.error("worker_forced_stop", {
            flow: this.plan.name,
            worker: slot.index,
            timeout_ms: limit,
          });
          this.#cleanStop = false;
          this.#ended(slot, `worker ${slot.index} did not stop within ${limit} ms`);
        }, limit);
        slot.stopped = () => {
          clearTimeout(timer);
          resolveStopped();
        };
        slot.state = "stopping";
        if (slot.worker) slot.worker.postMessage({ type: "stop" });
        else void slot.main!.stop();
      })
    ));
    this.#state = this.#cleanStop ? "stopped" : "failed";
    this.#log.info("workers_stopped", { flow: this.plan.name, clean: this.#cleanStop });
    this.#resolveDone();
  }

  /** Status of each worker. */
  workers(): WorkerStatus[] {
    return this.#slots.map((s) => {
      const snap = s.main && s.state !== "restarting" ? s.main.snapshot() : s.snapshot;
      return {
        index: s.index,
        thread: this.inMainThread ? "main" : "worker",
        state: s.state === "running" && snap && snap.state !== "running" ? snap.state : s.state,
        assigned: snap?.assigned ?? [],
        joined: snap?.joined ?? false,
        restarts: s.restarts,
        lastError: s.lastError,
      };
    });
  }

  /**
   * Merged metrics: the live workers' last snapshots, the counters of ended incarnations, and the
   * supervisor's own (`loom_workers_up`, `loom_workers_configured`, `loom_worker_restarts_total`).
   */
  metrics(): MetricFamily[] {
    const live = this.#slots.map((s) => (s.main ? s.main.snapshot().metrics : s.snapshot?.metrics ?? []));
    return mergeMetrics([...live, this.#retired, this.#own.collect()]);
  }

  /** A status snapshot: workers, partitions, totals and readiness. */
  status(): FlowStatus {
    const workers = this.workers();
    const partitions: PartitionStatus[] = [];
    for (const s of this.#slots) {
      const snap = s.main ? s.main.snapshot() : s.snapshot;
      if (snap) partitions.push(...snap.partitions);
    }
    partitions.sort((a, b) => a.topic.localeCompare(b.topic) || a.partition - b.partition);
    const metrics = this.metrics();
    return {
      flow: this.plan.name,
      state: this.#state,
      uptimeMs: this.#startedAt ? Math.round(performance.now() - this.#startedAt) : 0,
      workers,
      partitions,
      totals: totalsOf(metrics, partitions),
      ready: this.#state === "running"
        ? readinessOf(workers)
        : { ready: false, reasons: [`supervisor is ${this.#state}`] },
    };
  }
}
