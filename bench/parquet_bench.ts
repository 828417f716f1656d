/**
 * Picks the Parquet writer of the Delta sink: `hyparquet-writer` (pure JS) vs `parquet-wasm` (Rust/WASM,
 * fed an Arrow table built with `apache-arrow`), both writing the same 100 000 rows (int64, double, string,
 * bool, timestamp[us], nullable string) with snappy; each file is read back with `hyparquet` to check the
 * row count. Prints a table and one JSON line. Numbers: bench/README.md.
 *
 * Run: bash scripts/deno.sh run -A bench/parquet_bench.ts   |   node_modules/.bin/bun bench/parquet_bench.ts
 *
 * @module
 */
import { parquetWriteBuffer } from "hyparquet-writer";
import { parquetMetadata } from "hyparquet";
import * as wasm from "parquet-wasm/esm";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { runtimeName } from "./_common.ts";

/** The few apache-arrow members used here. apache-arrow is loaded by a computed specifier so the type
 * checker does not pull in its nested @types/node 25, which conflicts with the project's @types/node 20. */
interface ArrowLike {
  Table: new (columns: Record<string, unknown>) => unknown;
  tableToIPC(table: unknown, format: "stream"): Uint8Array;
  vectorFromArray(values: unknown, type?: unknown): unknown;
  Utf8: new () => unknown;
  TimestampMicrosecond: new (tz: string) => unknown;
}
const ARROW = "apache-arrow";
const arrow = (await import(ARROW)) as ArrowLike;

const N = Number(globalThis.process?.env?.LOOM_BENCH_ROWS ?? 100_000);
const ids = Array.from({ length: N }, (_, i) => BigInt(i));
const amounts = Array.from({ length: N }, (_, i) => i * 0.37);
const names = Array.from({ length: N }, (_, i) => `customer-${i % 5000}-${i}`);
const paid = Array.from({ length: N }, (_, i) => i % 3 === 0);
const ats = Array.from({ length: N }, (_, i) => new Date(1_700_000_000_000 + i * 1000));
const notes = Array.from({ length: N }, (_, i) => (i % 4 ? `note ${i}` : null));

const hyparquet = (): Uint8Array =>
  new Uint8Array(parquetWriteBuffer({
    columnData: [
      { name: "id", data: ids },
      { name: "amount", data: amounts },
      { name: "name", data: names },
      { name: "paid", data: paid },
      { name: "at", data: ats },
      { name: "note", data: notes },
    ],
    schema: [
      { name: "root", num_children: 6 },
      { name: "id", type: "INT64", repetition_type: "OPTIONAL" },
      { name: "amount", type: "DOUBLE", repetition_type: "OPTIONAL" },
      { name: "name", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" },
      { name: "paid", type: "BOOLEAN", repetition_type: "OPTIONAL" },
      {
        name: "at",
        type: "INT64",
        repetition_type: "OPTIONAL",
        logical_type: { type: "TIMESTAMP", isAdjustedToUTC: true, unit: "MICROS" },
      },
      { name: "note", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" },
    ] as never,
    codec: "SNAPPY",
    rowGroupSize: 10_000,
    statistics: false,
  }));

let wasmReady = false;
const parquetWasm = async (): Promise<Uint8Array> => {
  if (!wasmReady) {
    const bytes = readFileSync(fileURLToPath(import.meta.resolve("parquet-wasm/esm/parquet_wasm_bg.wasm")));
    await wasm.default({ module_or_path: bytes });
    wasmReady = true;
  }
  const { Table, tableToIPC, TimestampMicrosecond, Utf8, vectorFromArray } = arrow;
  const t = new Table({
    id: vectorFromArray(BigInt64Array.from(ids)),
    amount: vectorFromArray(Float64Array.from(amounts)),
    name: vectorFromArray(names, new Utf8()),
    paid: vectorFromArray(paid),
    at: vectorFromArray(ats.map((d) => d.getTime()), new TimestampMicrosecond("UTC")),
    note: vectorFromArray(notes, new Utf8()),
  });
  const table = wasm.Table.fromIPCStream(tableToIPC(t, "stream"));
  const props = new wasm.WriterPropertiesBuilder().setCompression(wasm.Compression.SNAPPY).setMaxRowGroupSize(
    10_000,
  ).build();
  return wasm.writeParquet(table, props);
};

const time = async (f: () => Uint8Array | Promise<Uint8Array>) => {
  await f(); // warm-up
  const runs: number[] = [];
  let out: Uint8Array = new Uint8Array();
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    out = await f();
    runs.push(performance.now() - t0);
  }
  runs.sort((a, b) => a - b);
  const rows = Number(
    parquetMetadata(out.buffer.slice(out.byteOffset, out.byteOffset + out.byteLength) as ArrayBuffer)
      .num_rows,
  );
  if (rows !== N) throw new Error(`read back ${rows} rows, wrote ${N}`);
  return { ms: runs[2], bytes: out.length };
};

const results: Record<string, { ms: number; bytes: number; rowsPerS: number }> = {};
for (const [name, f] of [["hyparquet-writer", hyparquet], ["parquet-wasm", parquetWasm]] as const) {
  const r = await time(f);
  results[name] = { ...r, rowsPerS: Math.round(N / (r.ms / 1000)) };
}
console.log(`Parquet writers, ${N} rows × 6 columns, snappy, median of 5 (${runtimeName()})`);
console.log("| writer | ms | rows/s | file bytes |\n|---|---:|---:|---:|");
for (const [k, r] of Object.entries(results)) {
  console.log(`| ${k} | ${r.ms.toFixed(1)} | ${r.rowsPerS} | ${r.bytes} |`);
}
console.log(JSON.stringify({ bench: "parquet", runtime: runtimeName(), rows: N, results }));
