/**
 * The streaming core as flow authors use it: the typed flow DSL, the compiler, configuration, messages,
 * expressions and clocks. Engine internals for transport authors are in `@loom/streaming/engine`.
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
export * from "./expr/mod.ts";
export * from "./dsl/mod.ts";
export type * from "./_plan.ts";
export * from "./_settings.ts";
export {
  bindConfig,
  ConfigContext,
  ConfigError,
  type ConfigErrorOptions,
  type ConfigLocation,
  type ConfigPath,
  consumerFor,
  DEFAULT_BUFFER_SETTINGS,
  DEFAULT_RUNTIME_SETTINGS,
  extraKeyProblem,
  isSecretKey,
  KAFKA_EXTRA_KEYS,
  KAFKA_MANAGED_KEYS,
  KAFKA_ROLE_MANAGED_KEYS,
  KAFKA_UNSUPPORTED_EXTRA_KEYS,
  type KafkaRole,
  parseConfig,
  type ParseConfigOptions,
  producerFor,
  producerTopic,
  readKafkaSettings,
  readRuntimeSettings,
  readSinkSection,
  redactConfig,
  supportedExtraKeys,
} from "./config/mod.ts";
export { CompilationError, type CompilationIssue, compileFlow } from "./compiler/mod.ts";
export * from "./_clock.ts";
export { TaskTimeoutError, type UnroutedError, UnroutedErrorFailure } from "./engine/mod.ts";
export { ERROR_RECORD_LIMITS } from "./_error_limits.ts";
export {
  type BufferedSinkWriter,
  isBufferedSinkWriter,
  type RowFailure,
  type RowSource,
} from "./_table_delivery.ts";
export {
  BufferedTableWriter,
  type BufferPolicy,
  bufferPolicyOf,
  DEFAULT_BUFFER_POLICY,
  estimateSize,
  type FlushInfo,
  type TableBackend,
} from "./_table_buffer.ts";
