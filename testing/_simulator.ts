/**
 * `FlowSimulator`: runs a flow on in-memory topics through the same engine and driver as production.
 * Topics carry real wire bytes, keys are placed by Kafka's murmur2 partitioner, time is virtual,
 * consumer-group commits are visible, and faults (step failures, sink failures, crashes) can be injected.
 * It is a thin shell over the production run loop (`FlowLoop`) with the in-memory consumer.
 *
 * Its options and default configuration are in `_simulator_options.ts`, the encoding of its inputs in
 * `_simulator_input.ts`.
 *
 * @module
 */
import { VirtualClock } from "../streaming/_clock.ts";
import { seededIds } from "../streaming/_clock.ts";
import { compileFlow } from "../streaming/compiler/mod.ts";
import { FlowDriver } from "../streaming/_driver.ts";
import { type DriverStats, emptyStats } from "../streaming/_stats.ts";
import { FlowLoop } from "../streaming/_loop.ts";
import type { UnroutedError } from "../streaming/engine/mod.ts";
import {
  type DecodeError,
  type ErrorEnvelope,
  type ErrorKind,
  errorMessageType,
  type MessageMeta,
} from "../streaming/_message.ts";
import type { SinkWriter, StreamFlow } from "../streaming/dsl/mod.ts";
import type { CompiledPlan } from "../streaming/_plan.ts";
import type { SourceRecord, TopicPartitionOffset } from "../streaming/_transport.ts";
import { inspectOutputRecord, type OutputMessage } from "../streaming/_wire_records.ts";
import { InMemoryBroker } from "./_broker.ts";
import { MemoryConsumer } from "./_memory_consumer.ts";
import { type FixtureRecord, parseFixture } from "./_fixture.ts";
import { MemoryTable } from "./_memory_table.ts";
import { type BufferPolicy, bufferPolicyOf, DEFAULT_BUFFER_POLICY } from "../streaming/_table_buffer.ts";
import { ConfigContext, readSinkSection } from "../streaming/config/mod.ts";
import {
  type InputTarget,
  loadFixtureRecords,
  type SendOptions,
  sendPayload,
  sendRawValue,
} from "./_simulator_input.ts";
import { simulatorConfig, type SimulatorOptions } from "./_simulator_options.ts";

/**
 * A deterministic, broker-free runner for flows.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { FromTopic, IntoTopic, Process, RecordStep, StreamFlow, messageType } from "@loom/streaming";
 * import { FlowSimulator } from "@loom/streaming/testing";
 * const Order = messageType("order.created", v.object({ order_id: v.string() }));
 * const flow = new StreamFlow({
 *   name: "orders",
 *   source: new FromTopic("orders.raw", Order),
 *   process: new Process(RecordStep.of((m: { payload: { order_id: string } }) => ({ order_id: m.payload.order_id.toUpperCase() }))),
 *   output: new IntoTopic("orders.out"),
 * });
 * const sim = await FlowSimulator.create(flow);
 * sim.send({ order_id: "o-1" }, { key: "o-1" });
 * await sim.run();
 * sim.output("orders.out")[0].payload; // { order_id: "O-1" }
 * ```
 */
export class FlowSimulator {
  /** The compiled plan. */
  readonly plan: CompiledPlan;
  /** The in-memory broker holding every topic. */
  readonly broker: InMemoryBroker;
  /** The virtual clock. */
  readonly clock: VirtualClock;
  /** Consumer group of the flow. */
  readonly group: string;
  /** Unrouted errors seen (policy `log`). */
  readonly unrouted: UnroutedError[] = [];
  readonly #tables = new Map<string, MemoryTable>();
  readonly #stepFaults = new Map<string, { times: number; error: () => unknown }>();
  readonly #opts: SimulatorOptions;
  readonly #input: InputTarget;
  #driver!: FlowDriver;
  #loop!: FlowLoop;
  #consumer!: MemoryConsumer;
  #stats: DriverStats[] = [];
  #seedCounter = 0;
  #running: Promise<number> | null = null;
  #crashes = 0;

  private constructor(plan: CompiledPlan, opts: SimulatorOptions) {
    this.plan = plan;
    this.#opts = opts;
    this.clock = opts.clock ?? new VirtualClock(opts.startTimeMs ?? 1_700_000_000_000);
    this.broker = opts.broker ?? new InMemoryBroker({ clock: this.clock });
    this.group = plan.source.settings.groupId;
    this.#input = { broker: this.broker, clock: this.clock, source: plan.source };
    for (const topic of plan.source.topics) {
      const p = typeof opts.partitions === "number" ? opts.partitions : opts.partitions?.[topic];
      // A topic another flow of a shared broker created already keeps its partitions unless given here.
      if (p === undefined && this.broker.hasTopic(topic)) continue;
      this.broker.createTopic(topic, { partitions: p ?? 1 });
    }
    for (const s of plan.storageSinks.values()) {
      if (this.#tables.has(s.name)) continue;
      this.#tables.set(
        s.name,
        new MemoryTable(s.name, {
          policy: this.#policyOf(s.name, s.section),
          clock: this.clock,
          logger: opts.logger,
        }),
      );
    }
  }

  /** The twin's policy: the sink's `streaming.sinks.<name>` section, defaults without one. */
  #policyOf(name: string, section: Readonly<Record<string, unknown>> | null): BufferPolicy {
    if (section === null) return DEFAULT_BUFFER_POLICY;
    return bufferPolicyOf(readSinkSection(ConfigContext.fromObject({ ...this.plan.config }), name));
  }

  /** The default twins the running driver writes to (not those replaced by `SimulatorOptions.tables`). */
  #twins(): MemoryTable[] {
    return [...this.#tables.values()].filter((t) => !this.#opts.tables?.has(t.name));
  }

  /**
   * Waits for `p` (a flush or a shutdown) while letting virtual time pass for a twin's retry backoff only:
   * a flush waiting to retry a transient failure would otherwise wait forever on the virtual clock.
   */
  async #driving<T>(p: Promise<T>): Promise<T> {
    let done = false;
    void p.then(() => (done = true), () => (done = true));
    for (;;) {
      await this.#settle();
      if (done) break;
      const at = this.#twins().reduce<number | null>(
        (m, t) => (t.retryAt === null ? m : Math.min(m ?? t.retryAt, t.retryAt)),
        null,
      );
      if (at === null) break;
      await this.clock.advance(Math.max(0, at - this.clock.now()));
    }
    return await p;
  }

  /** Compiles `flow` and starts a simulator (opening worker-scoped resources). */
  // deno-lint-ignore no-explicit-any
  static async create(flow: StreamFlow<any>, options: SimulatorOptions = {}): Promise<FlowSimulator> {
    const plan = compileFlow(flow, options.config ?? simulatorConfig(flow));
    const sim = new FlowSimulator(plan, options);
    await sim.#boot();
    return sim;
  }

  async #boot(): Promise<void> {
    const tables = new Map<string, SinkWriter>();
    for (const [path, s] of this.plan.storageSinks) {
      tables.set(path, this.#opts.tables?.get(s.name) ?? this.#tables.get(s.name)!);
    }
    // exactly_once: outputs and offsets commit together in broker transactions (invisible until then)
    const producer = this.plan.runtime.processingGuarantee === "exactly_once"
      ? this.broker.transactionalProducer()
      : this.broker.producer();
    this.#driver = new FlowDriver(this.plan, {
      producer,
      tables,
      clock: this.clock,
      ids: seededIds((this.#opts.seed ?? 1) + 7919 * this.#seedCounter++),
      deliveryRetries: this.#opts.deliveryRetries ?? 0,
      retryBackoffMs: 0,
      unroutedErrors: this.#opts.unroutedErrors,
      logger: this.#opts.logger,
      beforeStep: (name) => this.#beforeStep(name),
      onUnrouted: (u) => this.unrouted.push(u),
    });
    // The production run loop, ticked after every fetched batch (as its timer would fire between two
    // fetches) and by advanceTime(): commit cadence, backpressure and revokes behave as on Kafka.
    const loop: FlowLoop = new FlowLoop(this.plan, {
      driver: this.#driver,
      consumer: this.#consumer = new MemoryConsumer(this.broker, this.group, {
        fetchMaxRecords: this.#opts.fetchMaxRecords ?? 500,
        afterBatch: async () => {
          await loop.tick();
          this.#throwIfFailed();
        },
      }),
      producer,
      clock: this.clock,
      logger: this.#opts.logger,
      tickMs: null,
      commitFailureTimeoutMs: 0,
    });
    this.#loop = loop;
    await loop.start();
  }

  #throwIfFailed(): void {
    if (this.#loop.failure) throw this.#loop.failure;
  }

  #beforeStep(name: string): void {
    const f = this.#stepFaults.get(name);
    if (f && f.times > 0) {
      f.times--;
      throw f.error();
    }
  }

  /** The driver currently running (replaced by {@link crash}). */
  get driver(): FlowDriver {
    return this.#driver;
  }

  // -------------------------------------------------------------------------------------------------------------
  // input

  /** Encodes `payload` as a real envelope and appends it to the source topic. Returns the stored record. */
  send(payload: unknown, options: SendOptions = {}): SourceRecord {
    return sendPayload(this.#input, payload, options);
  }

  /** Appends raw bytes (e.g. garbage, to test poison messages) to a topic. */
  sendRaw(
    value: Uint8Array | string | null,
    options: Pick<SendOptions, "topic" | "key" | "headers" | "partition" | "timestampMs"> = {},
  ): SourceRecord {
    return sendRawValue(this.#input, value, options);
  }

  /** Sends many payloads (each with the same options; `key` may be a function of the payload). */
  sendAll(
    payloads: readonly unknown[],
    options: Omit<SendOptions, "key"> & {
      // deno-lint-ignore no-explicit-any
      key?: SendOptions["key"] | ((p: any, i: number) => SendOptions["key"]);
    } = {},
  ): SourceRecord[] {
    return payloads.map((p, i) =>
      this.send(p, { ...options, key: typeof options.key === "function" ? options.key(p, i) : options.key })
    );
  }

  /** Loads a JSON Lines fixture (text or parsed records) into the topics. JSON values are encoded for real. */
  loadFixture(fixture: string | readonly FixtureRecord[], source = "<fixture>"): SourceRecord[] {
    const records = typeof fixture === "string" ? parseFixture(fixture, source) : fixture;
    return loadFixtureRecords(this.#input, records);
  }

  // -------------------------------------------------------------------------------------------------------------
  // running

  /**
   * Processes every record available on the source topics (round-robin over partitions, in order),
   * ticking the run loop after each batch (commits at the epoch cadence, backpressure), until nothing is
   * left or fetching is paused. Does not flush CollectBatch buffers. Resolves with the number of records
   * fetched.
   */
  async run(): Promise<number> {
    if (this.#running) return this.#running;
    this.#running = this.#runLoop();
    try {
      return await this.#running;
    } finally {
      this.#running = null;
    }
  }

  /**
   * One tick of the run loop without letting time pass: fires CollectBatch timeouts that are due and
   * commits what settled (at the epoch cadence). {@link advanceTime} ticks after moving the clock.
   */
  async tick(): Promise<void> {
    await this.#settle();
    await this.#loop.tick();
    this.#throwIfFailed();
  }

  async #runLoop(): Promise<number> {
    this.#throwIfFailed();
    let total = 0;
    for (let n; (n = await this.#consumer.poll()) > 0;) {
      total += n;
      this.#throwIfFailed();
    }
    this.#throwIfFailed();
    return total;
  }

  /** Advances virtual time, fires expired CollectBatch timeouts, and processes what is available. */
  async advanceTime(ms: number): Promise<void> {
    await this.#settle();
    await this.clock.advance(ms);
    await this.#settle();
    await this.#loop.tick();
    this.#throwIfFailed();
    // When a run is in progress (e.g. blocked on a timer that just fired) it continues by itself.
    if (!this.#running) await this.run();
  }

  /** Lets in-flight asynchronous work reach its next wait (promise turns only; no time passes). */
  async #settle(): Promise<void> {
    for (let i = 0; i < 200; i++) await Promise.resolve();
  }

  /** End of input: processes everything, flushes every CollectBatch buffer, delivers and commits. */
  async end(): Promise<void> {
    await this.run();
    await this.#driving(this.#loop.flush());
  }

  /**
   * Simulates a crash and restart: in-flight state (buffers, unacknowledged work) is lost without
   * committing; a fresh engine resumes from the group's committed offsets (at-least-once redelivery).
   */
  async crash(): Promise<void> {
    this.#stats.push(this.#driver.stats);
    this.#crashes++;
    this.#consumer.crash();
    for (const t of this.#twins()) t.crash();
    await this.#loop.abandon();
    await this.#boot();
  }

  /**
   * Simulates a consumer-group rebalance as the Kafka runner lives it: the partitions are revoked
   * (buffered batches flushed and delivered, watermarks committed, partition state dropped) and assigned
   * again; consumption resumes from the committed offsets (anything not committed is delivered again).
   */
  async rebalance(): Promise<void> {
    await this.#driving(this.#consumer.rebalance());
    this.#throwIfFailed();
  }

  /**
   * Graceful shutdown: processes what is left, flushes, commits, leaves the group, disposes resources.
   * Table writers with `flush_on_shutdown: false` are not flushed (their inputs stay uncommitted and
   * come back to the next simulator on the same broker); {@link end} first to write them.
   */
  async stop(): Promise<void> {
    await this.run();
    this.#driver.beginShutdown();
    await this.#driving(this.#loop.flush());
    await this.#driving(this.#loop.stop());
    this.#throwIfFailed();
  }

  /** The run loop currently running (replaced by {@link crash}). */
  get loop(): FlowLoop {
    return this.#loop;
  }

  // -------------------------------------------------------------------------------------------------------------
  // faults

  /** The next `times` invocations of the step named `name` throw (`error` or a generic Error). */
  failStep(name: string, times: number, error?: unknown | (() => unknown)): void {
    const make = typeof error === "function"
      ? error as () => unknown
      : () => error ?? new Error(`simulated failure of step '${name}'`);
    this.#stepFaults.set(name, { times, error: make });
  }

  /** The next `times` produce calls to `topic` fail. */
  failSink(topic: string, times: number): void {
    this.broker.failSends(topic, times);
  }

  /**
   * The next `times` write attempts of the twin of table sink `name` fail with a transient error: each is
   * retried after the sink's `retry_backoff_ms` (virtual time; `end()`/`stop()` let it pass), so up to
   * `retries` failures only delay the flush; more keep the sink down and the flow fails without committing.
   */
  failTable(name: string, times: number): void {
    this.tableTwin(name).failures += times;
  }

  /**
   * From now on the twin of table sink `name` refuses rows matching `match` for good (like a constraint
   * violation): the other rows of the flush are written, the refused row's message goes to the task error
   * route with `reason`.
   */
  // deno-lint-ignore no-explicit-any
  refuseRows<R = any>(name: string, match: (row: R) => boolean, reason?: string): void {
    (this.tableTwin(name) as MemoryTable<R>).refuse(match, reason);
  }

  // -------------------------------------------------------------------------------------------------------------
  // inspection

  /**
   * Decoded messages written to a topic (all partitions, by partition then offset). A record that cannot
   * be decoded does not fail the listing: it is returned with `payload: undefined` and `undecodable` set
   * to the reason.
   */
  output<P = unknown>(topic: string): OutputMessage<P>[] {
    if (!this.broker.hasTopic(topic)) return [];
    return this.broker.records(topic).map((r) => inspectOutputRecord(r) as OutputMessage<P>);
  }

  /** Payloads written to a topic. */
  payloads<P = unknown>(topic: string): P[] {
    return this.output<P>(topic).map((m) => m.payload);
  }

  /** Raw records of a topic. */
  records(topic: string): SourceRecord[] {
    return this.broker.hasTopic(topic) ? this.broker.records(topic) : [];
  }

  /** Error envelopes (or decode errors for `wire`) written to the error route of `kind`. */
  errors(kind: ErrorKind): (ErrorEnvelope | DecodeError)[] {
    const sink = this.plan.errorRoutes.get(kind) ??
      (kind === "business" ? this.plan.errorRoutes.get("task") : undefined);
    if (!sink) return [];
    return this.output(sink.topic)
      .filter((m) => m.meta.messageType === errorMessageType(kind))
      .map((m) => m.payload as ErrorEnvelope | DecodeError);
  }

  /** Committed offset (next offset to read) of a source partition, or null. */
  committed(partition = 0, topic: string = this.plan.source.topics[0]): number | null {
    return this.broker.committed(this.group, topic, partition);
  }

  /** Every commit made by the flow's consumer group, in order. */
  commitLog(): readonly (TopicPartitionOffset & { atMs: number })[] {
    return this.broker.commitLog(this.group);
  }

  /** Rows written (flushed) to the in-memory twin of a table sink. */
  table<R = unknown>(name: string): R[] {
    return this.tableTwin(name).rows as R[];
  }

  /** The in-memory twin of a table sink: `rows`, `flushes`, `buffered`, `refused`, `failures`, `policy`. */
  // deno-lint-ignore no-explicit-any
  tableTwin<R = any>(name: string): MemoryTable<R> {
    const t = this.#tables.get(name);
    if (!t) throw new Error(`no table sink named '${name}' in flow ${this.plan.name}`);
    return t as MemoryTable<R>;
  }

  /** Counters summed over every run since creation (including crashed ones). */
  get stats(): DriverStats {
    const all = [...this.#stats, this.#driver.stats];
    const sum: DriverStats = emptyStats();
    for (const s of all) {
      sum.consumed += s.consumed;
      sum.discarded += s.discarded;
      sum.unrouted += s.unrouted;
      sum.deadLettered += s.deadLettered;
      sum.reducedErrors += s.reducedErrors;
      sum.skipped += s.skipped;
      sum.retries += s.retries;
      sum.batches += s.batches;
      for (const [k, v] of Object.entries(s.produced)) sum.produced[k] = (sum.produced[k] ?? 0) + v;
      for (const [k, v] of Object.entries(s.tableRows)) sum.tableRows[k] = (sum.tableRows[k] ?? 0) + v;
      for (const k of Object.keys(s.errors) as ErrorKind[]) sum.errors[k] += s.errors[k];
    }
    return sum;
  }

  /** Number of simulated crashes. */
  get crashes(): number {
    return this.#crashes;
  }

  /** Messages fetched and not yet settled (in buffers or awaiting delivery). */
  get inFlight(): number {
    return this.#driver.inFlight;
  }
}

export type { MessageMeta, OutputMessage };
