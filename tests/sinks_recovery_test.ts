// Crash recovery with a table sink on the REAL local Kafka broker and PostgreSQL 15: a flow process writing
// to an IntoTable (upsert_key id) is killed with SIGKILL mid-stream. At the kill, every input below the
// committed offsets has its row in the table (commits never pass unwritten rows); after a restart every
// input has exactly one row (the replayed ones are upserted).
// Run: deno test -A tests/sinks_recovery_test.ts   |   bun test tests/sinks_recovery_test.ts
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { Buffer } from "node:buffer";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { Kafka, logLevel } from "kafkajs";
import postgres from "postgres";
import { encodeSourceValue } from "../streaming/engine.ts";
import {
  bootstrap,
  committedOffsets,
  createTopics,
  deleteTopics,
  endOffsets,
  sleep,
  unique,
} from "./_support.ts";
import { pgUrl, uniqueTable } from "./_db.ts";
import { Item } from "./flows/sink_child.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const N = 30_000;

describe("table sink crash recovery (real Kafka + PostgreSQL)", () => {
  const topic = unique("sink-crash-in");
  const group = unique("sink-crash-group");
  const table = uniqueTable("crash_items");
  let sql: postgres.Sql;
  const logs: string[] = [];

  before(async () => {
    sql = postgres(pgUrl(), { onnotice: () => {} });
    await createTopics([topic], 3);
    const producer = new Kafka({ brokers: [bootstrap()], clientId: "loom-it-in", logLevel: logLevel.NOTHING })
      .producer();
    await producer.connect();
    for (let from = 0; from < N; from += 5000) {
      // id i goes to partition i % 3 at offset floor(i / 3)
      const messages = Array.from({ length: 5000 }, (_, k) => from + k).map((i) => ({
        partition: i % 3,
        key: `k${i}`,
        value: Buffer.from(encodeSourceValue({ id: i, v: "in" }, Item, { producedAtMs: 0 })),
      }));
      await producer.send({ topic, messages, acks: -1 });
    }
    await producer.disconnect();
  });
  after(async () => {
    await sql.end({ timeout: 5 });
    await deleteTopics([topic]);
  });

  const config = () => {
    const brokers = [bootstrap()];
    return {
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
      database: { wh: { url: pgUrl() } },
      streaming: {
        runtime: { transport: "kafka", max_in_flight: 4000 },
        sinks: {
          items: {
            database: "wh",
            table,
            create_table: true,
            upsert_key: ["id"],
            buffer_max_records: 1500,
            buffer_max_age_s: 0.2,
          },
        },
      },
    };
  };
  const start = (): ChildProcess => {
    const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";
    const script = ["tests/flows/sink_child.ts"];
    const child = spawn(process.execPath, isBun ? script : ["run", "-A", ...script], {
      cwd: ROOT,
      env: { ...process.env, LOOM_IT_SINK_CONFIG: JSON.stringify(config()) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    child.stdout!.on("data", (d) => logs.push(String(d)));
    child.stderr!.on("data", (d) => logs.push(String(d)));
    return child;
  };
  const exited = (c: ChildProcess) =>
    new Promise<number | null>((
      r,
    ) => (c.exitCode !== null ? r(c.exitCode) : c.once("exit", (code) => r(code))));
  const rows = async () =>
    (await sql.unsafe(`SELECT id FROM "${table}"`).catch(() => [])).map((r) => Number(r.id));
  const committedSum = async () =>
    [...(await committedOffsets(group, topic)).values()].reduce((a, b) => a + b, 0);

  test("killed mid-stream: commits never passed unwritten rows; after a restart each input has one row", {
    timeout: 180_000,
  }, async () => {
    let child = start();
    const deadline = performance.now() + 90_000;
    while ((await committedSum()) < 3000) {
      assert.ok(performance.now() < deadline, `the flow never committed 3000 offsets:\n${logs.join("")}`);
      assert.equal(child.exitCode, null, `the flow exited early:\n${logs.join("")}`);
      await sleep(50);
    }
    child.kill("SIGKILL");
    await exited(child);
    const atKill = await committedOffsets(group, topic);
    const killedAfter = [...atKill.values()].reduce((a, b) => a + b, 0);
    const written = new Set(await rows());
    let checked = 0;
    for (let i = 0; i < N; i++) {
      if (Math.floor(i / 3) < (atKill.get(i % 3) ?? 0)) {
        checked++;
        assert.ok(written.has(i), `input ${i} (partition ${i % 3}) was committed before its row was written`);
      }
    }
    assert.equal(checked, killedAfter);
    assert.ok(killedAfter < N, `the kill must happen mid-stream (committed ${killedAfter} of ${N})`);

    child = start();
    const high = await endOffsets(topic);
    const until = performance.now() + 90_000;
    for (;;) {
      const c = await committedOffsets(group, topic);
      if ([...high].every(([p, h]) => c.get(p) === h)) break;
      assert.ok(performance.now() < until, `the restarted flow did not catch up:\n${logs.join("")}`);
      assert.equal(child.exitCode, null, `the restarted flow exited:\n${logs.join("")}`);
      await sleep(100);
    }
    const code = exited(child);
    process.kill(child.pid!, "SIGTERM");
    assert.equal(await code, 0, `graceful stop on SIGTERM:\n${logs.join("")}`);
    const ids = await rows();
    assert.equal(ids.length, N, "one row per input (upserted replays)");
    assert.equal(new Set(ids).size, N);
    console.log(
      `sink crash test: killed with ${killedAfter}/${N} committed and ${written.size} rows written; after restart ${ids.length} rows`,
    );
  });
});
