/**
 * Command line: `run` a flow (in-memory broker by default, Kafka when the config says
 * `streaming.runtime.transport: kafka`) and `record` real topic traffic into a fixture.
 *
 * This entry knows no table backend (they live above the runtime, in `sinks/`): a flow with `IntoTable`
 * runs from the edge entry `cli.ts` (`deno task run`, `bun cli.ts run`), which calls {@link main} with
 * `tableWriters` set to `@loom/streaming/sinks`.
 *
 *   deno run -A runtime/cli.ts run <flow.ts> --config <config.yaml> [--fixture <records.jsonl>] [--json]
 *       [--workers N] [--admin-port P] [--admin-host H] [--max-messages N]   (Kafka: `bun runtime/cli.ts run …` too)
 *   deno run -A runtime/cli.ts record [--config <config.yaml> | --brokers <b>] --topic <topic> --out <file.jsonl> [--limit N]
 *
 * @module
 */
import { readFileSync } from "node:fs";
import process from "node:process";
import { CompilationError } from "../streaming/compiler/mod.ts";
import { ConfigContext, ConfigError, readRuntimeSettings } from "../streaming/config/mod.ts";
import { loadConfigFile, loadFlowModule } from "./_load.ts";
import { formatMemoryReport, runInMemory } from "./_memory_run.ts";
import { loadTableWriterFactory } from "./_table_writers.ts";

const USAGE = `usage:
  run <flow.ts> --config <config.yaml> [--fixture <records.jsonl>] [--json] [--workers N] [--admin-port P] [--admin-host H]
  record (--config <config.yaml> | --brokers host:port[,...]) --topic <topic> --out <file.jsonl> [--limit N] [--timeout-ms N]`;

/**
 * Parsed command line.
 *
 * @example
 * ```ts
 * import { type CliArgs, parseArgs } from "@loom/streaming/runtime";
 * const args: CliArgs = parseArgs(["run", "flow.ts", "--config", "config.yaml", "--json"]);
 * args.command; // "run"
 * ```
 */
export interface CliArgs {
  /** The sub-command (`run`, `record`), or null when absent. */
  readonly command: string | null;
  /** Arguments that are neither the command nor flags. */
  readonly positional: readonly string[];
  /** `--name value` flags by name (`true` for a flag without value). */
  readonly flags: Readonly<Record<string, string | true>>;
}

/**
 * Parses `argv` (without the runtime and script).
 *
 * @example
 * ```ts
 * import { parseArgs } from "@loom/streaming/runtime";
 * parseArgs(["run", "flow.ts", "--config", "c.yaml"]).flags.config; // "c.yaml"
 * ```
 */
export function parseArgs(argv: readonly string[]): CliArgs {
  const positional: string[] = [];
  const flags: Record<string, string | true> = {};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a.startsWith("--")) {
      const eq = a.indexOf("=");
      if (eq > 0) flags[a.slice(2, eq)] = a.slice(eq + 1);
      else if (i + 1 < argv.length && !argv[i + 1].startsWith("--")) flags[a.slice(2)] = argv[++i];
      else flags[a.slice(2)] = true;
    } else positional.push(a);
  }
  return { command: positional.shift() ?? null, positional, flags };
}

function need(args: CliArgs, flag: string): string {
  const v = args.flags[flag];
  if (typeof v !== "string" || !v) throw new UsageError(`missing --${flag}`);
  return v;
}

class UsageError extends Error {}

/**
 * What the entry point supplies to {@link main}.
 *
 * @example
 * ```ts
 * import type { CliOptions } from "@loom/streaming/runtime";
 * const options: CliOptions = { tableWriters: new URL("../sinks/mod.ts", import.meta.url) };
 * ```
 */
export interface CliOptions {
  /**
   * URL of a module exporting `openTableWriters` (`@loom/streaming/sinks`): table sinks are opened with it
   * on both transports (Kafka workers import it). Without it a flow with `IntoTable` fails to start on
   * Kafka and writes to in-memory twins on the memory transport.
   */
  readonly tableWriters?: string | URL;
}

/**
 * Runs the CLI; returns the process exit code.
 *
 * @example
 * ```ts
 * import { main } from "@loom/streaming/runtime";
 * const code = await main(["run", "examples/orders/flow.ts", "--config", "examples/orders/orders.yaml"]);
 * ```
 */
export async function main(argv: readonly string[], options: CliOptions = {}): Promise<number> {
  const args = parseArgs(argv);
  const tableWriters = options.tableWriters === undefined ? undefined : String(options.tableWriters);
  try {
    switch (args.command) {
      case "run": {
        const flowPath = args.positional[0];
        if (!flowPath) throw new UsageError("missing <flow.ts>");
        const config = loadConfigFile(need(args, "config"));
        const runtime = readRuntimeSettings(config);
        if (runtime.transport === "kafka") {
          const { runFlowModule } = await import("./_serve_run.ts");
          const workers = numberFlag(args, "workers");
          if (workers === 0) throw new UsageError("--workers must be at least 1");
          return await runFlowModule(flowPath, config, {
            workers,
            adminPort: numberFlag(args, "admin-port"),
            adminHost: typeof args.flags["admin-host"] === "string" ? args.flags["admin-host"] : undefined,
            maxMessages: numberFlag(args, "max-messages"),
            tableWriters,
          });
        }
        // transport: memory runs in one thread
        const flow = await loadFlowModule(flowPath);
        const fixturePath = typeof args.flags.fixture === "string" ? args.flags.fixture : null;
        const fixture = fixturePath ? readFileSync(fixturePath, "utf8") : null;
        const openTables = tableWriters === undefined
          ? undefined
          : await loadTableWriterFactory(tableWriters);
        const report = await runInMemory(flow, config, fixture, fixturePath ?? "<none>", { openTables });
        console.log(args.flags.json ? JSON.stringify(report) : formatMemoryReport(report));
        return 0;
      }
      case "record": {
        const { recordFixture } = await import("./_record.ts");
        const config = typeof args.flags.config === "string"
          ? loadConfigFile(args.flags.config)
          : ConfigContext.fromObject({
            kafka: {
              consumer: {
                brokers: String(args.flags.brokers ?? process.env.LOOM_KAFKA_BROKERS ?? "127.0.0.1:19092")
                  .split(","),
                group_id: "loom-record",
                topics: [],
              },
            },
          });
        const n = await recordFixture({
          config,
          topic: need(args, "topic"),
          out: need(args, "out"),
          limit: numberFlag(args, "limit") ?? 1000,
          timeoutMs: numberFlag(args, "timeout-ms") ?? 10_000,
        });
        console.error(`recorded ${n} record(s) into ${args.flags.out}`);
        return 0;
      }
      default:
        throw new UsageError(args.command ? `unknown command '${args.command}'` : "missing command");
    }
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`error: ${e.message}\n${USAGE}`);
      return 2;
    }
    if (e instanceof CompilationError || e instanceof ConfigError) {
      // the message names the node path (compilation) or the file, line and key (config)
      console.error(`error: ${e.message}`);
      return 1;
    }
    // Operational failures and bad input (broker, delivery, unrouted errors, fixture files, flow modules)
    // say everything in their message; anything else is a bug somewhere and keeps its stack.
    const operational = e instanceof Error &&
      /^(Kafka\w*Error|DeliveryFailure|UnroutedErrorFailure|FixtureError|FlowModuleError|TableSinkError)$/
        .test(e.name);
    console.error(
      `error: ${
        e instanceof Error ? (operational ? `${e.name}: ${e.message}` : e.stack ?? e.message) : String(e)
      }${localBrokerHint(e)}`,
    );
    return 1;
  }
}

/** The broker of a development setup (`scripts/kafka.sh`), also the CLI's default for `record`. */
const LOCAL_DEFAULT_BROKER = "127.0.0.1:19092";

/**
 * A development hint for a connection failure to the local default broker (library messages carry none).
 *
 * @example
 * ```ts
 * import { localBrokerHint } from "./cli.ts";
 * localBrokerHint(new Error("could not connect to 127.0.0.1:19092: ECONNREFUSED")).length > 0; // true
 * ```
 */
export function localBrokerHint(e: unknown): string {
  if (!(e instanceof Error) || !/^Kafka\w*Error$/.test(e.name)) return "";
  if (!e.message.includes(`could not connect to ${LOCAL_DEFAULT_BROKER}`)) return "";
  return "\n(hint: scripts/kafka.sh ensure starts a local broker on 127.0.0.1:19092)";
}

function numberFlag(args: CliArgs, flag: string): number | undefined {
  const v = args.flags[flag];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (typeof v !== "string" || !Number.isInteger(n) || n < 0) {
    throw new UsageError(`--${flag} must be a non-negative integer`);
  }
  return n;
}

if (import.meta.main) {
  // exit explicitly: client libraries may keep timers alive after a failure
  process.exit(await main(process.argv.slice(2)));
}
