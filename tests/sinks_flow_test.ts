// End-to-end: a flow on the REAL local Kafka broker whose Fork sends each kind of record to its own
// IntoTable (PostgreSQL, ClickHouse, Delta Lake), through KafkaFlowRunner with writers from
// openTableWriters. Checks the rows read back from each store, that a row PostgreSQL refuses reaches the task
// error route with the server's message, that offsets are committed only once the rows are written, and that
// a replay of the whole input (committed offsets reset, as after a crash before the commit) leaves each row
// once in every store (PostgreSQL upsert, ClickHouse ReplacingMergeTree FINAL, Delta txn). A custom IntoSink
// (no registration) runs alongside.
// Run: deno test -A tests/sinks_flow_test.ts   |   bun test tests/sinks_flow_test.ts
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { Buffer } from "node:buffer";
import { join } from "node:path";
import { createClient } from "@clickhouse/client";
import { Kafka, logLevel } from "kafkajs";
import postgres from "postgres";
import * as v from "valibot";
import {
  compileFlow,
  ErrorRoute,
  Fork,
  FromTopic,
  type IntoSink,
  IntoTable,
  IntoTopic,
  type Message,
  messageType,
  msg,
  Process,
  RecordStep,
  StreamFlow,
} from "../mod.ts";
import { decodeOutputRecord, encodeSourceValue } from "../streaming/engine.ts";
import { KafkaFlowRunner } from "../runtime/mod.ts";
import { openTableWriters } from "../sinks/mod.ts";
import {
  bootstrap,
  committedOffsets,
  createTopics,
  deleteTopics,
  endOffsets,
  quiet,
  readTopics,
  unique,
  waitFor,
  withAdmin,
} from "./_support.ts";
import { chUrl, pgUrl, python, uniqueTable } from "./_db.ts";

const int = v.pipe(v.number(), v.integer());
const Input = messageType(
  "loom.it.SinkInput",
  v.object({ id: int, kind: v.picklist(["order", "click", "log"]), qty: int }),
);
const Order = messageType("loom.it.SinkOrder", v.object({ id: int, qty: int, total: v.number() }));
const Click = messageType("loom.it.SinkClick", v.object({ id: int, page: v.string(), at: v.date() }));
const Log = messageType("loom.it.SinkLog", v.object({ id: int, line: v.string() }));
type InputT = v.InferOutput<typeof Input.schema>;

const N = 900;
const POISON = 301; // an order with a negative quantity: PostgreSQL's CHECK constraint refuses it
const kindOf = (
  i: number,
): InputT["kind"] => (i === POISON ? "order" : (["order", "click", "log"] as const)[i % 3]);

const auditRows: unknown[] = [];
/** A custom storage sink: no registration, its own writer. */
const audit: IntoSink<unknown> = {
  kind: "sink",
  name: "audit",
  createWriter: () => ({ write: (rows) => void auditRows.push(...rows) }),
};

const flow = new StreamFlow<InputT>({
  name: "it_sinks",
  source: new FromTopic("in", Input),
  process: new Process(
    Fork.by(msg.payload.field("kind"), {
      order: new Process(
        RecordStep.of(
          (m: Message<InputT>) => ({ id: m.payload.id, qty: m.payload.qty, total: m.payload.qty * 2.5 }),
          {
            name: "to_order",
            output: Order,
          },
        ),
        new IntoTable({ name: "orders", backend: "postgres", payload: Order }),
      ),
      click: new Process(
        RecordStep.of(
          (m: Message<InputT>) => ({
            id: m.payload.id,
            page: `/p/${m.payload.id % 7}`,
            at: new Date(1_700_000_000_000 + m.payload.id * 1000),
          }),
          {
            name: "to_click",
            output: Click,
          },
        ),
        new IntoTable({ name: "clicks", backend: "clickhouse", payload: Click }),
      ),
    }, {
      default: new Process(
        RecordStep.of((m: Message<InputT>) => ({ id: m.payload.id, line: `log ${m.payload.id}` }), {
          name: "to_log",
          output: Log,
        }),
        Fork.by(msg.payload.field("line"), { "log 5": new Process(audit) }, {
          default: new Process(new IntoTable({ name: "logs", backend: "delta", payload: Log })),
        }),
      ),
    }),
  ),
  errors: [new ErrorRoute(["task"], new IntoTopic("task_errors"))],
});

describe("IntoTable through KafkaFlowRunner (real Kafka, PostgreSQL, ClickHouse, Delta)", () => {
  const topics = { in: unique("sinks-in"), errors: unique("sinks-errors") };
  const group = unique("sinks-group");
  const tables = { orders: uniqueTable("flow_orders"), clicks: uniqueTable("flow_clicks") };
  let dir: string;
  let sql: postgres.Sql;
  const ch = () => createClient({ url: chUrl() });

  const config = (): Record<string, unknown> => {
    const brokers = [bootstrap()];
    return {
      kafka: {
        consumer: {
          brokers,
          group_id: group,
          topics: [topics.in],
          auto_offset_reset: "earliest",
          enable_auto_commit: false,
          extra: { "session.timeout.ms": 6000, "heartbeat.interval.ms": 300 },
        },
        producer: { brokers, client_id: "loom-it" },
        producers: { task_errors: { brokers, client_id: "loom-it", topic: topics.errors } },
      },
      database: { wh: { url: pgUrl() }, ch: { http_url: chUrl() } },
      streaming: {
        runtime: { transport: "kafka", unrouted_errors: "fail" },
        sinks: {
          orders: { database: "wh", table: tables.orders, upsert_key: ["id"], buffer_max_age_s: 0.3 },
          clicks: {
            database: "ch",
            table: tables.clicks,
            create_table: true,
            upsert_key: ["id"],
            buffer_max_age_s: 0.3,
          },
          logs: { uri: join(dir, "logs"), buffer_max_age_s: 0.3 },
        },
      },
    };
  };

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "loom-flow-"));
    sql = postgres(pgUrl(), { onnotice: () => {} });
    await sql.unsafe(
      `CREATE TABLE "${tables.orders}" (id bigint PRIMARY KEY, qty bigint CHECK (qty >= 0), total double precision)`,
    );
    await createTopics([topics.in, topics.errors], 3);
    const producer = new Kafka({ brokers: [bootstrap()], clientId: "loom-it-in", logLevel: logLevel.NOTHING })
      .producer();
    await producer.connect();
    const messages = Array.from({ length: N }, (_, i) => ({
      key: `k${i}`,
      value: Buffer.from(
        encodeSourceValue({ id: i, kind: kindOf(i), qty: i === POISON ? -1 : i }, Input, {
          producedAtMs: 1_700_000_000_000,
        }),
      ),
    }));
    await producer.send({ topic: topics.in, messages, acks: -1 });
    await producer.disconnect();
  });
  after(async () => {
    await sql.end({ timeout: 5 });
    await deleteTopics([topics.in, topics.errors]);
    rmSync(dir, { recursive: true, force: true });
  });

  const runOnce = async () => {
    const plan = compileFlow(flow, config());
    const runner = new KafkaFlowRunner(plan, { tables: await openTableWriters(plan), client: quiet });
    await runner.start();
    const ends = await endOffsets(topics.in);
    const total = [...ends.values()].reduce((a, b) => a + b, 0);
    try {
      // every input settled and committed: the commit follows the flushes
      await waitFor(
        () => runner.driver.stats.consumed >= total && runner.driver.inFlight === 0,
        60_000,
        "all inputs settled",
      );
    } finally {
      await runner.stop();
    }
    assert.equal(runner.failure, null);
    const committed = await committedOffsets(group, topics.in);
    for (const [p, high] of ends) assert.equal(committed.get(p), high, `partition ${p} committed to its end`);
    return runner;
  };

  const counts = async () => {
    const [{ n: pg }] = await sql.unsafe(`SELECT count(*)::int AS n FROM "${tables.orders}"`);
    const c = ch();
    const [{ n: chn }] = await (await c.query({
      query: `SELECT count() AS n FROM ${tables.clicks} FINAL`,
      format: "JSONEachRow",
    })).json<{ n: string }>();
    await c.close();
    const py = python();
    const delta = Number(
      execFileSync(py, [
        "-c",
        // os._exit: delta-rs' runtime threads can abort the interpreter's shutdown ("terminate called
        // without an active exception") after the answer was printed
        "import os, sys; from deltalake import DeltaTable; print(DeltaTable(sys.argv[1]).to_pyarrow_table().num_rows, flush=True); os._exit(0)",
        join(dir, "logs"),
      ], { encoding: "utf8" }).trim(),
    );
    return { pg, ch: Number(chn), delta };
  };

  const expected = () => {
    let orders = 0, clicks = 0, logs = 0;
    for (let i = 0; i < N; i++) {
      const k = kindOf(i);
      if (k === "order") orders += i === POISON ? 0 : 1;
      else if (k === "click") clicks++;
      else if (i !== 5) logs++;
    }
    return { pg: orders, ch: clicks, delta: logs };
  };

  test("each kind lands in its table; the refused row goes to the task error route with PostgreSQL's message", async () => {
    const runner = await runOnce();
    assert.deepEqual(await counts(), expected());
    assert.equal(runner.driver.stats.tableRows.orders, expected().pg);
    assert.deepEqual(auditRows, [{ id: 5, line: "log 5" }]);
    const row = await sql.unsafe(`SELECT qty, total FROM "${tables.orders}" WHERE id = 30`);
    assert.deepEqual(row.map((r) => [Number(r.qty), r.total]), [[30, 75]]);
    const errors = await readTopics([topics.errors]);
    assert.equal(errors.length, 1);
    const out = decodeOutputRecord(errors[0]);
    const env = out.payload as { reason: string; kind: string; original_message?: unknown };
    assert.match(JSON.stringify(env), /violates check constraint/);
    assert.match(JSON.stringify(env), /table sink 'orders' refused the row/);
  });

  test("a replay of the whole input (offsets reset, as after a crash) leaves each row once", async () => {
    await withAdmin((admin) => admin.resetOffsets({ groupId: group, topic: topics.in, earliest: true }));
    await runOnce();
    assert.deepEqual(await counts(), expected());
  });
});
