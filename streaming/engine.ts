/**
 * `@loom/streaming/engine`: what transport and runner authors build on. The engine that interprets a
 * compiled plan ({@link Engine}, {@link Emission}), the completion tracking of source offsets
 * ({@link OffsetTracker}), the record codec ({@link Wire}), the driver that delivers emissions and commits
 * offsets ({@link FlowDriver}), and the transport ports a Kafka client implements.
 *
 * Flow authors need none of this: they import from `@loom/streaming`.
 *
 * @example
 * ```ts
 * import { Emission, OffsetTracker } from "@loom/streaming/engine";
 * const em = new Emission();
 * const origin = new OffsetTracker().register("orders", 0, 0);
 * em.addRecord("orders.out", { key: null, value: new Uint8Array([0x80]), headers: {}, timestampMs: null }, origin, null);
 * em.empty; // false
 * ```
 *
 * @module
 */
export {
  Emission,
  Engine,
  type EngineOptions,
  type ErrorSource,
  type Item,
  type TableBatch,
  TaskTimeoutError,
  type TopicBatch,
  type UnroutedError,
  UnroutedErrorFailure,
} from "./engine/mod.ts";
export * from "./_transport.ts";
export { OffsetTracker, Origin, PartitionState } from "./_tracker.ts";
export { FlowDriver } from "./_driver.ts";
export type { DriverOptions } from "./_driver_options.ts";
export { DeliveryFailure } from "./_delivery.ts";
export { type DriverStats, emptyStats } from "./_stats.ts";
export { type Logger, silentLogger } from "./_logger.ts";
export { FlowLoop, type FlowLoopOptions, type LoopProducer, type LoopState } from "./_loop.ts";
export { TransactionCycle, type TransactionCycleOptions } from "./_transactions.ts";
export { type DecodeResult, Wire } from "./_wire.ts";
export { payloadCodec } from "./_wire_codecs.ts";
export { HEADERS } from "./_wire_headers.ts";
export {
  decodeOutputRecord,
  encodeSourceValue,
  inspectOutputRecord,
  type OutputMessage,
  type SourceEnvelopeFields,
} from "./_wire_records.ts";
export {
  Counter,
  DURATION_BUCKETS,
  Gauge,
  Histogram,
  HistogramChild,
  type HistogramSample,
  mergeMetrics,
  type MetricFamily,
  MetricFamilyBase,
  MetricsRegistry,
  type MetricType,
  ScalarChild,
  type ScalarSample,
} from "./observe/_metrics.ts";
export { PROMETHEUS_CONTENT_TYPE, toPrometheusText } from "./observe/_prometheus.ts";
export { combineObservers, type FlowObserver } from "./observe/_observer.ts";
export { FlowMetrics, type FlowStatsSource, type PartitionStatus } from "./observe/_flow_metrics.ts";
export {
  type EventLogLevel,
  jsonLinesObserver,
  type LifecycleEvent,
  lifecycleFlowObserver,
  lifecycleNodeTimer,
  type LifecycleObserver,
  type LifecycleScope,
  ObservabilityRuntime,
  prometheusObserver,
} from "./observe/_events.ts";
export {
  type AdminSettings,
  type ObservabilityConfig,
  readAdminSettings,
  readObservabilityConfig,
} from "./observe/_config.ts";
export { bothNodeTimers, instrumentPlan, type NodeTimer } from "./observe/_node_timing.ts";
