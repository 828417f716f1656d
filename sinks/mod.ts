/**
 * Table sinks: PostgreSQL, ClickHouse and Delta Lake writers behind `IntoTable`, with the shared buffer
 * policy (flush on records, bytes or age, at revoke and at shutdown; transient failures retried; refused
 * rows error-routed) and commit coupling (an input is committed only once the flush holding its rows
 * succeeded). {@link openTableWriters} opens the writers of a compiled plan for the Kafka runner (as its
 * `openTables` factory, or opened up front as `tables`); the edge CLI (`cli.ts`) hands it to the runtime.
 *
 * A custom storage sink needs no registration: any `IntoSink` with a `createWriter` is run as is (it may
 * return a {@link BufferedTableWriter} over its own {@link TableBackend} to get the same buffering).
 *
 * @example
 * ```ts
 * import type { CompiledPlan } from "@loom/streaming";
 * import { KafkaFlowRunner } from "@loom/streaming/runtime";
 * import { openTableWriters } from "@loom/streaming/sinks";
 * export async function run(plan: CompiledPlan): Promise<KafkaFlowRunner> {
 *   const runner = new KafkaFlowRunner(plan, { openTables: openTableWriters });
 *   await runner.start(); // opens the tables; stop() flushes and closes them
 *   return runner;
 * }
 * ```
 *
 * @module
 */
export type { IntoSink, SinkContext, SinkWriter } from "../streaming/dsl/mod.ts";
export { Backend, IntoTable } from "../streaming/dsl/mod.ts";
export {
  type BufferedSinkWriter,
  isBufferedSinkWriter,
  type RowFailure,
  type RowSource,
} from "../streaming/_table_delivery.ts";
export {
  BufferedTableWriter,
  type BufferPolicy,
  DEFAULT_BUFFER_POLICY,
  estimateSize,
  type FlushInfo,
  type TableBackend,
} from "../streaming/_table_buffer.ts";
export { type Column, type ColumnKind, columnsOf } from "./_columns.ts";
export { redact, SinkOptions } from "./_config.ts";
export {
  PostgresBackend,
  type PostgresConfig,
  quoteTable,
  readPostgresConfig,
  RowError,
} from "./_postgres.ts";
export { chString, ClickHouseBackend, type ClickHouseConfig, readClickHouseConfig } from "./_clickhouse.ts";
export { DeltaBackend, type DeltaConfig, readDeltaConfig } from "./_delta.ts";
export {
  isTableSink,
  openTableWriter,
  openTableWriters,
  TableSinkError,
  type TableWriterOptions,
} from "./_writers.ts";
