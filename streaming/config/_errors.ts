/**
 * Configuration errors: ConfigError, its source locations and the path/value renderings in messages.
 *
 * @module
 */
import { redactUrlCredentials } from "./_redact.ts";

/**
 * Where the error was found.
 *
 * @example
 * ```ts
 * import { ConfigError } from "@loom/streaming";
 * const e = new ConfigError("config.yaml:3: kafka.consumer.group_id: expected a string", {
 *   file: "config.yaml",
 *   path: "kafka.consumer.group_id",
 *   line: 3,
 * });
 * ```
 */
export interface ConfigErrorOptions {
  /** The file that holds the offending key (null when unknown, e.g. a context built from an object). */
  readonly file?: string | null;
  /** Dotted key path, e.g. `kafka.consumers.orders.group_id` (empty for the whole document). */
  readonly path?: string;
  /** 1-based line in `file`, when known. */
  readonly line?: number | null;
  /** The underlying error, if any. */
  readonly cause?: unknown;
}

/**
 * A configuration problem: malformed YAML, a missing or unset value, a wrong type, an unknown key.
 * The message names the file, line and key path, and says how to fix it when it can.
 *
 * @example
 * ```ts
 * import { ConfigError, parseConfig } from "@loom/streaming";
 * try {
 *   parseConfig("kafka: [", { file: "config.yaml" });
 * } catch (err) {
 *   if (err instanceof ConfigError) console.log(err.file, err.line, err.message);
 * }
 * ```
 */
export class ConfigError extends Error {
  /** The file that holds the offending key, or null. */
  readonly file: string | null;
  /** Dotted key path of the offending key (empty for the whole document). */
  readonly path: string;
  /** 1-based line in `file`, or null when unknown. */
  readonly line: number | null;

  /**
   * Creates a {@link ConfigError}.
   *
   * @param message the full message (location, key path, problem and fix)
   * @param options file, key path, line and cause
   */
  constructor(message: string, options: ConfigErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ConfigError";
    this.file = options.file ?? null;
    this.path = options.path ?? "";
    this.line = options.line ?? null;
  }
}

/**
 * A file and line of a configuration key.
 *
 * @example
 * ```ts
 * import type { ConfigLocation } from "@loom/streaming";
 * const where: ConfigLocation = { file: "config.yaml", line: 12 };
 * ```
 */
export interface ConfigLocation {
  /** The file name, or null when unknown. */
  readonly file: string | null;
  /** 1-based line, or null when unknown. */
  readonly line: number | null;
}

/**
 * A key path: a dotted string (`"kafka.producers.orders.validated"`; keys that themselves contain dots are
 * found too) or an explicit list of segments (`["streaming", "sinks", "my.sink"]`).
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { ConfigContext, type ConfigPath } from "@loom/streaming";
 * const ctx = ConfigContext.fromObject({ streaming: { sinks: { "my.sink": { table: "t" } } } });
 * const path: ConfigPath = ["streaming", "sinks", "my.sink"];
 * ctx.section(path, v.object({ table: v.string() })).table; // "t"
 * ```
 */
export type ConfigPath = string | readonly (string | number)[];

export type Segment = string | number;
export type Segments = readonly Segment[];

const SEP = "\u0000";

export function segKey(segs: Segments): string {
  return segs.join(SEP);
}

/** Renders segments as a dotted path, with list indices as `[i]`. */
export function pathText(segs: Segments): string {
  let out = "";
  for (const s of segs) {
    if (typeof s === "number") out += `[${s}]`;
    else out += out === "" ? s : `.${s}`;
  }
  return out;
}

export function where(loc: ConfigLocation): string {
  if (loc.file !== null && loc.line !== null) return `${loc.file}:${loc.line}: `;
  if (loc.file !== null) return `${loc.file}: `;
  if (loc.line !== null) return `line ${loc.line}: `;
  return "";
}

export function buildError(
  loc: ConfigLocation,
  segs: Segments,
  detail: string,
  hint?: string,
  omitPath = false,
): ConfigError {
  const path = pathText(segs);
  const head = omitPath || path === "" ? "" : `${path}: `;
  const tail = hint === undefined ? "" : `; ${hint}`;
  return new ConfigError(`${where(loc)}${head}${detail}${tail}`, { file: loc.file, line: loc.line, path });
}

/** Describes a value for a message; `secret` hides it (only its kind is shown). */
export function describeValue(value: unknown, secret = false): string {
  if (value === null) return "null";
  if (value === undefined) return "nothing";
  if (secret && typeof value !== "object") return `a ${typeof value} (value hidden: the key holds a secret)`;
  if (typeof value === "string") {
    const plain = redactUrlCredentials(value);
    const shown = plain.length > 60 ? `${plain.slice(0, 57)}...` : plain;
    return `a string (${JSON.stringify(shown)})`;
  }
  if (typeof value === "number") return `a number (${value})`;
  if (typeof value === "boolean") return `a boolean (${value})`;
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a map";
  return typeof value;
}
