/**
 * Entry point of a flow worker (a module Web Worker, Deno and Bun): on `start` it loads the flow
 * module, compiles the plan, runs a {@link FlowInstance} with its own consumer in the group, and posts
 * snapshots; on `stop` it stops gracefully (finish in flight, flush, commit, leave) and posts
 * `stopped`. A failure is posted as `failed`; the supervisor terminates and restarts the worker.
 *
 * @module
 */
import process from "node:process";
import { fileURLToPath } from "node:url";
import { compileFlow } from "../../streaming/compiler/mod.ts";
import { ConfigContext } from "../../streaming/config/mod.ts";
import { readObservabilityConfig } from "../../streaming/observe/_config.ts";
import { loadFlowModule } from "../_load.ts";
import { jsonLogger } from "../_logger.ts";
import { loadTableWriterFactory } from "../_table_writers.ts";
import { configuredLifecycleObservers, FlowInstance } from "./_instance.ts";
import type { FromWorker, StartMessage, ToWorker } from "./_protocol.ts";

interface WorkerScope {
  onmessage: ((e: MessageEvent<ToWorker>) => void) | null;
  postMessage(m: FromWorker): void;
  close(): void;
}
const scope = globalThis as unknown as WorkerScope;
const post = (m: FromWorker) => scope.postMessage(m);
let instance: FlowInstance | null = null;
let timer: ReturnType<typeof setInterval> | null = null;

const describe = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

async function start(m: StartMessage): Promise<void> {
  try {
    const config = new ConfigContext(m.config, m.configFile);
    const flow = await loadFlowModule(fileURLToPath(m.flowModule));
    const plan = compileFlow(flow, config);
    const logger = jsonLogger(m.logLevel, (line) => {
      // tag each log line with the worker index
      console.error(line.replace(/^\{/, `{"worker":${m.index},`));
    });
    process.on("warning", (w) => logger.warn("runtime_warning", { name: w.name, message: w.message }));
    const observability = readObservabilityConfig(config);
    instance = new FlowInstance(plan, {
      logger,
      observability,
      lifecycleObservers: await configuredLifecycleObservers(observability, logger),
      writeLine: (line) => console.error(line.replace(/^\{/, `{"worker":${m.index},`)),
      // the worker's slot: under exactly_once, its own transactional id
      runner: {
        workerIndex: m.index,
        ...(m.quietClient ? { client: { logger: () => {} } } : {}),
        openTables: m.tableWriters === null ? undefined : await loadTableWriterFactory(m.tableWriters),
      },
    });
    await instance.start();
    post({ type: "started", snapshot: instance.snapshot() });
    timer = setInterval(() => post({ type: "snapshot", snapshot: instance!.snapshot() }), m.snapshotMs);
    void instance.runner.done.then(() => {
      if (instance?.runner.failure) {
        post({ type: "failed", error: describe(instance.runner.failure), snapshot: instance.snapshot() });
      }
    });
  } catch (e) {
    post({ type: "failed", error: describe(e), snapshot: instance?.snapshot() ?? null });
  }
}

async function stop(): Promise<void> {
  if (timer) clearInterval(timer);
  timer = null;
  if (!instance) {
    post({
      type: "stopped",
      snapshot: { state: "stopped", joined: false, assigned: [], partitions: [], metrics: [], failure: null },
      graceful: true,
    });
    scope.close();
    return;
  }
  try {
    await instance.stop();
  } catch { /* reported through the snapshot's failure */ }
  const snapshot = instance.snapshot();
  post({ type: "stopped", snapshot, graceful: instance.runner.failure === null });
  scope.close();
}

scope.onmessage = (e: MessageEvent<ToWorker>) => {
  const m = e.data;
  if (m.type === "start") void start(m);
  else if (m.type === "stop") void stop();
};
