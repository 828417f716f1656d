/**
 * The command line at the edge: the runtime's CLI (`runtime/cli.ts`) with the table sinks of
 * `@loom/streaming/sinks`, so a flow with `IntoTable` opens its PostgreSQL, ClickHouse or Delta tables from
 * `streaming.sinks.<name>` / `database.<db>`, on Kafka (in every worker) and on the memory transport; the
 * writers are flushed (unless `flush_on_shutdown: false`) and closed when the flow stops. `deno task run`
 * and `bun cli.ts run` use it.
 *
 *   deno run -A cli.ts run <flow.ts> --config <config.yaml> [--fixture <records.jsonl>] [--workers N] …
 *   bun cli.ts run <flow.ts> --config <config.yaml> …
 *
 * @example
 * ```ts
 * import { main } from "@loom/streaming/cli";
 * const code = await main(["run", "examples/orders/flow.ts", "--config", "examples/orders/orders.yaml"]);
 * ```
 *
 * @module
 */
import process from "node:process";
import { main as runtimeMain } from "./runtime/cli.ts";

/** The module whose `openTableWriters` opens the table sinks (workers import it by this URL). */
const TABLE_WRITERS = new URL("./sinks/mod.ts", import.meta.url).href;

/**
 * Runs the CLI with the table sinks; returns the process exit code.
 *
 * @example
 * ```ts
 * import { main } from "@loom/streaming/cli";
 * const code = await main(["run", "examples/orders/flow.ts", "--config", "examples/orders/orders.yaml"]);
 * ```
 */
export function main(argv: readonly string[]): Promise<number> {
  return runtimeMain(argv, { tableWriters: TABLE_WRITERS });
}

if (import.meta.main) {
  // exit explicitly: client libraries may keep timers alive after a failure
  process.exit(await main(process.argv.slice(2)));
}
