// The edge CLI (cli.ts: `deno task run`, `bun cli.ts run`) runs a flow with an IntoTable on the REAL broker
// and the REAL PostgreSQL (Deno and Bun): the rows land in the table, every input is committed, on one
// worker (main thread) and on two Web Workers (each imports the table writers by URL); SIGTERM with a 1 h
// buffer flushes the rows and commits their inputs; on the memory transport the fixture's rows land in
// PostgreSQL too; an unreachable database is a one-line error naming the sink. runtime/cli.ts alone (no
// table backends) refuses the flow with an error naming the sink and the edge CLI.
// Run: deno test -A tests/cli_tables_test.ts   |   bun test tests/cli_tables_test.ts
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { encodeSourceValue } from "../streaming/engine.ts";
import { OrderPlaced } from "../examples/orders/flow.ts";
import {
  bootstrap,
  committedOffsets,
  createTopics,
  deleteTopics,
  endOffsets,
  sendRecords,
  sleep,
  unique,
} from "./_support.ts";
import { spawnCli } from "./_runtime_support.ts";
import { pgUrl, uniqueTable } from "./_db.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";
const FLOW = "examples/orders_table/flow.ts";
const CONFIG = "examples/orders_table/orders_table.yaml";
const N = 300;

const cli = (entry: string, args: string[], env: Record<string, string>) =>
  spawnSync(process.execPath, [
    ...(isBun ? [] : ["run", "-A"]),
    entry,
    "run",
    FLOW,
    "--config",
    CONFIG,
    ...args,
  ], {
    cwd: ROOT,
    encoding: "utf8",
    timeout: 120_000,
    env: { ...process.env, NODE_NO_WARNINGS: "1", LOOM_LOG_LEVEL: "warn", ...env },
  });

/** The example config's environment for a run on the real broker. */
const onKafka = (topic: string, group: string, table: string): Record<string, string> => ({
  LOOM_TRANSPORT: "kafka",
  LOOM_KAFKA_BROKERS: bootstrap(),
  LOOM_PG_URL: pgUrl(),
  ORDERS_TOPIC: topic,
  ORDERS_GROUP: group,
  ORDERS_TABLE: table,
});

describe("the edge CLI with a PostgreSQL table sink (real broker, real PostgreSQL)", () => {
  let sql: postgres.Sql;
  const topics: string[] = [];
  before(() => {
    sql = postgres(pgUrl(), { onnotice: () => {} });
  });
  after(async () => {
    await sql.end({ timeout: 5 });
    await deleteTopics(topics);
  });

  const orders = async (topic: string) => {
    await createTopics([topic], 3);
    await sendRecords(
      topic,
      Array.from({ length: N }, (_, i) => ({
        key: `c${i % 7}`,
        value: encodeSourceValue(
          {
            order_id: `o-${i}`,
            customer: `c${i % 7}`,
            amount: i + 0.5,
            segment: i % 3 === 0 ? "vip" : "standard",
          },
          OrderPlaced,
          { producedAtMs: 1_700_000_000_000 + i },
        ),
      })),
    );
  };

  for (const workers of [1, 2]) {
    test(`on Kafka with ${workers} worker(s): every order lands in the table, every input is committed`, {
      timeout: 150_000,
    }, async () => {
      const topic = unique("cli-orders");
      const group = unique("cli-orders-group");
      const table = uniqueTable("cli_orders");
      topics.push(topic);
      await orders(topic);
      const r = cli(
        "cli.ts",
        ["--workers", String(workers), "--max-messages", String(N)],
        onKafka(topic, group, table),
      );
      assert.equal(r.status, 0, r.stderr);
      const rows = await sql.unsafe(
        `SELECT order_id, customer, amount, vip, placed_at FROM "${table}" ORDER BY amount`,
      );
      assert.equal(rows.length, N);
      assert.deepEqual(
        { ...rows[3] },
        { order_id: "o-3", customer: "c3", amount: 3.5, vip: true, placed_at: new Date(1_700_000_000_003) },
      );
      assert.deepEqual(await committedOffsets(group, topic), await endOffsets(topic));
    });
  }

  test(
    "SIGTERM flushes the buffered rows and commits their inputs, exit 0 (1 h buffer age and commit delay)",
    {
      timeout: 150_000,
    },
    async () => {
      const topic = unique("cli-orders-term");
      const group = unique("cli-orders-term-group");
      const table = uniqueTable("cli_orders_term");
      topics.push(topic);
      await orders(topic);
      const child = spawnCli(["cli.ts", "run", FLOW, "--config", CONFIG, "--admin-port", "0"], {
        ...onKafka(topic, group, table),
        NODE_NO_WARNINGS: "1",
        LOOM_LOG_LEVEL: "info",
        ORDERS_BUFFER_AGE_S: "3600",
      });
      try {
        const deadline = performance.now() + 90_000;
        let url: string | null = null;
        for (; url === null; await sleep(50)) {
          assert.ok(performance.now() < deadline && child.running(), child.logs.join(""));
          const line = child.logs.join("").split("\n").find((l) => l.includes('"event":"admin_listening"'));
          if (line) url = JSON.parse(line).url as string;
        }
        for (;; await sleep(100)) {
          assert.ok(performance.now() < deadline && child.running(), child.logs.join(""));
          const status = await (await fetch(`${url}/status`)).json() as { totals: { consumed: number } };
          if (status.totals.consumed === N) break;
        }
        assert.equal((await sql.unsafe(`SELECT 1 FROM "${table}"`)).length, 0, "the rows are still buffered");
        assert.deepEqual(await committedOffsets(group, topic), new Map(), "so nothing is committed yet");
        child.kill("SIGTERM");
        assert.equal(await child.exited, 0, child.logs.join(""));
      } finally {
        if (child.running()) child.kill("SIGINT");
      }
      assert.equal((await sql.unsafe(`SELECT order_id FROM "${table}"`)).length, N);
      assert.deepEqual(await committedOffsets(group, topic), await endOffsets(topic));
    },
  );

  test("on the memory transport the fixture's rows land in PostgreSQL", { timeout: 120_000 }, async () => {
    const table = uniqueTable("cli_orders_mem");
    const r = cli("cli.ts", ["--fixture", "examples/orders/orders.jsonl", "--json"], {
      LOOM_TRANSPORT: "memory",
      LOOM_PG_URL: pgUrl(),
      ORDERS_TABLE: table,
    });
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.deepEqual(report.tables, { orders_table: 4 });
    assert.deepEqual(report.committed, { "orders.raw[0]": 5 });
    const ids = (await sql.unsafe(`SELECT order_id FROM "${table}" ORDER BY order_id`)).map((x) =>
      x.order_id
    );
    assert.deepEqual(ids, ["o-1", "o-2", "o-3", "o-4"]);
  });

  test("an unreachable database is a one-line startup error naming the sink, without the password", {
    timeout: 120_000,
  }, () => {
    const r = cli("cli.ts", ["--fixture", "examples/orders/orders.jsonl"], {
      LOOM_TRANSPORT: "memory",
      LOOM_PG_URL: "postgres://postgres:s3cret@127.0.0.1:1/loom",
      ORDERS_TABLE: uniqueTable("cli_orders_down"),
    });
    assert.equal(r.status, 1, r.stderr);
    assert.match(
      r.stderr,
      /^error: TableSinkError: table sink 'orders_table' \(streaming\.sinks\.orders_table\): cannot reach PostgreSQL/,
    );
    assert.doesNotMatch(r.stderr, /s3cret/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, "no stack trace");
  });

  test("runtime/cli.ts alone (no table backends) refuses the flow, naming the sink and the edge CLI", {
    timeout: 120_000,
  }, async () => {
    const topic = unique("cli-orders-none");
    topics.push(topic);
    await createTopics([topic], 1);
    const r = cli(
      "runtime/cli.ts",
      [],
      onKafka(topic, unique("cli-orders-none-group"), uniqueTable("cli_orders_none")),
    );
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /storage sink 'orders_table'/);
    assert.match(r.stderr, /cli\.ts/);
  });
});
