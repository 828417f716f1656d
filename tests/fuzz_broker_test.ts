// Fuzz test on the REAL broker (a smaller run of testing/_fuzz_corpus.ts, default topic limits): every bad
// record becomes a wire error with its raw bytes or is dead-lettered (on_unwritable: dead_letter), every good
// one is written, and the committed offsets reach the end of the input.
// Run: deno test -A tests/fuzz_broker_test.ts   |   bun test tests/fuzz_broker_test.ts
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { Buffer } from "node:buffer";
import { Kafka, logLevel } from "kafkajs";
import { compileFlow, ConfigContext, type DecodeError } from "../mod.ts";
import { decodeOutputRecord } from "../streaming/engine.ts";
import { KafkaFlowRunner } from "../runtime/mod.ts";
import { fuzzCorpus, fuzzFlow } from "../testing/_fuzz_corpus.ts";
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
} from "./_support.ts";

const SEED = Number(process.env.LOOM_FUZZ_SEED ?? 20261201);
const N = Number(process.env.LOOM_FUZZ_BROKER_RECORDS ?? 80);
const text = (
  b: Uint8Array | null | undefined,
): string | null => (b == null ? null : new TextDecoder().decode(b));

describe("fuzz: bad records never stop a partition (real broker, default topic limits)", () => {
  const topics = { input: unique("fz-in"), out: unique("fz-out"), errors: unique("fz-errors") };
  const dead = unique("fz-dead");
  const corpus = fuzzCorpus(SEED, N);

  before(async () => {
    await createTopics([topics.input, topics.out, topics.errors, dead], 1);
    const producer = new Kafka({
      brokers: [bootstrap()],
      clientId: "loom-it-fuzz",
      logLevel: logLevel.NOTHING,
    })
      .producer();
    await producer.connect();
    for (const r of corpus) { // one by one: a few inputs are several hundred KB
      await producer.send({
        topic: topics.input,
        acks: -1,
        messages: [{
          key: r.key,
          value: r.value === null ? null : Buffer.from(r.value),
          headers: Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, Buffer.from(v)])),
        }],
      });
    }
    await producer.disconnect();
  });
  after(() => deleteTopics([topics.input, topics.out, topics.errors, dead]));

  test(`seed ${SEED}, ${N} records`, { timeout: 90_000 }, async () => {
    const group = unique("fz-group");
    const brokers = [bootstrap()];
    const config = ConfigContext.fromObject({
      kafka: {
        consumer: {
          brokers,
          group_id: group,
          topics: [topics.input],
          enable_auto_commit: false,
          extra: { "session.timeout.ms": 6000, "heartbeat.interval.ms": 300 },
        },
        producer: { brokers, client_id: "loom-it-fuzz" },
      },
      streaming: {
        runtime: {
          transport: "kafka",
          on_unwritable: "dead_letter",
          dead_letter_topic: dead,
          retry_backoff_ms: 10,
        },
      },
    });
    const high = await endOffsets(topics.input);
    const committed = new Map<number, number>();
    const runner = new KafkaFlowRunner(compileFlow(fuzzFlow(topics), config), {
      client: { ...quiet, logLevel: "nothing" },
      onCommit: (offsets) => offsets.forEach((o) => committed.set(o.partition, o.offset)),
    });
    await runner.start();
    await waitFor(
      () => [...high].every(([p, h]) => committed.get(p) === h) || runner.failure !== null,
      75_000,
      "everything to commit",
    );
    await runner.stop();
    assert.equal(runner.failure, null, String(runner.failure));
    assert.deepEqual(await committedOffsets(group, topics.input), high, "offsets commit to the end");

    const inputs = await readTopics([topics.input]);
    const byKey = new Map(inputs.map((r) => [text(r.key)!, r] as const));
    const outKeys = new Set((await readTopics([topics.out])).map((r) => text(r.key)));
    const errors = (await readTopics([topics.errors])).map((r) => decodeOutputRecord(r));
    const wire = new Map<number, DecodeError>();
    const task = new Set<string>();
    for (const e of errors) {
      if (text(e.record.headers["x-error-kind"]) === "wire") {
        const d = e.payload as DecodeError;
        wire.set(d.offset ?? -1, d);
      } else task.add(text(e.record.key)!);
    }
    const deadBy = new Map((await readTopics([dead])).map((r) => [text(r.key)!, r] as const));
    const counts: Record<string, number> = {};
    for (const r of corpus) {
      counts[r.fate] = (counts[r.fate] ?? 0) + 1;
      const input = byKey.get(r.key)!;
      const what = `${r.key} (${r.label})`;
      if (r.fate === "out") assert.ok(outKeys.has(r.key), `${what} is written`);
      else if (r.fate === "task") assert.ok(task.has(r.key), `${what} is a task error`);
      else if (r.fate === "wire") {
        const d = wire.get(input.offset);
        assert.ok(d, `${what} is a wire error`);
        assert.deepEqual(
          new Uint8Array(d.raw),
          new Uint8Array(input.value ?? []),
          `${what} keeps its raw bytes`,
        );
        if (r.reason) assert.match(d.error.reason, r.reason, what);
      } else {
        const d = deadBy.get(r.key);
        assert.ok(d, `${what} is dead-lettered`);
        assert.deepEqual(new Uint8Array(d.value!), new Uint8Array(input.value!), `${what}: the raw input`);
        assert.equal(text(d.headers["x-dlq-source-offset"]), String(input.offset));
        assert.match(text(d.headers["x-dlq-error"])!, /too large|max message size|MESSAGE_TOO_LARGE/i);
      }
    }
    assert.equal(outKeys.size, counts.out ?? 0, "nothing else is written");
    console.log(`fuzz (broker, seed ${SEED}): ${JSON.stringify(counts)}`);
  });
});
