/**
 * The driver: the transport-independent loop body shared by the simulator and the Kafka runtime.
 * It runs a batch through the {@link Engine}, delivers the emission (one produce per topic, one write
 * per table; see `_delivery.ts`), settles every message's fate, and exposes the commit watermarks.
 *
 * The logger port lives in `_logger.ts`, the counters in `_stats.ts`, delivery (retries, bisection,
 * dead-letter and last-resort paths) in `_delivery.ts`; they are re-exported here.
 *
 * @module
 */
import { Emission, Engine } from "./engine/mod.ts";
import type { CompiledPlan } from "./_plan.ts";
import { OffsetTracker } from "./_tracker.ts";
import type { RecordBatch, TopicPartition, TopicPartitionOffset } from "./_transport.ts";
import { Wire } from "./_wire.ts";
import { TableDelivery } from "./_table_delivery.ts";
import { silentLogger } from "./_logger.ts";
import { type DriverStats, emptyStats } from "./_stats.ts";
import { DeliveryFailure, EmissionDelivery } from "./_delivery.ts";
import type { DriverOptions } from "./_driver_options.ts";

/**
 * Runs a compiled plan over fetched batches and delivers the results.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { compileFlow, FromTopic, IntoTopic, messageType, Process, RecordStep, StreamFlow } from "@loom/streaming";
 * const Order = messageType("order.created", v.object({ order_id: v.string() }));
 * const plan = compileFlow(new StreamFlow({
 *   name: "orders",
 *   source: new FromTopic("orders", Order),
 *   process: new Process(RecordStep.of((m: { payload: { order_id: string } }) => m.payload)),
 *   output: new IntoTopic("orders.out"),
 * }), { kafka: { consumer: { brokers: ["b:9092"], group_id: "g", topics: ["orders"] }, producer: { brokers: ["b:9092"] } } });
 * import { randomIds, systemClock } from "@loom/streaming";
 * import { encodeSourceValue, FlowDriver, type SourceRecord } from "@loom/streaming/engine";
 * const driver = new FlowDriver(plan, { producer: { send: () => Promise.resolve() }, clock: systemClock, ids: randomIds });
 * const record: SourceRecord = {
 *   topic: "orders", partition: 0, offset: 0, key: null, headers: {}, timestampMs: 0,
 *   value: encodeSourceValue({ order_id: "o-1" }, Order, { producedAtMs: 0 }),
 * };
 * await driver.start();
 * await driver.handle({ topic: "orders", partition: 0, records: [record] });
 * driver.takeCommits(); // [{ topic: "orders", partition: 0, offset: 1 }]
 * ```
 */
export class FlowDriver {
  /** The compiled plan. */
  readonly plan: CompiledPlan;
  /** The engine executing the plan. */
  readonly engine: Engine;
  /** Completion tracker that computes the commit watermarks. */
  readonly tracker: OffsetTracker;
  /** Counters since the driver was created. */
  readonly stats: DriverStats;
  readonly #o: DriverOptions;
  readonly #buffered: TableDelivery;
  readonly #delivery: EmissionDelivery;

  /**
   * Creates a {@link FlowDriver}.
   *
   * @param plan compiled plan
   * @param options transport ports, clock, ids
   */
  constructor(plan: CompiledPlan, options: DriverOptions) {
    this.plan = plan;
    this.#o = options;
    this.tracker = options.tracker ?? new OffsetTracker();
    const wire = new Wire(plan, options.clock, options.ids);
    this.engine = new Engine(plan, {
      clock: options.clock,
      ids: options.ids,
      wire,
      tracker: this.tracker,
      unroutedErrors: options.unroutedErrors ?? plan.runtime.unroutedErrors,
      beforeStep: options.beforeStep,
    });
    this.stats = emptyStats();
    this.#buffered = new TableDelivery({
      tracker: this.tracker,
      tableRows: this.stats.tableRows,
      maxInFlight: plan.runtime.maxInFlight,
      fail: (item, reason, path, em) => this.engine.fail(item, reason, "task", path, em),
      emission: () => new Emission(),
      deliver: (em) => this.deliver(em),
      deliveryFailure: (target, cause) => new DeliveryFailure(target, cause),
    });
    this.#delivery = new EmissionDelivery(plan, options, {
      tracker: this.tracker,
      stats: this.stats,
      log: options.logger ?? silentLogger,
      wire,
      buffered: this.#buffered,
    });
  }

  /** Opens worker-scoped resources. */
  start(): Promise<void> {
    return this.engine.open();
  }

  /** Processes one fetched batch and delivers everything it produced. */
  async handle(batch: RecordBatch): Promise<void> {
    this.#buffered.throwIfFailed();
    this.stats.consumed += batch.records.length;
    this.stats.batches++;
    const obs = this.#o.observer;
    if (obs === undefined) {
      const em = await this.engine.process(batch);
      await this.deliver(em);
      return;
    }
    obs.batchStarted?.(batch);
    const t0 = performance.now();
    try {
      const em = await this.engine.process(batch);
      await this.deliver(em);
    } catch (e) {
      obs.batchHandled?.(batch, performance.now() - t0, e);
      throw e;
    }
    obs.batchHandled?.(batch, performance.now() - t0, null);
  }

  /** Fires expired CollectBatch timeouts and delivers the result. */
  async tick(): Promise<void> {
    this.#buffered.throwIfFailed();
    const em = await this.engine.tick();
    await this.deliver(em);
  }

  /**
   * Flushes every buffered batch (end of input / revoke / graceful shutdown) and delivers the result, then
   * flushes buffered table writers and waits until their rows are settled.
   */
  async flush(): Promise<void> {
    const em = await this.engine.flush();
    await this.deliver(em);
    await this.#buffered.flushAll();
  }

  /**
   * A graceful shutdown began (the loop calls it first): later flushes leave the table writers with
   * `flush_on_shutdown: false` unflushed, so their inputs are not committed and come back after a restart.
   */
  beginShutdown(): void {
    this.#buffered.beginShutdown();
  }

  /** Earliest CollectBatch deadline (clock time), or null; "now" once a table sink has failed (so the caller ticks and fails). */
  nextDeadline(): number | null {
    if (this.#buffered.failure !== null) return Number.NEGATIVE_INFINITY;
    return this.engine.nextDeadline();
  }

  /** Commit watermarks that moved since the last call. */
  takeCommits(): TopicPartitionOffset[] {
    return this.tracker.takeCommits();
  }

  /** Messages fetched and not yet settled. */
  get inFlight(): number {
    return this.tracker.inFlight;
  }

  /** Forgets revoked partitions (buffered messages are dropped; the new owner re-reads them). */
  revoke(tps: readonly TopicPartition[]): void {
    for (const tp of tps) this.engine.revoke(tp.topic, tp.partition);
    this.tracker.revoke(tps);
  }

  /** Disposes worker resources and closes table writers (errors aggregated). */
  async stop(): Promise<void> {
    const errors: unknown[] = [];
    try {
      await this.engine.close();
    } catch (e) {
      errors.push(e);
    }
    for (const w of this.#o.tables?.values() ?? []) {
      try {
        await w.close?.();
      } catch (e) {
        errors.push(e);
      }
    }
    await this.#buffered.settled();
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, "errors while stopping the flow");
  }

  /** Delivers an emission: one send per topic and one write per table, in parallel; then settles fates. */
  deliver(em: Emission): Promise<void> {
    return this.#delivery.deliver(em);
  }
}

export { Emission };
