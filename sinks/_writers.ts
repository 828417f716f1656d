/**
 * Opening the table writers of a compiled plan: one {@link BufferedTableWriter} per `IntoTable`, over the
 * backend its `backend` names, configured from `streaming.sinks.<name>`.
 *
 * @module
 */
import type { CompiledPlan, IntoSink, MessageType, SinkWriter } from "../streaming/mod.ts";
import { IntoTable } from "../streaming/mod.ts";
import { type Logger, silentLogger } from "../streaming/engine.ts";
import { BufferedTableWriter, type TableBackend } from "../streaming/_table_buffer.ts";
import { SinkOptions } from "./_config.ts";
import { PostgresBackend, readPostgresConfig } from "./_postgres.ts";
import { ClickHouseBackend, readClickHouseConfig } from "./_clickhouse.ts";
import { DeltaBackend, readDeltaConfig } from "./_delta.ts";

/**
 * A table sink that cannot start (unreachable server, missing table, bad settings): the message names the
 * sink, its `streaming.sinks.<name>` section and the fix; the original error is the `cause`.
 *
 * @example
 * ```ts
 * import { TableSinkError } from "@loom/streaming/sinks";
 * new TableSinkError("table sink 'orders' (streaming.sinks.orders): table missing").name; // "TableSinkError"
 * ```
 */
export class TableSinkError extends Error {
  /**
   * Creates a {@link TableSinkError}.
   *
   * @param message what is wrong, naming the sink
   * @param options the underlying error
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TableSinkError";
  }
}

/**
 * Options of {@link openTableWriter} and {@link openTableWriters}.
 *
 * @example
 * ```ts
 * import type { TableWriterOptions } from "@loom/streaming/sinks";
 * const options: TableWriterOptions = { logger: { info() {}, warn() {}, error() {} } };
 * ```
 */
export interface TableWriterOptions {
  /** Structured logger (`sink_flush`, `sink_flush_retry`, `sink_rows_refused`). */
  readonly logger?: Logger;
  /** Delta `txn` app id prefix (default: the source's consumer group). */
  readonly appId?: string;
}

/**
 * Opens the writer of one `IntoTable` (connects, checks or creates the table). A missing table without
 * `create_table: true` is a startup error naming the sink.
 *
 * @example
 * ```ts
 * import { IntoTable } from "@loom/streaming";
 * import { type BufferedTableWriter, openTableWriter } from "@loom/streaming/sinks";
 * export async function open(config: Record<string, unknown>): Promise<BufferedTableWriter<unknown>> {
 *   return await openTableWriter(new IntoTable({ name: "orders_sink", backend: "postgres" }), config);
 * }
 * ```
 */
export async function openTableWriter<E = unknown>(
  sink: IntoTable<E>,
  config: Readonly<Record<string, unknown>>,
  options: TableWriterOptions = {},
): Promise<BufferedTableWriter<E>> {
  const log = options.logger ?? silentLogger;
  const policy = SinkOptions.read(config, sink.name).policy();
  const payload: MessageType | null = sink.payload ?? null;
  let backend: TableBackend<E>;
  try {
    switch (sink.backend) {
      case "postgres":
      case "sqlalchemy":
        backend = await PostgresBackend.open<E>(readPostgresConfig(config, sink.name, sink.table), payload);
        break;
      case "clickhouse":
        backend = await ClickHouseBackend.open<E>(
          readClickHouseConfig(config, sink.name, sink.table),
          payload,
        );
        break;
      case "delta":
        backend = await DeltaBackend.open<E>(readDeltaConfig(config, sink.name, sink.table), payload, {
          appId: options.appId ?? "loom",
        });
        break;
      default:
        throw new Error(
          `unsupported backend '${String(sink.backend)}' (postgres, sqlalchemy, clickhouse, delta)`,
        );
    }
  } catch (e) {
    const m = e instanceof Error ? e.message : String(e);
    throw new TableSinkError(`table sink '${sink.name}' (streaming.sinks.${sink.name}): ${m}`, { cause: e });
  }
  return new BufferedTableWriter<E>(backend, policy, log);
}

/**
 * Opens the writers of every `IntoTable` of a plan, by sink name (for `KafkaRunnerOptions.tables`).
 * Other storage sinks (a custom `IntoSink` with `createWriter`) are left to the runner. On a failure the
 * writers already opened are closed.
 *
 * @example
 * ```ts
 * import type { CompiledPlan } from "@loom/streaming";
 * import { KafkaFlowRunner } from "@loom/streaming/runtime";
 * import { openTableWriters } from "@loom/streaming/sinks";
 * export async function run(plan: CompiledPlan): Promise<KafkaFlowRunner> {
 *   const runner = new KafkaFlowRunner(plan, { tables: await openTableWriters(plan) });
 *   await runner.start();
 *   return runner;
 * }
 * ```
 */
export async function openTableWriters(
  plan: CompiledPlan,
  options: TableWriterOptions = {},
): Promise<Map<string, SinkWriter>> {
  const out = new Map<string, SinkWriter>();
  const appId = options.appId ?? plan.source.settings.groupId ?? plan.name;
  try {
    for (const s of plan.storageSinks.values()) {
      if (out.has(s.name) || !(s.sink instanceof IntoTable)) continue;
      out.set(s.name, await openTableWriter(s.sink, plan.config, { ...options, appId }));
    }
  } catch (e) {
    await Promise.all([...out.values()].map((w) => Promise.resolve(w.close?.()).catch(() => {})));
    throw e;
  }
  return out;
}

/**
 * True for sinks opened by {@link openTableWriters} (an `IntoTable`; custom sinks bring their own writer).
 *
 * @example
 * ```ts
 * import { IntoTable } from "@loom/streaming";
 * import { isTableSink } from "@loom/streaming/sinks";
 * isTableSink(new IntoTable({ name: "orders_sink" })); // true
 * ```
 */
export function isTableSink(sink: IntoSink<unknown>): sink is IntoTable<unknown> {
  return sink instanceof IntoTable;
}
