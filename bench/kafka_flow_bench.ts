/**
 * End-to-end throughput on the real broker: the same N pre-produced envelope records (3 partitions) are
 * consumed (a) by a raw kafkajs consume → produce → commit pipe (bytes copied, no decoding) and (b) by
 * @loom/streaming's KafkaFlowRunner running decode → record step → encode (1 worker), each with its own
 * consumer group and output topic. Prints a table, the ratio, and one JSON line.
 *
 *   deno run -A bench/kafka_flow_bench.ts [--n=200000] [--concurrency=3]
 *   bun bench/kafka_flow_bench.ts [same flags]
 *
 * The broker comes from scripts/kafka.sh ensure (or LOOM_KAFKA_BOOTSTRAP).
 *
 * @module
 */
import process from "node:process";
import { Kafka, logLevel, Partitioners } from "kafkajs";
import { compileFlow } from "../mod.ts";
import { HEADERS } from "../streaming/engine.ts";
import { KafkaFlowRunner } from "../runtime/mod.ts";
import { enrichFlow, kafkaBootstrap, produceBenchOrders, runtimeName } from "./_common.ts";

const flag = (name: string, fallback: number): number => {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  const n = arg === undefined ? fallback : Number(arg.slice(name.length + 3));
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer`);
  return n;
};
const N = flag("n", 200_000);
const CONCURRENCY = flag("concurrency", 3);
const PARTITIONS = 3;

const brokers = [kafkaBootstrap()];
const runtime = runtimeName();

const tag = Date.now().toString(36);
const input = `bench-flow-in-${tag}`;
const kafka = new Kafka({ brokers, clientId: "loom-flow-bench", logLevel: logLevel.WARN });
const admin = kafka.admin();
await admin.connect();
await admin.createTopics({
  topics: [input, `${input}.raw-out`, `${input}.flow-out`].map((topic) => ({
    topic,
    numPartitions: PARTITIONS,
  })),
  waitForLeaders: true,
});

// 1. pre-produce N envelopes
await produceBenchOrders(kafka, input, N);
const ends = await admin.fetchTopicOffsets(input);
const endOf = new Map(ends.map((e) => [e.partition, Number(e.high)]));

// 2. raw kafkajs pipe
async function rawPipe(withHeaders: boolean): Promise<number> {
  const group = `bench-raw-${withHeaders ? "h" : "n"}-${tag}`;
  const hv = Buffer.from("0123456789abcdef0123456789abcdef");
  const traceHeaders = {
    [HEADERS.correlationId]: hv,
    [HEADERS.parentTraceId]: hv,
    [HEADERS.causationId]: hv,
    [HEADERS.traceId]: hv,
  };
  const consumer = kafka.consumer({ groupId: group });
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  await consumer.connect();
  await consumer.subscribe({ topics: [input], fromBeginning: true });
  let consumed = 0;
  const t0 = performance.now();
  const done = new Promise<void>((resolve) => {
    consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: CONCURRENCY,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
        const messages = batch.messages.map((m) => ({
          key: m.key,
          value: m.value,
          headers: withHeaders ? { ...m.headers, ...traceHeaders } : m.headers,
        }));
        for (let i = 0; i < messages.length; i += 1000) {
          await producer.send({ topic: `${input}.raw-out`, acks: -1, messages: messages.slice(i, i + 1000) });
        }
        const last = batch.messages[batch.messages.length - 1];
        resolveOffset(last.offset);
        await consumer.commitOffsets([{
          topic: batch.topic,
          partition: batch.partition,
          offset: String(Number(last.offset) + 1),
        }]);
        await heartbeat();
        consumed += batch.messages.length;
        if (consumed >= N) resolve();
      },
    });
  });
  await done;
  const s = (performance.now() - t0) / 1000;
  await consumer.disconnect();
  await producer.disconnect();
  return s;
}

// 3. the engine: decode → record step → encode
async function enginePipe(): Promise<{ seconds: number; produced: number }> {
  const flow = enrichFlow("bench");
  const plan = compileFlow(flow, {
    kafka: {
      consumer: { brokers, group_id: `bench-flow-${tag}`, topics: [input], enable_auto_commit: false },
      producer: { brokers },
      producers: { out: { brokers, topic: `${input}.flow-out` } },
    },
    streaming: { runtime: { max_in_flight: 50_000 } },
  });
  const committed = new Map<number, number>();
  let t0 = 0;
  const finished = new Promise<void>((resolve) => {
    const runner = new KafkaFlowRunner(plan, {
      client: { logLevel: "error" },
      partitionsConsumedConcurrently: CONCURRENCY,
      onCommit: (offsets) => {
        for (const o of offsets) committed.set(o.partition, o.offset);
        if ([...endOf].every(([p, e]) => (committed.get(p) ?? 0) >= e)) resolve();
      },
    });
    (globalThis as { __runner?: KafkaFlowRunner }).__runner = runner;
    if (process.env.LOOM_BENCH_TRACE) {
      const p = runner.producer as unknown as { send: (t: string, r: unknown[]) => Promise<void> };
      const orig = p.send.bind(p);
      let sendMs = 0, sends = 0, recs = 0;
      p.send = async (t, r) => {
        const t1 = performance.now();
        await orig(t, r);
        sendMs += performance.now() - t1;
        sends++;
        recs += r.length;
      };
      const d = runner.driver as unknown as { handle: (b: { records: unknown[] }) => Promise<void> };
      const h = d.handle.bind(d);
      let handleMs = 0, batches = 0;
      d.handle = async (b) => {
        const t1 = performance.now();
        await h(b);
        handleMs += performance.now() - t1;
        batches++;
      };
      setInterval(
        () =>
          console.error(
            JSON.stringify({
              sendMs: Math.round(sendMs),
              sends,
              recs,
              handleMs: Math.round(handleMs),
              batches,
            }),
          ),
        1000,
      );
    }
    t0 = performance.now();
    void runner.start();
  });
  await finished;
  const seconds = (performance.now() - t0) / 1000;
  const runner = (globalThis as { __runner?: KafkaFlowRunner }).__runner!;
  const produced = runner.driver.stats.produced[`${input}.flow-out`] ?? 0;
  await runner.stop();
  return { seconds, produced };
}

const rawSeconds = await rawPipe(false);
const rawHeadersSeconds = await rawPipe(true);
const flow = await enginePipe();
await admin.disconnect();
if (flow.produced < N) throw new Error(`engine produced ${flow.produced} < ${N}`);
const rawRate = Math.round(N / rawSeconds), flowRate = Math.round(N / flow.seconds);
const rawHeadersRate = Math.round(N / rawHeadersSeconds);
const result = {
  bench: "kafka_flow",
  runtime,
  messages: N,
  partitions: PARTITIONS,
  concurrency: CONCURRENCY,
  raw_kafkajs_msgs_per_s: rawRate,
  engine_msgs_per_s: flowRate,
  raw_kafkajs_4_headers_msgs_per_s: rawHeadersRate,
  ratio: Number((flowRate / rawRate).toFixed(2)),
  ratio_vs_raw_with_headers: Number((flowRate / rawHeadersRate).toFixed(2)),
  raw_seconds: Number(rawSeconds.toFixed(2)),
  engine_seconds: Number(flow.seconds.toFixed(2)),
};
console.log("| pipeline | runtime | messages | seconds | msgs/s |");
console.log("|---|---|---|---|---|");
console.log(
  `| raw kafkajs consume → produce → commit | ${runtime} | ${N} | ${result.raw_seconds} | ${rawRate} |`,
);
console.log(
  `| raw kafkajs, + the 4 trace headers loom writes | ${runtime} | ${N} | ${
    rawHeadersSeconds.toFixed(2)
  } | ${rawHeadersRate} |`,
);
console.log(
  `| loom: decode → step → encode, exact commits | ${runtime} | ${N} | ${result.engine_seconds} | ${flowRate} |`,
);
console.log(
  `ratio engine/raw: ${result.ratio} (vs raw with the same headers: ${result.ratio_vs_raw_with_headers})`,
);
console.log(JSON.stringify(result));
process.exit(0);
