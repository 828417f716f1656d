// Integration tests of the PostgreSQL table sink against the REAL local PostgreSQL 15 (scripts/postgres.sh):
// rows and types round-trip, refused rows are reported with the server's message while the others are
// written, upserts hold each key once after a replay, a missing table is a startup error.
// Run: deno test -A tests/sinks_postgres_test.ts   |   bun test tests/sinks_postgres_test.ts
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import postgres from "postgres";
import * as v from "valibot";
import { IntoTable, messageType } from "../mod.ts";
import { openTableWriter, PostgresBackend, readPostgresConfig } from "../sinks/mod.ts";
import { pgUrl, uniqueTable } from "./_db.ts";

const int = v.pipe(v.number(), v.integer());
const Row = messageType(
  "loom.it.PgRow",
  v.object({
    id: int,
    price: v.number(),
    paid: v.boolean(),
    label: v.string(),
    at: v.date(),
    blob: v.instance(Uint8Array),
    note: v.optional(v.string()),
    meta: v.object({ b: v.number(), a: v.array(v.string()) }),
  }),
);
type RowT = v.InferOutput<typeof Row.schema>;

const row = (id: number): RowT => ({
  id,
  price: id + 0.25,
  paid: id % 2 === 0,
  label: `tab\there "quoted" \\ back\nline ${id} é`,
  at: new Date(Date.UTC(2024, 0, 1, 12, 0, id % 60, 123)),
  blob: new Uint8Array([0, 255, id % 256, 92]),
  note: id % 3 === 0 ? undefined : `n${id}`,
  meta: { b: id, a: ["x", "y"] },
});

let sql: postgres.Sql;
const config = (name: string, section: Record<string, unknown>) => ({
  database: { wh: { url: pgUrl() } },
  streaming: { sinks: { [name]: { database: "wh", ...section } } },
});

describe("PostgreSQL sink (real server)", () => {
  before(() => {
    sql = postgres(pgUrl(), { onnotice: () => {} });
  });
  after(async () => {
    await sql.end({ timeout: 5 });
  });

  for (const copy of [true, false]) {
    test(`rows and types round-trip (${copy ? "COPY" : "INSERT"}), create_table`, async () => {
      const table = uniqueTable("pg_types");
      const w = await openTableWriter(
        new IntoTable({ name: "rows", table, backend: "postgres", payload: Row }),
        config("rows", { create_table: true, copy, chunk_size: 7 }),
      );
      const rows = Array.from({ length: 50 }, (_, i) => row(i + 1));
      const failures = await Promise.all([
        w.enqueue(rows.slice(0, 20)),
        w.enqueue(rows.slice(20)),
        w.flush(),
      ]);
      assert.deepEqual(failures.slice(0, 2), [[], []]);
      await w.close();
      const back = await sql.unsafe(`SELECT * FROM "${table}" ORDER BY id`);
      assert.equal(back.length, 50);
      for (let i = 0; i < 50; i++) {
        const want = rows[i], got = back[i];
        assert.equal(Number(got.id), want.id);
        assert.equal(got.price, want.price);
        assert.equal(got.paid, want.paid);
        assert.equal(got.label, want.label);
        assert.equal((got.at as Date).toISOString(), want.at.toISOString());
        assert.deepEqual([...(got.blob as Uint8Array)], [...want.blob]);
        assert.equal(got.note, want.note ?? null);
        assert.deepEqual(got.meta, want.meta);
      }
      const types = await sql`SELECT column_name, data_type FROM information_schema.columns
        WHERE table_name = ${table} ORDER BY ordinal_position`;
      assert.deepEqual(types.map((t) => t.data_type), [
        "bigint",
        "double precision",
        "boolean",
        "text",
        "timestamp with time zone",
        "bytea",
        "text",
        "jsonb",
      ]);
    });
  }

  test("a refused row is reported with the server's message; the other rows of the flush are written", async () => {
    const table = uniqueTable("pg_poison");
    await sql.unsafe(`CREATE TABLE "${table}" (id bigint PRIMARY KEY, qty bigint CHECK (qty >= 0))`);
    const Q = messageType("loom.it.Qty", v.object({ id: int, qty: int }));
    const w = await openTableWriter(
      new IntoTable({ name: "q", table, backend: "postgres", payload: Q }),
      config("q", { copy_timeout_s: 1 }),
    );
    const rows = Array.from({ length: 40 }, (_, i) => ({ id: i, qty: i === 17 ? -5 : i }));
    const [failures] = await Promise.all([w.enqueue(rows), w.flush()]);
    assert.equal(failures.length, 1);
    assert.equal(failures[0].index, 17);
    assert.match(failures[0].reason, /violates check constraint/);
    assert.match(failures[0].reason, /"id":17/);
    // a value that does not fit its column is refused before reaching the server
    const [bad] = await Promise.all([w.enqueue([{ id: 100, qty: 1.5 }, { id: 101, qty: 1 }]), w.flush()]);
    assert.deepEqual(bad.map((f) => f.index), [0]);
    assert.match(bad[0].reason, /column 'qty': expected an integer/);
    await w.close();
    const [{ n }] = await sql.unsafe(`SELECT count(*)::int AS n FROM "${table}"`);
    assert.equal(n, 40);
  });

  test("upsert_key: a replayed flush holds each row once (last value wins)", async () => {
    const table = uniqueTable("pg_upsert");
    const K = messageType("loom.it.Keyed", v.object({ id: int, v: v.string() }));
    const open = () =>
      openTableWriter(
        new IntoTable({ name: "k", table, backend: "postgres", payload: K }),
        config("k", { create_table: true, upsert_key: ["id"] }),
      );
    const w1 = await open();
    await w1.write(Array.from({ length: 100 }, (_, i) => ({ id: i, v: "first" })));
    await w1.close();
    const w2 = await open(); // "after a crash": the same inputs again, with a duplicate key in one flush
    await w2.write([...Array.from({ length: 100 }, (_, i) => ({ id: i, v: "second" })), {
      id: 5,
      v: "last",
    }]);
    await w2.close();
    const back = await sql.unsafe(`SELECT id, v FROM "${table}" ORDER BY id`);
    assert.equal(back.length, 100);
    assert.equal(back[5].v, "last");
    assert.equal(back[6].v, "second");
  });

  for (const copy of [true, false]) {
    // postgres.js's sql.begin() sends its own ROLLBACK on a connection lost mid-transaction, from a
    // setImmediate on the torn-down socket: an uncaught TypeError (nextWrite) that no handler could catch.
    // The test runner fails the test on any uncaught error, so this fails if that path comes back.
    test(
      `a connection killed mid-flush is a failed write, not a crash; the next flush succeeds (${
        copy ? "COPY" : "INSERT"
      })`,
      async () => {
        const table = uniqueTable("pg_killed");
        await sql.unsafe(`CREATE TABLE "${table}" (id bigint PRIMARY KEY, v text)`);
        const K = messageType("loom.it.Killed", v.object({ id: int, v: v.string() }));
        const b = await PostgresBackend.open(
          readPostgresConfig(config("k", { table, copy, upsert_key: ["id"] }), "k", ""),
          K,
        );
        const rows = Array.from({ length: 50 }, (_, i) => ({ id: i, v: "x" }));
        const info = (sequence: number) => ({ sequence, attempt: 0, sources: [] });
        try {
          // hold the table so the flush waits on the server, then kill that backend
          const lock = await sql.reserve();
          await lock.unsafe("BEGIN");
          await lock.unsafe(`LOCK TABLE "${table}" IN ACCESS EXCLUSIVE MODE`);
          // settled at once: the write fails while the test still awaits the kill (no unhandled rejection)
          const write = b.write(rows, info(1)).then(() => null, (e: unknown) => e);
          let pid: number | undefined;
          for (let i = 0; i < 200 && pid === undefined; i++) {
            await new Promise((r) => setTimeout(r, 20));
            const [w] = await sql.unsafe(
              `SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query ILIKE $1`,
              [`%${table}%`],
            );
            pid = w?.pid;
          }
          assert.ok(pid !== undefined, "the flush never waited on the table lock");
          await sql.unsafe("SELECT pg_terminate_backend($1)", [pid]);
          const failed = await write;
          assert.ok(failed instanceof Error, "the flush on the killed connection fails");
          assert.doesNotMatch(failed.message, /null|undefined/);
          await lock.unsafe("ROLLBACK");
          lock.release();
          for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r)); // a stray write would run now
          await new Promise((r) => setTimeout(r, 50));
          await b.write(rows, info(2));
          const [{ n }] = await sql.unsafe(`SELECT count(*)::int AS n FROM "${table}"`);
          assert.equal(n, 50);
        } finally {
          await b.close();
        }
      },
    );
  }

  test("an unknown key of the sink section is a configuration error naming the closest key", async () => {
    await assert.rejects(
      openTableWriter(
        new IntoTable({ name: "o", table: "t", backend: "postgres" }),
        config("o", { upsert_keys: ["id"] }),
      ),
      /streaming\.sinks\.o\.upsert_keys: unknown key for the postgres backend \(did you mean 'upsert_key'\?\)/,
    );
  });

  test("a missing table is a startup error naming the sink and the fix; no password is printed", async () => {
    const table = uniqueTable("pg_missing");
    const url = pgUrl().replace("postgres://postgres@", "postgres://postgres:s3cret@");
    await assert.rejects(
      openTableWriter(new IntoTable({ name: "orders_sink", table, backend: "postgres" }), {
        database: { wh: { url } },
        streaming: { sinks: { orders_sink: { database: "wh" } } },
      }),
      (e: Error) => {
        assert.match(e.message, /table sink 'orders_sink'/);
        assert.match(e.message, /does not exist/);
        assert.match(e.message, /create_table: true/);
        assert.doesNotMatch(e.message, /s3cret/);
        return true;
      },
    );
  });
});
