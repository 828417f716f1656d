// Exactly-once across a broker restart (a private broker on its own port, as tests/kafka_outage_test.ts):
// the broker is stopped mid-stream and started again; the runner either rides the restart out or fails
// (its open transaction aborted), and a runner with the same transactional id finishes the input. A
// read_committed reader then sees every input's output exactly once.
// Run: deno test -A tests/kafka_eos_outage_test.ts   |   bun test tests/kafka_eos_outage_test.ts
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { Buffer } from "node:buffer";
import * as v from "valibot";
import { type Admin, Kafka, logLevel } from "kafkajs";
import {
  compileFlow,
  ConfigContext,
  FromTopic,
  IntoTopic,
  type Message,
  messageType,
  Process,
  RecordStep,
  StreamFlow,
} from "../mod.ts";
import { encodeSourceValue } from "../streaming/engine.ts";
import { KafkaFlowRunner } from "../runtime/mod.ts";
import { quiet, sleep, unique, waitFor } from "./_support.ts";
import { readCommitted, text } from "./_recovery.ts";

const SCRIPT = fileURLToPath(new URL("../scripts/kafka.sh", import.meta.url));
// Not the shared test broker: this one is stopped and restarted (scripts/test.sh picks LOOM_OUTAGE_PORT).
const PORT = process.env.LOOM_OUTAGE_PORT ?? "19192";
const broker = (command: string): string =>
  execFileSync("bash", [SCRIPT, command], {
    encoding: "utf8",
    env: { ...process.env, LOOM_KAFKA_PORT: PORT, LOOM_KAFKA_HEAP: "256m" },
    stdio: ["ignore", "pipe", "inherit"],
    timeout: 180_000,
  }).trim().split("\n").at(-1) ?? "";

const Job = messageType("loom.it.Job", v.object({ id: v.string() }));
type JobT = v.InferOutput<typeof Job.schema>;

/** 1 ms per record: 3,000 records take seconds, so the restart lands mid-stream. */
const flow = new StreamFlow<JobT>({
  name: "it_eos_outage",
  source: new FromTopic("in", Job),
  process: new Process(RecordStep.of(async (m: Message<JobT>) => {
    await sleep(1);
    return m.payload;
  }, { name: "work" })),
  output: new IntoTopic("out"),
});

describe("exactly-once across a broker restart", () => {
  let bootstrap = "";
  const input = unique("eos-outage-in");
  const out = unique("eos-outage-out");
  const kafka = () =>
    new Kafka({ brokers: [bootstrap], clientId: "loom-it-eos-outage", logLevel: logLevel.NOTHING });
  const withAdmin = async <T>(fn: (a: Admin) => Promise<T>): Promise<T> => {
    const admin = kafka().admin();
    await admin.connect();
    try {
      return await fn(admin);
    } finally {
      await admin.disconnect();
    }
  };
  /** The group's committed offsets (retried while the restarted broker's coordinator is loading). */
  const committed = async (group: string): Promise<Map<number, number>> => {
    for (let attempt = 0;; attempt++) {
      try {
        return await withAdmin(async (a) => {
          const [r] = await a.fetchOffsets({ groupId: group, topics: [input] });
          return new Map(r.partitions.map((p) => [p.partition, Math.max(0, Number(p.offset))] as const));
        });
      } catch (e) {
        if (attempt >= 50) throw e;
        await sleep(200);
      }
    }
  };
  const configFor = (group: string) => {
    const client = { retries: 2, "retry.backoff.ms": 200, "request.timeout.ms": 3000 };
    return ConfigContext.fromObject({
      kafka: {
        consumer: {
          brokers: [bootstrap],
          group_id: group,
          topics: [input],
          enable_auto_commit: false,
          extra: { "session.timeout.ms": 6000, "heartbeat.interval.ms": 300, ...client },
        },
        producer: { brokers: [bootstrap], extra: client },
        producers: { out: { brokers: [bootstrap], topic: out, extra: client } },
      },
      streaming: {
        runtime: { processing_guarantee: "exactly_once", delivery_retries: 1, retry_backoff_ms: 100 },
      },
    });
  };

  before(async () => {
    broker("reset");
    bootstrap = broker("ensure");
    await withAdmin((a) =>
      a.createTopics({ topics: [{ topic: input, numPartitions: 3 }, { topic: out, numPartitions: 3 }] })
    );
  });
  after(() => {
    broker("stop");
  });

  test("the broker stops and starts mid-stream: every output exactly once for read_committed", {
    timeout: 240_000,
  }, async () => {
    const N = 3000;
    const producer = kafka().producer();
    await producer.connect();
    const messages = Array.from({ length: N }, (_, i) => ({
      key: `j-${i}`,
      value: Buffer.from(encodeSourceValue({ id: `j-${i}` }, Job, { producedAtMs: 1 })),
    }));
    await producer.send({ topic: input, messages, acks: -1 });
    await producer.disconnect();

    const group = unique("eos-group");
    const runnerFor = () =>
      new KafkaFlowRunner(compileFlow(flow, configFor(group)), { client: { ...quiet, logLevel: "nothing" } });
    const first = runnerFor();
    await first.start();
    await waitFor(() => (first.driver.stats.produced[out] ?? 0) >= 300, 30_000, "the flow to get going");
    broker("stop");
    const producedBefore = first.driver.stats.produced[out] ?? 0;
    await sleep(2_000);
    bootstrap = broker("ensure");
    assert.ok(producedBefore < N, "the restart happened mid-stream");
    await Promise.race([first.done, sleep(5_000)]);
    let finisher = first;
    if (first.state === "failed") {
      console.log(
        `eos outage test: the first runner failed: ${(first.failure as Error)?.message ?? first.failure}`,
      );
      finisher = runnerFor(); // the same transactional id: it fences the first instance
      await finisher.start();
    }
    const ends = new Map(
      (await withAdmin((a) => a.fetchTopicOffsets(input))).map((e) => [e.partition, Number(e.high)] as const),
    );
    const until = performance.now() + 90_000;
    for (;;) {
      const c = await committed(group);
      if ([...ends].every(([p, h]) => c.get(p) === h)) break;
      assert.ok(
        performance.now() < until && finisher.failure === null,
        `no full commit: ${finisher.failure}`,
      );
      await sleep(200);
    }
    await finisher.stop();
    if (finisher !== first) await first.stop();
    const records = await readCommitted([out], N, 1_500, 30_000, [bootstrap]);
    const counts = new Map<string, number>();
    for (const r of records) counts.set(text(r.key)!, (counts.get(text(r.key)!) ?? 0) + 1);
    const missing = messages.map((m) => m.key).filter((k) => !counts.has(k));
    const dups = [...counts.values()].reduce((s, c) => s + c - 1, 0);
    console.log(
      `eos outage test: ${producedBefore}/${N} produced before the broker stopped; ` +
        `${finisher === first ? "the runner rode the restart out" : "a second runner finished"}; ` +
        `${records.length} committed outputs, ${dups} duplicate(s), ${missing.length} missing`,
    );
    assert.deepEqual(missing, []);
    assert.equal(dups, 0);
  });
});
