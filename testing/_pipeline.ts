/**
 * `PipelineSimulator`: several flows — a pipeline of services — on ONE in-memory broker and ONE virtual
 * clock, each flow with its own consumer group, configuration and trace-id seed, each driven by the same
 * run loop as production. One flow's output topic is the next one's input, so a chain of services (a
 * request flow feeding a response flow feeding an error-audit flow) is unit-tested as a whole.
 *
 * {@link PipelineSimulator.run} steps the flows in order, round after round, until the whole system is
 * quiet (no flow fetched anything in a round); flows that keep feeding each other past `maxRounds` are an
 * error naming the cycle.
 *
 * @module
 */
import type { ConfigContext } from "../streaming/config/mod.ts";
import { VirtualClock } from "../streaming/_clock.ts";
import type { Logger } from "../streaming/_logger.ts";
import { StreamFlow } from "../streaming/dsl/mod.ts";
import type { CompiledPlan } from "../streaming/_plan.ts";
import type { SourceRecord } from "../streaming/_transport.ts";
import type { OutputMessage } from "../streaming/_wire_records.ts";
import { InMemoryBroker } from "./_broker.ts";
import { type FixtureRecord, parseFixture } from "./_fixture.ts";
import { FlowSimulator } from "./_simulator.ts";
import type { SendOptions } from "./_simulator_input.ts";

/**
 * One flow of a pipeline with its own settings.
 *
 * @example
 * ```ts
 * import type { PipelineFlow } from "@loom/streaming/testing";
 * const options: Omit<PipelineFlow, "flow"> = { seed: 7, fetchMaxRecords: 50 };
 * ```
 */
export interface PipelineFlow {
  /** The flow. */
  // deno-lint-ignore no-explicit-any
  readonly flow: StreamFlow<any>;
  /** Its configuration (default: a minimal one; its consumer group is the flow's name). */
  readonly config?: ConfigContext | Record<string, unknown>;
  /** Seed of its trace-id sequence (default: distinct per flow, derived from its name and position). */
  readonly seed?: number;
  /** Records per fetched batch (default 500). */
  readonly fetchMaxRecords?: number;
  /** Overrides `streaming.runtime.unrouted_errors`. */
  readonly unroutedErrors?: "fail" | "log";
  /** Extra delivery attempts before DLQ/failure (default 0). */
  readonly deliveryRetries?: number;
  /** Structured logger of this flow (default: silent). */
  readonly logger?: Logger;
}

/**
 * Options of {@link PipelineSimulator.create}.
 *
 * @example
 * ```ts
 * import type { PipelineOptions } from "@loom/streaming/testing";
 * const options: PipelineOptions = { partitions: { "orders.raw": 3 }, maxRounds: 50 };
 * ```
 */
export interface PipelineOptions {
  /** Virtual start time in ms (default 1_700_000_000_000). */
  readonly startTimeMs?: number;
  /** Partitions of topics created up front: a number for every source topic, or per topic (default 1). */
  readonly partitions?: number | Readonly<Record<string, number>>;
  /** Rounds {@link PipelineSimulator.run} may take before it reports a feedback cycle (default 1000). */
  readonly maxRounds?: number;
}

/**
 * The flows of a pipeline kept feeding each other for `maxRounds` rounds.
 *
 * @example
 * ```ts
 * import { PipelineCycleError } from "@loom/streaming/testing";
 * new PipelineCycleError("a → b → a", 10).name; // "PipelineCycleError"
 * ```
 */
export class PipelineCycleError extends Error {
  /**
   * Creates a {@link PipelineCycleError}.
   *
   * @param cycle the flows and topics still feeding each other
   * @param rounds rounds run
   */
  constructor(readonly cycle: string, readonly rounds: number) {
    super(
      `the pipeline did not become quiet after ${rounds} round(s): ${cycle} kept feeding each other. ` +
        "Break the loop (e.g. a Router that stops re-emitting), or raise PipelineOptions.maxRounds if it ends later",
    );
    this.name = "PipelineCycleError";
  }
}

/** FNV-1a of a string: a stable per-name seed component. */
function hash(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

/** Physical topics a plan writes to (outputs, inline sinks, error routes, dead-letter topics). */
function topicsWritten(plan: CompiledPlan): Set<string> {
  const out = new Set<string>();
  for (
    const s of [
      ...(plan.output ? [plan.output] : []),
      ...plan.topicSinks.values(),
      ...plan.errorRoutes.values(),
    ]
  ) {
    out.add(s.topic);
    if (s.dlq) out.add(s.dlq);
  }
  return out;
}

/**
 * Several flows on one broker and one clock (see the module documentation).
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { FromTopic, IntoTopic, Process, RecordStep, StreamFlow, messageType } from "@loom/streaming";
 * import { PipelineSimulator } from "@loom/streaming/testing";
 * const Req = messageType("app.Request", v.object({ id: v.string() }));
 * const Res = messageType("app.Response", v.object({ id: v.string(), ok: v.boolean() }));
 * const requests = new StreamFlow({
 *   name: "requests",
 *   source: new FromTopic("requests", Req),
 *   process: new Process(RecordStep.of((m: { payload: { id: string } }) => ({ id: m.payload.id, ok: true }))),
 *   output: new IntoTopic("responses", { payload: Res }),
 * });
 * const audit = new StreamFlow({
 *   name: "audit",
 *   source: new FromTopic("responses", Res),
 *   process: new Process(RecordStep.of((m: { payload: { id: string } }) => ({ seen: m.payload.id }))),
 *   output: new IntoTopic("audit"),
 * });
 * const pipe = await PipelineSimulator.create([requests, audit]);
 * pipe.send("requests", { id: "r-1" });
 * await pipe.run();
 * pipe.payloads("audit"); // [{ seen: "r-1" }]
 * ```
 */
export class PipelineSimulator {
  /** The shared broker. */
  readonly broker: InMemoryBroker;
  /** The shared virtual clock. */
  readonly clock: VirtualClock;
  /** The flows' simulators, in pipeline order. */
  readonly flows: readonly FlowSimulator[];
  readonly #byName: Map<string, FlowSimulator>;
  readonly #maxRounds: number;

  private constructor(
    broker: InMemoryBroker,
    clock: VirtualClock,
    flows: readonly FlowSimulator[],
    maxRounds: number,
  ) {
    this.broker = broker;
    this.clock = clock;
    this.flows = flows;
    this.#byName = new Map(flows.map((f) => [f.plan.name, f]));
    this.#maxRounds = maxRounds;
  }

  /** Compiles every flow and starts them on one broker and clock. */
  static async create(
    // deno-lint-ignore no-explicit-any
    flows: readonly (StreamFlow<any> | PipelineFlow)[],
    options: PipelineOptions = {},
  ): Promise<PipelineSimulator> {
    const clock = new VirtualClock(options.startTimeMs ?? 1_700_000_000_000);
    const broker = new InMemoryBroker({ clock });
    const specs: PipelineFlow[] = flows.map((f) => (f instanceof StreamFlow ? { flow: f } : f));
    const names = new Set<string>();
    for (const s of specs) {
      if (names.has(s.flow.name)) {
        throw new Error(
          `two flows of the pipeline are named '${s.flow.name}': give each flow its own name (it is also the default consumer group)`,
        );
      }
      names.add(s.flow.name);
    }
    const parts = options.partitions;
    if (parts !== undefined && typeof parts !== "number") {
      for (const [topic, n] of Object.entries(parts)) broker.createTopic(topic, { partitions: n });
    }
    const sims: FlowSimulator[] = [];
    for (const [i, s] of specs.entries()) {
      const sim = await FlowSimulator.create(s.flow, {
        config: s.config,
        broker,
        clock,
        partitions: typeof parts === "number" ? parts : undefined,
        // Distinct default seeds: two flows must not draw the same trace ids (a chain would then show
        // trace_id == parent_trace_id across flows).
        seed: s.seed ?? (hash(s.flow.name) + 104_729 * (i + 1)) % 2_147_483_647,
        fetchMaxRecords: s.fetchMaxRecords,
        unroutedErrors: s.unroutedErrors,
        deliveryRetries: s.deliveryRetries,
        logger: s.logger,
      });
      sims.push(sim);
    }
    const groups = new Map<string, string>();
    for (const sim of sims) {
      const other = groups.get(sim.group);
      if (other !== undefined) {
        throw new Error(
          `flows '${other}' and '${sim.plan.name}' share the consumer group '${sim.group}': each service of a pipeline needs its own group_id`,
        );
      }
      groups.set(sim.group, sim.plan.name);
    }
    return new PipelineSimulator(broker, clock, sims, options.maxRounds ?? 1000);
  }

  /** The simulator of the flow named `name` (its errors, commits, faults, crash/restart…). */
  flow(name: string): FlowSimulator {
    const f = this.#byName.get(name);
    if (!f) {
      throw new Error(
        `no flow named '${name}' in the pipeline (flows: ${[...this.#byName.keys()].join(", ")})`,
      );
    }
    return f;
  }

  // -------------------------------------------------------------------------------------------------------------
  // input

  #reader(topic: string): FlowSimulator | undefined {
    return this.flows.find((f) => f.plan.source.topics.includes(topic));
  }

  /** Encodes `payload` with the type of the flow that reads `topic` and appends it (see FlowSimulator.send). */
  send(topic: string, payload: unknown, options: Omit<SendOptions, "topic"> = {}): SourceRecord {
    const reader = this.#reader(topic);
    if (!reader) {
      throw new Error(
        `no flow of the pipeline reads topic '${topic}': send to a source topic, or use sendRaw()/loadFixture()`,
      );
    }
    return reader.send(payload, { ...options, topic });
  }

  /** Appends raw bytes to any topic (created with one partition when missing). */
  sendRaw(
    topic: string,
    value: Uint8Array | string | null,
    options: Pick<SendOptions, "key" | "headers" | "partition" | "timestampMs"> = {},
  ): SourceRecord {
    if (!this.broker.hasTopic(topic)) this.broker.createTopic(topic);
    return this.flows[0].sendRaw(value, { ...options, topic });
  }

  /** Loads a JSON Lines fixture into its topics; JSON values are encoded with the reading flow's types. */
  loadFixture(fixture: string | readonly FixtureRecord[], source = "<fixture>"): SourceRecord[] {
    const records = typeof fixture === "string" ? parseFixture(fixture, source) : fixture;
    return records.flatMap((r) => (this.#reader(r.topic) ?? this.flows[0]).loadFixture([r], source));
  }

  // -------------------------------------------------------------------------------------------------------------
  // running

  /**
   * Steps the flows in pipeline order, each processing everything it can fetch, round after round until
   * a whole round fetched nothing. Resolves with the number of rounds. Throws {@link PipelineCycleError}
   * when flows still feed each other after `maxRounds` rounds.
   */
  async run(): Promise<number> {
    let active: FlowSimulator[] = [];
    for (let round = 1; round <= this.#maxRounds; round++) {
      active = [];
      for (const f of this.flows) if (await f.run() > 0) active.push(f);
      if (active.length === 0) return round;
    }
    throw new PipelineCycleError(this.#describeCycle(active), this.#maxRounds);
  }

  #describeCycle(active: readonly FlowSimulator[]): string {
    const edges: string[] = [];
    for (const a of active) {
      const writes = topicsWritten(a.plan);
      for (const b of active) {
        const via = b.plan.source.topics.filter((t) => writes.has(t));
        if (via.length) edges.push(`${a.plan.name} → ${b.plan.name} (via ${via.join(", ")})`);
      }
    }
    return edges.length ? edges.join(", ") : active.map((f) => f.plan.name).join(", ");
  }

  /** Advances the shared clock once, ticks every flow (CollectBatch timeouts, commits), then runs. */
  async advanceTime(ms: number): Promise<void> {
    for (const f of this.flows) await f.tick();
    await this.clock.advance(ms);
    for (const f of this.flows) await f.tick();
    await this.run();
  }

  /** End of input for every flow: runs, flushes each flow's buffers in order and runs again until quiet. */
  async end(): Promise<void> {
    await this.run();
    for (const f of this.flows) {
      await f.end();
      await this.run();
    }
  }

  /** Graceful shutdown of every flow (after {@link end}). */
  async stop(): Promise<void> {
    await this.end();
    for (const f of this.flows) await f.stop();
  }

  // -------------------------------------------------------------------------------------------------------------
  // inspection

  /** Decoded messages of a topic (undecodable records are listed with the reason, see FlowSimulator.output). */
  output<P = unknown>(topic: string): OutputMessage<P>[] {
    return this.flows[0].output<P>(topic);
  }

  /** Payloads of a topic. */
  payloads<P = unknown>(topic: string): P[] {
    return this.output<P>(topic).map((m) => m.payload);
  }

  /** Raw records of a topic. */
  records(topic: string): SourceRecord[] {
    return this.broker.hasTopic(topic) ? this.broker.records(topic) : [];
  }

  /** Committed offset of a consumer group on a partition, or null. */
  committed(group: string, topic: string, partition = 0): number | null {
    return this.broker.committed(group, topic, partition);
  }
}
