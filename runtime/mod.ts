/**
 * Runtime: run compiled flows on Kafka ({@link KafkaFlowRunner}), load flows and YAML files, record
 * fixtures, and the command line (`runtime/cli.ts`). The Kafka client adapters live here too:
 * {@link createKafkaClients} picks @platformatic/kafka (default) or kafkajs behind the core's ports, with
 * the message-level clients ({@link KafkaMessageProducer}, {@link KafkaMessageConsumer}) and an admin
 * helper ({@link KafkaAdmin}) on top.
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
 * ```
 *
 * @module
 */
// The kafkajs adapter (its settings mapping `settingsToKafkaJs` stays internal so that no kafkajs type leaks
// into the public API).
export {
  type BatchControl,
  consoleKafkaLogger,
  type ConsumerHandler,
  type ConsumerRunOptions,
  type KafkaClientOptions,
  KafkaCommitError,
  KafkaConfigError,
  KafkaConsumerClient,
  KafkaConsumerError,
  type KafkaConsumerPort,
  KafkaDeliveryError,
  type KafkaLogger,
  type KafkaLogLevel,
  type KafkaLogRecord,
  KafkaProducerClient,
  type KafkaProducerPort,
} from "./kafkajs/mod.ts";
export { KafkaFlowRunner, type KafkaRunnerOptions, type RunnerState } from "./_kafka_runner.ts";
export { heapLimitStats } from "./_heap_limit.ts";
export { FlowModuleError, loadConfigFile, loadFlowModule } from "./_load.ts";
export { jsonLogger, type LogLevel } from "./_logger.ts";
export {
  formatMemoryReport,
  type MemoryRunOptions,
  type MemoryRunReport,
  runInMemory,
} from "./_memory_run.ts";
export {
  loadTableWriterFactory,
  type TableFactoryOptions,
  type TableWriterFactory,
} from "./_table_writers.ts";
export { type KafkaRunOptions, runOnKafka } from "./_kafka_run.ts";
export { recordFixture, type RecordOptions } from "./_record.ts";
export { type CliArgs, type CliOptions, main, parseArgs } from "./cli.ts";
export {
  createKafkaClients,
  KAFKA_CLIENT_KINDS,
  type KafkaClientKind,
  type KafkaClients,
} from "./_kafka_clients.ts";
export * from "./platformatic/mod.ts";
export {
  KafkaMessageProducer,
  type MessageProducerOptions,
  type MessageToSend,
} from "./_message_producer.ts";
export {
  type ConsumedMessage,
  KafkaDeserializationError,
  KafkaMessageConsumer,
  type MessageHandler,
} from "./_message_consumer.ts";
export { type FlowRunOptions, runFlowModule } from "./_serve_run.ts";
export { FlowSupervisor, type SupervisorOptions } from "./workers/_supervisor.ts";
export { FlowInstance, type FlowInstanceOptions, type WorkerSnapshot } from "./workers/_instance.ts";
export {
  type OffsetsAdmin,
  PartitionOffsetsPoller,
  type PartitionOffsetsPollerOptions,
  type ReadOffsets,
  readPartitionOffsets,
} from "./_partition_offsets.ts";
export * from "./admin/mod.ts";
