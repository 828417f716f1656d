// Integration test: the broker goes away while a flow is running (a second, private broker on its own
// port, stopped mid-stream). The runner must fail with a clear error instead of hanging or committing
// ahead, and a new runner started once the broker is back must finish the work without losing anything.
// Under exactly_once, a broker restart mid-stream leaves every output exactly once for read_committed.
// Run: deno test -A tests/kafka_outage_test.ts   |   bun test tests/kafka_outage_test.ts
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
  WithAsync,
} from "../mod.ts";
import { encodeSourceValue } from "../streaming/engine.ts";
import { KafkaFlowRunner } from "../runtime/mod.ts";
import { KafkaConsumerClient } from "../runtime/kafkajs/mod.ts";
import type { SourceRecord } from "../streaming/_transport.ts";
import { quiet, sleep, unique, waitFor, waitForLeaders } from "./_support.ts";
import { readCommitted, text } from "./_recovery.ts";

const SCRIPT = fileURLToPath(new URL("../scripts/kafka.sh", import.meta.url));
// Not the shared test broker: this one is stopped and restarted. scripts/test.sh gives each run its own port
// (LOOM_OUTAGE_PORT), so two test runs on one machine never stop each other's private broker.
const PORT = process.env.LOOM_OUTAGE_PORT ?? "19192";
const broker = (command: string): string =>
  execFileSync("bash", [SCRIPT, command], {
    encoding: "utf8",
    env: { ...process.env, LOOM_KAFKA_PORT: PORT, LOOM_KAFKA_HEAP: "256m" },
    stdio: ["ignore", "pipe", "inherit"],
    timeout: 180_000,
  }).trim().split("\n").at(-1) ?? "";

const dec = new TextDecoder();
const Job = messageType("loom.it.Job", v.object({ id: v.string() }));
type JobT = v.InferOutput<typeof Job.schema>;

/** Each message takes a few ms in an async step (4 at a time): the input takes seconds to drain. */
const flow = new StreamFlow<JobT>({
  name: "it_outage",
  source: new FromTopic("in", Job),
  process: new Process(
    new WithAsync({
      maxConcurrency: 4,
      process: new Process(
        RecordStep.of(async (m: Message<JobT>) => {
          await sleep(4);
          return m.payload;
        }, { name: "work" }),
        new IntoTopic("out"),
      ),
    }),
  ),
});

describe("broker outage", () => {
  let bootstrap = "";
  const input = unique("outage-in");
  const out = unique("outage-out");
  const kafka = () =>
    new Kafka({ brokers: [bootstrap], clientId: "loom-it-outage", logLevel: logLevel.NOTHING });
  const withAdmin = async <T>(fn: (a: Admin) => Promise<T>): Promise<T> => {
    const admin = kafka().admin();
    await admin.connect();
    try {
      return await fn(admin);
    } finally {
      await admin.disconnect();
    }
  };
  /** The group's committed offsets (retried while a restarted broker's coordinator is still loading). */
  const committed = async (group: string): Promise<Map<number, number>> => {
    for (let attempt = 0;; attempt++) {
      try {
        return await withAdmin(async (a) => {
          const [r] = await a.fetchOffsets({ groupId: group, topics: [input] });
          return new Map(r.partitions.map((p) => [p.partition, Math.max(0, Number(p.offset))] as const));
        });
      } catch (e) {
        if (attempt >= 50 || !/coordinator is (loading|not available)/i.test(String(e))) throw e;
        await sleep(200);
      }
    }
  };
  /** The same flow with every client and runtime setting at its default (what a deployment gets). */
  const defaultConfigFor = (group: string) =>
    ConfigContext.fromObject({
      kafka: {
        consumer: { brokers: [bootstrap], group_id: group, topics: [input], enable_auto_commit: false },
        producer: { brokers: [bootstrap] },
        producers: { out: { brokers: [bootstrap], topic: out } },
      },
    });
  const configFor = (group: string, runtime: Record<string, unknown> = {}) => {
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
      streaming: { runtime: { delivery_retries: 1, retry_backoff_ms: 100, ...runtime } },
    });
  };
  /** Every record of a topic (from a throw-away group) up to the current end offsets. */
  const readAll = async (topic: string): Promise<SourceRecord[]> => {
    const ends = await withAdmin((a) => a.fetchTopicOffsets(topic));
    const want = new Map(ends.map((e) => [e.partition, Number(e.high)] as const));
    const got = new Map<number, number>();
    const records: SourceRecord[] = [];
    const c = new KafkaConsumerClient({
      brokers: [bootstrap],
      groupId: unique("reader"),
      topics: [],
      autoOffsetReset: "earliest",
      pollTimeoutMs: 100,
      enableAutoCommit: false,
      security: null,
      extra: { "session.timeout.ms": 6000, "heartbeat.interval.ms": 300 },
    }, quiet);
    await c.connect();
    await c.subscribe([topic], true);
    await c.run({
      onBatch: (b) => {
        for (const r of b.records) records.push(r);
        got.set(b.partition, b.records[b.records.length - 1].offset + 1);
        return Promise.resolve();
      },
    });
    await waitFor(
      () => [...want].every(([p, h]) => h === 0 || (got.get(p) ?? 0) >= h),
      30_000,
      `reading ${topic}`,
    );
    await c.stop();
    await c.disconnect();
    return records;
  };

  /** Produces jobs `<prefix>-0 … <prefix>-(n-1)` to the input; resolves with their keys. */
  const produceJobs = async (prefix: string, n: number): Promise<string[]> => {
    const producer = kafka().producer();
    await producer.connect();
    const keys = Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
    const messages = keys.map((key) => ({
      key,
      value: Buffer.from(encodeSourceValue({ id: key }, Job, { producedAtMs: 1 })),
    }));
    await producer.send({ topic: input, messages, acks: -1 });
    await producer.disconnect();
    return keys;
  };
  /** High watermark of every partition of `topic`. */
  const endsOf = async (topic: string): Promise<Map<number, number>> =>
    new Map(
      (await withAdmin((a) => a.fetchTopicOffsets(topic))).map((e) => [e.partition, Number(e.high)] as const),
    );

  before(async () => {
    broker("reset"); // a clean private broker
    bootstrap = broker("ensure");
    await withAdmin(async (a) => {
      // kafkajs's own wait fails on UNKNOWN_TOPIC_OR_PARTITION (see createTopics in _support.ts)
      await a.createTopics({
        waitForLeaders: false,
        topics: [{ topic: input, numPartitions: 3 }, { topic: out, numPartitions: 3 }],
      });
      await waitForLeaders(a, [input, out], 30_000);
    });
  });
  after(() => {
    broker("stop");
  });

  test("the runner fails clearly when the broker goes away, commits nothing ahead, and a restart completes", {
    timeout: 150_000,
  }, async () => {
    const N = 3000;
    await produceJobs("j", N);

    const group = unique("group");
    const runner = new KafkaFlowRunner(compileFlow(flow, configFor(group)), {
      client: { ...quiet, logLevel: "nothing" },
    });
    await runner.start();
    await waitFor(() => (runner.driver.stats.produced[out] ?? 0) >= 300, 30_000, "the flow to get going");
    broker("stop");
    const stoppedAt = performance.now();
    await Promise.race([runner.done, sleep(90_000)]);
    const detectedMs = Math.round(performance.now() - stoppedAt);
    assert.equal(runner.state, "failed", "the runner stops on its own");
    const reason = String((runner.failure as Error)?.message ?? runner.failure);
    assert.match(reason, new RegExp(`127\\.0\\.0\\.1:${PORT}|connect|ECONNREFUSED|broker`, "i"), reason);
    const producedBefore = runner.driver.stats.produced[out] ?? 0;
    assert.ok(producedBefore < N, "the outage happened mid-stream");

    // Back up: what was committed before the outage is all in the output topic.
    bootstrap = broker("ensure");
    const atOutage = await committed(group);
    const written = new Set((await readAll(out)).map((r) => dec.decode(r.key!)));
    const inputs = await readAll(input);
    for (const r of inputs) {
      if (r.offset < (atOutage.get(r.partition) ?? 0)) {
        assert.ok(written.has(dec.decode(r.key!)), `${dec.decode(r.key!)} was committed but never written`);
      }
    }

    // A new runner finishes the job: every input reaches the output.
    const again = new KafkaFlowRunner(compileFlow(flow, configFor(group)), {
      client: { ...quiet, logLevel: "nothing" },
    });
    await again.start();
    await waitFor(
      () =>
        again.failure !== null ||
        inputs.length - [...atOutage.values()].reduce((a, b) => a + b, 0) <= again.driver.stats.consumed,
      60_000,
      "the second runner to consume the rest",
    );
    const ends = await endsOf(input);
    for (let i = 0;; i++) {
      const c = await committed(group);
      if ([...ends].every(([p, h]) => c.get(p) === h)) break;
      assert.ok(i < 300 && again.failure === null, `no full commit: ${again.failure}`);
      await sleep(100);
    }
    await again.stop();
    const finalKeys = new Set((await readAll(out)).map((r) => dec.decode(r.key!)));
    const missing = inputs.map((r) => dec.decode(r.key!)).filter((k) => !finalKeys.has(k));
    assert.deepEqual(missing, [], "no input is missing after the restart");
    console.log(
      `outage test: ${producedBefore}/${N} written before the broker stopped; failure detected after ${detectedMs} ms: ${reason}`,
    );
  });
  // The README documents these timings ("Commit failures and outages"): with the defaults, the runner rides
  // out 70-90 s of outage (kafkajs retries 5 times with a backoff growing to 30 s, request timeout
  // 30 s; then delivery_retries 3 with retry_backoff_ms 100), then stops with an error.
  test("with default settings the runner rides out a short outage, then fails within two minutes", {
    timeout: 150_000,
  }, async () => {
    const N = 3000;
    await produceJobs("d", N);
    const runner = new KafkaFlowRunner(compileFlow(flow, defaultConfigFor(unique("group-defaults"))), {
      client: { ...quiet, logLevel: "nothing" },
    });
    await runner.start();
    await waitFor(() => (runner.driver.stats.produced[out] ?? 0) >= 300, 30_000, "the flow to get going");
    broker("stop");
    const stoppedAt = performance.now();
    await Promise.race([runner.done, sleep(125_000)]);
    const detectedMs = Math.round(performance.now() - stoppedAt);
    const reason = String((runner.failure as Error)?.message ?? runner.failure);
    console.log(`outage test (defaults): failure detected after ${detectedMs} ms: ${reason}`);
    assert.equal(runner.state, "failed", `the runner stops on its own (${detectedMs} ms)`);
    assert.ok(detectedMs >= 10_000, `a short outage is ridden out (failed after ${detectedMs} ms)`);
    assert.ok(detectedMs <= 120_000, `failed after ${detectedMs} ms`);
    bootstrap = broker("ensure");
  });
  test("exactly_once: the broker stops and starts mid-stream, every output once for read_committed", {
    timeout: 240_000,
  }, async () => {
    const N = 3000;
    const keys = await produceJobs("x", N);
    // the group reads the earlier tests' jobs too (from the beginning of the input)
    const total = [...(await endsOf(input)).values()].reduce((a, b) => a + b, 0);

    const group = unique("eos-group");
    const runnerFor = () =>
      new KafkaFlowRunner(compileFlow(flow, configFor(group, { processing_guarantee: "exactly_once" })), {
        client: { ...quiet, logLevel: "nothing" },
      });
    const first = runnerFor();
    await first.start();
    await waitFor(() => (first.driver.stats.produced[out] ?? 0) >= 300, 30_000, "the flow to get going");
    const producedBefore = first.driver.stats.produced[out] ?? 0;
    broker("stop");
    await sleep(2_000);
    bootstrap = broker("ensure");
    assert.ok(producedBefore < total, "the restart happened mid-stream");
    await Promise.race([first.done, sleep(5_000)]);
    let finisher = first;
    if (first.state === "failed") {
      console.log(
        `eos outage test: the first runner failed: ${(first.failure as Error)?.message ?? first.failure}`,
      );
      finisher = runnerFor(); // the same transactional id: it fences the first instance
      await finisher.start();
    }
    const ends = await endsOf(input);
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
    // the output of the earlier tests is in `out` too: count this test's keys only
    const records = (await readCommitted([out], N, 3_000, 30_000, [bootstrap])).filter((r) =>
      text(r.key)!.startsWith("x-")
    );
    const counts = new Map<string, number>();
    for (const r of records) counts.set(text(r.key)!, (counts.get(text(r.key)!) ?? 0) + 1);
    const missing = keys.filter((k) => !counts.has(k));
    const dups = [...counts.values()].reduce((s, c) => s + c - 1, 0);
    console.log(
      `eos outage test: ${producedBefore}/${total} produced when the broker was stopped; ` +
        `${finisher === first ? "the runner rode the restart out" : "a second runner finished"}; ` +
        `${records.length} committed outputs, ${dups} duplicate(s), ${missing.length} missing`,
    );
    assert.deepEqual(missing, []);
    assert.equal(dups, 0);
  });
});
