/**
 * Runtime: run compiled flows on Kafka ({@link KafkaFlowRunner}), load flows and YAML files, record
 * fixtures, and the command line (`runtime/cli.ts`).
 *
 * @example
 * ```ts ignore
 * import { compileFlow } from "@loom/streaming";
 * import { KafkaFlowRunner, loadConfigFile } from "@loom/streaming/runtime";
 * const runner = new KafkaFlowRunner(compileFlow(flow, loadConfigFile("config.yaml")));
 * await runner.start();
 * ```
 *
 * @module
 */
export { KafkaFlowRunner, type KafkaRunnerOptions, type RunnerState } from "./_kafka_runner.ts";
export { FlowModuleError, loadConfigFile, loadFlowModule } from "./_load.ts";
export { jsonLogger, type LogLevel } from "./_logger.ts";
export { formatMemoryReport, type MemoryRunReport, runInMemory } from "./_memory_run.ts";
export { type KafkaRunOptions, runOnKafka } from "./_kafka_run.ts";
export { recordFixture, type RecordOptions } from "./_record.ts";
export { type CliArgs, main, parseArgs } from "./cli.ts";
export { type FlowRunOptions, runFlowModule } from "./_serve_run.ts";
export { FlowSupervisor, type SupervisorOptions } from "./workers/_supervisor.ts";
export { FlowInstance, type FlowInstanceOptions, type WorkerSnapshot } from "./workers/_instance.ts";
export * from "./admin/mod.ts";
