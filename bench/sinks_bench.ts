/**
 * Table sinks vs the raw clients doing the same load: 100 000 rows (id, customer, amount, quantity, paid,
 * created_at) written through the sink's writer (coercion, buffer, one flush) next to
 *   - PostgreSQL: postgres.js `COPY … FROM STDIN` of the same rows (text lines built by the bench);
 *   - ClickHouse: a plain `@clickhouse/client` `insert` (JSONEachRow) of the same objects;
 *   - Delta: the bare Parquet writer (`hyparquet-writer`) and one file write, no log.
 * Median of 3 runs after a warm-up; prints a table and one JSON line. Needs the local servers
 * (scripts/postgres.sh, scripts/clickhouse.sh; started when missing).
 *
 * Run: bash scripts/deno.sh run -A bench/sinks_bench.ts   |   node_modules/.bin/bun bench/sinks_bench.ts
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { createClient } from "@clickhouse/client";
import { parquetWriteBuffer } from "hyparquet-writer";
import * as v from "valibot";
import { type Backend, IntoTable, messageType } from "../mod.ts";
import { openTableWriter } from "../sinks/mod.ts";
import { runtimeName } from "./_common.ts";

const N = Number(process.env.LOOM_BENCH_ROWS ?? 100_000);
const ensure = (script: string): string =>
  execFileSync("bash", [fileURLToPath(new URL(`../scripts/${script}`, import.meta.url)), "ensure"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  }).trim().split("\n").at(-1)!;
const pgUrl = process.env.LOOM_PG_URL ?? ensure("postgres.sh");
const chUrl = process.env.LOOM_CLICKHOUSE_URL ?? ensure("clickhouse.sh");

const Row = messageType(
  "bench.Row",
  v.object({
    id: v.pipe(v.number(), v.integer()),
    customer: v.string(),
    amount: v.number(),
    quantity: v.pipe(v.number(), v.integer()),
    paid: v.boolean(),
    created_at: v.date(),
  }),
);
type RowT = v.InferOutput<typeof Row.schema>;
const rows: RowT[] = Array.from({ length: N }, (_, i) => ({
  id: i,
  customer: `customer-${i % 5000}`,
  amount: i * 0.37,
  quantity: i % 17,
  paid: i % 3 === 0,
  created_at: new Date(1_700_000_000_000 + i * 1000),
}));

const median = async (setup: () => Promise<void>, f: () => Promise<void>): Promise<number> => {
  const runs: number[] = [];
  for (let k = 0; k < 4; k++) {
    await setup();
    const t0 = performance.now();
    await f();
    if (k > 0) runs.push(performance.now() - t0); // the first run warms up
  }
  runs.sort((a, b) => a - b);
  return runs[1];
};

const sql = postgres(pgUrl, { onnotice: () => {} });
const ch = createClient({ url: chUrl });
const dir = mkdtempSync(join(tmpdir(), "loom-bench-delta-"));
const PG_DDL =
  `(id bigint, customer text, amount double precision, quantity bigint, paid boolean, created_at timestamptz)`;
const CH_DDL =
  `(id Int64, customer String, amount Float64, quantity Int64, paid UInt8, created_at DateTime('UTC')) ENGINE = MergeTree() ORDER BY tuple()`;

const sinkRun = (backend: Backend, table: string, section: Record<string, unknown>) => async () => {
  const w = await openTableWriter(new IntoTable({ name: "bench", table, backend, payload: Row }), {
    database: { wh: { url: pgUrl }, ch: { http_url: chUrl } },
    streaming: { sinks: { bench: { buffer_max_records: N + 1, ...section } } },
  });
  const done = w.enqueue(rows);
  await w.flush();
  const failures = await done;
  if (failures.length) throw new Error(failures[0].reason);
  await w.close();
};

const pad = (n: number) => (n < 10 ? `0${n}` : `${n}`);
const chDate = (d: Date) =>
  `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${
    pad(d.getUTCMinutes())
  }:${pad(d.getUTCSeconds())}`;

const results: Record<string, { sink: number; raw: number }> = {};

{ // PostgreSQL
  const reset = async () => {
    await sql.unsafe(`DROP TABLE IF EXISTS bench_sink; CREATE TABLE bench_sink ${PG_DDL}`);
  };
  const sink = await median(reset, sinkRun("postgres", "bench_sink", { database: "wh" }));
  const raw = await median(reset, async () => {
    const w = await sql`COPY bench_sink FROM STDIN`.writable();
    const done = new Promise<void>((r, j) => (w.on("finish", () => r()), w.on("error", j)));
    let s = "";
    for (const r of rows) {
      s += `${r.id}\t${r.customer}\t${r.amount}\t${r.quantity}\t${
        r.paid ? "t" : "f"
      }\t${r.created_at.toISOString()}\n`;
    }
    w.end(s);
    await done;
  });
  const [{ n }] = await sql`SELECT count(*)::int AS n FROM bench_sink`;
  if (n !== N) throw new Error(`postgres: ${n} rows, expected ${N}`);
  results["postgres (COPY)"] = { sink, raw };
}

{ // ClickHouse
  const reset = async () => {
    await ch.command({ query: "DROP TABLE IF EXISTS bench_sink" });
    await ch.command({ query: `CREATE TABLE bench_sink ${CH_DDL}` });
  };
  const sink = await median(reset, sinkRun("clickhouse", "bench_sink", { database: "ch" }));
  const raw = await median(reset, async () => {
    const values = rows.map((r) => ({ ...r, paid: r.paid ? 1 : 0, created_at: chDate(r.created_at) }));
    await ch.insert({ table: "bench_sink", values, format: "JSONEachRow" });
  });
  const [{ n }] =
    await (await ch.query({ query: "SELECT count() AS n FROM bench_sink", format: "JSONEachRow" }))
      .json<{ n: string }>();
  if (Number(n) !== N) throw new Error(`clickhouse: ${n} rows, expected ${N}`);
  results["clickhouse (JSONEachRow)"] = { sink, raw };
}

{ // Delta
  let k = 0;
  let uri = "";
  const reset = () => {
    uri = join(dir, `t${++k}`);
    return Promise.resolve();
  };
  const sink = await median(reset, () => sinkRun("delta", "", { uri, part_max_records: 10_000 })());
  const raw = await median(reset, () => {
    const buf = parquetWriteBuffer({
      columnData: [
        { name: "id", data: rows.map((r) => BigInt(r.id)), type: "INT64" },
        { name: "customer", data: rows.map((r) => r.customer), type: "STRING" },
        { name: "amount", data: rows.map((r) => r.amount), type: "DOUBLE" },
        { name: "quantity", data: rows.map((r) => BigInt(r.quantity)), type: "INT64" },
        { name: "paid", data: rows.map((r) => r.paid), type: "BOOLEAN" },
        { name: "created_at", data: rows.map((r) => r.created_at), type: "TIMESTAMP" },
      ],
      codec: "SNAPPY",
      rowGroupSize: 10_000,
      statistics: false,
    });
    writeFileSync(`${uri}.parquet`, new Uint8Array(buf));
    return Promise.resolve();
  });
  results["delta (parquet + log)"] = { sink, raw };
}

await sql.end({ timeout: 5 });
await ch.close();
rmSync(dir, { recursive: true, force: true });

const rate = (ms: number) => Math.round(N / (ms / 1000));
console.log(`Table sinks vs raw clients, ${N} rows, median of 3 (${runtimeName()})`);
console.log("| backend | sink rows/s | raw rows/s | sink / raw |\n|---|---:|---:|---:|");
const json: Record<string, unknown> = {};
for (const [k, r] of Object.entries(results)) {
  const ratio = r.raw / r.sink;
  console.log(`| ${k} | ${rate(r.sink)} | ${rate(r.raw)} | ${ratio.toFixed(2)} |`);
  json[k] = { sinkRowsPerS: rate(r.sink), rawRowsPerS: rate(r.raw), ratio: Number(ratio.toFixed(3)) };
}
console.log(JSON.stringify({ bench: "sinks", runtime: runtimeName(), rows: N, results: json }));
