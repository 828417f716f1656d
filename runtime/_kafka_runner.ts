/**
 * `KafkaFlowRunner`: runs a compiled plan on a real Kafka cluster through the kafkajs adapter, with
 * the same engine and driver as the simulator.
 *
 * Guarantee (at-least-once): the offset committed for a partition is always the offset after the longest
 * prefix of its records whose every output (topic records, error envelopes, dead-letter records, table
 * rows) the broker or sink acknowledged, or which were deliberately discarded. Settled watermarks are
 * committed by a timer loop (every `tickMs`, default 50 ms), when partitions are revoked in a rebalance
 * (after flushing buffered batches), and on graceful shutdown. A crash loses no message: whatever was not
 * committed is delivered again (duplicates are possible, never gaps). The client's own auto-commit is
 * never enabled: `enable_auto_commit: true` (the original's default) is treated like `false`, because
 * committing before delivery could lose messages.
 *
 * @module
 */
import { FlowDriver, type Logger, silentLogger } from "../streaming/_driver.ts";
import { type Clock, type IdSource, randomIds, systemClock } from "../streaming/_clock.ts";
import type { CompiledPlan } from "../streaming/_plan.ts";
import type { ProducerSettings } from "../streaming/_settings.ts";
import type { SinkWriter } from "../streaming/_nodes.ts";
import type { RecordBatch, TopicPartition, TopicPartitionOffset } from "../streaming/_transport.ts";
import {
  type KafkaClientOptions,
  KafkaConsumerClient,
  type KafkaConsumerError,
  type KafkaConsumerPort,
  KafkaProducerClient,
  type KafkaProducerPort,
} from "./kafkajs/mod.ts";

/**
 * Options of {@link KafkaFlowRunner}.
 *
 * @example
 * ```ts ignore
 * import { jsonLogger, KafkaFlowRunner, type KafkaRunnerOptions } from "@loom/streaming/runtime";
 * const options: KafkaRunnerOptions = { logger: jsonLogger("info"), partitionsConsumedConcurrently: 3 };
 * const runner = new KafkaFlowRunner(plan, options);
 * ```
 */
export interface KafkaRunnerOptions {
  /** Time source (default: the system clock). */
  readonly clock?: Clock;
  /** Trace-id source (default: random ids). */
  readonly ids?: IdSource;
  /** Structured logger of the runner (default: silent). */
  readonly logger?: Logger;
  /** kafkajs client logging. */
  readonly client?: KafkaClientOptions;
  /** Writers of storage sinks by sink name (table backends are provided by `@loom/streaming/sinks`). */
  readonly tables?: ReadonlyMap<string, SinkWriter>;
  /** Partitions processed concurrently (default: 1). */
  readonly partitionsConsumedConcurrently?: number;
  /** Interval of the timer loop that fires CollectBatch timeouts and commits settled offsets (default 50 ms). */
  readonly tickMs?: number;
  /** Injected clients (tests). */
  readonly consumer?: KafkaConsumerPort;
  /** Injected producer (tests); default: one kafkajs producer per distinct producer configuration. */
  readonly producer?: KafkaProducerPort;
  /**
   * How long offset commits may keep failing (rebalance, coordinator move, broker unreachable) before the
   * runner gives up and stops with an error (default 30 000 ms). Nothing is committed ahead meanwhile.
   */
  readonly commitFailureTimeoutMs?: number;
  /** Called after each successful commit (tests, metrics). */
  readonly onCommit?: (offsets: readonly TopicPartitionOffset[]) => void;
}

/**
 * Runner state.
 *
 * @example
 * ```ts ignore
 * import type { RunnerState } from "@loom/streaming/runtime";
 * const state: RunnerState = runner.state; // "new" until start() is called
 * ```
 */
export type RunnerState = "new" | "starting" | "running" | "stopping" | "stopped" | "failed";

/**
 * Runs a plan on Kafka until stopped.
 *
 * @example
 * ```ts ignore
 * const runner = new KafkaFlowRunner(plan);
 * await runner.start();
 * // ...
 * await runner.stop();
 * ```
 */
export class KafkaFlowRunner {
  /** The compiled plan being run. */
  readonly plan: CompiledPlan;
  /** The driver running the plan over fetched batches. */
  readonly driver: FlowDriver;
  /** The consumer of the source topics. */
  readonly consumer: KafkaConsumerPort;
  /** The producer used for outputs, error routes and dead-letter topics. */
  readonly producer: KafkaProducerPort;
  #state: RunnerState = "new";
  #failure: unknown = null;
  #timer: ReturnType<typeof setInterval> | null = null;
  #commitChain: Promise<void> = Promise.resolve();
  #paused: TopicPartition[] = [];
  #assigned: readonly TopicPartition[] = [];
  #done: Promise<void>;
  #resolveDone!: () => void;
  #ticking = false;
  #commitFailingSince: number | null = null;
  #lastCommitAt = 0;
  readonly #tables: Map<string, SinkWriter>;
  readonly #o: KafkaRunnerOptions;
  readonly #log: Logger;
  readonly #clock: Clock;

  /**
   * Creates a {@link KafkaFlowRunner}.
   *
   * @param plan compiled plan
   * @param options clients, logger, sinks
   */
  constructor(plan: CompiledPlan, options: KafkaRunnerOptions = {}) {
    this.plan = plan;
    this.#o = options;
    this.#log = options.logger ?? silentLogger;
    this.#clock = options.clock ?? systemClock;
    this.consumer = options.consumer ?? new KafkaConsumerClient(plan.source.settings, options.client);
    this.producer = options.producer ?? routedProducer(plan, options.client);
    const tables = new Map<string, SinkWriter>();
    for (const [path, s] of plan.storageSinks) {
      const w = options.tables?.get(s.name);
      if (w) tables.set(path, w);
      else if (typeof s.sink.createWriter !== "function") {
        throw new Error(
          `storage sink '${s.name}' (${path}) has no writer: pass one in KafkaRunnerOptions.tables (table backends live in @loom/streaming/sinks) or give the sink a createWriter()`,
        );
      }
    }
    this.#tables = tables;
    this.driver = new FlowDriver(plan, {
      producer: this.producer,
      tables,
      clock: this.#clock,
      ids: options.ids ?? randomIds,
      logger: this.#log,
    });
    this.#done = new Promise((r) => (this.#resolveDone = r));
  }

  /** Current state. */
  get state(): RunnerState {
    return this.#state;
  }

  /** The fatal error that stopped the runner, if any. */
  get failure(): unknown {
    return this.#failure;
  }

  /** Resolves when the runner has stopped (gracefully or after a failure). */
  get done(): Promise<void> {
    return this.#done;
  }

  /** Connects, subscribes and starts consuming. */
  async start(): Promise<void> {
    if (this.#state !== "new") throw new Error(`runner already ${this.#state}`);
    this.#state = "starting";
    const src = this.plan.source;
    if (src.settings.enableAutoCommit) {
      this.#log.info("auto_commit_replaced", {
        reason:
          "enable_auto_commit: true is served by committing settled offsets after delivery (never before)",
      });
    }
    for (const [path, s] of this.plan.storageSinks) {
      if (this.#tables.has(path)) continue;
      // the sink brings its own writer (IntoSink.createWriter)
      this.#tables.set(
        path,
        await s.sink.createWriter!({
          section: s.section,
          config: this.plan.config,
          workerIndex: 0,
          workerCount: 1,
        }),
      );
    }
    await this.driver.start();
    await this.producer.connect();
    await this.consumer.connect();
    await this.consumer.subscribe(src.topics, src.settings.autoOffsetReset === "earliest");
    await this.consumer.run({
      onBatch: (batch) => this.#onBatch(batch),
      onAssigned: (tps) => {
        this.#assigned = tps;
        this.#paused = [];
        this.#log.info("partitions_assigned", { partitions: tps.map((t) => `${t.topic}[${t.partition}]`) });
      },
      onRevoked: (tps) => this.#onRevoked(tps),
      onError: (e) => this.#fail(e),
    }, {
      partitionsConsumedConcurrently: this.#o.partitionsConsumedConcurrently ??
        this.plan.runtime.workersPerProcess,
    });
    this.#state = "running";
    const tick = this.#o.tickMs ?? 50;
    this.#timer = setInterval(() => void this.#tick(), tick);
    const rt = this.plan.runtime;
    if (rt.processId !== null || rt.addresses !== null) {
      this.#log.info("cluster_settings_ignored", {
        reason: "streaming.runtime.process_id/addresses configure a Bytewax cluster; here processes share " +
          "partitions through the consumer group (start more processes with the same group_id)",
      });
    }
    this.#log.info("flow_started", { flow: this.plan.name, topics: src.topics, group: src.settings.groupId });
  }

  async #onBatch(batch: RecordBatch): Promise<void> {
    if (this.#failure) throw this.#failure;
    try {
      await this.driver.handle(batch);
      // Commits are made by the timer loop (every tickMs) so fetching does not wait for commit round
      // trips; the guarantee is the same: only settled prefixes are ever committed.
      this.#backpressure();
    } catch (e) {
      this.#fail(e);
      throw e;
    }
  }

  /** Pauses fetching while too many messages are in flight (buffered or awaiting delivery). */
  #backpressure(): void {
    const max = this.plan.runtime.maxInFlight;
    if (this.#paused.length === 0 && this.driver.inFlight >= max && this.#assigned.length) {
      this.#paused = [...this.#assigned];
      this.consumer.pause(this.#paused);
      this.#log.warn("backpressure_pause", { in_flight: this.driver.inFlight, max_in_flight: max });
    } else if (this.#paused.length && this.driver.inFlight < max / 2) {
      this.consumer.resume(this.#paused);
      this.#paused = [];
      this.#log.info("backpressure_resume", { in_flight: this.driver.inFlight });
    }
  }

  async #tick(): Promise<void> {
    if (this.#ticking || this.#state !== "running") return;
    this.#ticking = true;
    try {
      const d = this.driver.nextDeadline();
      const now = this.#clock.now();
      if (d !== null && d <= now) await this.driver.tick();
      // streaming.runtime.epoch_interval_ms: commit at most once per epoch (default: every tick)
      const epoch = this.plan.runtime.epochIntervalMs;
      if (epoch === null || now - this.#lastCommitAt >= epoch) {
        this.#lastCommitAt = now;
        await this.#commitOrRetry();
      }
      this.#backpressure();
    } catch (e) {
      this.#fail(e);
    } finally {
      this.#ticking = false;
    }
  }

  /**
   * A failed commit is not fatal at once: a commit can fail while the group rebalances or its coordinator
   * moves, and the settled watermarks are simply committed again at the next tick (nothing is committed
   * ahead meanwhile). Commits failing for longer than `commitFailureTimeoutMs` stop the runner.
   */
  async #commitOrRetry(): Promise<void> {
    try {
      await this.#commit();
      this.#commitFailingSince = null;
    } catch (e) {
      const now = this.#clock.now();
      this.#commitFailingSince ??= now;
      const limit = this.#o.commitFailureTimeoutMs ?? 30_000;
      if (now - this.#commitFailingSince >= limit) {
        throw new Error(
          `offset commits have failed for ${
            now - this.#commitFailingSince
          } ms (commitFailureTimeoutMs ${limit}): ${e instanceof Error ? e.message : String(e)}`,
          { cause: e },
        );
      }
      this.#log.warn("commit_retry", { reason: e instanceof Error ? e.message : String(e) });
    }
  }

  /** Commits the moved watermarks (serialized). */
  #commit(): Promise<void> {
    const run = async () => {
      const offsets = this.driver.takeCommits();
      if (offsets.length === 0) return;
      try {
        await this.consumer.commit(offsets);
      } catch (e) {
        this.driver.tracker.restoreCommits(offsets);
        throw e;
      }
      this.#o.onCommit?.(offsets);
      this.#log.info("committed", { offsets: offsets.map((o) => `${o.topic}[${o.partition}]@${o.offset}`) });
    };
    const p = this.#commitChain.then(run);
    this.#commitChain = p.catch(() => {});
    return p;
  }

  async #onRevoked(tps: readonly TopicPartition[]): Promise<void> {
    try {
      // Deliver what is buffered so it can be committed while the old generation is still valid.
      await this.driver.flush();
      await this.#commit();
    } catch (e) {
      this.#log.error("revoke_flush_failed", { reason: e instanceof Error ? e.message : String(e) });
    }
    this.driver.revoke(tps);
    this.#assigned = [];
    this.#paused = [];
    this.#log.info("partitions_revoked", { partitions: tps.map((t) => `${t.topic}[${t.partition}]`) });
  }

  #fail(e: unknown): void {
    if (this.#failure) return;
    this.#failure = e;
    this.#state = "failed";
    this.#log.error("flow_failed", {
      flow: this.plan.name,
      reason: e instanceof Error ? e.message : String(e),
    });
    void this.#shutdown(false);
  }

  /** Graceful stop: flushes buffers, delivers, commits, leaves the group, disposes resources. */
  async stop(): Promise<void> {
    if (this.#state === "stopped" || this.#state === "stopping") return this.#done;
    if (this.#state !== "failed") this.#state = "stopping";
    const limit = this.plan.runtime.forceShutdownTimeoutMs;
    if (limit === null) return await this.#shutdown(true);
    // streaming.runtime.force_shutdown_timeout_ms: give up waiting for the graceful path (flush, deliver,
    // commit, leave the group) after this long; what was not committed is redelivered after a restart.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<"expired">((r) => (timer = setTimeout(() => r("expired"), limit)));
    const outcome = await Promise.race([this.#shutdown(true).then(() => "done" as const), expired]);
    clearTimeout(timer);
    if (outcome === "expired") {
      this.#failure ??= new Error(
        `graceful shutdown did not finish within force_shutdown_timeout_ms (${limit} ms); ` +
          "messages that were not committed will be delivered again after a restart",
      );
      this.#state = "failed";
      this.#log.error("forced_shutdown", { flow: this.plan.name, timeout_ms: limit });
      this.#resolveDone();
    }
  }

  async #shutdown(graceful: boolean): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    const errors: unknown[] = [];
    const attempt = async (f: () => Promise<unknown>) => {
      try {
        await f();
      } catch (e) {
        errors.push(e);
      }
    };
    await attempt(() => this.consumer.stop()); // revokes → flush + commit when graceful
    if (graceful && !this.#failure) {
      await attempt(() => this.driver.flush());
      await attempt(() => this.#commit());
    }
    await attempt(() => this.consumer.disconnect());
    await attempt(() => this.producer.disconnect());
    await attempt(() => this.driver.stop());
    if (this.#state !== "failed") this.#state = "stopped";
    for (const e of errors) {
      this.#log.error("shutdown_error", { reason: e instanceof Error ? e.message : String(e) });
    }
    this.#log.info("flow_stopped", { flow: this.plan.name, stats: this.driver.stats });
    this.#resolveDone();
  }
}

export type { KafkaConsumerError };

/**
 * One kafkajs producer per distinct producer configuration of the plan (outputs may name producers on
 * different clusters or with different security), with each send routed by physical topic. A dead-letter
 * topic uses the producer of the sink it belongs to, as in the original.
 */
function routedProducer(plan: CompiledPlan, client: KafkaClientOptions | undefined): KafkaProducerPort {
  const sinks = [
    ...(plan.output ? [plan.output] : []),
    ...plan.topicSinks.values(),
    ...plan.errorRoutes.values(),
  ];
  const byConfig = new Map<string, KafkaProducerClient>();
  const byTopic = new Map<string, KafkaProducerClient>();
  const clientFor = (settings: ProducerSettings): KafkaProducerClient => {
    const key = JSON.stringify({ ...settings, topic: null });
    let c = byConfig.get(key);
    if (!c) byConfig.set(key, c = new KafkaProducerClient(settings, client));
    return c;
  };
  for (const s of sinks) {
    const c = clientFor(s.settings);
    if (!byTopic.has(s.topic)) byTopic.set(s.topic, c);
    if (s.dlq && !byTopic.has(s.dlq)) byTopic.set(s.dlq, c);
  }
  const fallback = sinks.length
    ? clientFor(sinks[0].settings)
    : plan.kafka.producer
    ? clientFor(plan.kafka.producer)
    : null;
  const pick = (topic: string): KafkaProducerClient => {
    const c = byTopic.get(topic) ?? fallback;
    if (!c) throw new Error(`no Kafka producer is configured for topic '${topic}' (kafka.producer)`);
    return c;
  };
  const all = () => [...byConfig.values()];
  return {
    connect: async () => {
      await Promise.all(all().map((c) => c.connect()));
    },
    send: (topic, records) => pick(topic).send(topic, records),
    sendMany: async (batches) => {
      await Promise.all([...batches].map(([topic, records]) => pick(topic).send(topic, records)));
    },
    disconnect: async () => {
      await Promise.all(all().map((c) => c.disconnect()));
    },
  };
}
