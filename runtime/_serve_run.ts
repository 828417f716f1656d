/**
 * `runFlowModule`: the CLI's Kafka path. It compiles the flow on the main thread first (a bad flow
 * fails before any worker starts), starts a {@link FlowSupervisor} (N Web Workers, or the main thread
 * for one), serves the admin API when configured (`streaming.runtime.admin` or `--admin-port`; the
 * `observability.prometheus.config.port` scrape server is the same app), handles SIGINT/SIGTERM (the
 * first stops gracefully, a second forces exit 130), and shows a live status line on a TTY (JSON lines
 * only otherwise).
 *
 * @module
 */
import process from "node:process";
import { compileFlow } from "../streaming/compiler/mod.ts";
import type { ConfigContext } from "../streaming/config/mod.ts";
import type { Logger } from "../streaming/_logger.ts";
import {
  type AdminSettings,
  readAdminSettings,
  readObservabilityConfig,
} from "../streaming/observe/_config.ts";
import { createAdminApp } from "./admin/_app.ts";
import { type AdminServer, serveAdmin } from "./admin/_serve.ts";
import type { FlowTotals } from "./admin/_source.ts";
import { loadFlowModule } from "./_load.ts";
import { jsonLogger, type LogLevel } from "./_logger.ts";
import { FlowSupervisor } from "./workers/_supervisor.ts";

/**
 * Options of {@link runFlowModule}.
 *
 * @example
 * ```ts
 * import type { FlowRunOptions } from "@loom/streaming/runtime";
 * const options: FlowRunOptions = { workers: 2, adminPort: 0 };
 * ```
 */
export interface FlowRunOptions {
  /** Workers (default: `streaming.runtime.workers_per_process`). */
  readonly workers?: number;
  /** Admin API port (overrides `streaming.runtime.admin.port`; 0: ephemeral). */
  readonly adminPort?: number;
  /** Admin API host (default `streaming.runtime.admin.host`, else `127.0.0.1`). */
  readonly adminHost?: string;
  /** Stop gracefully after this many consumed messages (tests, one-shot jobs). */
  readonly maxMessages?: number;
  /** Live status line on stderr (default: when stderr is a TTY). */
  readonly statusLine?: boolean;
  /** Minimum log level (default `LOOM_LOG_LEVEL` or `info`). */
  readonly logLevel?: LogLevel;
  /**
   * URL of a module exporting `openTableWriters` (`@loom/streaming/sinks`): the workers open the flow's
   * table sinks with it (the edge CLI, `cli.ts`, passes it).
   */
  readonly tableWriters?: string | URL;
  /** Called once the admin API listens (its URL) — tests. */
  readonly onAdmin?: (server: AdminServer) => void;
}

const fmt = (n: number): string => Math.round(n).toLocaleString("en");

/**
 * Runs the flow exported by `flowModule` on Kafka until SIGINT/SIGTERM (or `maxMessages`); returns the
 * exit code: 0 after a clean stop (everything finished was committed), 1 otherwise.
 *
 * @example
 * ```ts ignore
 * import { loadConfigFile, runFlowModule } from "@loom/streaming/runtime";
 * const code = await runFlowModule("flows/orders.ts", loadConfigFile("orders.yaml"), { workers: 2 });
 * ```
 */
export async function runFlowModule(
  flowModule: string,
  config: ConfigContext,
  options: FlowRunOptions = {},
): Promise<number> {
  const flow = await loadFlowModule(flowModule);
  const plan = compileFlow(flow, config);
  const observability = readObservabilityConfig(config);
  const level = options.logLevel ?? (process.env.LOOM_LOG_LEVEL as LogLevel | undefined) ?? "info";
  const tty = options.statusLine ?? Boolean(process.stderr.isTTY);
  let statusShown = false;
  const writeLine = (line: string) => {
    // a log line replaces the status line, which is drawn again at the next tick
    if (statusShown) process.stderr.write("\r\x1b[2K");
    statusShown = false;
    process.stderr.write(line + "\n");
  };
  const logger: Logger = jsonLogger(level, writeLine);
  // process warnings as JSON lines too (Bun also prints its own plain-text copy unless NODE_NO_WARNINGS=1)
  process.on("warning", (w) => logger.warn("runtime_warning", { name: w.name, message: w.message }));
  if (observability.prometheus.pushgatewayUrl !== null) {
    logger.warn("pushgateway_not_supported", { reason: "metrics are served at /metrics; nothing is pushed" });
  }
  let admin: AdminSettings | null = readAdminSettings(config);
  if (options.adminPort !== undefined) {
    admin = { host: options.adminHost ?? admin?.host ?? "127.0.0.1", port: options.adminPort };
  }
  const prom = observability.prometheus;
  if (!admin && prom.enabled && prom.port !== null && prom.pushgatewayUrl === null) {
    admin = { host: prom.bindAddress, port: prom.port };
  }
  const supervisor = new FlowSupervisor({
    flowModule,
    config,
    plan,
    workers: options.workers,
    logger,
    logLevel: level,
    tableWriters: options.tableWriters,
  });
  let server: AdminServer | null = null;
  const abort = new AbortController();
  if (admin) {
    const app = createAdminApp(supervisor, { signal: abort.signal, metricsPath: prom.path });
    server = await serveAdmin(app, admin, abort);
    logger.info("admin_listening", { url: server.url });
    options.onAdmin?.(server);
  }
  let signals = 0;
  let finished = false;
  const onSignal = (sig: string) => {
    if (finished) return;
    signals++;
    if (signals === 1) {
      logger.info("shutdown_requested", { signal: sig });
      void supervisor.stop();
    } else {
      logger.error("forced_exit", { signal: sig, reason: "second signal during shutdown" });
      process.exit(130);
    }
  };
  const onInt = () => onSignal("SIGINT");
  const onTerm = () => onSignal("SIGTERM");
  process.on("SIGINT", onInt);
  process.on("SIGTERM", onTerm);
  let last: { at: number; t: FlowTotals } | null = null;
  let ticks = 0;
  const status = setInterval(() => {
    const s = supervisor.status();
    const now = performance.now();
    const dt = last ? (now - last.at) / 1000 : 0;
    const rate = (k: keyof FlowTotals) => (last && dt > 0 ? (s.totals[k] - last.t[k]) / dt : 0);
    const up = s.workers.filter((w) => w.state === "running").length;
    if (tty) {
      process.stderr.write(
        `\r\x1b[2K${plan.name} · ${up}/${s.workers.length} workers up · consumed ${fmt(s.totals.consumed)} ` +
          `(${fmt(rate("consumed"))}/s) · produced ${fmt(s.totals.produced)} (${
            fmt(rate("produced"))
          }/s) · ` +
          `errors ${fmt(s.totals.errors)} (${fmt(rate("errors"))}/s) · lag ${fmt(s.totals.lag)}`,
      );
      statusShown = true;
    } else if (++ticks % 10 === 0) {
      logger.info("status", {
        workers_up: up,
        workers: s.workers.length,
        ...s.totals,
        consumed_per_s: Math.round(rate("consumed")),
        produced_per_s: Math.round(rate("produced")),
      });
    }
    last = { at: now, t: s.totals };
    if (options.maxMessages && s.totals.consumed >= options.maxMessages && s.totals.inFlight === 0) {
      void supervisor.stop();
    }
  }, 1000);
  try {
    await supervisor.start();
    await supervisor.done;
  } finally {
    clearInterval(status);
    if (statusShown) process.stderr.write("\n");
    // The handlers stay installed (as no-ops) until the process exits: on Deno, removing the last listener
    // restores the default action, and a signal still being delivered would then kill the process.
    finished = true;
    await server?.close().catch(() => {});
  }
  return supervisor.stoppedCleanly ? 0 : 1;
}
