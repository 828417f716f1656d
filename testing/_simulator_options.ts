/**
 * How a {@link FlowSimulator} is set up: its options ({@link SimulatorOptions}: partitions, virtual
 * time, seed, shared broker, real table writers...) and the minimal configuration derived from a flow
 * when no YAML is given ({@link simulatorConfig}).
 *
 * @module
 */
import type { VirtualClock } from "../streaming/_clock.ts";
import type { Logger } from "../streaming/_logger.ts";
import { isIntoSink, type Process, type SinkWriter, type StreamFlow } from "../streaming/dsl/mod.ts";
import type { ConfigContext } from "../streaming/config/mod.ts";
import type { InMemoryBroker } from "./_broker.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

/**
 * Options of {@link FlowSimulator.create}.
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
 * import { FlowSimulator, type SimulatorOptions } from "@loom/streaming/testing";
 * const options: SimulatorOptions = { partitions: 3, seed: 42, fetchMaxRecords: 10 };
 * const sim = await FlowSimulator.create(flow, options);
 * ```
 */
export interface SimulatorOptions {
  /** Configuration (YAML context or plain object). Default: a minimal config derived from the flow. */
  readonly config?: ConfigContext | Record<string, unknown>;
  /** Partitions of the source topics (a number for all, or per topic). Default 1. */
  readonly partitions?: number | Readonly<Record<string, number>>;
  /** Virtual start time in ms. Default 1_700_000_000_000. */
  readonly startTimeMs?: number;
  /** Seed of the deterministic trace-id sequence. Default 1. */
  readonly seed?: number;
  /** Records per fetched batch. Default 500. */
  readonly fetchMaxRecords?: number;
  /** Overrides `streaming.runtime.unrouted_errors`. */
  readonly unroutedErrors?: "fail" | "log";
  /** Extra delivery attempts before DLQ/failure. Default 0 (faults surface at once). */
  readonly deliveryRetries?: number;
  /** Structured logger of the driver (default: silent). */
  readonly logger?: Logger;
  /**
   * The broker to run on (default: a new one). Share one broker (and its clock) between simulators to
   * run several flows against the same topics; {@link PipelineSimulator} does that for you.
   */
  readonly broker?: InMemoryBroker;
  /** The virtual clock (default: a new one at `startTimeMs`; pass the broker's clock with `broker`). */
  readonly clock?: VirtualClock;
  /**
   * Writers of storage sinks by sink name, instead of their in-memory twins ({@link MemoryTable}): e.g. the
   * real backends of `openTableWriters` (`@loom/streaming/sinks`), to check a flow's tables, or a buffered
   * writer over an in-memory backend. The simulator closes them when it stops (or crashes): give fresh
   * ones to a new simulator.
   */
  readonly tables?: ReadonlyMap<string, SinkWriter>;
}

/** Adds the names of the storage sinks under `p` (nested processes and routes included) to `out`. */
function collectSinkNames(p: Process, out: Set<string>): void {
  for (const n of p.nodes as readonly Any[]) {
    if (isIntoSink(n)) out.add(n.name);
    for (const k of ["process", "default"]) if (n?.[k]?.nodes) collectSinkNames(n[k], out);
    for (const r of n?.routes ?? []) {
      const proc = Array.isArray(r) ? r[r.length - 1] : r?.process;
      if (proc?.nodes) collectSinkNames(proc, out);
    }
    for (const r of n?.predicateRoutes ?? []) if (r?.process?.nodes) collectSinkNames(r.process, out);
  }
}

/**
 * A minimal configuration for simulating a flow without YAML.
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
 * import { simulatorConfig } from "@loom/streaming/testing";
 * const config = simulatorConfig(flow); // consumer and producer on "simulator:9092", one table per storage sink
 * ```
 */
// deno-lint-ignore no-explicit-any
export function simulatorConfig(flow: StreamFlow<any>): Record<string, unknown> {
  const sinks: Record<string, unknown> = {};
  const names = new Set<string>();
  collectSinkNames(flow.process, names);
  for (const n of names) sinks[n] = { table: n };
  return {
    kafka: {
      consumer: {
        brokers: ["simulator:9092"],
        group_id: flow.name,
        topics: [flow.source.name],
        enable_auto_commit: false,
      },
      producer: { brokers: ["simulator:9092"] },
    },
    streaming: { sinks },
  };
}
