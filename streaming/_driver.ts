/**
 * The driver: the transport-independent loop body shared by the simulator and the Kafka runtime.
 * It runs a batch through the {@link Engine}, delivers the emission (one produce per topic, one write
 * per table), settles every message's fate, and exposes the commit watermarks.
 *
 * Slightly over ~600 lines: delivery with its retry, bisection, dead-letter and last-resort paths is one
 * concept; the policies themselves live in `_unwritable.ts` and `_table_delivery.ts`.
 *
 * @module
 */
import type { Clock, IdSource } from "./_clock.ts";
import {
  Emission,
  Engine,
  reasonOf,
  type TableBatch,
  type TopicBatch,
  type UnroutedError,
} from "./engine/mod.ts";
import type { CompiledPlan, CompiledTopicSink } from "./_plan.ts";
import type { SinkWriter } from "./dsl/mod.ts";
import { OffsetTracker, type Origin } from "./_tracker.ts";
import type {
  OutgoingRecord,
  ProducerPort,
  RecordBatch,
  TopicPartition,
  TopicPartitionOffset,
} from "./_transport.ts";
import { isRecordSpecificFailure } from "./_transport.ts";
import { Wire } from "./_wire.ts";
import { HEADERS } from "./_wire_headers.ts";
import { isBufferedSinkWriter, TableDelivery } from "./_table_delivery.ts";
import { coordinates, cutReason, deadLetterRecord, type Unwritable, UNWRITABLE_HINT } from "./_unwritable.ts";
import type { ErrorKind } from "./_message.ts";
import type { FlowObserver } from "./observe/_observer.ts";

/**
 * Minimal structured logger.
 *
 * @example
 * ```ts
 * import type { Logger } from "@loom/streaming/engine";
 * const logger: Logger = {
 *   info: (event, fields) => console.log(event, fields),
 *   warn: (event, fields) => console.warn(event, fields),
 *   error: (event, fields) => console.error(event, fields),
 * };
 * ```
 */
export interface Logger {
  /** Logs an informational event. */
  info(event: string, fields?: Record<string, unknown>): void;
  /** Logs a warning event. */
  warn(event: string, fields?: Record<string, unknown>): void;
  /** Logs an error event. */
  error(event: string, fields?: Record<string, unknown>): void;
}

/**
 * A logger that drops everything.
 *
 * @example
 * ```ts
 * import { silentLogger } from "@loom/streaming/engine";
 * silentLogger.info("ignored");
 * ```
 */
export const silentLogger: Logger = { info() {}, warn() {}, error() {} };

/**
 * Delivery failed for good (after retries, with no dead-letter topic to fall back to).
 *
 * @example
 * ```ts
 * import { DeliveryFailure } from "@loom/streaming/engine";
 * const e = new DeliveryFailure("orders.out", new Error("broker unavailable"));
 * e.message; // "delivery to orders.out failed: broker unavailable"
 * ```
 */
export class DeliveryFailure extends Error {
  /**
   * Creates a {@link DeliveryFailure}.
   *
   * @param target topic or table
   * @param cause underlying error
   */
  constructor(
    readonly target: string,
    override readonly cause: unknown,
    /** The source record whose output could not be written, when known. */
    readonly record: TopicPartitionOffset | null = null,
    hint?: string,
  ) {
    super(
      `delivery to ${target} failed: ${reasonOf(cause)}` +
        (record === null
          ? ""
          : ` (the output of the record ${record.topic}[${record.partition}]@${record.offset}`) +
        (record === null ? "" : hint === undefined ? ")" : `; ${hint})`),
    );
    this.name = "DeliveryFailure";
  }
}

/**
 * Counters of a running flow.
 *
 * @example
 * ```ts
 * import { type DriverStats, emptyStats } from "@loom/streaming/engine";
 * const stats: DriverStats = emptyStats();
 * stats.consumed += 10;
 * ```
 */
export interface DriverStats {
  /** Source records handed to the driver. */
  consumed: number;
  /** Records produced per topic (dead-letter topics included). */
  produced: Record<string, number>;
  /** Rows written per storage sink name. */
  tableRows: Record<string, number>;
  /** Error envelopes per error kind. */
  errors: Record<ErrorKind, number>;
  /** Messages deliberately discarded. */
  discarded: number;
  /** Errors without an error route (policy `log`). */
  unrouted: number;
  /** Records sent to dead-letter topics (IntoTopic DLQs and `on_unwritable: dead_letter`). */
  deadLettered: number;
  /** Error records written again as a reduced envelope (original payload omitted) after a refusal. */
  reducedErrors: number;
  /** Source records skipped by `on_unwritable: log_and_skip` (logged, committed, nothing written). */
  skipped: number;
  /** Delivery retries (produces and table writes). */
  retries: number;
  /** Batches handled. */
  batches: number;
}

/**
 * Options of {@link FlowDriver}.
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
 * import { type DriverOptions, FlowDriver } from "@loom/streaming/engine";
 * const producer = { send: () => Promise.resolve() };
 * const options: DriverOptions = { producer, clock: systemClock, ids: randomIds, deliveryRetries: 5 };
 * const driver = new FlowDriver(plan, options);
 * ```
 */
export interface DriverOptions {
  /** Produces the output records. */
  readonly producer: ProducerPort;
  /** Writers of storage sinks, by sink path (see `CompiledPlan.storageSinks`). */
  readonly tables?: ReadonlyMap<string, SinkWriter>;
  /** Time source (CollectBatch timeouts, retry backoff, envelope timestamps). */
  readonly clock: Clock;
  /** Trace-id source of produced envelopes. */
  readonly ids: IdSource;
  /** Completion tracker (default: a new one). */
  readonly tracker?: OffsetTracker;
  /** Extra delivery attempts per produce/write before giving up (default 3). */
  readonly deliveryRetries?: number;
  /** Backoff before retry k is `retryBackoffMs * 2^k` of the clock (default 100; the simulator uses 0). */
  readonly retryBackoffMs?: number;
  /** Overrides `streaming.runtime.unrouted_errors` of the plan. */
  readonly unroutedErrors?: "fail" | "log";
  /** Structured logger (default: silent). */
  readonly logger?: Logger;
  /** Fault-injection hook called before each step invocation. */
  readonly beforeStep?: (name: string, path: string) => void;
  /** Called for every unrouted error (policy `log`), after it is logged. */
  readonly onUnrouted?: (error: UnroutedError) => void;
  /** Observation port: called once per batch and per delivery (metrics, lifecycle events). */
  readonly observer?: FlowObserver;
}

/**
 * Zeroed counters.
 *
 * @example
 * ```ts
 * import { emptyStats } from "@loom/streaming/engine";
 * emptyStats().consumed; // 0
 * ```
 */
export function emptyStats(): DriverStats {
  return {
    consumed: 0,
    produced: {},
    tableRows: {},
    errors: { wire: 0, routing: 0, task: 0, business: 0 },
    discarded: 0,
    unrouted: 0,
    deadLettered: 0,
    reducedErrors: 0,
    skipped: 0,
    retries: 0,
    batches: 0,
  };
}
const utf8 = new TextEncoder();

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
  readonly #log: Logger;
  readonly #buffered: TableDelivery;
  readonly #wire: Wire;

  /**
   * Creates a {@link FlowDriver}.
   *
   * @param plan compiled plan
   * @param options transport ports, clock, ids
   */
  constructor(plan: CompiledPlan, options: DriverOptions) {
    this.plan = plan;
    this.#o = options;
    this.#log = options.logger ?? silentLogger;
    this.tracker = options.tracker ?? new OffsetTracker();
    const wire = new Wire(plan, options.clock, options.ids);
    this.#wire = wire;
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
  async deliver(em: Emission): Promise<void> {
    const s = this.stats;
    for (const k of Object.keys(em.errorCounts) as ErrorKind[]) s.errors[k] += em.errorCounts[k];
    s.discarded += em.discarded;
    s.unrouted += em.unrouted.length;
    for (const u of em.unrouted) {
      this.#log.error("unrouted_error", {
        kind: u.kind,
        reason: u.reason,
        message_id: u.messageId,
        path: u.path,
      });
      this.#o.onUnrouted?.(u);
    }
    if (em.empty) return;
    em.orderByInput();
    const work: Promise<void>[] = [];
    const unwritable: Unwritable[] = [];
    for (const tb of em.topics.values()) work.push(this.sendTopic(tb, unwritable));
    for (const t of em.tables.values()) work.push(this.writeTable(t));
    if (work.length) await Promise.all(work);
    if (unwritable.length) await this.#lastResort(unwritable);
    for (const o of em.releases) this.tracker.release(o);
  }

  /**
   * `streaming.runtime.on_unwritable`: the fate of source records one of whose outputs the broker refused
   * for its content on every path. `fail` stops the flow naming the record; `dead_letter` writes each
   * record as it was fetched (key, value, headers) to `dead_letter_topic` with the reason in `x-dlq-error`
   * and its coordinates in `x-dlq-source-*`, and settles it once that write is acknowledged;
   * `log_and_skip` logs, counts and settles it. A record is dead-lettered or skipped once, however many
   * of its outputs failed.
   */
  async #lastResort(list: readonly Unwritable[]): Promise<void> {
    const rt = this.plan.runtime;
    const policy = rt.onUnwritable ?? "fail";
    // in input order (the error topics and outputs were sent concurrently)
    const sorted = list.length > 1 ? [...list].sort((a, b) => a.origin.offset - b.origin.offset) : list;
    if (policy === "fail") {
      const u = sorted[0];
      throw new DeliveryFailure(u.target, u.error, coordinates(u.origin), UNWRITABLE_HINT);
    }
    const fresh: Unwritable[] = [];
    const seen = new Set<Origin>();
    for (const u of sorted) {
      if (u.origin.lastResort === null && !seen.has(u.origin)) fresh.push(u);
      seen.add(u.origin);
    }
    if (policy === "dead_letter") {
      const dlt = rt.deadLetterTopic!;
      const recs: OutgoingRecord[] = fresh.map((u) => {
        const r = u.origin.record;
        if (r === null) {
          throw new DeliveryFailure(u.target, u.error, coordinates(u.origin), "its source record is unknown");
        }
        return deadLetterRecord(r, `delivery to ${u.target} failed: ${reasonOf(u.error)}`);
      });
      if (recs.length) {
        const err = await this.attempt(dlt, () => this.#o.producer.send(dlt, recs), recs, fresh[0].origin);
        if (err !== null) {
          const u = fresh[0];
          throw new DeliveryFailure(
            `${u.target} (and the dead-letter topic ${dlt} of on_unwritable)`,
            err,
            coordinates(u.origin),
          );
        }
      }
      this.stats.deadLettered += recs.length;
      this.stats.produced[dlt] = (this.stats.produced[dlt] ?? 0) + recs.length;
      for (const u of fresh) {
        u.origin.lastResort = "dead_letter";
        this.#log.warn("unwritable_dead_lettered", {
          ...coordinates(u.origin),
          target: u.target,
          dead_letter_topic: dlt,
          reason: cutReason(reasonOf(u.error)),
        });
      }
    } else {
      this.stats.skipped += fresh.length;
      for (const u of fresh) {
        u.origin.lastResort = "log_and_skip";
        this.#log.error("unwritable_skipped", {
          ...coordinates(u.origin),
          target: u.target,
          reason: cutReason(reasonOf(u.error)),
        });
      }
    }
    for (const u of list) this.tracker.release(u.origin);
  }

  /** Runs `fn` with the configured retries and backoff; resolves to the last error, or null on success. */
  private async attempt(
    target: string,
    fn: () => Promise<void>,
    records: readonly { readonly headers?: Readonly<Record<string, Uint8Array>> }[] = [],
    origin: Origin | undefined = undefined,
  ): Promise<unknown | null> {
    const obs = this.#o.observer?.delivered;
    if (obs === undefined) return this.#attempt(target, fn);
    const t0 = performance.now();
    const err = await this.#attempt(target, fn);
    obs(
      target,
      records.length,
      performance.now() - t0,
      err,
      records[0]?.headers ?? null,
      origin?.partition ?? null,
    );
    return err;
  }

  async #attempt(target: string, fn: () => Promise<void>): Promise<unknown | null> {
    const retries = this.#o.deliveryRetries ?? this.plan.runtime.deliveryRetries;
    const backoff = this.#o.retryBackoffMs ?? this.plan.runtime.retryBackoffMs;
    let last: unknown = null;
    for (let k = 0; k <= retries; k++) {
      try {
        await fn();
        return null;
      } catch (e) {
        last = e;
        // The broker refused the records themselves: sending them again cannot succeed.
        if (isRecordSpecificFailure(e)) break;
        if (k < retries) {
          this.stats.retries++;
          this.#log.warn("delivery_retry", { target, attempt: k + 1, reason: reasonOf(e) });
          if (backoff > 0) await this.#o.clock.sleep(backoff * 2 ** k);
        }
      }
    }
    return last ?? new Error("delivery failed");
  }

  /**
   * Produces one topic batch. When the broker refuses records for their content, the batch is bisected
   * down to them; a refused error record is written again as a reduced envelope; what has a DLQ is
   * dead-lettered; a record still refused for its content is added to `unwritable` (its source record
   * goes to `on_unwritable`); any other failure throws {@link DeliveryFailure}.
   */
  private async sendTopic(tb: TopicBatch, unwritable: Unwritable[]): Promise<void> {
    const producer = this.#o.producer;
    const err = await this.attempt(
      tb.topic,
      () => producer.send(tb.topic, tb.records),
      tb.records,
      tb.origins[0],
    );
    if (err === null) {
      this.stats.produced[tb.topic] = (this.stats.produced[tb.topic] ?? 0) + tb.records.length;
      for (const o of tb.origins) this.tracker.release(o);
      return;
    }
    // Which records failed, and why. When the broker refused the records' content (e.g. one record over
    // the topic's max.message.bytes), the batch is split in halves until the refused records are isolated,
    // so only they are dead-lettered (the original dead-lettered the whole batch).
    const failed = new Map<number, unknown>();
    const all = tb.records.map((_, i) => i);
    if (isRecordSpecificFailure(err) && all.length > 1) await this.#isolate(tb, all, failed);
    else for (const i of all) failed.set(i, err);
    const written = tb.records.length - failed.size;
    if (written > 0) {
      this.stats.produced[tb.topic] = (this.stats.produced[tb.topic] ?? 0) + written;
      for (let i = 0; i < tb.origins.length; i++) if (!failed.has(i)) this.tracker.release(tb.origins[i]);
    }
    // An error record refused for its content gets a second chance as a reduced envelope.
    for (const [i, e] of failed) {
      const src = tb.errors[i];
      if (src === null || !isRecordSpecificFailure(e)) continue;
      let reduced: OutgoingRecord;
      try {
        reduced = this.#wire.encodeReducedError(src, reasonOf(e), this.#sinkOf(tb.topic));
      } catch (encodeError) {
        failed.set(i, encodeError);
        continue;
      }
      const again = await this.attempt(
        tb.topic,
        () => producer.send(tb.topic, [reduced]),
        [reduced],
        tb.origins[i],
      );
      if (again !== null) {
        failed.set(i, again);
        continue;
      }
      failed.delete(i);
      this.#log.warn("error_record_reduced", { topic: tb.topic, reason: cutReason(reasonOf(e)) });
      this.stats.reducedErrors++;
      this.stats.produced[tb.topic] = (this.stats.produced[tb.topic] ?? 0) + 1;
      this.tracker.release(tb.origins[i]);
    }
    // Dead-letter what has a DLQ; what the broker refused for its content goes to on_unwritable; anything
    // else fails the delivery (nothing of it is committed).
    const byDlq = new Map<string, number[]>();
    for (const [i, e] of failed) {
      const d = tb.dlqs[i];
      if (d !== null) {
        let l = byDlq.get(d);
        if (!l) byDlq.set(d, l = []);
        l.push(i);
      } else if (isRecordSpecificFailure(e)) {
        unwritable.push({ origin: tb.origins[i], target: tb.topic, error: e });
      } else throw new DeliveryFailure(tb.topic, e, coordinates(tb.origins[i]));
    }
    for (const [dlq, idx] of byDlq) {
      const recs: OutgoingRecord[] = idx.map((i) => {
        const r = tb.records[i];
        // The key is kept (the original dropped it for plain messages).
        const reason = utf8.encode(reasonOf(failed.get(i)));
        return { ...r, partition: undefined, headers: { ...r.headers, [HEADERS.dlqError]: reason } };
      });
      let dlqErr = await this.attempt(dlq, () => producer.send(dlq, recs), recs, tb.origins[idx[0]]);
      let done = idx;
      if (dlqErr !== null && isRecordSpecificFailure(dlqErr)) {
        // The DLQ refused a record too: write them one by one, the refused ones go to on_unwritable.
        done = [];
        dlqErr = null;
        for (let k = 0; k < idx.length && dlqErr === null; k++) {
          const e = await this.attempt(
            dlq,
            () => producer.send(dlq, [recs[k]]),
            [recs[k]],
            tb.origins[idx[k]],
          );
          if (e === null) done.push(idx[k]);
          else if (isRecordSpecificFailure(e)) {
            const target = `${tb.topic} (and its dead-letter topic ${dlq})`;
            unwritable.push({ origin: tb.origins[idx[k]], target, error: e });
          } else dlqErr = e;
        }
      }
      if (dlqErr !== null) {
        throw new DeliveryFailure(
          `${tb.topic} (and its dead-letter topic ${dlq})`,
          dlqErr,
          coordinates(tb.origins[idx[0]]),
        );
      }
      if (done.length === 0) continue;
      this.#log.warn("dead_lettered", {
        topic: tb.topic,
        dlq,
        records: done.length,
        reason: reasonOf(failed.get(done[0])),
      });
      this.stats.deadLettered += done.length;
      this.stats.produced[dlq] = (this.stats.produced[dlq] ?? 0) + done.length;
      for (const i of done) this.tracker.release(tb.origins[i]);
    }
  }

  /** The error-route sink writing to `topic` (for re-encoding a refused error record). */
  #sinkOf(topic: string): CompiledTopicSink {
    for (const sink of this.plan.errorRoutes.values()) if (sink.topic === topic) return sink;
    throw new Error(`no error route writes to ${topic}`);
  }

  /** Bisects `idx` (records the broker refused as a group) until each refused record is alone. */
  async #isolate(tb: TopicBatch, idx: readonly number[], failed: Map<number, unknown>): Promise<void> {
    const mid = idx.length >> 1;
    for (const part of [idx.slice(0, mid), idx.slice(mid)]) {
      try {
        await this.#o.producer.send(tb.topic, part.map((i) => tb.records[i]));
      } catch (e) {
        if (part.length > 1 && isRecordSpecificFailure(e)) await this.#isolate(tb, part, failed);
        else for (const i of part) failed.set(i, e);
      }
    }
  }

  /**
   * Writes one table batch through its sink writer (with retries), else throws. A buffered writer
   * (`BufferedSinkWriter`) is not waited for: its rows settle when the flush holding them resolves.
   */
  private async writeTable(t: TableBatch): Promise<void> {
    const w = this.#o.tables?.get(t.path);
    if (!w) {
      throw new DeliveryFailure(`table sink '${t.name}'`, new Error("no writer configured for this sink"));
    }
    if (isBufferedSinkWriter(w)) return this.#buffered.enqueue(t, w);
    const err = await this.attempt(
      `table:${t.name}`,
      async () => {
        await w.write(t.rows);
      },
      t.rows as readonly object[],
      t.origins[0],
    );
    if (err !== null) throw new DeliveryFailure(`table sink '${t.name}'`, err);
    this.stats.tableRows[t.name] = (this.stats.tableRows[t.name] ?? 0) + t.rows.length;
    for (const o of t.origins) this.tracker.release(o);
  }
}

export { Emission };
