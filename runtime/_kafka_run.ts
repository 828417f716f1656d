/**
 * `run` on Kafka from the CLI: compile, start the runner, stop gracefully on SIGINT/SIGTERM.
 *
 * @module
 */
import process from "node:process";
import { compileFlow } from "../streaming/compiler/mod.ts";
import type { ConfigContext } from "../streaming/config/mod.ts";
import type { StreamFlow } from "../streaming/dsl/mod.ts";
import { KafkaFlowRunner } from "./_kafka_runner.ts";
import { jsonLogger } from "./_logger.ts";
import type { TableWriterFactory } from "./_table_writers.ts";

/**
 * Options of {@link runOnKafka}.
 *
 * @example
 * ```ts
 * import { type KafkaRunOptions, loadConfigFile, loadFlowModule, runOnKafka } from "@loom/streaming/runtime";
 * const flow = await loadFlowModule("examples/orders/flow.ts");
 * const options: KafkaRunOptions = { maxMessages: 1_000 };
 * const exitCode = await runOnKafka(flow, loadConfigFile("examples/orders/orders.yaml"), options);
 * ```
 */
export interface KafkaRunOptions {
  /** Stop gracefully after this many consumed messages (tests, one-shot jobs). */
  readonly maxMessages?: number;
  /** Opens the flow's table sinks (`openTableWriters` of `@loom/streaming/sinks`; see `KafkaRunnerOptions`). */
  readonly openTables?: TableWriterFactory;
}

/**
 * Runs `flow` on the Kafka cluster of `config` until SIGINT/SIGTERM; returns the exit code.
 *
 * @example
 * ```ts
 * import { loadConfigFile, loadFlowModule, runOnKafka } from "@loom/streaming/runtime";
 * const flow = await loadFlowModule("examples/orders/flow.ts");
 * const code = await runOnKafka(flow, loadConfigFile("config.yaml"));
 * ```
 */
export async function runOnKafka(
  // deno-lint-ignore no-explicit-any
  flow: StreamFlow<any>,
  config: ConfigContext,
  options: KafkaRunOptions = {},
): Promise<number> {
  const plan = compileFlow(flow, config);
  const logger = jsonLogger((process.env.LOOM_LOG_LEVEL as "info" | "warn" | "error") ?? "info");
  const runner = new KafkaFlowRunner(plan, { logger, openTables: options.openTables });
  const stop = () => void runner.stop();
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    await runner.start();
  } catch (e) {
    await runner.stop().catch(() => {});
    throw e;
  }
  let watcher: ReturnType<typeof setInterval> | null = null;
  if (options.maxMessages) {
    watcher = setInterval(() => {
      if (runner.driver.stats.consumed >= options.maxMessages! && runner.driver.inFlight === 0) {
        void runner.stop();
      }
    }, 50);
  }
  await runner.done;
  if (watcher) clearInterval(watcher);
  process.off("SIGINT", stop);
  process.off("SIGTERM", stop);
  return runner.failure ? 1 : 0;
}
