/**
 * PostgreSQL backend (postgres.js): each flush is one transaction that bulk-loads the rows with
 * `COPY … FROM STDIN` (text format), or with multi-row `INSERT`s of `chunk_size` rows (`copy: false`, and
 * always when a COPY failed: postgres.js loses the server's error of a failed COPY and its stream never
 * settles, so the COPY is guarded by `copy_timeout_s` and the same rows are then inserted, which surfaces
 * the server's error; the buffer then isolates the refused row). With `upsert_key: [cols]` rows are
 * upserted (`INSERT … ON CONFLICT (key) DO UPDATE`, through a COPY into a temporary table), so a replayed
 * flush leaves each row once; the last row of a key within a flush wins.
 *
 * After a crash a reader sees every committed flush (a flush is one transaction: all or nothing); the
 * inputs of uncommitted flushes are replayed, and are written again: duplicates without `upsert_key`,
 * one row per key with it.
 *
 * Keys of `streaming.sinks.<name>`: `database` (a `database.<db>` section with `url`) or an inline `url`,
 * `table` (may be `schema.table`), `chunk_size` (500), `copy` (true), `copy_timeout_s` (5),
 * `upsert_key` (none), `create_table` (false), the buffer keys. `database.<db>`: `url`, `pool_size` (10),
 * `pool_timeout` (30 s, connect timeout). SQLAlchemy URLs (`postgresql+asyncpg://…`) are accepted.
 *
 * @module
 */
import postgres from "postgres";
import type { MessageType } from "../streaming/mod.ts";
import { type Column, type ColumnKind, columnsOf, sortedJson, toDate } from "./_columns.ts";
import { redact, SinkOptions } from "./_config.ts";
import type { FlushInfo, TableBackend } from "../streaming/_table_buffer.ts";

/**
 * A row the backend refused before sending it (a value that does not fit its column).
 *
 * @example
 * ```ts
 * import { RowError } from "@loom/streaming/sinks";
 * new RowError("column 'qty': expected an integer, got \"x\"").name; // "RowError"
 * ```
 */
export class RowError extends Error {
  /**
   * Creates a {@link RowError}.
   *
   * @param message what is wrong with the row
   */
  constructor(message: string) {
    super(message);
    this.name = "RowError";
  }
}

/**
 * PostgreSQL settings of a sink.
 *
 * @example
 * ```ts
 * import { readPostgresConfig } from "@loom/streaming/sinks";
 * const c = readPostgresConfig({
 *   database: { wh: { url: "postgres://app@127.0.0.1:5432/wh" } },
 *   streaming: { sinks: { orders: { database: "wh", table: "orders", upsert_key: "id" } } },
 * }, "orders", "");
 * c.upsertKey; // ["id"]
 * ```
 */
export interface PostgresConfig {
  /** Connection URL (`postgres://…`). */
  readonly url: string;
  /** Table (`name` or `schema.name`). */
  readonly table: string;
  /** Rows per multi-row INSERT (default 500; capped at 65534 parameters). */
  readonly chunkSize: number;
  /** Bulk load with COPY (default true). */
  readonly copy: boolean;
  /** How long a COPY may take before it is given up for INSERTs (default 5 s). */
  readonly copyTimeoutMs: number;
  /** Upsert key columns (empty: plain inserts). */
  readonly upsertKey: readonly string[];
  /** Create a missing table (default false). */
  readonly createTable: boolean;
  /** Connection pool size (default 10). */
  readonly poolSize: number;
  /** Connect timeout in seconds (default 30). */
  readonly connectTimeoutS: number;
}

/**
 * Reads the PostgreSQL keys of `streaming.sinks.<name>` (and its `database.<db>`).
 *
 * @param config the whole configuration
 * @param name sink name
 * @param dslTable `IntoTable.table` (wins over the section's `table`)
 */
export function readPostgresConfig(
  config: Readonly<Record<string, unknown>>,
  name: string,
  dslTable: string,
): PostgresConfig {
  const o = SinkOptions.read(config, name);
  // the original's SQLAlchemy keys (pool settings in the section with an inline url) are accepted
  o.checkKeys("postgres", [
    "chunk_size",
    "copy",
    "copy_timeout_s",
    "upsert_key",
    "create_table",
    "echo",
    "pool_pre_ping",
    "pool_size",
    "max_overflow",
    "pool_timeout",
    "pool_recycle",
    "connect_args",
  ]);
  const conn = o.connection(["url"]);
  const rawUrl = conn.values.url;
  if (typeof rawUrl !== "string" || rawUrl === "") {
    return o.fail("database", `${conn.where}.url is required (postgres://user@host:5432/db)`);
  }
  const url = rawUrl.replace(/^postgres(ql)?(\+[a-z0-9_]+)?:\/\//i, "postgres://");
  if (!url.startsWith("postgres://")) {
    return o.fail("database", `${conn.where}.url must be a postgres:// URL, got ${redact(rawUrl)}`);
  }
  const pool = typeof conn.values.pool_size === "number" ? conn.values.pool_size : 10;
  const timeout = typeof conn.values.pool_timeout === "number" ? conn.values.pool_timeout : 30;
  return {
    url,
    table: o.table(dslTable),
    chunkSize: o.int("chunk_size", 500),
    copy: o.bool("copy", true),
    copyTimeoutMs: o.num("copy_timeout_s", 5) * 1000,
    upsertKey: o.list("upsert_key"),
    createTable: o.bool("create_table", false),
    poolSize: Math.max(1, pool),
    connectTimeoutS: timeout,
  };
}

const PG_TYPE: Record<ColumnKind, string> = {
  int: "bigint",
  float: "double precision",
  bool: "boolean",
  str: "text",
  datetime: "timestamptz",
  bytes: "bytea",
  json: "jsonb",
};

function kindOfPg(dataType: string): ColumnKind {
  if (/int|serial/.test(dataType)) return "int";
  if (/double|real|numeric|decimal/.test(dataType)) return "float";
  if (dataType === "boolean") return "bool";
  if (dataType.startsWith("timestamp")) return "datetime";
  if (dataType === "bytea") return "bytes";
  if (dataType === "json" || dataType === "jsonb") return "json";
  return "str";
}

/**
 * A quoted PostgreSQL table name (`schema.table` → `"schema"."table"`).
 *
 * @example
 * ```ts
 * import { quoteTable } from "@loom/streaming/sinks";
 * quoteTable("public.orders"); // '"public"."orders"'
 * ```
 */
export function quoteTable(table: string): string {
  return table.split(".").map(quoteIdent).join(".");
}
function quoteIdent(s: string): string {
  return `"${s.replaceAll('"', '""')}"`;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** The text form of a value for its column (null for SQL NULL); throws {@link RowError}. */
function textOf(c: Column, v: unknown): string | null {
  if (v === null || v === undefined) {
    if (!c.nullable) {
      throw new RowError(`column '${c.name}' is not optional, got ${v === null ? "null" : "no value"}`);
    }
    return null;
  }
  switch (c.kind) {
    case "int":
      if (typeof v === "bigint") return v.toString();
      if (typeof v === "number" && Number.isInteger(v)) return String(v);
      throw new RowError(`column '${c.name}': expected an integer, got ${JSON.stringify(v)}`);
    case "float":
      if (typeof v === "number") {
        return Number.isNaN(v)
          ? "NaN"
          : v === Infinity
          ? "Infinity"
          : v === -Infinity
          ? "-Infinity"
          : String(v);
      }
      throw new RowError(`column '${c.name}': expected a number, got ${JSON.stringify(v)}`);
    case "bool":
      if (typeof v === "boolean") return v ? "t" : "f";
      throw new RowError(`column '${c.name}': expected a boolean, got ${JSON.stringify(v)}`);
    case "datetime":
      try {
        return toDate(v)!.toISOString();
      } catch (e) {
        throw new RowError(`column '${c.name}': ${(e as Error).message}`);
      }
    case "bytes": {
      if (!(v instanceof Uint8Array)) throw new RowError(`column '${c.name}': expected bytes (Uint8Array)`);
      let s = "\\x";
      for (const b of v) s += HEX[b];
      return s;
    }
    case "json":
      return sortedJson(v);
    default:
      return typeof v === "string" ? v : String(v);
  }
}

/** The bytes of a `\\x…` bytea text. */
function unhex(s: string): Uint8Array {
  const out = new Uint8Array((s.length - 2) >> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 + 2 * i, 4 + 2 * i), 16);
  return out;
}

const COPY_ESCAPE = /[\\\n\r\t]/g;
const COPY_REPL: Record<string, string> = { "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t" };

/** A COPY text-format line. */
function copyLine(values: readonly (string | null)[]): string {
  let s = "";
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (i) s += "\t";
    s += v === null ? "\\N" : v.replace(COPY_ESCAPE, (m) => COPY_REPL[m]);
  }
  return s + "\n";
}

/** A postgres.js error as one line: message, detail, and the SQLSTATE. */
function pgReason(e: unknown): string {
  const x = e as { message?: string; detail?: string; code?: string };
  return [x.message ?? String(e), x.detail ? `(${x.detail})` : "", x.code ? `[SQLSTATE ${x.code}]` : ""]
    .filter(Boolean).join(" ");
}

class CopyStalled extends Error {}

/** A pool for the sink's settings. */
function connect(c: PostgresConfig): postgres.Sql {
  return postgres(c.url, {
    max: c.poolSize,
    connect_timeout: c.connectTimeoutS,
    onnotice: () => {},
    prepare: false,
  });
}

/**
 * A statement refused by the server on a connection that stays usable (an `ERROR`, after which the server
 * is ready for the next query), unlike a lost connection, a `FATAL` error, or a COPY given up.
 */
function isStatementError(e: unknown): e is postgres.PostgresError {
  if (!(e instanceof postgres.PostgresError)) return false;
  const severity = e.severity ?? e.severity_local;
  return severity !== "FATAL" && severity !== "PANIC";
}

/**
 * The PostgreSQL {@link TableBackend}.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { messageType } from "@loom/streaming";
 * import { PostgresBackend, readPostgresConfig } from "@loom/streaming/sinks";
 * const Order = messageType("order", v.object({ id: v.pipe(v.number(), v.integer()) }));
 * export async function load(config: Record<string, unknown>): Promise<void> {
 *   const backend = await PostgresBackend.open(readPostgresConfig(config, "orders", ""), Order);
 *   await backend.write([{ id: 1 }], { sequence: 1, attempt: 0, sources: [] });
 *   await backend.close();
 * }
 * ```
 */
export class PostgresBackend<E = Record<string, unknown>> implements TableBackend<E> {
  /** For messages. */
  readonly label: string;
  /** The table's columns (written in this order). */
  readonly columns: readonly Column[];
  readonly #c: PostgresConfig;
  #sql: postgres.Sql;
  #lost = false;
  #insertOnly = -1;

  private constructor(c: PostgresConfig, sql: postgres.Sql, columns: readonly Column[]) {
    this.#c = c;
    this.#sql = sql;
    this.columns = columns;
    this.label = `postgres table ${c.table}`;
  }

  /**
   * Connects, checks the table (creating it with `create_table: true`) and returns the backend.
   *
   * @param c settings
   * @param payload row type (columns); when absent the table's columns are used
   */
  static async open<E>(c: PostgresConfig, payload?: MessageType | null): Promise<PostgresBackend<E>> {
    const sql = connect(c);
    try {
      const [{ reg }] = await sql.unsafe<{ reg: string | null }[]>("SELECT to_regclass($1)::text AS reg", [
        quoteTable(c.table),
      ]).catch((e) => {
        throw new Error(
          `cannot reach PostgreSQL at ${redact(c.url)}: ${
            pgReason(e)
          } (is the server up? check database.<db>.url)`,
        );
      });
      let columns = payload ? columnsOf(payload) : null;
      if (reg === null) {
        if (!c.createTable) {
          throw new Error(
            `postgres table '${c.table}' does not exist in ${
              redact(c.url)
            }: create it, or set create_table: true in its streaming.sinks section`,
          );
        }
        if (!columns) {
          throw new Error(`create_table needs the payload type of IntoTable (IntoTable({ payload }))`);
        }
        const defs = columns.map((x) =>
          `${quoteIdent(x.name)} ${PG_TYPE[x.kind]}${x.nullable ? "" : " NOT NULL"}`
        );
        if (c.upsertKey.length) defs.push(`PRIMARY KEY (${c.upsertKey.map(quoteIdent).join(", ")})`);
        await sql.unsafe(`CREATE TABLE IF NOT EXISTS ${quoteTable(c.table)} (${defs.join(", ")})`);
      }
      const parts = c.table.split(".");
      const [schema, name] = parts.length > 1 ? [parts[0], parts.slice(1).join(".")] : [null, parts[0]];
      const info = await sql.unsafe<{ column_name: string; data_type: string; is_nullable: string }[]>(
        `SELECT column_name, data_type, is_nullable FROM information_schema.columns
          WHERE table_name = $1 AND table_schema = coalesce($2, current_schema()) ORDER BY ordinal_position`,
        [name, schema],
      );
      const have = new Map(info.map((r) => [r.column_name, r]));
      if (columns) {
        const missing = columns.filter((x) => !have.has(x.name)).map((x) => x.name);
        if (missing.length) {
          throw new Error(
            `postgres table '${c.table}' has no column(s) ${missing.join(", ")} (fields of ${payload!.name})`,
          );
        }
      } else {
        columns = info.map((r) => ({
          name: r.column_name,
          kind: kindOfPg(r.data_type),
          nullable: r.is_nullable === "YES",
        }));
      }
      for (const k of c.upsertKey) {
        if (!columns.some((x) => x.name === k)) {
          throw new Error(`upsert_key column '${k}' is not a column of '${c.table}'`);
        }
      }
      return new PostgresBackend<E>(c, sql, columns);
    } catch (e) {
      await sql.end({ timeout: 1 }).catch(() => {});
      throw e;
    }
  }

  /** Table rows as column text values (throws {@link RowError}). */
  #encode(rows: readonly E[]): (string | null)[][] {
    const cols = this.columns;
    let out = rows.map((r) => {
      if (typeof r !== "object" || r === null) {
        throw new RowError(`a row must be an object, got ${JSON.stringify(r)}`);
      }
      return cols.map((c) => textOf(c, (r as Record<string, unknown>)[c.name]));
    });
    const key = this.#c.upsertKey;
    if (key.length) {
      // ON CONFLICT DO UPDATE cannot touch a row twice in one statement: the last row of a key wins
      const idx = key.map((k) => cols.findIndex((c) => c.name === k));
      const last = new Map<string, (string | null)[]>();
      for (const v of out) last.set(JSON.stringify(idx.map((i) => v[i])), v);
      if (last.size < out.length) out = [...last.values()];
    }
    return out;
  }

  /** Writes one flush in one transaction. */
  async write(rows: readonly E[], info: FlushInfo): Promise<void> {
    const values = this.#encode(rows);
    if (this.#c.copy && this.#insertOnly !== info.sequence) {
      try {
        await this.#transaction((tx) => this.#copy(tx, values));
        return;
      } catch (e) {
        if (!(e instanceof CopyStalled)) throw e;
        this.#insertOnly = info.sequence; // the rest of this flush (and its bisection) uses INSERTs
      }
    }
    await this.#transaction((tx) => this.#insert(tx, values));
  }

  /**
   * Runs `fn` in one transaction on a reserved connection. Not `sql.begin()`: when its connection is lost
   * mid-transaction, postgres.js 3.4.9 still sends its own ROLLBACK on it, and that write runs from a
   * `setImmediate` on the torn-down socket (an uncatchable TypeError in `nextWrite`, porsager/postgres
   * #1066 / #1208). Here a connection that failed other than by a statement error is never written to
   * again: the server rolls its transaction back, and the whole pool is replaced before the next flush (a
   * connection lost with a write pending keeps that write's state, which later stalls its reconnect).
   */
  async #transaction(fn: (tx: postgres.ReservedSql) => Promise<void>): Promise<void> {
    const sql = this.#pool();
    let tx: postgres.ReservedSql;
    try {
      tx = await sql.reserve();
    } catch (e) {
      this.#lost = true;
      throw e;
    }
    try {
      await tx.unsafe("BEGIN");
      await fn(tx);
      await tx.unsafe("COMMIT");
    } catch (e) {
      if (!isStatementError(e)) {
        this.#lost = true; // not released: postgres.js has already taken the dead connection back
        throw e;
      }
      try {
        await tx.unsafe("ROLLBACK");
      } catch (r) {
        if (!isStatementError(r)) {
          this.#lost = true;
          throw e;
        }
      }
      tx.release();
      throw Object.assign(new Error(pgReason(e)), { code: e.code, cause: e });
    }
    tx.release();
  }

  /** The pool, a fresh one after a lost connection (the old one is ended without waiting). */
  #pool(): postgres.Sql {
    if (this.#lost) {
      this.#lost = false;
      const old = this.#sql;
      this.#sql = connect(this.#c);
      void old.end({ timeout: 0 }).catch(() => {});
    }
    return this.#sql;
  }

  async #copy(tx: postgres.ReservedSql, values: (string | null)[][]): Promise<void> {
    const c = this.#c;
    const cols = this.columns.map((x) => quoteIdent(x.name)).join(", ");
    const target = c.upsertKey.length ? "loom_sink_stage" : quoteTable(c.table);
    if (c.upsertKey.length) {
      await tx.unsafe(
        `CREATE TEMP TABLE loom_sink_stage (LIKE ${quoteTable(c.table)} INCLUDING DEFAULTS) ON COMMIT DROP`,
      );
    }
    const w = await tx.unsafe(`COPY ${target} (${cols}) FROM STDIN`).writable();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = new Promise<void>((resolve, reject) => {
      w.on("finish", () => resolve());
      w.on("error", reject);
      timer = setTimeout(() => reject(new CopyStalled("COPY did not complete")), c.copyTimeoutMs);
    });
    // a failure while the loop below waits for "drain" is awaited through the race, not left unhandled
    done.catch(() => {});
    try {
      const CHUNK = 4096;
      for (let i = 0; i < values.length; i += CHUNK) {
        let s = "";
        for (const v of values.slice(i, i + CHUNK)) s += copyLine(v);
        if (!w.write(s)) await Promise.race([new Promise<void>((r) => w.once("drain", () => r())), done]);
      }
      w.end();
      await done;
    } finally {
      clearTimeout(timer);
    }
    if (c.upsertKey.length) await tx.unsafe(this.#upsertFrom(`SELECT ${cols} FROM loom_sink_stage`));
  }

  #upsertFrom(source: string): string {
    const c = this.#c;
    const cols = this.columns.map((x) => quoteIdent(x.name));
    const keys = new Set(c.upsertKey);
    const set = this.columns.filter((x) => !keys.has(x.name)).map((x) =>
      `${quoteIdent(x.name)} = EXCLUDED.${quoteIdent(x.name)}`
    );
    const conflict = `ON CONFLICT (${c.upsertKey.map(quoteIdent).join(", ")}) ` +
      (set.length ? `DO UPDATE SET ${set.join(", ")}` : "DO NOTHING");
    return `INSERT INTO ${quoteTable(c.table)} (${cols.join(", ")}) ${source} ${conflict}`;
  }

  async #insert(tx: postgres.ReservedSql, values: (string | null)[][]): Promise<void> {
    const n = this.columns.length;
    const chunk = Math.max(1, Math.min(this.#c.chunkSize, Math.floor(65534 / Math.max(1, n))));
    const cols = this.columns.map((x) => quoteIdent(x.name)).join(", ");
    const kinds = this.columns.map((x) => x.kind);
    for (let i = 0; i < values.length; i += chunk) {
      const part = values.slice(i, i + chunk);
      const params: unknown[] = [];
      const tuples = part.map((v) => {
        // postgres.js serializes parameters by the described column type: bytea from bytes, json from values
        const ph = v.map((
          x,
          j,
        ) => (params.push(
          x === null
            ? x
            : kinds[j] === "bytes"
            ? unhex(x)
            : kinds[j] === "json"
            ? JSON.parse(x)
            : kinds[j] === "bool"
            ? x === "t"
            : x,
        ),
          `$${params.length}`)
        );
        return `(${ph.join(", ")})`;
      });
      const vals = `VALUES ${tuples.join(", ")}`;
      const text = this.#c.upsertKey.length
        ? this.#upsertFrom(vals)
        : `INSERT INTO ${quoteTable(this.#c.table)} (${cols}) ${vals}`;
      await tx.unsafe(text, params as postgres.ParameterOrJSON<never>[]);
    }
  }

  /** Bad values, constraint violations and values too large are permanent; everything else is retried. */
  isPermanent(e: unknown): boolean {
    if (e instanceof RowError) return true;
    const code = (e as { code?: unknown }).code;
    return typeof code === "string" && (/^(22|23)/.test(code) || code === "54000");
  }

  /** Closes the pool. */
  async close(): Promise<void> {
    await this.#sql.end({ timeout: 5 });
  }
}
