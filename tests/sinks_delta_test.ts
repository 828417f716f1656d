// Integration tests of the Delta Lake table sink: tables written by it are read back by Python `deltalake`
// (delta-rs, scripts/python-env.sh): types, partitions, several commits, txn-based skipping of a replayed
// flush, modes, and the object-store error.
// Run: deno test -A tests/sinks_delta_test.ts   |   bun test tests/sinks_delta_test.ts
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import { IntoTable, messageType } from "../mod.ts";
import { openTableWriter, type RowSource } from "../sinks/mod.ts";
import { python } from "./_db.ts";

const int = v.pipe(v.number(), v.integer());
const Ev = messageType(
  "loom.it.DeltaEv",
  v.object({
    id: int,
    day: v.string(),
    amount: v.number(),
    ok: v.boolean(),
    at: v.date(),
    note: v.optional(v.string()),
    raw: v.instance(Uint8Array),
    meta: v.object({ k: v.string() }),
  }),
);

const READ = `
import sys, json
from deltalake import DeltaTable
dt = DeltaTable(sys.argv[1])
t = dt.to_pyarrow_table()
rows = t.sort_by("id").to_pylist()
for r in rows:
    r["at"] = r["at"].isoformat() if r["at"] is not None else None
    r["raw"] = list(r["raw"]) if r["raw"] is not None else None
print(json.dumps({"version": dt.version(), "partitions": dt.metadata().partition_columns,
  "schema": {f.name: str(f.type) for f in dt.schema().fields}, "rows": rows,
  "txn": [a for a in dt.transaction_versions().items()] if hasattr(dt, "transaction_versions") else None}, default=str),
  flush=True)
# delta-rs' runtime threads can abort the interpreter's shutdown ("terminate called without an active
# exception") after the answer was printed: leave at once
import os
os._exit(0)
`;

let py: string;
let root: string;
const readBack = (path: string) =>
  JSON.parse(execFileSync(py, ["-c", READ, path], { encoding: "utf8", timeout: 60_000 })) as {
    version: number;
    partitions: string[];
    schema: Record<string, string>;
    rows: Record<string, unknown>[];
  };
const config = (name: string, section: Record<string, unknown>) => ({
  streaming: { sinks: { [name]: section } },
});
const ev = (id: number) => ({
  id,
  day: id % 2 ? "2024-01-01" : "2024-01-02",
  amount: id * 1.5,
  ok: id % 3 === 0,
  at: new Date(Date.UTC(2024, 0, 1, 0, 0, id)),
  note: id % 4 ? `n${id}` : undefined,
  raw: new Uint8Array([id, 0, 255]),
  meta: { k: `v${id}` },
});
const src = (offset: number, partition = 0): RowSource => ({ topic: "events", partition, offset });

describe("Delta Lake sink (read back by Python deltalake)", () => {
  before(() => {
    py = python();
    root = mkdtempSync(join(tmpdir(), "loom-delta-"));
  });
  after(() => rmSync(root, { recursive: true, force: true }));

  test("types, partition_by and two commits round-trip through delta-rs", async () => {
    const uri = join(root, "events");
    const w = await openTableWriter(
      new IntoTable({ name: "ev", backend: "delta", payload: Ev }),
      config("ev", { uri, partition_by: ["day"], part_max_records: 7 }),
      { appId: "g1/ev" },
    );
    const rows = Array.from({ length: 30 }, (_, i) => ev(i + 1));
    await Promise.all([w.enqueue(rows.slice(0, 10), rows.slice(0, 10).map((_, i) => src(i))), w.flush()]);
    await Promise.all([w.enqueue(rows.slice(10), rows.slice(10).map((_, i) => src(10 + i))), w.flush()]);
    await w.close();
    const got = readBack(uri);
    assert.equal(got.version, 1);
    assert.deepEqual(got.partitions, ["day"]);
    assert.equal(got.rows.length, 30);
    for (const i of [0, 3, 29]) {
      const want = rows[i], r = got.rows[i];
      assert.equal(r.id, want.id);
      assert.equal(r.day, want.day);
      assert.equal(r.amount, want.amount);
      assert.equal(r.ok, want.ok);
      assert.equal(new Date(String(r.at)).toISOString(), want.at.toISOString());
      assert.equal(r.note, want.note ?? null);
      assert.deepEqual(r.raw, [...want.raw]);
      assert.equal(r.meta, JSON.stringify(want.meta));
    }
    assert.match(got.schema.id, /int64|long/i);
    assert.match(got.schema.at, /timestamp/i);
    const dirs = readdirSync(uri).filter((d) => d.startsWith("day=")).sort();
    assert.deepEqual(dirs, ["day=2024-01-01", "day=2024-01-02"]);
    const v0 = readFileSync(join(uri, "_delta_log", "00000000000000000000.json"), "utf8");
    assert.match(v0, /"minReaderVersion":1,"minWriterVersion":2/);
    assert.match(v0, /"txn":\{"appId":"g1\/ev\/events\/0","version":9/);
  });

  test("a replayed flush is skipped by its txn version (no duplicates after a crash)", async () => {
    const uri = join(root, "replay");
    const open = () =>
      openTableWriter(new IntoTable({ name: "ev", backend: "delta", payload: Ev }), config("ev", { uri }), {
        appId: "g1/ev",
      });
    const rows = Array.from({ length: 20 }, (_, i) => ev(i));
    const w1 = await open();
    await Promise.all([
      w1.enqueue(rows.slice(0, 12), rows.slice(0, 12).map((_, i) => src(100 + i))),
      w1.flush(),
    ]);
    await w1.close();
    // restart: the consumer replays from offset 105 (its last committed offset), then goes on to 119
    const w2 = await open();
    await Promise.all([w2.enqueue(rows.slice(5), rows.slice(5).map((_, i) => src(105 + i))), w2.flush()]);
    await w2.close();
    const got = readBack(uri);
    assert.equal(got.rows.length, 20);
    assert.deepEqual(got.rows.map((r) => r.id), rows.map((r) => r.id));
  });

  test("mode: error refuses an existing table; mode: ignore writes nothing to it", async () => {
    const uri = join(root, "modes");
    const sink = new IntoTable({ name: "ev", backend: "delta", payload: Ev });
    const w = await openTableWriter(sink, config("ev", { uri }));
    await w.write([ev(1)]);
    await w.close();
    await assert.rejects(
      openTableWriter(sink, config("ev", { uri, mode: "error" })),
      /already exists \(mode: error\)/,
    );
    const wi = await openTableWriter(sink, config("ev", { uri, mode: "ignore" }));
    await wi.write([ev(2)]);
    await wi.close();
    assert.equal(readBack(uri).rows.length, 1);
  });

  test("two writers committing at once never overwrite a version (put-if-absent)", async () => {
    const uri = join(root, "race");
    const open = (app: string) =>
      openTableWriter(new IntoTable({ name: "ev", backend: "delta", payload: Ev }), config("ev", { uri }), {
        appId: app,
      });
    const [a, b] = await Promise.all([open("a"), open("b")]);
    for (let k = 0; k < 5; k++) {
      await Promise.all([
        a.write([ev(2 * k)]),
        b.write([ev(2 * k + 1)]),
      ]);
    }
    await Promise.all([a.close(), b.close()]);
    const got = readBack(uri);
    assert.equal(got.version, 9);
    assert.deepEqual(got.rows.map((r) => r.id), Array.from({ length: 10 }, (_, i) => i));
  });

  test("object-store URIs are a clear configuration error", async () => {
    await assert.rejects(
      openTableWriter(
        new IntoTable({ name: "ev", backend: "delta", payload: Ev }),
        config("ev", { uri: "s3://bucket/t" }),
      ),
      /streaming\.sinks\.ev\.uri: only local paths are supported/,
    );
  });
});
