// Integration tests of the ClickHouse table sink against the REAL local ClickHouse 18.16
// (scripts/clickhouse.sh): rows and the original's coercions round-trip, a row the server cannot parse is
// refused with the server's message while the others are written, ReplacingMergeTree + FINAL holds each
// key once after a replay, a missing table is a startup error.
// Run: deno test -A tests/sinks_clickhouse_test.ts   |   bun test tests/sinks_clickhouse_test.ts
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { type ClickHouseClient, createClient } from "@clickhouse/client";
import * as v from "valibot";
import { IntoTable, messageType } from "../mod.ts";
import { openTableWriter } from "../sinks/mod.ts";
import { chUrl, uniqueTable } from "./_db.ts";

const int = v.pipe(v.number(), v.integer());
const Event = messageType(
  "loom.it.ChEvent",
  v.object({
    id: int,
    score: v.number(),
    ok: v.boolean(),
    name: v.string(),
    at: v.date(),
    tag: v.optional(v.string()),
    meta: v.object({ z: v.number(), a: v.string() }),
  }),
);

let ch: ClickHouseClient;
const config = (name: string, section: Record<string, unknown>) => ({
  database: { ch: { http_url: chUrl() } },
  streaming: { sinks: { [name]: { database: "ch", ...section } } },
});
const select = async (q: string) =>
  await (await ch.query({ query: q, format: "JSONEachRow" })).json<Record<string, unknown>>();

describe("ClickHouse sink (real server)", () => {
  before(() => {
    ch = createClient({ url: chUrl() });
  });
  after(async () => {
    await ch.close();
  });

  test("rows and coercions round-trip (bool → 0/1, datetime, sorted JSON, Nullable), create_table", async () => {
    const table = uniqueTable("ch_types");
    const w = await openTableWriter(
      new IntoTable({ name: "events", table, backend: "clickhouse", payload: Event }),
      config("events", { create_table: true }),
    );
    const rows = Array.from({ length: 1000 }, (_, i) => ({
      id: i,
      score: i / 4,
      ok: i % 2 === 0,
      name: `n'${i}\\"x"`,
      at: new Date(Date.UTC(2024, 5, 1, 0, 0, i % 60)),
      tag: i % 5 === 0 ? undefined : `t${i}`,
      meta: { z: i, a: "é" },
    }));
    const [f1, f2] = await Promise.all([
      w.enqueue(rows.slice(0, 400)),
      w.enqueue(rows.slice(400)),
      w.flush(),
    ]);
    assert.deepEqual([f1, f2], [[], []]);
    await w.close();
    const back = await select(
      `SELECT id, score, ok, name, toString(at) AS at, tag, meta FROM ${table} ORDER BY id`,
    );
    assert.equal(back.length, 1000);
    for (const i of [0, 1, 5, 999]) {
      const r = rows[i], b = back[i];
      assert.equal(Number(b.id), r.id);
      assert.equal(b.score, r.score);
      assert.equal(b.ok, r.ok ? 1 : 0);
      assert.equal(b.name, r.name);
      assert.equal(b.at, r.at.toISOString().slice(0, 19).replace("T", " "));
      assert.equal(b.tag, r.tag ?? null);
      assert.equal(b.meta, `{"a":"é","z":${i}}`);
    }
    const types = await select(`SELECT name, type FROM system.columns WHERE table = '${table}'`);
    assert.deepEqual(Object.fromEntries(types.map((t) => [t.name, t.type])), {
      id: "Int64",
      score: "Float64",
      ok: "UInt8",
      name: "String",
      at: "DateTime('UTC')",
      tag: "Nullable(String)",
      meta: "String",
    });
  });

  test("a row the server refuses is reported with its message; the other rows are written", async () => {
    const table = uniqueTable("ch_poison");
    await ch.command({
      query: `CREATE TABLE ${table} (id Int64, qty UInt8) ENGINE = MergeTree() ORDER BY id`,
    });
    const Q = messageType("loom.it.ChQty", v.object({ id: int, qty: v.union([int, v.string()]) }));
    const w = await openTableWriter(
      new IntoTable({ name: "q", table, backend: "clickhouse", payload: Q }),
      config("q", {}),
    );
    const rows = Array.from({ length: 20 }, (_, i) => ({ id: i, qty: i === 7 ? "lots" : i }));
    const [failures] = await Promise.all([w.enqueue(rows), w.flush()]);
    assert.deepEqual(failures.map((f) => f.index), [7]);
    assert.match(failures[0].reason, /Code: \d+/);
    assert.match(failures[0].reason, /"id":7/);
    await w.close();
    const [{ n }] = await select(`SELECT count() AS n FROM ${table}`);
    assert.equal(Number(n), 19);
  });

  test("upsert_key → ReplacingMergeTree: after a replay FINAL sees each key once", async () => {
    const table = uniqueTable("ch_replay");
    const K = messageType("loom.it.ChKeyed", v.object({ id: int, v: v.string() }));
    const open = () =>
      openTableWriter(
        new IntoTable({ name: "k", table, backend: "clickhouse", payload: K }),
        config("k", { create_table: true, upsert_key: "id" }),
      );
    for (const round of ["first", "replay"]) {
      const w = await open();
      await w.write(Array.from({ length: 50 }, (_, i) => ({ id: i, v: round })));
      await w.close();
    }
    const [{ n }] = await select(`SELECT count() AS n FROM ${table} FINAL`);
    assert.equal(Number(n), 50);
    const [{ engine }] = await select(`SELECT engine FROM system.tables WHERE name = '${table}'`);
    assert.equal(engine, "ReplacingMergeTree");
  });

  test("a missing table is a startup error naming the sink", async () => {
    await assert.rejects(
      openTableWriter(
        new IntoTable({ name: "ev", table: uniqueTable("ch_missing"), backend: "clickhouse" }),
        config("ev", {}),
      ),
      /table sink 'ev'.*does not exist.*create_table: true/s,
    );
  });
});
