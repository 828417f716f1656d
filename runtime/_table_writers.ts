/**
 * The table-writer factory port: how the runtime opens the writers of a plan's table sinks (`IntoTable`)
 * without importing them. The backends live at the edge (`@loom/streaming/sinks`, whose
 * `openTableWriters` is such a factory); the edge entry point (`cli.ts`) or the user supplies it, as a
 * function ({@link TableWriterFactory}) or, for Web Workers, as the URL of a module exporting
 * `openTableWriters` ({@link loadTableWriterFactory}).
 *
 * @module
 */
import type { Logger } from "../streaming/_logger.ts";
import type { CompiledPlan } from "../streaming/_plan.ts";
import type { SinkWriter } from "../streaming/dsl/mod.ts";

/**
 * Options the runtime passes to a {@link TableWriterFactory}.
 *
 * @example
 * ```ts
 * import type { TableFactoryOptions } from "@loom/streaming/runtime";
 * const options: TableFactoryOptions = { logger: { info() {}, warn() {}, error() {} } };
 * ```
 */
export interface TableFactoryOptions {
  /** The runner's structured logger (flush and retry events). */
  readonly logger?: Logger;
}

/**
 * Opens the writers of a plan's table sinks, by sink name (connecting, checking or creating the tables);
 * on a failure it closes what it opened and throws. `openTableWriters` of `@loom/streaming/sinks` is one.
 *
 * @example
 * ```ts
 * import type { TableWriterFactory } from "@loom/streaming/runtime";
 * const none: TableWriterFactory = () => Promise.resolve(new Map());
 * ```
 */
export type TableWriterFactory = (
  plan: CompiledPlan,
  options: TableFactoryOptions,
) => Promise<ReadonlyMap<string, SinkWriter>>;

/**
 * Imports the module at `url` and returns its `openTableWriters` export (Web Workers get the factory this
 * way: functions cannot be posted to them).
 *
 * @example
 * ```ts
 * import { loadTableWriterFactory } from "@loom/streaming/runtime";
 * const open = await loadTableWriterFactory(new URL("./sinks/mod.ts", import.meta.url).href);
 * ```
 */
export async function loadTableWriterFactory(url: string): Promise<TableWriterFactory> {
  let mod: Record<string, unknown>;
  try {
    mod = await import(url);
  } catch (e) {
    throw new Error(`cannot import the table-writer module ${url}: ${(e as Error).message}`, { cause: e });
  }
  const f = mod.openTableWriters;
  if (typeof f !== "function") {
    throw new Error(`the table-writer module ${url} exports no openTableWriters function`);
  }
  return f as TableWriterFactory;
}
