/**
 * Parquet data files of the Delta backend, written with `hyparquet-writer` (pure JavaScript, snappy),
 * chosen over `parquet-wasm` by `bench/parquet_bench.ts` (numbers in `bench/README.md`).
 *
 * @module
 */
import { parquetWriteBuffer } from "hyparquet-writer";
import type { Column, ColumnKind } from "./_columns.ts";
import { sortedJson, toDate } from "./_columns.ts";
import { RowError } from "./_postgres.ts";

/** The Delta schema type of a column kind. */
export const DELTA_TYPE: Record<ColumnKind, string> = {
  int: "long",
  float: "double",
  bool: "boolean",
  str: "string",
  datetime: "timestamp",
  bytes: "binary",
  json: "string",
};

type SchemaElement = Record<string, unknown>;

function element(c: Column): SchemaElement {
  const repetition_type = "OPTIONAL"; // Delta columns are nullable; REQUIRED is not needed by readers
  switch (c.kind) {
    case "int":
      return { name: c.name, type: "INT64", repetition_type };
    case "float":
      return { name: c.name, type: "DOUBLE", repetition_type };
    case "bool":
      return { name: c.name, type: "BOOLEAN", repetition_type };
    case "datetime":
      return {
        name: c.name,
        type: "INT64",
        repetition_type,
        logical_type: { type: "TIMESTAMP", isAdjustedToUTC: true, unit: "MICROS" },
      };
    case "bytes":
      return { name: c.name, type: "BYTE_ARRAY", repetition_type };
    default:
      return { name: c.name, type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type };
  }
}

/** A column value for the Parquet writer (throws {@link RowError}). */
export function parquetValue(c: Column, v: unknown): unknown {
  if (v === null || v === undefined) {
    if (!c.nullable) {
      throw new RowError(`column '${c.name}' is not optional, got ${v === null ? "null" : "no value"}`);
    }
    return null;
  }
  switch (c.kind) {
    case "int":
      if (typeof v === "bigint") return v;
      if (typeof v === "number" && Number.isInteger(v)) return BigInt(v);
      throw new RowError(`column '${c.name}': expected an integer, got ${JSON.stringify(v)}`);
    case "float":
      if (typeof v === "number") return v;
      throw new RowError(`column '${c.name}': expected a number, got ${JSON.stringify(v)}`);
    case "bool":
      if (typeof v === "boolean") return v;
      throw new RowError(`column '${c.name}': expected a boolean, got ${JSON.stringify(v)}`);
    case "datetime":
      try {
        return toDate(v);
      } catch (e) {
        throw new RowError(`column '${c.name}': ${(e as Error).message}`);
      }
    case "bytes":
      if (v instanceof Uint8Array) return v;
      throw new RowError(`column '${c.name}': expected bytes (Uint8Array)`);
    case "json":
      return sortedJson(v);
    default:
      return typeof v === "string" ? v : String(v);
  }
}

/**
 * Writes rows (already coerced, one array per column) as a Parquet file.
 *
 * @param columns columns in file order
 * @param data one array of values per column
 * @param rowGroupSize rows per row group
 * @param codec compression
 */
export function writeParquet(
  columns: readonly Column[],
  data: readonly unknown[][],
  rowGroupSize: number,
  codec: "SNAPPY" | "UNCOMPRESSED" = "SNAPPY",
): Uint8Array {
  const schema: SchemaElement[] = [{ name: "root", num_children: columns.length }, ...columns.map(element)];
  const buf = parquetWriteBuffer({
    columnData: columns.map((c, i) => ({ name: c.name, data: data[i] as never[] })),
    schema: schema as never, // hyparquet's SchemaElement type is not exported by hyparquet-writer
    codec,
    rowGroupSize,
    statistics: false,
  });
  return new Uint8Array(buf);
}
