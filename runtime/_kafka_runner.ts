/**
 * `KafkaFlowRunner`: runs a compiled plan on a real Kafka cluster through the kafkajs adapter, with
 * the same run loop (`FlowLoop`), engine and driver as the simulator.
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
import { FlowDriver } from "../streaming/_driver.ts";
import { type Logger, silentLogger } from "../streaming/_logger.ts";
import { type Clock, type IdSource, randomIds, systemClock } from "../streaming/_clock.ts";
import { FlowLoop, type LoopState } from "../streaming/_loop.ts";
import type { CompiledPlan } from "../streaming/_plan.ts";
import type { ProducerSettings } from "../streaming/_settings.ts";
import type { SinkWriter } from "../streaming/dsl/mod.ts";
import type { TopicPartitionOffset } from "../streaming/_transport.ts";
import type { FlowObserver } from "../streaming/observe/_observer.ts";
import type {
  KafkaClientOptions,
  KafkaConsumerError,
  KafkaConsumerPort,
  KafkaProducerPort,
} from "./kafkajs/mod.ts";
import { createKafkaClients, type KafkaClientKind, type KafkaClients } from "./_kafka_clients.ts";
import type { TableWriterFactory } from "./_table_writers.ts";
import { transactionalIdOf } from "./platformatic/_transactions.ts";
import { acquireHeapLimit } from "./_heap_limit.ts";

/**
 * Options of {@link KafkaFlowRunner}.
 *
 * @example
 * ```ts
 * import { jsonLogger, type KafkaRunnerOptions } from "@loom/streaming/runtime";
 * const options: KafkaRunnerOptions = { logger: jsonLogger("info"), partitionsConsumedConcurrently: 3 };
 * ```
 */
export interface KafkaRunnerOptions {
  /** Time source (default: the system clock). */
  readonly clock?: Clock;
  /** Trace-id source (default: random ids). */
  readonly ids?: IdSource;
  /** Structured logger of the runner (default: silent). */
  readonly logger?: Logger;
  /** Kafka client logging. */
  readonly client?: KafkaClientOptions;
  /** The Kafka client adapter (default: `streaming.runtime.kafka_client`, itself `platformatic` by default). */
  readonly kafkaClient?: KafkaClientKind;
  /** Writers of storage sinks by sink name (table backends are provided by `@loom/streaming/sinks`). */
  readonly tables?: ReadonlyMap<string, SinkWriter>;
  /**
   * Opens, at {@link KafkaFlowRunner.start}, the writers of the storage sinks `tables` does not cover
   * (`openTableWriters` of `@loom/streaming/sinks`). They are flushed and closed when the runner stops.
   */
  readonly openTables?: TableWriterFactory;
  /** Partitions processed concurrently (default: `streaming.runtime.partition_concurrency`, itself 1). */
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
  /** Observation port of the loop and the driver (metrics, lifecycle events; see `FlowMetrics`). */
  readonly observer?: FlowObserver;
  /**
   * Worker slot of this runner in its process (default 0): under `processing_guarantee: exactly_once`
   * the transactional id is `<transactional_id_prefix or group id>-<process_id × workers_per_process +
   * workerIndex>`, so every worker of a group needs its own slot (give each process its own
   * `streaming.runtime.process_id`).
   */
  readonly workerIndex?: number;
}

/**
 * Runner state.
 *
 * @example
 * ```ts
 * import type { RunnerState } from "@loom/streaming/runtime";
 * const state: RunnerState = "new"; // until start() is called
 * ```
 */
export type RunnerState = LoopState;

/**
 * Runs a plan on Kafka until stopped: a thin shell over the core's run loop (`FlowLoop`, the same loop
 * the simulator drives) with kafkajs consumer and producer ports and a timer that ticks it.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { FromTopic, IntoTopic, messageType, Process, RecordStep, StreamFlow } from "@loom/streaming";
 * const Order = messageType("order.created", v.object({ order_id: v.string() }));
 * const flow = new StreamFlow({
 *   name: "orders",
 *   source: new FromTopic("orders.raw", Order),
 *   process: new Process(RecordStep.of((m: { payload: { order_id: string } }) => m.payload)),
 *   output: new IntoTopic("orders.out"),
 * });
 * import { compileFlow } from "@loom/streaming";
 * import { KafkaFlowRunner, loadConfigFile } from "@loom/streaming/runtime";
 * const runner = new KafkaFlowRunner(compileFlow(flow, loadConfigFile("config.yaml")));
 * await runner.start();
 * // ... until SIGTERM
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
  /** The run loop. */
  readonly loop: FlowLoop;
  readonly #tables: Map<string, SinkWriter>;
  readonly #openTables: TableWriterFactory | null;
  readonly #log: Logger;

  /**
   * Creates a {@link KafkaFlowRunner}.
   *
   * @param plan compiled plan
   * @param options clients, logger, sinks
   */
  constructor(plan: CompiledPlan, options: KafkaRunnerOptions = {}) {
    this.plan = plan;
    this.#log = options.logger ?? silentLogger;
    const clock = options.clock ?? systemClock;
    // streaming.runtime.kafka_client picks the adapter behind the ports
    const clients = createKafkaClients(options.kafkaClient ?? plan.runtime.kafkaClient, options.client);
    this.consumer = options.consumer ?? clients.consumer(plan.source.settings);
    this.producer = options.producer ??
      (plan.runtime.processingGuarantee === "exactly_once"
        ? transactionalProducer(plan, clients, options.workerIndex ?? 0)
        : routedProducer(plan, clients));
    const tables = new Map<string, SinkWriter>();
    for (const [path, s] of plan.storageSinks) {
      const w = options.tables?.get(s.name);
      if (w) tables.set(path, w);
      else if (typeof s.sink.createWriter !== "function" && !options.openTables) throw noWriter(s.name, path);
    }
    this.#tables = tables;
    this.#openTables = options.openTables ?? null;
    this.driver = new FlowDriver(plan, {
      producer: this.producer,
      tables,
      clock,
      ids: options.ids ?? randomIds,
      logger: this.#log,
      observer: options.observer,
    });
    this.loop = new FlowLoop(plan, {
      driver: this.driver,
      consumer: this.consumer,
      producer: this.producer,
      clock,
      logger: this.#log,
      tickMs: options.tickMs ?? 50,
      partitionsConsumedConcurrently: options.partitionsConsumedConcurrently,
      commitFailureTimeoutMs: options.commitFailureTimeoutMs,
      onCommit: options.onCommit,
      observer: options.observer,
    });
  }

  /** Current state. */
  get state(): RunnerState {
    return this.loop.state;
  }

  /** The fatal error that stopped the runner, if any. */
  get failure(): unknown {
    return this.loop.failure;
  }

  /** Resolves when the runner has stopped (gracefully or after a failure). */
  get done(): Promise<void> {
    return this.loop.done;
  }

  /** Connects, subscribes and starts consuming. */
  async start(): Promise<void> {
    if (this.loop.state !== "new") throw new Error(`runner already ${this.loop.state}`);
    const src = this.plan.source;
    if (src.settings.enableAutoCommit) {
      this.#log.info("auto_commit_replaced", {
        reason:
          "enable_auto_commit: true is served by committing settled offsets after delivery (never before)",
      });
    }
    for (const warning of this.plan.warnings) this.#log.warn("plan_warning", { warning });
    const opened = await this.#openWriters();
    try {
      await this.loop.start();
    } catch (e) {
      // the loop never ran: close the writers opened here (nothing was buffered)
      await Promise.all(opened.map((w) => Promise.resolve(w.close?.()).catch(() => {})));
      throw e;
    }
    const rt = this.plan.runtime;
    if (rt.heapLimitMb > 0) {
      // left when the loop ends, however it ends (stop(), a failure)
      const leave = acquireHeapLimit(rt.heapLimitMb, this.#log);
      this.loop.done.then(leave, leave);
    }
    if ((rt.processId !== null && rt.processingGuarantee !== "exactly_once") || rt.addresses !== null) {
      this.#log.info("cluster_settings_ignored", {
        reason: "streaming.runtime.process_id/addresses configure a Bytewax cluster; here processes share " +
          "partitions through the consumer group (start more processes with the same group_id)",
      });
    }
    this.#log.info("flow_started", { flow: this.plan.name, topics: src.topics, group: src.settings.groupId });
  }

  /**
   * The writers of the storage sinks not given in `tables`: from the table-writer factory (table sinks),
   * else the sink's own `createWriter`. Returns those opened here.
   */
  async #openWriters(): Promise<SinkWriter[]> {
    const missing = [...this.plan.storageSinks].filter(([path]) => !this.#tables.has(path));
    const opened: SinkWriter[] = [];
    const closeAll = () => Promise.all(opened.map((w) => Promise.resolve(w.close?.()).catch(() => {})));
    try {
      if (this.#openTables && missing.some(([, s]) => typeof s.sink.createWriter !== "function")) {
        const fromFactory = await this.#openTables(this.plan, { logger: this.#log });
        const used = new Set<SinkWriter>();
        for (const [path, s] of missing) {
          const w = fromFactory.get(s.name);
          if (w) this.#tables.set(path, w), used.add(w);
        }
        for (const w of fromFactory.values()) {
          if (used.has(w)) opened.push(w);
          else await Promise.resolve(w.close?.()).catch(() => {}); // a sink `tables` already covers
        }
      }
      for (const [path, s] of missing) {
        if (this.#tables.has(path)) continue;
        if (typeof s.sink.createWriter !== "function") throw noWriter(s.name, path);
        // the sink brings its own writer (IntoSink.createWriter)
        const w = await s.sink.createWriter({
          section: s.section,
          config: this.plan.config,
          workerIndex: 0,
          workerCount: 1,
        });
        opened.push(w);
        this.#tables.set(path, w);
      }
    } catch (e) {
      await closeAll();
      throw e;
    }
    return opened;
  }

  /** Graceful stop: flushes buffers, delivers, commits, leaves the group, disposes resources. */
  stop(): Promise<void> {
    return this.loop.stop();
  }
}

export type { KafkaConsumerError };

function noWriter(name: string, path: string): Error {
  return new Error(
    `storage sink '${name}' (${path}) has no writer: run the flow with the edge CLI (cli.ts: deno task run, ` +
      "bun cli.ts run), which opens table sinks, or give the runner one (KafkaRunnerOptions.tables, or " +
      "openTables: openTableWriters from @loom/streaming/sinks), or give the sink a createWriter()",
  );
}

/**
 * The one transactional producer of an exactly-once plan (the compiler checked that every output shares
 * one producer configuration), with its worker's transactional id.
 */
function transactionalProducer(
  plan: CompiledPlan,
  clients: KafkaClients,
  workerIndex: number,
): KafkaProducerPort {
  const rt = plan.runtime;
  if (clients.transactionalProducer === undefined) {
    throw new Error(
      `flow '${plan.name}': processing_guarantee: exactly_once needs the platformatic Kafka client (${clients.kind} ` +
        "has no KIP-447 transactions); set streaming.runtime.kafka_client: platformatic",
    );
  }
  const sink = plan.output ?? plan.topicSinks.values().next().value ?? plan.errorRoutes.values().next().value;
  const settings = sink?.settings ?? plan.kafka.producer;
  if (!settings) throw new Error(`flow '${plan.name}': no Kafka producer is configured (kafka.producer)`);
  const worker = (rt.processId ?? 0) * rt.workersPerProcess + workerIndex;
  const id = transactionalIdOf(rt.transactionalIdPrefix ?? plan.source.settings.groupId, worker);
  return clients.transactionalProducer(settings, id);
}

/**
 * One kafkajs producer per distinct producer configuration of the plan (outputs may name producers on
 * different clusters or with different security), with each send routed by physical topic. A dead-letter
 * topic uses the producer of the sink it belongs to, as in the original.
 */
function routedProducer(plan: CompiledPlan, clients: KafkaClients): KafkaProducerPort {
  const sinks = [
    ...(plan.output ? [plan.output] : []),
    ...plan.topicSinks.values(),
    ...plan.errorRoutes.values(),
  ];
  const byConfig = new Map<string, KafkaProducerPort>();
  const byTopic = new Map<string, KafkaProducerPort>();
  const clientFor = (settings: ProducerSettings): KafkaProducerPort => {
    const key = JSON.stringify({ ...settings, topic: null });
    let c = byConfig.get(key);
    if (!c) byConfig.set(key, c = clients.producer(settings));
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
  const pick = (topic: string): KafkaProducerPort => {
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
