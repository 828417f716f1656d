/**
 * Reading `streaming.sinks.<name>` and `database.<db>` for the table backends (§3.4), on top of the core's
 * `readSinkSection` (which validates the shared buffer keys). Backend keys are read here, with the
 * original's names and defaults; errors name the key and the fix, and never print a password.
 *
 * @module
 */
import { ConfigContext, ConfigError, type SinkSection } from "../streaming/mod.ts";
import { readSinkSection } from "../streaming/mod.ts";
import { type BufferPolicy, bufferPolicyOf } from "../streaming/_table_buffer.ts";

/**
 * A URL with its password replaced by `***` (for messages and logs).
 *
 * @example
 * ```ts
 * import { redact } from "@loom/streaming/sinks";
 * redact("postgres://app:s3cret@db:5432/wh"); // "postgres://app:***@db:5432/wh"
 * ```
 */
export function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):([^@/]*)@/, "//$1:***@");
}

const SHARED_KEYS = [
  "buffer_max_records",
  "buffer_max_bytes",
  "buffer_max_age_s",
  "flush_on_shutdown",
  "max_commit_delay_s",
  "retries",
  "retry_backoff_ms",
  "table",
  "database",
  "url",
  "type",
];

/**
 * A sink section with typed accessors for backend keys.
 *
 * @example
 * ```ts
 * import { SinkOptions } from "@loom/streaming/sinks";
 * const o = SinkOptions.read({ streaming: { sinks: { orders: { table: "orders", chunk_size: 100 } } } }, "orders");
 * o.int("chunk_size", 500); // 100
 * ```
 */
export class SinkOptions {
  /** The validated section (buffer keys, table, database, url). */
  readonly section: SinkSection;
  /** The whole configuration. */
  readonly ctx: ConfigContext;

  private constructor(ctx: ConfigContext, section: SinkSection) {
    this.ctx = ctx;
    this.section = section;
  }

  /**
   * Reads `streaming.sinks.<name>` of `config` (a missing section is a clear error).
   *
   * @param config the whole configuration (`CompiledPlan.config`)
   * @param name sink name
   */
  static read(config: Readonly<Record<string, unknown>> | ConfigContext, name: string): SinkOptions {
    const ctx = config instanceof ConfigContext ? config : ConfigContext.fromObject({ ...config });
    return new SinkOptions(ctx, readSinkSection(ctx, name));
  }

  /**
   * Rejects keys this backend does not know (a typo would otherwise be ignored silently), naming the
   * closest known key. The shared buffer and retry keys are always known.
   */
  checkKeys(backend: string, known: readonly string[]): void {
    const all = new Set([...SHARED_KEYS, ...known]);
    for (const k of Object.keys(this.section.options)) {
      if (all.has(k)) continue;
      const close = [...all].find((x) => x.startsWith(k.slice(0, 4)) || k.startsWith(x));
      this.fail(k, `unknown key for the ${backend} backend${close ? ` (did you mean '${close}'?)` : ""}`);
    }
  }

  /** `streaming.sinks.<name>` (for messages). */
  get path(): string {
    return `streaming.sinks.${this.section.name}`;
  }

  /** Throws a {@link ConfigError} naming `key`. */
  fail(key: string, message: string): never {
    throw new ConfigError(`${this.path}.${key}: ${message}`, { path: `${this.path}.${key}` });
  }

  /** A raw key. */
  raw(key: string): unknown {
    return this.section.options[key];
  }

  /** A string key (or `fallback`). */
  str(key: string, fallback: string): string;
  /** A string key, or null. */
  str(key: string): string | null;
  str(key: string, fallback?: string): string | null {
    const v = this.raw(key);
    if (v === undefined || v === null || v === "") return fallback ?? null;
    if (typeof v !== "string") this.fail(key, `expected a string, got ${JSON.stringify(v)}`);
    return v;
  }

  /** A number key (or `fallback`); `min` is inclusive. */
  num(key: string, fallback: number, min = 0): number {
    const v = this.raw(key);
    if (v === undefined || v === null) return fallback;
    const n = typeof v === "string" && v.trim() !== "" ? Number(v) : v;
    if (typeof n !== "number" || !Number.isFinite(n) || n < min) {
      this.fail(key, `expected a number ≥ ${min}, got ${JSON.stringify(v)}`);
    }
    return n;
  }

  /** An integer key (or `fallback`). */
  int(key: string, fallback: number, min = 1): number {
    const n = this.num(key, fallback, min);
    if (!Number.isInteger(n)) this.fail(key, `expected an integer, got ${n}`);
    return n;
  }

  /** A boolean key (or `fallback`). */
  bool(key: string, fallback: boolean): boolean {
    const v = this.raw(key);
    if (v === undefined || v === null) return fallback;
    if (typeof v !== "boolean") this.fail(key, `expected true or false, got ${JSON.stringify(v)}`);
    return v;
  }

  /** A list of strings (a single string is a list of one). */
  list(key: string): string[] {
    const v = this.raw(key);
    if (v === undefined || v === null) return [];
    if (typeof v === "string") return v === "" ? [] : [v];
    if (!Array.isArray(v) || v.some((x) => typeof x !== "string" || x === "")) {
      this.fail(key, `expected a list of column names, got ${JSON.stringify(v)}`);
    }
    return v as string[];
  }

  /** A choice among `choices` (case-insensitive). */
  choice<T extends string>(key: string, choices: readonly T[], fallback: T): T {
    const v = this.str(key);
    if (v === null) return fallback;
    const c = choices.find((x) => x === v.toLowerCase());
    if (!c) this.fail(key, `expected one of ${choices.join(", ")}, got '${v}'`);
    return c;
  }

  /** The table: the DSL `IntoTable.table` wins over the section's `table` (§3.4). */
  table(dslTable: string): string {
    const t = dslTable || this.section.table;
    if (!t) this.fail("table", "missing: set it here or give IntoTable({ table })");
    return t;
  }

  /** The shared buffer policy with this section's keys (`bufferPolicyOf` of the core). */
  policy(): BufferPolicy {
    return bufferPolicyOf(this.section);
  }

  /**
   * The connection settings: `database: <db>` names a shared `database.<db>` section (which must exist),
   * else the sink section itself holds them (inline `url`).
   */
  connection(
    required: readonly string[],
  ): { readonly where: string; readonly values: Readonly<Record<string, unknown>> } {
    const db = this.section.database;
    if (db) {
      const path = `database.${db}`;
      if (!this.ctx.has(path)) {
        throw new ConfigError(`${this.path}.database: no section ${path}; add ${path}: {url: ...}`, { path });
      }
      const v = this.ctx.get(path);
      if (typeof v !== "object" || v === null || Array.isArray(v)) {
        throw new ConfigError(`${path}: expected a map`, { path });
      }
      return { where: path, values: v as Record<string, unknown> };
    }
    if (required.some((k) => this.raw(k))) return { where: this.path, values: this.section.options };
    return this.fail(
      "database",
      `missing: name a database.<db> section, or give ${required.join(" or ")} here`,
    );
  }
}
