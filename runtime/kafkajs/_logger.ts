/**
 * kafkajs logging: {@link KafkaLogger}, the default {@link consoleKafkaLogger}, and the kafkajs
 * `logCreator` that feeds it.
 *
 * @module
 */
import { type LogEntry, logLevel as KafkaJsLogLevel } from "kafkajs";

/**
 * kafkajs log levels, least to most verbose.
 *
 * @example
 * ```ts
 * import type { KafkaLogLevel } from "@loom/streaming/runtime";
 * const level: KafkaLogLevel = "warn";
 * ```
 */
export type KafkaLogLevel = "nothing" | "error" | "warn" | "info" | "debug";

/**
 * One kafkajs log line.
 *
 * @example
 * ```ts
 * import type { KafkaLogRecord } from "@loom/streaming/runtime";
 * const line: KafkaLogRecord = { level: "warn", namespace: "Runner", message: "rebalancing", fields: {} };
 * ```
 */
export interface KafkaLogRecord {
  /** Severity. */
  readonly level: "error" | "warn" | "info" | "debug";
  /** kafkajs component, e.g. `Consumer`, `Runner`, `BrokerPool`. */
  readonly namespace: string;
  /** The log message. */
  readonly message: string;
  /** kafkajs structured fields (groupId, error, retryCount, ...); `timestamp` and `logger` removed. */
  readonly fields: Readonly<Record<string, unknown>>;
}

/**
 * Receives kafkajs log lines at or above the configured level.
 *
 * @example
 * ```ts
 * import type { KafkaLogger } from "@loom/streaming/runtime";
 * const logger: KafkaLogger = (r) => console.log(r.level, r.namespace, r.message);
 * ```
 */
export type KafkaLogger = (record: KafkaLogRecord) => void;

/**
 * Options shared by the producer and consumer clients.
 *
 * @example
 * ```ts
 * import type { KafkaClientOptions } from "@loom/streaming/runtime";
 * const options: KafkaClientOptions = { logLevel: "error", logger: (r) => console.error(r.message) };
 * ```
 */
export interface KafkaClientOptions {
  /** Where kafkajs logs go (default: one compact line per entry on `console.error`). */
  readonly logger?: KafkaLogger;
  /** Minimum level passed to the logger (default `warn`: kafkajs is very noisy at `info`). */
  readonly logLevel?: KafkaLogLevel;
}

/** kafkajs's numeric level of each {@link KafkaLogLevel}. */
export const LOG_LEVEL_NUMBER: Readonly<Record<KafkaLogLevel, number>> = {
  nothing: KafkaJsLogLevel.NOTHING,
  error: KafkaJsLogLevel.ERROR,
  warn: KafkaJsLogLevel.WARN,
  info: KafkaJsLogLevel.INFO,
  debug: KafkaJsLogLevel.DEBUG,
};

const compactValue = (value: unknown): string => {
  if (typeof value === "string") return /[\s"=]/.test(value) ? JSON.stringify(value) : value;
  if (typeof value === "number" || typeof value === "boolean" || value == null) return String(value);
  if (value instanceof Error) return JSON.stringify(`${value.name}: ${value.message}`);
  try {
    return JSON.stringify(value);
  } catch {
    return String(value);
  }
};

/**
 * The default kafkajs logger: one line per entry on `console.error`, e.g.
 * `kafkajs WARN [Runner] The group is rebalancing, re-joining groupId=g1 error="..."` (stacks omitted).
 *
 * @example
 * ```ts
 * import { consoleKafkaLogger } from "@loom/streaming/runtime";
 * consoleKafkaLogger({ level: "warn", namespace: "Runner", message: "rebalancing", fields: { groupId: "g" } });
 * ```
 */
export const consoleKafkaLogger: KafkaLogger = (record: KafkaLogRecord): void => {
  let line = `kafkajs ${record.level.toUpperCase()} [${record.namespace}] ${record.message}`;
  for (const key in record.fields) {
    if (key === "stack") continue;
    line += ` ${key}=${compactValue(record.fields[key])}`;
  }
  console.error(line.replace(/\s*\n\s*/g, " "));
};

const LEVEL_NAMES: Readonly<Record<number, KafkaLogRecord["level"]>> = {
  [KafkaJsLogLevel.ERROR]: "error",
  [KafkaJsLogLevel.WARN]: "warn",
  [KafkaJsLogLevel.INFO]: "info",
  [KafkaJsLogLevel.DEBUG]: "debug",
};

/**
 * kafkajs logs every protocol error response at ERROR in its `Connection` namespace ("Response
 * Metadata(...) error=..."), even when it then retries successfully; the error that matters reaches the
 * caller anyway. Those lines are demoted to `info`.
 */
export const makeLogCreator = (logger: KafkaLogger, threshold: number) => () => (entry: LogEntry): void => {
  const { timestamp: _t, logger: _l, message, ...fields } = entry.log;
  const text = String(message);
  let level = entry.level;
  if (level === KafkaJsLogLevel.ERROR && entry.namespace === "Connection" && text.startsWith("Response ")) {
    level = KafkaJsLogLevel.INFO;
    if (level > threshold) return;
  }
  logger({
    level: LEVEL_NAMES[level] ?? "info",
    namespace: entry.namespace || "kafkajs",
    message: text,
    fields,
  });
};
