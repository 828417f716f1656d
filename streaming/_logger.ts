/**
 * The structured-logging port of a flow: the {@link Logger} interface every part of the engine and the
 * runtime writes its events to, and {@link silentLogger}, the default that drops them.
 *
 * @module
 */

/**
 * Minimal structured logger.
 *
 * @example
 * ```ts
 * import type { Logger } from "@loom/streaming/engine";
 * const logger: Logger = {
 *   info: (event, fields) => console.log(event, fields),
 *   warn: (event, fields) => console.warn(event, fields),
 *   error: (event, fields) => console.error(event, fields),
 * };
 * ```
 */
export interface Logger {
  /** Logs an informational event. */
  info(event: string, fields?: Record<string, unknown>): void;
  /** Logs a warning event. */
  warn(event: string, fields?: Record<string, unknown>): void;
  /** Logs an error event. */
  error(event: string, fields?: Record<string, unknown>): void;
}

/**
 * A logger that drops everything.
 *
 * @example
 * ```ts
 * import { silentLogger } from "@loom/streaming/engine";
 * silentLogger.info("ignored");
 * ```
 */
export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
