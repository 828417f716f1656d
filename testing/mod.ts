/**
 * Deterministic testing without a broker: the {@link FlowSimulator} (in-memory topics with real wire
 * bytes, murmur2 partitioning, virtual time, visible commits, fault injection) and JSON Lines fixtures.
 * Free of any test-runner dependency.
 *
 * @example
 * ```ts
 * import { parseFixture } from "@loom/streaming/testing";
 * const records = parseFixture('{"topic": "orders", "key": "k", "value": {"json": {"order_id": "o-1"}}}');
 * ```
 *
 * @module
 */
export { FlowSimulator } from "./_simulator.ts";
export type { SendOptions } from "./_simulator_input.ts";
export { simulatorConfig, type SimulatorOptions } from "./_simulator_options.ts";
export * from "./_fixture.ts";
export { MemoryTable, type MemoryTableOptions, type RefusedRow } from "./_memory_table.ts";
export { MemoryConsumer, type MemoryConsumerOptions } from "./_memory_consumer.ts";
export { MemoryTransactionalProducer } from "./_memory_transactions.ts";
export * from "./_broker.ts";
export type { Clock } from "../streaming/mod.ts";
export type {
  OutgoingRecord,
  ProducerPort,
  SourceRecord,
  TopicPartitionOffset,
} from "../streaming/engine.ts";
export { VirtualClock } from "../streaming/mod.ts";
export {
  PipelineCycleError,
  type PipelineFlow,
  type PipelineOptions,
  PipelineSimulator,
} from "./_pipeline.ts";
