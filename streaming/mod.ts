/**
 * The streaming core: the typed flow DSL, the compiler, configuration, and the engine.
 * Web-standard only: runs on Deno, Bun, Node and edge runtimes.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { FromTopic, IntoTopic, Process, RecordStep, StreamFlow, messageType } from "@loom/streaming";
 * const Order = messageType("order.created", v.object({ order_id: v.string(), amount: v.pipe(v.number(), v.integer()) }));
 * const flow = new StreamFlow({
 *   name: "orders",
 *   source: new FromTopic("orders.raw", Order),
 *   process: new Process(RecordStep.of((m: { payload: { amount: number } }) => ({ accepted: m.payload.amount > 0 }))),
 *   output: new IntoTopic("orders.validated"),
 * });
 * ```
 *
 * @module
 */
export * from "./_message.ts";
export * from "./_type.ts";
export * from "./_expr.ts";
export * from "./_nodes.ts";
export type * from "./_plan.ts";
export * from "./_settings.ts";
export {
  bindConfig,
  ConfigContext,
  ConfigError,
  consumerFor,
  DEFAULT_BUFFER_SETTINGS,
  DEFAULT_RUNTIME_SETTINGS,
  KAFKA_MANAGED_KEYS,
  parseConfig,
  producerFor,
  producerTopic,
  readKafkaSettings,
  readRuntimeSettings,
  readSinkSection,
} from "./_config.ts";
export type { ConfigErrorOptions, ConfigLocation, ConfigPath, ParseConfigOptions } from "./_config.ts";
export { CompilationError, type CompilationIssue, compileFlow } from "./_compiler.ts";
export * from "./_clock.ts";
export * from "./_transport.ts";
export { OffsetTracker, Origin, PartitionState } from "./_tracker.ts";
export {
  Emission,
  Engine,
  type EngineOptions,
  TaskTimeoutError,
  type UnroutedError,
  UnroutedErrorFailure,
} from "./_engine.ts";
export type { Item, TableBatch, TopicBatch } from "./_engine.ts";
export {
  DeliveryFailure,
  type DriverOptions,
  type DriverStats,
  emptyStats,
  FlowDriver,
  type Logger,
  silentLogger,
} from "./_driver.ts";
export {
  type BufferedSinkWriter,
  isBufferedSinkWriter,
  type RowFailure,
  type RowSource,
} from "./_table_delivery.ts";
export {
  decodeOutputRecord,
  type DecodeResult,
  encodeSourceValue,
  HEADERS,
  type OutputMessage,
  payloadCodec,
  type SourceEnvelopeFields,
  Wire,
} from "./_wire.ts";
