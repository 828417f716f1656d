/**
 * What a `FlowDriver` is built with: its producer and table writers, clock and id source, tracker,
 * delivery retries, logger, observer and test hooks (a file of its own so that the delivery code beside the
 * driver can read the options without importing the driver).
 *
 * @module
 */
import type { Clock, IdSource } from "./_clock.ts";
import type { UnroutedError } from "./engine/mod.ts";
import type { SinkWriter } from "./dsl/mod.ts";
import type { OffsetTracker } from "./_tracker.ts";
import type { ProducerPort } from "./_transport.ts";
import type { FlowObserver } from "./observe/_observer.ts";
import type { Logger } from "./_logger.ts";

/**
 * Options of `FlowDriver`.
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
