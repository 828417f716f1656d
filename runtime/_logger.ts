/**
 * Loggers for the runtime: one JSON object per line (machine-readable) or a compact text line.
 *
 * @module
 */
import type { Logger } from "../streaming/_logger.ts";

/**
 * Log level names in order.
 *
 * @example
 * ```ts
 * import { jsonLogger, type LogLevel } from "@loom/streaming/runtime";
 * const level: LogLevel = "warn";
 * const logger = jsonLogger(level); // drops info events
 * ```
 */
export type LogLevel = "info" | "warn" | "error";

/**
 * A logger writing one JSON line per event to stderr: `{"ts":…,"level":"info","event":"…",…}`.
 *
 * @example
 * ```ts
 * import { jsonLogger } from "@loom/streaming/runtime";
 * const log = jsonLogger("warn");
 * log.warn("delivery_retry", { topic: "orders" });
 * ```
 */
export function jsonLogger(
  min: LogLevel = "info",
  write: (line: string) => void = (l) => console.error(l),
): Logger {
  const rank: Record<LogLevel, number> = { info: 0, warn: 1, error: 2 };
  const emit = (level: LogLevel) => (event: string, fields: Record<string, unknown> = {}) => {
    if (rank[level] < rank[min]) return;
    write(JSON.stringify({ ts: new Date().toISOString(), level, event, ...fields }));
  };
  return { info: emit("info"), warn: emit("warn"), error: emit("error") };
}
