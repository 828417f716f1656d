/**
 * Storage sinks: the contracts a table backend implements ({@link SinkWriter}, {@link IntoSink}) and a
 * registry of writers by sink name used by the runtime. Table backends (PostgreSQL, ClickHouse, Delta
 * Lake) plug in here.
 *
 * @example
 * ```ts
 * import { SinkRegistry } from "@loom/streaming/sinks";
 * const registry = new SinkRegistry();
 * registry.register("orders_sink", { write(rows) { console.log(rows.length); } });
 * ```
 *
 * @module
 */
import type { SinkWriter } from "../streaming/dsl/mod.ts";
export type { IntoSink, SinkContext, SinkWriter } from "../streaming/dsl/mod.ts";
export { Backend, IntoTable } from "../streaming/dsl/mod.ts";

/**
 * Writers of storage sinks by sink name (`IntoTable({ name })`), handed to the runtime.
 *
 * @example
 * ```ts
 * import { SinkRegistry } from "@loom/streaming/sinks";
 * const r = new SinkRegistry().register("audit", { write() {} });
 * r.get("audit");
 * ```
 */
export class SinkRegistry {
  readonly #writers = new Map<string, SinkWriter>();

  /** Registers (or replaces) the writer of a sink. */
  register(name: string, writer: SinkWriter): this {
    if (!name) throw new Error("sink name must not be empty");
    this.#writers.set(name, writer);
    return this;
  }

  /** The writer of a sink, or undefined. */
  get(name: string): SinkWriter | undefined {
    return this.#writers.get(name);
  }

  /** Writers as a map (for `KafkaRunnerOptions.tables`). */
  toMap(): ReadonlyMap<string, SinkWriter> {
    return new Map(this.#writers);
  }
}
