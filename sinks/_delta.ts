/**
 * Delta Lake backend: each flush writes Parquet data files (one per partition value set, split at
 * `target_file_size` rows-worth of bytes) and then one JSON commit in `_delta_log/` (protocol reader 1 /
 * writer 2 and `metaData` in version 0, then `add` actions), created put-if-absent (a hard link that fails
 * when the version exists), so two writers never overwrite a version: a lost race re-reads the log and
 * retries at the next version. Data file names are unique (`part-<seq>-<uuid>.snappy.parquet`).
 *
 * Replays: every commit carries one `txn` action per source partition, app id
 * `<group>/<sink>/<topic>/<partition>`, version = the last offset written. On open the log is read and
 * rows whose offset is at or below their partition's version are skipped, so a flush replayed after a
 * crash is not written twice. After a crash a reader sees the committed versions only: data files of an
 * uncommitted flush are orphans that no reader lists (a `VACUUM` removes them).
 *
 * Keys of `streaming.sinks.<name>`: `uri` (required: a local folder or `file://` URI; object stores are
 * not supported yet), `table`, `mode` (`append`; `error`: fail at startup when the table exists; `ignore`:
 * when it exists, write nothing), `partition_by`, `target_file_size` (bytes), `part_max_records` (rows per
 * row group, 10 000), `writer_properties` (`max_row_group_size`, `compression` SNAPPY or UNCOMPRESSED);
 * `create_table` is implied (a Delta table is created by its first commit). Not supported:
 * `storage_options` (object stores), checkpoints written by other writers (their `txn` state is not read:
 * the log's JSON commits are), `staging.*` (rows go straight to Parquet, no Arrow IPC spool).
 *
 * The replay skip relies on a partition's rows reaching the sink in offset order, which the engine
 * guarantees (batches of a partition are handled one after another and each emission is put in input
 * order, async steps included).
 *
 * @module
 */
import { link, mkdir, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { MessageType, RowSource } from "../streaming/mod.ts";
import { type Column, columnsOf } from "./_columns.ts";
import { SinkOptions } from "./_config.ts";
import type { FlushInfo, TableBackend } from "../streaming/_table_buffer.ts";
import { DELTA_TYPE, parquetValue, writeParquet } from "./_parquet.ts";

/**
 * Delta settings of a sink.
 *
 * @example
 * ```ts
 * import { readDeltaConfig } from "@loom/streaming/sinks";
 * const c = readDeltaConfig({ streaming: { sinks: { events: { uri: "/data/events", partition_by: "day" } } } }, "events", "");
 * c.partitionBy; // ["day"]
 * ```
 */
export interface DeltaConfig {
  /** Local table folder. */
  readonly path: string;
  /** Table name (informational: the folder is the table). */
  readonly table: string;
  /** `append`, `error` or `ignore`. */
  readonly mode: "append" | "error" | "ignore";
  /** Partition columns. */
  readonly partitionBy: readonly string[];
  /** Target data file size in bytes (null: one file per partition per flush). */
  readonly targetFileSize: number | null;
  /** Rows per row group (`part_max_records`, default 10 000). */
  readonly rowGroupSize: number;
  /** Parquet compression (`writer_properties.compression`: SNAPPY (default) or UNCOMPRESSED). */
  readonly compression: "SNAPPY" | "UNCOMPRESSED";
}

/**
 * Reads the Delta keys of `streaming.sinks.<name>`.
 *
 * @param config the whole configuration
 * @param name sink name
 * @param dslTable `IntoTable.table`
 */
export function readDeltaConfig(
  config: Readonly<Record<string, unknown>>,
  name: string,
  dslTable: string,
): DeltaConfig {
  const o = SinkOptions.read(config, name);
  // the original's staging/spool keys are accepted (rows go straight to Parquet here)
  o.checkKeys("delta", [
    "uri",
    "mode",
    "storage_options",
    "partition_by",
    "target_file_size",
    "staging",
    "staging_compression",
    "mini_batch_size",
    "spool_max_bytes",
    "part_max_records",
    "writer_properties",
  ]);
  const uri = o.str("uri");
  if (!uri) return o.fail("uri", "required: the table folder (a local path or file:// URI)");
  let path = uri;
  if (/^file:\/\//i.test(uri)) path = decodeURIComponent(new URL(uri).pathname);
  else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) {
    // the Parquet and _delta_log writers here write files; an object store needs put-if-absent commits
    // through its own API (S3 conditional writes, GCS preconditions, Azure leases), which is not done
    return o.fail(
      "uri",
      `only local paths are supported: object-store URIs (s3://, gs://, az://, abfss://, …) are not (got ${
        uri.split("://")[0]
      }://…); write to a local folder or file:// URI (a bucket mounted as a folder works)`,
    );
  }
  const wp = o.raw("writer_properties") as Record<string, unknown> | undefined;
  const rg = typeof wp?.max_row_group_size === "number"
    ? wp.max_row_group_size
    : o.int("part_max_records", 10_000);
  const tfs = o.raw("target_file_size");
  const comp = String(wp?.compression ?? "SNAPPY").toUpperCase();
  if (comp !== "SNAPPY" && comp !== "UNCOMPRESSED") {
    return o.fail("writer_properties.compression", `'${comp}' is not supported (SNAPPY or UNCOMPRESSED)`);
  }
  return {
    path,
    table: dslTable || o.section.table || name,
    mode: o.choice("mode", ["append", "error", "ignore"] as const, "append"),
    partitionBy: o.list("partition_by"),
    targetFileSize: tfs === undefined || tfs === null ? null : o.int("target_file_size", 0),
    rowGroupSize: rg,
    compression: comp,
  };
}

interface LogState {
  version: number;
  readonly txn: Map<string, number>;
  schema: Column[] | null;
  partitionBy: string[];
}

async function readLog(dir: string): Promise<LogState> {
  const st: LogState = { version: -1, txn: new Map(), schema: null, partitionBy: [] };
  let names: string[];
  try {
    names = await readdir(join(dir, "_delta_log"));
  } catch {
    return st;
  }
  const versions = names.filter((n) => /^\d{20}\.json$/.test(n)).sort();
  for (const n of versions) {
    const text = await readFile(join(dir, "_delta_log", n), "utf8");
    for (const line of text.split("\n")) {
      if (!line.trim()) continue;
      const a = JSON.parse(line) as Record<string, Record<string, unknown>>;
      if (a.txn) st.txn.set(String(a.txn.appId), Number(a.txn.version));
      if (a.metaData) {
        const schema = JSON.parse(String(a.metaData.schemaString)) as {
          fields: { name: string; type: unknown; nullable: boolean }[];
        };
        st.schema = schema.fields.map((f) => ({
          name: f.name,
          kind: kindOfDelta(f.type),
          nullable: f.nullable,
        }));
        st.partitionBy = (a.metaData.partitionColumns as string[]) ?? [];
      }
    }
    st.version = Number(n.slice(0, 20));
  }
  return st;
}

function kindOfDelta(t: unknown): Column["kind"] {
  switch (t) {
    case "long":
    case "integer":
    case "short":
    case "byte":
      return "int";
    case "double":
    case "float":
      return "float";
    case "boolean":
      return "bool";
    case "timestamp":
    case "timestamp_ntz":
      return "datetime";
    case "binary":
      return "bytes";
    case "string":
      return "str";
    default:
      return "json";
  }
}

/** The partition value text of a value (Delta stores partition values as strings). */
function partitionText(v: unknown): string | null {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) return v.toISOString().replace("T", " ").replace("Z", "");
  return String(v);
}

/** Hive-style escaping of a partition folder name. */
function escapePart(s: string): string {
  return s.replace(
    /[^A-Za-z0-9_.\- ]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}`,
  );
}

/**
 * The Delta Lake {@link TableBackend}.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { messageType } from "@loom/streaming";
 * import { DeltaBackend, readDeltaConfig } from "@loom/streaming/sinks";
 * const Event = messageType("event", v.object({ id: v.string() }));
 * export async function openEvents(config: Record<string, unknown>): Promise<DeltaBackend> {
 *   return await DeltaBackend.open(readDeltaConfig(config, "events", ""), Event, { appId: "group/events" });
 * }
 * ```
 */
export class DeltaBackend<E = Record<string, unknown>> implements TableBackend<E> {
  /** For messages. */
  readonly label: string;
  /** Table columns. */
  readonly columns: readonly Column[];
  readonly #c: DeltaConfig;
  readonly #appId: string;
  readonly #log: LogState;
  readonly #skipAll: boolean;
  #files = 0;

  private constructor(
    c: DeltaConfig,
    columns: readonly Column[],
    log: LogState,
    appId: string,
    skipAll: boolean,
  ) {
    this.#c = c;
    this.columns = columns;
    this.#log = log;
    this.#appId = appId;
    this.#skipAll = skipAll;
    this.label = `delta table ${c.path}`;
  }

  /**
   * Reads the log (if the table exists) and returns the backend; the table is created by the first flush.
   *
   * @param c settings
   * @param payload row type (required for a new table)
   * @param options `appId`: prefix of the `txn` app ids (the consumer group and sink name)
   */
  static async open<E>(
    c: DeltaConfig,
    payload: MessageType | null,
    options: { appId: string },
  ): Promise<DeltaBackend<E>> {
    const log = await readLog(c.path);
    const exists = log.version >= 0;
    if (exists && c.mode === "error") {
      throw new Error(`delta table ${c.path} already exists (mode: error): remove it or use mode: append`);
    }
    const declared = payload ? columnsOf(payload) : null;
    let columns: Column[];
    if (exists && log.schema) {
      columns = log.schema;
      if (declared) {
        const missing = declared.filter((d) => !log.schema!.some((x) => x.name === d.name)).map((d) =>
          d.name
        );
        if (missing.length) throw new Error(`delta table ${c.path} has no column(s) ${missing.join(", ")}`);
      }
      const want = c.partitionBy.join(",");
      if (c.partitionBy.length && want !== log.partitionBy.join(",")) {
        throw new Error(`delta table ${c.path} is partitioned by [${log.partitionBy}], not [${want}]`);
      }
    } else {
      if (!declared) {
        throw new Error(`a new delta table needs the payload type of IntoTable (IntoTable({ payload }))`);
      }
      columns = declared;
      for (const p of c.partitionBy) {
        if (!columns.some((x) => x.name === p)) {
          throw new Error(`partition_by column '${p}' is not a field of ${payload!.name}`);
        }
      }
      log.partitionBy = [...c.partitionBy];
    }
    await mkdir(join(c.path, "_delta_log"), { recursive: true });
    return new DeltaBackend<E>(c, columns, log, options.appId, exists && c.mode === "ignore");
  }

  #appIdOf(s: RowSource): string {
    return `${this.#appId}/${s.topic}/${s.partition}`;
  }

  /** Writes the data files and commits them (skipping rows a previous commit already holds). */
  async write(rows: readonly E[], info: FlushInfo): Promise<void> {
    if (this.#skipAll) return;
    const keep: number[] = [];
    const last = new Map<string, number>();
    for (let i = 0; i < rows.length; i++) {
      const s = info.sources[i];
      if (s) {
        const id = this.#appIdOf(s);
        const done = this.#log.txn.get(id);
        if (done !== undefined && s.offset <= done) continue; // replayed: already committed
        if ((last.get(id) ?? -1) < s.offset) last.set(id, s.offset);
      }
      keep.push(i);
    }
    if (keep.length === 0) return;
    const c = this.#c;
    const parts = this.#log.partitionBy;
    const dataCols = this.columns.filter((x) => !parts.includes(x.name));
    // group by partition values
    const groups = new Map<string, { values: Record<string, string | null>; idx: number[] }>();
    for (const i of keep) {
      const r = rows[i] as Record<string, unknown>;
      const values: Record<string, string | null> = {};
      for (const p of parts) values[p] = partitionText(r[p]);
      const k = JSON.stringify(values);
      let g = groups.get(k);
      if (!g) groups.set(k, g = { values, idx: [] });
      g.idx.push(i);
    }
    const adds: Record<string, unknown>[] = [];
    const written: string[] = [];
    try {
      for (const g of groups.values()) {
        const data = dataCols.map((col) =>
          g.idx.map((i) => parquetValue(col, (rows[i] as Record<string, unknown>)[col.name]))
        );
        const dir = parts.map((p) =>
          `${escapePart(p)}=${g.values[p] === null ? "__HIVE_DEFAULT_PARTITION__" : escapePart(g.values[p]!)}`
        ).join("/");
        const perFile = this.#rowsPerFile(g.idx.length, dataCols);
        for (let start = 0; start < g.idx.length; start += perFile) {
          const slice = data.map((col) => col.slice(start, start + perFile));
          const bytes = writeParquet(dataCols, slice, c.rowGroupSize, c.compression);
          const name = `part-${
            String(++this.#files).padStart(5, "0")
          }-${crypto.randomUUID()}-c000.snappy.parquet`;
          const rel = dir ? `${dir}/${name}` : name;
          await mkdir(join(c.path, dir), { recursive: true });
          await writeFile(join(c.path, rel), bytes);
          written.push(join(c.path, rel));
          adds.push({
            add: {
              path: rel.split("/").map(encodeURIComponent).join("/"),
              partitionValues: g.values,
              size: bytes.length,
              modificationTime: Date.now(),
              dataChange: true,
              stats: JSON.stringify({
                numRecords: slice[0]?.length ?? Math.min(perFile, g.idx.length - start),
              }),
            },
          });
        }
      }
      const now = Date.now();
      const txns = [...last].map(([appId, version]) => ({ txn: { appId, version, lastUpdated: now } }));
      await this.#commit([...txns, ...adds], last);
    } catch (e) {
      await Promise.all(written.map((f) => rm(f, { force: true }).catch(() => {})));
      throw e;
    }
  }

  #rowsPerFile(n: number, cols: readonly Column[]): number {
    const t = this.#c.targetFileSize;
    if (!t) return Math.max(1, n);
    const perRow = cols.reduce(
      (a, c) => a + (c.kind === "str" || c.kind === "json" || c.kind === "bytes" ? 32 : 8),
      0,
    );
    return Math.max(1, Math.floor(t / Math.max(1, perRow)));
  }

  /** Writes the next log version put-if-absent; on a lost race re-reads the log and retries. */
  async #commit(actions: Record<string, unknown>[], last: Map<string, number>): Promise<void> {
    const dir = join(this.#c.path, "_delta_log");
    for (let attempt = 0; attempt < 20; attempt++) {
      const v = this.#log.version + 1;
      const head: Record<string, unknown>[] = [];
      if (v === 0) {
        head.push({ protocol: { minReaderVersion: 1, minWriterVersion: 2 } });
        head.push({
          metaData: {
            id: crypto.randomUUID(),
            name: this.#c.table,
            format: { provider: "parquet", options: {} },
            schemaString: JSON.stringify({
              type: "struct",
              fields: this.columns.map((x) => ({
                name: x.name,
                type: DELTA_TYPE[x.kind],
                nullable: true,
                metadata: {},
              })),
            }),
            partitionColumns: this.#log.partitionBy,
            configuration: {},
            createdTime: Date.now(),
          },
        });
      }
      const info = {
        commitInfo: {
          timestamp: Date.now(),
          operation: "WRITE",
          operationParameters: { mode: "Append" },
          engineInfo: "loom-streaming",
        },
      };
      const body = [...head, ...actions, info].map((a) => JSON.stringify(a)).join("\n") + "\n";
      const final = join(dir, `${String(v).padStart(20, "0")}.json`);
      const tmp = join(dir, `.${String(v).padStart(20, "0")}.json.${crypto.randomUUID()}.tmp`);
      await writeFile(tmp, body);
      try {
        await link(tmp, final); // atomic put-if-absent
        this.#log.version = v;
        for (const [id, o] of last) this.#log.txn.set(id, o);
        return;
      } catch (e) {
        if ((e as { code?: string }).code !== "EEXIST") throw e;
        const fresh = await readLog(this.#c.path); // another writer committed v: catch up and retry
        this.#log.version = fresh.version;
        for (const [id, o] of fresh.txn) this.#log.txn.set(id, o);
      } finally {
        await rm(tmp, { force: true });
      }
    }
    throw new Error(`delta table ${this.#c.path}: gave up committing after 20 conflicting versions`);
  }

  /** Nothing written by Delta is permanent-by-row (files are ours): every failure is retried. */
  isPermanent(e: unknown): boolean {
    return (e as Error)?.name === "RowError";
  }

  /** Nothing to release. */
  async close(): Promise<void> {
    await stat(this.#c.path).catch(() => null);
  }
}
