/**
 * Backlog memory benchmark on the real broker: pre-produces a backlog of N records (default 1,000,000), then
 * drains it with KafkaFlowRunner through a flow that buffers (CollectBatch of 5,000 per partition) and does
 * async work per message, with `max_in_flight` = 20,000. Samples RSS and the in-flight count every 100 ms and
 * prints the peak values: memory stays bounded by `max_in_flight` and the fetch size, not by the backlog.
 *
 *   deno run -A bench/kafka_backlog_bench.ts [--n=1000000]      bun bench/kafka_backlog_bench.ts [--n=...]
 *
 * @module
 */
import { Buffer } from "node:buffer";
import process from "node:process";
import { Kafka, logLevel, Partitioners } from "kafkajs";
import * as v from "valibot";
import {
  CollectBatch,
  compileFlow,
  ForEach,
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
import { kafkaBootstrap, runtimeName } from "./_common.ts";

const arg = process.argv.find((a) => a.startsWith("--n="));
const N = arg ? Number(arg.slice(4)) : 1_000_000;
const MAX_IN_FLIGHT = 20_000;
const brokers = [kafkaBootstrap()];
const runtime = runtimeName();
const Tick = messageType("bench.Tick", v.object({ id: v.pipe(v.number(), v.integer()), s: v.string() }));
type T = v.InferOutput<typeof Tick.schema>;

const tag = Date.now().toString(36);
const input = `bench-backlog-${tag}`;
const kafka = new Kafka({ brokers, clientId: "loom-backlog-bench", logLevel: logLevel.WARN });
const admin = kafka.admin();
await admin.connect();
await admin.createTopics({
  topics: [{ topic: input, numPartitions: 3 }, { topic: `${input}.out`, numPartitions: 3 }],
  waitForLeaders: true,
});
const t0 = performance.now();
{
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const BATCH = 5000;
  for (let i = 0; i < N; i += BATCH) {
    const messages = [];
    for (let j = i; j < Math.min(N, i + BATCH); j++) {
      const v = encodeSourceValue({ id: j, s: "x".repeat(40) }, Tick, { producedAtMs: 1 });
      messages.push({ key: `k${j % 512}`, value: Buffer.from(v.buffer, v.byteOffset, v.length) });
    }
    await producer.send({ topic: input, acks: 1, messages });
  }
  await producer.disconnect();
}
const produceSeconds = (performance.now() - t0) / 1000;
const ends = new Map((await admin.fetchTopicOffsets(input)).map((e) => [e.partition, Number(e.high)]));

const flow = new StreamFlow({
  name: "backlog",
  source: new FromTopic("in", Tick),
  process: new Process(
    new CollectBatch({ maxRecords: 5000, timeoutMs: 200 }),
    new ForEach(),
    new WithAsync({
      maxConcurrency: 64,
      process: new Process(
        RecordStep.of(async (m: Message<T>) => {
          await Promise.resolve();
          return { id: m.payload.id };
        }),
        new IntoTopic("out"),
      ),
    }),
  ),
});
const plan = compileFlow(flow, {
  kafka: {
    consumer: { brokers, group_id: `backlog-${tag}`, topics: [input] },
    producer: { brokers },
    producers: { out: { brokers, topic: `${input}.out` } },
  },
  streaming: { runtime: { max_in_flight: MAX_IN_FLIGHT } },
});
let peakRss = 0, peakInFlight = 0, pauses = 0;
const committed = new Map<number, number>();
const rss = () => process.memoryUsage().rss;
const baseRss = rss();
const t1 = performance.now();
await new Promise<void>((resolve) => {
  const runner: KafkaFlowRunner = new KafkaFlowRunner(plan, {
    client: { logLevel: "error" },
    partitionsConsumedConcurrently: 3,
    logger: {
      info() {},
      warn: (e) => void (e === "backpressure_pause" && pauses++),
      error: (e, f) => console.error(e, f),
    },
    onCommit: (offsets) => {
      for (const o of offsets) committed.set(o.partition, o.offset);
      if ([...ends].every(([p, e]) => (committed.get(p) ?? 0) >= e)) {
        clearInterval(sampler);
        void runner.stop().then(resolve);
      }
    },
  });
  const sampler = setInterval(() => {
    peakRss = Math.max(peakRss, rss());
    peakInFlight = Math.max(peakInFlight, runner.driver.inFlight);
  }, 100);
  void runner.start();
});
const drainSeconds = (performance.now() - t1) / 1000;
await admin.disconnect();
const result = {
  bench: "kafka_backlog",
  runtime,
  backlog: N,
  max_in_flight: MAX_IN_FLIGHT,
  peak_in_flight: peakInFlight,
  backpressure_pauses: pauses,
  base_rss_mb: Math.round(baseRss / 1e6),
  peak_rss_mb: Math.round(peakRss / 1e6),
  produce_seconds: Number(produceSeconds.toFixed(1)),
  drain_seconds: Number(drainSeconds.toFixed(1)),
  drain_msgs_per_s: Math.round(N / drainSeconds),
};
console.log(
  "| backlog | runtime | max_in_flight | peak in flight | pauses | RSS before | peak RSS | drain msgs/s |",
);
console.log("|---|---|---|---|---|---|---|---|");
console.log(
  `| ${N} | ${runtime} | ${MAX_IN_FLIGHT} | ${peakInFlight} | ${pauses} | ${result.base_rss_mb} MB | ${result.peak_rss_mb} MB | ${result.drain_msgs_per_s} |`,
);
console.log(JSON.stringify(result));
process.exit(0);
