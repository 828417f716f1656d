/**
 * ClickHouse backend (`@clickhouse/client`, HTTP): each flush is one `INSERT … FORMAT JSONEachRow` of the
 * whole buffer (one block of up to `buffer_max_records` rows), with the original's value coercions:
 * booleans → 0/1, datetimes → `YYYY-MM-DD hh:mm:ss` in UTC (columns are created as `DateTime('UTC')`),
 * objects → JSON text with sorted keys, arrays kept as arrays for `Array(…)` columns (JSON text for
 * `String` ones), bytes → base64 text, null kept (for `Nullable(…)` columns).
 *
 * Works with ClickHouse 18.16: no query parameters (literals are inlined and escaped), no settings newer
 * than 18.16 are sent. Would need a newer server: `async_insert` (server-side batching, 21.11), insert
 * deduplication of non-replicated tables (`non_replicated_deduplication_window`, 20.x), `DateTime64`
 * (20.1) for sub-second datetimes, `Bool` (22.x) and `JSON` (22.3+) column types, query parameters.
 *
 * Replays: a flush is one INSERT (one block, atomic on a MergeTree table); after a crash its inputs may be
 * written again. Declare `upsert_key: [cols]` (with `create_table: true` the table is a
 * `ReplacingMergeTree ORDER BY (key)`) and read with `FINAL` (or after merges) to see each key once; a
 * plain `MergeTree` keeps the duplicates. Blocks are deterministic in content and order for a given
 * buffer (rows in input order), but flush boundaries depend on timing, so insert deduplication of
 * replicated tables is not relied upon.
 *
 * Keys of `streaming.sinks.<name>`: `database` (required: a `database.<db>` section with `http_url` or
 * `url`, e.g. `http://user:pass@host:8123/dbname`), `table`, `insert_timeout` (seconds), `upsert_key`,
 * `create_table` (false), `order_by` (for created tables; default `upsert_key`, else `tuple()`), the
 * buffer keys.
 *
 * @module
 */
import { type ClickHouseClient, ClickHouseLogLevel, createClient } from "@clickhouse/client";
import type { MessageType } from "../streaming/mod.ts";
import { type Column, type ColumnKind, columnsOf, sortedJson, toDate } from "./_columns.ts";
import { redact, SinkOptions } from "./_config.ts";
import type { TableBackend } from "../streaming/_table_buffer.ts";
import { RowError } from "./_postgres.ts";

/**
 * ClickHouse settings of a sink.
 *
 * @example
 * ```ts
 * import { readClickHouseConfig } from "@loom/streaming/sinks";
 * const c = readClickHouseConfig({
 *   database: { ch: { http_url: "http://127.0.0.1:8123/analytics" } },
 *   streaming: { sinks: { events: { database: "ch", table: "events" } } },
 * }, "events", "");
 * c.database; // "analytics"
 * ```
 */
export interface ClickHouseConfig {
  /** HTTP endpoint (without credentials and path). */
  readonly url: string;
  /** User (default `default`). */
  readonly username: string;
  /** Password (never printed). */
  readonly password: string;
  /** Database (URL path, default `default`). */
  readonly database: string;
  /** Table. */
  readonly table: string;
  /** Request timeout in ms (`insert_timeout`, default 300 s). */
  readonly timeoutMs: number;
  /** ReplacingMergeTree key (created tables) — documents that rows of one key replace each other. */
  readonly upsertKey: readonly string[];
  /** Create a missing table (default false). */
  readonly createTable: boolean;
  /** ORDER BY of a created table. */
  readonly orderBy: readonly string[];
}

/**
 * Reads the ClickHouse keys of `streaming.sinks.<name>` (and its `database.<db>`).
 *
 * @param config the whole configuration
 * @param name sink name
 * @param dslTable `IntoTable.table` (wins over the section's `table`)
 */
export function readClickHouseConfig(
  config: Readonly<Record<string, unknown>>,
  name: string,
  dslTable: string,
): ClickHouseConfig {
  const o = SinkOptions.read(config, name);
  o.checkKeys("clickhouse", ["insert_timeout", "upsert_key", "create_table", "order_by", "http_url"]);
  if (!o.section.database) {
    return o.fail("database", "required for ClickHouse: name a database.<db> section with http_url");
  }
  const conn = o.connection(["http_url", "url"]);
  const raw = conn.values.http_url ?? conn.values.url;
  if (typeof raw !== "string" || raw === "") {
    return o.fail("database", `${conn.where} needs http_url (or url)`);
  }
  let u: URL;
  try {
    u = new URL(raw.replace(/^clickhouse(\+[a-z]+)?:\/\//i, "http://"));
  } catch {
    return o.fail("database", `${conn.where}.http_url is not a URL: ${redact(raw)}`);
  }
  const db = decodeURIComponent(u.pathname.replace(/^\/+|\/+$/g, "")) ||
    String(conn.values.database_name ?? "default");
  const upsertKey = o.list("upsert_key");
  const timeout = o.num("insert_timeout", 300);
  return {
    url: `${u.protocol}//${u.host}`,
    username: decodeURIComponent(u.username) || String(conn.values.user ?? "default"),
    password: decodeURIComponent(u.password) || String(conn.values.password ?? ""),
    database: db,
    table: o.table(dslTable),
    timeoutMs: Math.trunc(timeout) * 1000,
    upsertKey,
    createTable: o.bool("create_table", false),
    orderBy: o.list("order_by").length ? o.list("order_by") : upsertKey,
  };
}

const CH_TYPE: Record<ColumnKind, string> = {
  int: "Int64",
  float: "Float64",
  bool: "UInt8",
  str: "String",
  datetime: "DateTime('UTC')",
  bytes: "String",
  json: "String",
};

/**
 * An escaped ClickHouse string literal (18.16 has no query parameters).
 *
 * @example
 * ```ts
 * import { chString } from "@loom/streaming/sinks";
 * chString("it's"); // "'it\\'s'"
 * ```
 */
export function chString(s: string): string {
  return `'${s.replaceAll("\\", "\\\\").replaceAll("'", "\\'")}'`;
}
function chIdent(s: string): string {
  return "`" + s.replaceAll("\\", "\\\\").replaceAll("`", "\\`") + "`";
}

function pad(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}
/** `YYYY-MM-DD hh:mm:ss` in UTC. */
function chDateTime(d: Date): string {
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${
    pad(d.getUTCMinutes())
  }:${pad(d.getUTCSeconds())}`;
}

function base64(b: Uint8Array): string {
  let s = "";
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

interface ChColumn extends Column {
  readonly chType: string;
}

function coerce(c: ChColumn, v: unknown): unknown {
  if (v === null || v === undefined) {
    if (!c.nullable && !c.chType.startsWith("Nullable(")) {
      throw new RowError(`column '${c.name}' is not Nullable, got ${v === null ? "null" : "no value"}`);
    }
    return null;
  }
  if (typeof v === "boolean") return v ? 1 : 0;
  if (v instanceof Date || c.kind === "datetime" || /DateTime/.test(c.chType)) {
    try {
      return chDateTime(toDate(v)!);
    } catch (e) {
      throw new RowError(`column '${c.name}': ${(e as Error).message}`);
    }
  }
  if (v instanceof Uint8Array) return base64(v);
  if (typeof v === "bigint") return v.toString();
  if (Array.isArray(v)) return /Array\(/.test(c.chType) ? v : sortedJson(v);
  if (typeof v === "object") return sortedJson(v);
  return v;
}

const PERMANENT_CODES = new Set([6, 26, 27, 38, 41, 53, 69, 70, 72, 117, 349]);

/**
 * The ClickHouse {@link TableBackend}.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { messageType } from "@loom/streaming";
 * import { ClickHouseBackend, readClickHouseConfig } from "@loom/streaming/sinks";
 * const Event = messageType("event", v.object({ id: v.string() }));
 * export async function openEvents(config: Record<string, unknown>): Promise<ClickHouseBackend> {
 *   return await ClickHouseBackend.open(readClickHouseConfig(config, "events", ""), Event);
 * }
 * ```
 */
export class ClickHouseBackend<E = Record<string, unknown>> implements TableBackend<E> {
  /** For messages. */
  readonly label: string;
  /** The columns written. */
  readonly columns: readonly Column[];
  readonly #c: ClickHouseConfig;
  readonly #client: ClickHouseClient;
  readonly #cols: readonly ChColumn[];

  private constructor(c: ClickHouseConfig, client: ClickHouseClient, cols: readonly ChColumn[]) {
    this.#c = c;
    this.#client = client;
    this.#cols = cols;
    this.columns = cols;
    this.label = `clickhouse table ${c.database}.${c.table}`;
  }

  /**
   * Connects, checks the table (creating it with `create_table: true`) and returns the backend.
   *
   * @param c settings
   * @param payload row type; when absent the table's columns are used
   */
  static async open<E>(c: ClickHouseConfig, payload?: MessageType | null): Promise<ClickHouseBackend<E>> {
    const client = createClient({
      url: c.url,
      username: c.username,
      password: c.password,
      database: c.database,
      request_timeout: c.timeoutMs,
      application: "loom-streaming",
      log: { level: ClickHouseLogLevel.OFF }, // failures surface as errors (and sink_* events)
    });
    try {
      const where = `database = ${chString(c.database)} AND table = ${chString(c.table)}`;
      const q = async () =>
        await (await client.query({
          query: `SELECT name, type FROM system.columns WHERE ${where}`,
          format: "JSONEachRow",
        })).json<{ name: string; type: string }>();
      let have = await q().catch((e) => {
        throw new Error(`cannot reach ClickHouse at ${c.url}: ${(e as Error).message}`);
      });
      const declared = payload ? columnsOf(payload) : null;
      if (have.length === 0) {
        if (!c.createTable) {
          throw new Error(
            `clickhouse table '${c.database}.${c.table}' does not exist at ${c.url}: create it, or set create_table: true in its streaming.sinks section`,
          );
        }
        if (!declared) {
          throw new Error(`create_table needs the payload type of IntoTable (IntoTable({ payload }))`);
        }
        const defs = declared.map((x) =>
          `${chIdent(x.name)} ${x.nullable ? `Nullable(${CH_TYPE[x.kind]})` : CH_TYPE[x.kind]}`
        );
        const engine = c.upsertKey.length ? "ReplacingMergeTree()" : "MergeTree()";
        const order = c.orderBy.length ? `(${c.orderBy.map(chIdent).join(", ")})` : "tuple()";
        await client.command({
          query: `CREATE TABLE IF NOT EXISTS ${chIdent(c.database)}.${chIdent(c.table)} (${
            defs.join(", ")
          }) ENGINE = ${engine} ORDER BY ${order}`,
        });
        have = await q();
      }
      const types = new Map(have.map((r) => [r.name, r.type]));
      let cols: ChColumn[];
      if (declared) {
        const missing = declared.filter((x) => !types.has(x.name)).map((x) => x.name);
        if (missing.length) {
          throw new Error(
            `clickhouse table '${c.database}.${c.table}' has no column(s) ${missing.join(", ")} (fields of ${
              payload!.name
            })`,
          );
        }
        cols = declared.map((x) => ({ ...x, chType: types.get(x.name)! }));
      } else {
        cols = have.map((r) => ({
          name: r.name,
          kind: /DateTime/.test(r.type) ? "datetime" : "str",
          nullable: r.type.startsWith("Nullable("),
          chType: r.type,
        }));
      }
      return new ClickHouseBackend<E>(c, client, cols);
    } catch (e) {
      await client.close().catch(() => {});
      throw e;
    }
  }

  /** Inserts the rows as one JSONEachRow block. */
  async write(rows: readonly E[]): Promise<void> {
    const cols = this.#cols;
    const values = rows.map((r) => {
      if (typeof r !== "object" || r === null) {
        throw new RowError(`a row must be an object, got ${JSON.stringify(r)}`);
      }
      const o: Record<string, unknown> = {};
      for (const c of cols) o[c.name] = coerce(c, (r as Record<string, unknown>)[c.name]);
      return o;
    });
    try {
      await this.#client.insert({ table: this.#c.table, values, format: "JSONEachRow" });
    } catch (e) {
      const msg = (e as Error).message ?? String(e);
      const m = /Code:\s*(\d+)/.exec(msg);
      throw Object.assign(new Error(msg.split("\n")[0].trim()), {
        chCode: m ? Number(m[1]) : null,
        cause: e,
      });
    }
  }

  /** Parse and type errors (`Code: 27`, `Code: 53`, …) and client-side row errors are permanent. */
  isPermanent(e: unknown): boolean {
    if (e instanceof RowError) return true;
    const code = (e as { chCode?: unknown }).chCode;
    return typeof code === "number" && PERMANENT_CODES.has(code);
  }

  /** Closes the client. */
  async close(): Promise<void> {
    await this.#client.close();
  }
}
