/**
 * `FlowLoop`: the one run loop around the {@link FlowDriver}, shared by every transport. The Kafka runner
 * (`@loom/streaming/runtime`) and the simulator (`@loom/streaming/testing`) are thin shells over it; they
 * differ only in the consumer and producer ports they plug in and in who calls {@link FlowLoop.tick}
 * (a timer on Kafka, the virtual clock's driver in the simulator).
 *
 * The loop:
 * - fetch: the consumer port hands it one batch of one partition at a time (`onBatch`); the driver runs the
 *   plan over it and delivers everything it produced (one send per topic);
 * - tick: fires expired CollectBatch timeouts, commits the settled watermarks at the epoch cadence
 *   (`streaming.runtime.epoch_interval_ms`; every tick when unset), and pauses or resumes fetching;
 * - backpressure: fetching pauses while `max_in_flight` messages are fetched and not yet settled, and
 *   resumes below half of it;
 * - revoke: buffered batches are flushed and delivered, the watermarks committed while the old generation
 *   is still valid, then the partitions' state is dropped;
 * - stop: graceful (stop fetching, flush, deliver, commit, leave, dispose) within
 *   `force_shutdown_timeout_ms`; any failure stops it without committing what was not settled.
 *
 * Under `streaming.runtime.processing_guarantee: exactly_once` the batches run inside producer
 * transactions that also carry their offsets (see {@link TransactionCycle}); the producer must have
 * `transactions` and the consumer `groupMetadata`.
 *
 * Guarantee (at-least-once): the offset committed for a partition is always the offset after the longest
 * prefix of its records whose every output the broker or sink acknowledged, or which were deliberately
 * discarded. A refused commit is retried at the next tick and becomes fatal only after
 * `commitFailureTimeoutMs`.
 *
 * @module
 */
import type { Clock } from "./_clock.ts";
import type { FlowDriver } from "./_driver.ts";
import { type Logger, silentLogger } from "./_logger.ts";
import type { CompiledPlan } from "./_plan.ts";
import type { FlowObserver } from "./observe/_observer.ts";
import type {
  BatchControl,
  ConsumerPort,
  ProducerPort,
  RecordBatch,
  TopicPartition,
  TopicPartitionOffset,
  TransactionPort,
} from "./_transport.ts";
import { TransactionCycle } from "./_transactions.ts";

/**
 * A producer the loop connects at start and disconnects at stop, when it can.
 *
 * @example
 * ```ts
 * import type { LoopProducer } from "@loom/streaming/engine";
 * const producer: LoopProducer = { send: () => Promise.resolve() }; // no connection to manage
 * ```
 */
export interface LoopProducer extends ProducerPort {
  /** Connects (optional). */
  connect?(): Promise<void>;
  /** Disconnects (optional). */
  disconnect?(): Promise<void>;
  /** Transactions (required under `processing_guarantee: exactly_once`). */
  readonly transactions?: TransactionPort;
}

/**
 * Options of {@link FlowLoop}.
 *
 * @example
 * ```ts
 * import type { FlowLoopOptions } from "@loom/streaming/engine";
 * const tickEvery: FlowLoopOptions["tickMs"] = 50;
 * ```
 */
export interface FlowLoopOptions {
  /** The driver running the plan (it holds the producer used for deliveries). */
  readonly driver: FlowDriver;
  /** The consumer port of the source topics. */
  readonly consumer: ConsumerPort;
  /** The producer to connect and disconnect with the loop (the driver sends through it). */
  readonly producer?: LoopProducer;
  /** Time source of the commit cadence and of failure timeouts. */
  readonly clock: Clock;
  /** Structured logger (default: silent). */
  readonly logger?: Logger;
  /**
   * Interval of the timer that calls {@link FlowLoop.tick} (default 50 ms). `null`: no timer — the owner
   * calls `tick()` (the simulator does, on its virtual clock).
   */
  readonly tickMs?: number | null;
  /** Partitions processed concurrently (default: `streaming.runtime.partition_concurrency`). */
  readonly partitionsConsumedConcurrently?: number;
  /**
   * How long offset commits may keep failing (rebalance, coordinator move, broker unreachable) before the
   * loop stops with an error (default 30 000 ms). Nothing is committed ahead meanwhile.
   */
  readonly commitFailureTimeoutMs?: number;
  /** Called after each successful commit (tests, metrics). */
  readonly onCommit?: (offsets: readonly TopicPartitionOffset[]) => void;
  /** Observation port: group events, commits and state changes (metrics, lifecycle events). */
  readonly observer?: FlowObserver;
}

/**
 * State of a {@link FlowLoop}.
 *
 * @example
 * ```ts
 * import type { LoopState } from "@loom/streaming/engine";
 * const state: LoopState = "new";
 * ```
 */
export type LoopState = "new" | "starting" | "running" | "stopping" | "stopped" | "failed";

/**
 * The run loop: consumer port → driver → producer → commits. See the module documentation.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import {
 *   compileFlow, FromTopic, IntoTopic, messageType, Process, RecordStep, seededIds, StreamFlow, VirtualClock,
 * } from "@loom/streaming";
 * import { FlowDriver, FlowLoop } from "@loom/streaming/engine";
 * import { InMemoryBroker, MemoryConsumer } from "@loom/streaming/testing";
 *
 * const Order = messageType("order.created", v.object({ id: v.string() }));
 * const flow = new StreamFlow({
 *   name: "orders",
 *   source: new FromTopic("orders", Order),
 *   process: new Process(RecordStep.of((m: { payload: { id: string } }) => m.payload)),
 *   output: new IntoTopic("orders.out"),
 * });
 * const plan = compileFlow(flow, {
 *   kafka: { consumer: { brokers: ["sim:9092"], group_id: "g", topics: ["orders"] }, producer: { brokers: ["sim:9092"] } },
 * });
 * const clock = new VirtualClock(0);
 * const broker = new InMemoryBroker({ clock });
 * broker.createTopic("orders");
 * const driver = new FlowDriver(plan, { producer: broker.producer(), clock, ids: seededIds(1) });
 * const consumer = new MemoryConsumer(broker, plan.source.settings.groupId);
 * const loop = new FlowLoop(plan, { driver, consumer, clock, tickMs: null });
 * await loop.start();
 * await consumer.poll(); // delivers what the topics hold
 * await loop.tick(); // commits the settled watermarks
 * await loop.stop();
 * ```
 */
export class FlowLoop {
  /** The compiled plan being run. */
  readonly plan: CompiledPlan;
  /** The driver running the plan over fetched batches. */
  readonly driver: FlowDriver;
  /** The consumer port. */
  readonly consumer: ConsumerPort;
  #state: LoopState = "new";
  #failure: unknown = null;
  #timer: ReturnType<typeof setInterval> | null = null;
  #commitChain: Promise<void> = Promise.resolve();
  #paused: TopicPartition[] = [];
  #assigned: readonly TopicPartition[] = [];
  #done: Promise<void>;
  #resolveDone!: () => void;
  #ticking = false;
  #commitFailingSince: number | null = null;
  #lastCommitAt: number | null = null;
  #shutdown: Promise<void> | null = null;
  /** Set under `processing_guarantee: exactly_once`. */
  readonly #tx: TransactionCycle | null = null;
  readonly #o: FlowLoopOptions;
  readonly #log: Logger;
  readonly #clock: Clock;

  /**
   * Creates a {@link FlowLoop}.
   *
   * @param plan compiled plan
   * @param options driver, ports, clock
   */
  constructor(plan: CompiledPlan, options: FlowLoopOptions) {
    this.plan = plan;
    this.driver = options.driver;
    this.consumer = options.consumer;
    this.#o = options;
    this.#log = options.logger ?? silentLogger;
    this.#clock = options.clock;
    this.#done = new Promise((r) => (this.#resolveDone = r));
    if (plan.runtime.processingGuarantee === "exactly_once") {
      const transactions = options.producer?.transactions;
      if (transactions === undefined || typeof options.consumer.groupMetadata !== "function") {
        throw new Error(
          `flow '${plan.name}': processing_guarantee: exactly_once needs a transactional producer and a ` +
            "consumer that reports its group metadata (the @platformatic/kafka adapter, or the simulator); " +
            (transactions === undefined
              ? "the producer has no transactions"
              : "the consumer has no groupMetadata()"),
        );
      }
      this.#tx = new TransactionCycle({
        driver: this.driver,
        consumer: this.consumer,
        transactions,
        batchesPerTransaction: plan.runtime.transactionBatches ?? 1,
        logger: this.#log,
        onCommitted: (offsets) => this.#committed(offsets),
      });
    }
  }

  /** Current state. */
  get state(): LoopState {
    return this.#state;
  }

  #setState(state: LoopState): void {
    if (this.#state === state) return;
    this.#state = state;
    this.#o.observer?.stateChanged?.(state, this.#failure);
  }

  /** The fatal error that stopped the loop, if any. */
  get failure(): unknown {
    return this.#failure;
  }

  /** Resolves when the loop has stopped (gracefully or after a failure). */
  get done(): Promise<void> {
    return this.#done;
  }

  /** Partitions currently paused by backpressure. */
  get paused(): readonly TopicPartition[] {
    return this.#paused;
  }

  /** Opens resources, connects the ports, subscribes and starts consuming. */
  async start(): Promise<void> {
    if (this.#state !== "new") throw new Error(`flow loop already ${this.#state}`);
    this.#setState("starting");
    const src = this.plan.source;
    try {
      await this.driver.start();
      await this.#o.producer?.connect?.();
      await this.consumer.connect();
      await this.consumer.subscribe(src.topics, src.settings.autoOffsetReset === "earliest");
      await this.consumer.run({
        onBatch: (batch, ctl) => this.#onBatch(batch, ctl),
        onAssigned: (tps) => this.#onAssigned(tps),
        onRevoked: (tps) => this.#onRevoked(tps),
        onError: (e) => this.#fail(e),
      }, {
        partitionsConsumedConcurrently: this.#o.partitionsConsumedConcurrently ??
          this.plan.runtime.partitionConcurrency,
      });
    } catch (e) {
      this.#failure = e;
      this.#setState("failed");
      this.#resolveDone();
      throw e;
    }
    if (this.#failure) throw this.#failure;
    this.#setState("running");
    const tickMs = this.#o.tickMs === undefined ? 50 : this.#o.tickMs;
    if (tickMs !== null) this.#timer = setInterval(() => void this.tick(), tickMs);
  }

  async #onBatch(batch: RecordBatch, _ctl: BatchControl): Promise<void> {
    if (this.#failure) throw this.#failure;
    try {
      if (this.#tx) await this.#tx.handle(batch);
      else await this.driver.handle(batch);
      // Commits are made at the tick (epoch cadence) so fetching does not wait for commit round trips;
      // the guarantee is the same: only settled prefixes are ever committed.
      this.#backpressure();
    } catch (e) {
      this.#fail(e);
      throw e;
    }
  }

  #onAssigned(tps: readonly TopicPartition[]): void {
    this.#assigned = tps;
    this.#paused = [];
    this.#o.observer?.assigned?.(tps);
    this.#log.info("partitions_assigned", { partitions: tps.map((t) => `${t.topic}[${t.partition}]`) });
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

  /**
   * One tick: fires expired CollectBatch timeouts, commits the settled watermarks when the epoch is due,
   * and applies backpressure. A tick that arrives while one runs is skipped. Failures stop the loop.
   */
  async tick(): Promise<void> {
    if (this.#ticking || this.#state !== "running") return;
    this.#ticking = true;
    try {
      const d = this.driver.nextDeadline();
      const now = this.#clock.now();
      const fire = d !== null && d <= now;
      // streaming.runtime.epoch_interval_ms: commit at most once per epoch (default: every tick)
      const epoch = this.plan.runtime.epochIntervalMs;
      const due = epoch === null || this.#lastCommitAt === null || now - this.#lastCommitAt >= epoch;
      if (due) this.#lastCommitAt = now;
      if (this.#tx) {
        // exactly_once: a failed transaction is aborted and fatal (its records are read again)
        await this.#tx.tick(fire, due);
      } else {
        if (fire) await this.driver.tick();
        if (due) await this.#commitOrRetry();
      }
      this.#backpressure();
    } catch (e) {
      this.#fail(e);
    } finally {
      this.#ticking = false;
    }
  }

  /**
   * Flushes every buffered batch (end of input), delivers the result and commits what settled.
   * Failures stop the loop and are rethrown.
   */
  async flush(): Promise<void> {
    try {
      if (!this.#tx) await this.driver.flush(); // (the transaction commit flushes inside the transaction)
      await this.#commit();
    } catch (e) {
      this.#fail(e);
      throw e;
    }
  }

  /**
   * A failed commit is not fatal at once: a commit can fail while the group rebalances or its coordinator
   * moves, and the settled watermarks are simply committed again at the next tick (nothing is committed
   * ahead meanwhile). Commits failing for longer than `commitFailureTimeoutMs` stop the loop.
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
    if (this.#tx) return this.#tx.commit();
    const run = async () => {
      const offsets = this.driver.takeCommits();
      if (offsets.length === 0) return;
      try {
        await this.consumer.commit(offsets);
      } catch (e) {
        this.driver.tracker.restoreCommits(offsets);
        throw e;
      }
      this.#committed(offsets);
    };
    const p = this.#commitChain.then(run);
    this.#commitChain = p.catch(() => {});
    return p;
  }

  #committed(offsets: readonly TopicPartitionOffset[]): void {
    if (offsets.length === 0) return;
    this.#o.onCommit?.(offsets);
    this.#o.observer?.committed?.(offsets);
    this.#log.info("committed", { offsets: offsets.map((o) => `${o.topic}[${o.partition}]@${o.offset}`) });
  }

  async #onRevoked(tps: readonly TopicPartition[]): Promise<void> {
    try {
      // Deliver what is buffered so it can be committed while the old generation is still valid
      // (exactly_once: the open transaction commits with the revoked partitions' offsets, or aborts).
      if (!this.#tx) await this.driver.flush();
      await this.#commit();
    } catch (e) {
      this.#log.error("revoke_flush_failed", { reason: e instanceof Error ? e.message : String(e) });
    }
    this.driver.revoke(tps);
    this.#o.observer?.revoked?.(tps);
    this.#assigned = [];
    this.#paused = [];
    this.#log.info("partitions_revoked", { partitions: tps.map((t) => `${t.topic}[${t.partition}]`) });
  }

  #fail(e: unknown): void {
    if (this.#failure) return;
    this.#failure = e;
    this.#setState("failed");
    this.#log.error("flow_failed", {
      flow: this.plan.name,
      reason: e instanceof Error ? e.message : String(e),
    });
    void this.#shut(false);
  }

  /**
   * Graceful stop: stops fetching, flushes buffers, delivers, commits, leaves the group, disposes
   * resources — within `streaming.runtime.force_shutdown_timeout_ms` when set.
   */
  async stop(): Promise<void> {
    if (this.#state === "stopped" || this.#state === "stopping") return this.#done;
    if (this.#state === "new") {
      this.#setState("stopped");
      this.#resolveDone();
      return;
    }
    if (this.#state !== "failed") this.#setState("stopping");
    const limit = this.plan.runtime.forceShutdownTimeoutMs;
    if (limit === null) return await this.#shut(true);
    // streaming.runtime.force_shutdown_timeout_ms: give up waiting for the graceful path (flush, deliver,
    // commit, leave the group) after this long; what was not committed is redelivered after a restart.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<"expired">((r) => (timer = setTimeout(() => r("expired"), limit)));
    const outcome = await Promise.race([this.#shut(true).then(() => "done" as const), expired]);
    clearTimeout(timer);
    if (outcome === "expired") {
      this.#failure ??= new Error(
        `graceful shutdown did not finish within force_shutdown_timeout_ms (${limit} ms); ` +
          "messages that were not committed will be delivered again after a restart",
      );
      this.#setState("failed");
      this.#log.error("forced_shutdown", { flow: this.plan.name, timeout_ms: limit });
      this.#resolveDone();
    }
  }

  /**
   * Abandons the loop as a crashed process would: stops the timer and fetching, commits nothing more and
   * disposes what it can (errors ignored). What was not committed is delivered again to the next owner.
   */
  async abandon(): Promise<void> {
    this.#failure ??= new Error("the flow loop was abandoned (simulated crash)");
    this.#setState("failed");
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    try {
      await this.driver.stop();
    } catch { /* a crashed process does not dispose cleanly */ }
    this.#resolveDone();
  }

  #shut(graceful: boolean): Promise<void> {
    this.#shutdown ??= this.#doShutdown(graceful);
    return this.#shutdown;
  }

  async #doShutdown(graceful: boolean): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.driver.beginShutdown();
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
      if (!this.#tx) await attempt(() => this.driver.flush());
      await attempt(() => this.#commit());
    }
    if (this.#tx) await this.#tx.abort(); // whatever did not commit (no-op after a commit)
    await attempt(() => this.consumer.disconnect());
    if (this.#o.producer?.disconnect) await attempt(() => this.#o.producer!.disconnect!());
    await attempt(() => this.driver.stop());
    if (this.#state !== "failed") this.#setState("stopped");
    for (const e of errors) {
      this.#log.error("shutdown_error", { reason: e instanceof Error ? e.message : String(e) });
    }
    this.#log.info("flow_stopped", { flow: this.plan.name, stats: this.driver.stats });
    this.#resolveDone();
  }
}
