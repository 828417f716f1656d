// flush_on_shutdown on the REAL local Kafka broker and the REAL PostgreSQL: with false, a graceful stop
// writes none of the buffered rows AND commits none of their inputs (never committed-and-lost); a restart
// with true gets every input again and writes each row once, committing up to the end of the topic.
// Run: deno test -A tests/sinks_shutdown_test.ts   |   bun test tests/sinks_shutdown_test.ts
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
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
  unique,
  waitFor,
} from "./_support.ts";
import { pgUrl, uniqueTable } from "./_db.ts";
import { flow, Item } from "./flows/sink_child.ts";

const N = 600;

describe("flush_on_shutdown (real Kafka + real PostgreSQL)", () => {
  const topic = unique("sink-shutdown-in");
  const group = unique("sink-shutdown-group");
  const table = uniqueTable("shutdown_items");
  let sql: postgres.Sql;

  before(async () => {
    sql = postgres(pgUrl(), { onnotice: () => {} });
    await sql.unsafe(`CREATE TABLE "${table}" (id bigint PRIMARY KEY, v text)`);
    await createTopics([topic], 3);
    await sendRecords(
      topic,
      Array.from({ length: N }, (_, i) => ({
        partition: i % 3,
        key: `k${i}`,
        value: encodeSourceValue({ id: i, v: "in" }, Item, { producedAtMs: 0 }),
      })),
    );
  });
  after(async () => {
    await sql.end({ timeout: 5 });
    await deleteTopics([topic]);
  });

  const runner = (flushOnShutdown: boolean) => {
    const brokers = [bootstrap()];
    const plan = compileFlow(flow, {
      kafka: {
        consumer: { brokers, group_id: group, topics: [topic], auto_offset_reset: "earliest" },
        producer: { brokers, client_id: "loom-it" },
      },
      database: { wh: { url: pgUrl() } },
      streaming: {
        runtime: { transport: "kafka", max_in_flight: 100_000 },
        sinks: {
          items: {
            database: "wh",
            table,
            upsert_key: ["id"],
            flush_on_shutdown: flushOnShutdown,
            buffer_max_records: 100_000,
            buffer_max_age_s: 3600,
            max_commit_delay_s: 3600,
          },
        },
      },
    });
    return new KafkaFlowRunner(plan, { openTables: openTableWriters, client: quiet });
  };
  const count = async () => Number((await sql.unsafe(`SELECT count(*)::int AS n FROM "${table}"`))[0].n);

  test("false: nothing written, nothing committed at a graceful stop; a restart writes each row once", {
    timeout: 120_000,
  }, async () => {
    const first = runner(false);
    await first.start();
    await waitFor(() => first.driver.stats.consumed === N, 60_000, `the runner to consume ${N} records`);
    assert.equal(await count(), 0, "the rows are still buffered");
    await first.stop();
    assert.equal(first.failure, null);
    assert.equal(await count(), 0, "flush_on_shutdown: false writes nothing at shutdown");
    assert.deepEqual(await committedOffsets(group, topic), new Map(), "and commits none of their inputs");

    const second = runner(true);
    await second.start();
    await waitFor(() => second.driver.stats.consumed === N, 60_000, `the restart to consume ${N} records`);
    await second.stop();
    assert.equal(second.failure, null);
    assert.equal(await count(), N);
    assert.deepEqual(await committedOffsets(group, topic), await endOffsets(topic));
  });
});
