// A table sink that stays down, on the REAL local Kafka broker and a PRIVATE PostgreSQL 15 instance
// (scripts/postgres.sh on port 15433, stopped mid-run): the runner stops with an error naming the sink,
// nothing is committed past rows that were not written, and a restart (server back) completes with each
// input written once.
// Run: deno test -A tests/sinks_outage_test.ts   |   bun test tests/sinks_outage_test.ts
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import postgres from "postgres";
import { compileFlow } from "../mod.ts";
import { encodeSourceValue } from "../streaming/engine.ts";
import { KafkaFlowRunner } from "../runtime/mod.ts";
import { openTableWriters } from "../sinks/mod.ts";
import {
  bootstrap,
  committedOffsets,
  createTopics,
  deleteTopics,
  endOffsets,
  quiet,
  sendRecords,
  sleep,
  unique,
  waitFor,
} from "./_support.ts";
import { uniqueTable } from "./_db.ts";
import { flow, Item } from "./flows/sink_child.ts";

// No uncaughtException handler: any uncaught error (such as postgres.js's write on a torn-down socket,
// which sql.begin() used to trigger when the server died mid-transaction) fails the test on both runtimes.
const SCRIPT = fileURLToPath(new URL("../scripts/postgres.sh", import.meta.url));
const PORT = "15433";
const pg = (cmd: string): string =>
  execFileSync("bash", [SCRIPT, cmd], {
    encoding: "utf8",
    env: { ...process.env, LOOM_PG_PORT: PORT },
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 120_000,
  }).trim().split("\n").at(-1) ?? "";
const N = 30_000;

describe("table sink outage (real Kafka + a private PostgreSQL)", () => {
  const topic = unique("sink-outage-in");
  const group = unique("sink-outage-group");
  const table = uniqueTable("outage_items");
  let url = "";

  before(async () => {
    url = pg("ensure");
    const sql = postgres(url, { onnotice: () => {} });
    await sql.unsafe(`CREATE TABLE "${table}" (id bigint PRIMARY KEY, v text)`);
    await sql.end();
    await createTopics([topic], 3);
    await sendRecords(
      topic,
      Array.from({ length: N }, (_, i) => ({
        partition: i % 3, // id i is at offset floor(i / 3) of partition i % 3
        key: `k${i}`,
        value: encodeSourceValue({ id: i, v: "in" }, Item, { producedAtMs: 0 }),
      })),
    );
  });
  after(async () => {
    await deleteTopics([topic]);
    pg("stop");
  });

  const plan = () => {
    const brokers = [bootstrap()];
    return compileFlow(flow, {
      kafka: {
        consumer: {
          brokers,
          group_id: group,
          topics: [topic],
          auto_offset_reset: "earliest",
          enable_auto_commit: false,
        },
        producer: { brokers, client_id: "loom-it" },
      },
      database: { wh: { url, pool_timeout: 2 } },
      streaming: {
        runtime: { transport: "kafka", max_in_flight: 4000 },
        sinks: {
          items: {
            database: "wh",
            upsert_key: ["id"],
            table,
            buffer_max_records: 1500,
            buffer_max_age_s: 0.2,
            retries: 2,
            retry_backoff_ms: 100,
          },
        },
      },
    });
  };
  const rows = async () => {
    const sql = postgres(url, { onnotice: () => {} });
    try {
      return (await sql.unsafe(`SELECT id FROM "${table}"`)).map((r) => Number(r.id));
    } finally {
      await sql.end();
    }
  };

  test("the runner stops naming the sink, commits nothing past unwritten rows; a restart completes", {
    timeout: 180_000,
  }, async () => {
    const p1 = plan();
    const runner = new KafkaFlowRunner(p1, { tables: await openTableWriters(p1), client: quiet });
    await runner.start();
    const committedSum = async () =>
      [...(await committedOffsets(group, topic)).values()].reduce((a, b) => a + b, 0);
    const deadline = performance.now() + 90_000;
    while ((await committedSum()) < 3000) {
      assert.ok(performance.now() < deadline, "the flow never committed 3000 offsets");
      await sleep(50);
    }
    pg("stop"); // the sink goes away for good
    await waitFor(() => runner.state === "failed", 60_000, "the runner to fail");
    await runner.done;
    const reason = runner.failure instanceof Error ? runner.failure.message : String(runner.failure);
    assert.match(reason, /table sink 'items'/);
    assert.match(reason, /unavailable after 3 attempt\(s\)/);

    url = pg("ensure");
    const atFail = await committedOffsets(group, topic);
    const written = new Set(await rows());
    const committed = [...atFail.values()].reduce((a, b) => a + b, 0);
    assert.ok(committed < N, `the outage must happen mid-stream (committed ${committed} of ${N})`);
    for (let i = 0; i < N; i++) {
      if (Math.floor(i / 3) < (atFail.get(i % 3) ?? 0)) {
        assert.ok(written.has(i), `input ${i} was committed although its row was not written`);
      }
    }

    const p2 = plan();
    const again = new KafkaFlowRunner(p2, { tables: await openTableWriters(p2), client: quiet });
    await again.start();
    const high = await endOffsets(topic);
    try {
      const until = performance.now() + 90_000;
      for (;;) {
        const c = await committedOffsets(group, topic);
        if ([...high].every(([p, h]) => c.get(p) === h)) break;
        assert.ok(performance.now() < until, "the restarted runner did not catch up");
        assert.equal(again.failure, null);
        await sleep(100);
      }
    } finally {
      await again.stop();
    }
    const ids = await rows();
    assert.equal(ids.length, N);
    console.log(
      `sink outage test: failed with ${committed}/${N} committed, ${written.size} rows written; after restart ${ids.length} rows`,
    );
  });
});
