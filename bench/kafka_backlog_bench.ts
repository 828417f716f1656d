/**
 * Backlog memory benchmark on the real broker: a child process pre-produces a backlog of N records (default
 * 1,000,000; the producer's memory is not this process's), then this process drains it with KafkaFlowRunner
 * through a flow that buffers (CollectBatch of 5,000 per partition) and does async work per message, with
 * the default `max_in_flight` (10,000) and Kafka client (@platformatic/kafka) unless told otherwise. Samples
 * RSS and the in-flight count every 100 ms and prints the peak values next to the bound they should stay
 * under: memory is bounded by `max_in_flight` and the fetch size, not by the backlog.
 *
 *   deno run -A bench/kafka_backlog_bench.ts [--n=1000000] [--max-in-flight=10000] [--client=platformatic|kafkajs]
 *   bun bench/kafka_backlog_bench.ts [same flags]
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { spawnSync } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
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

const opt = (name: string): string | undefined =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const N = Number(opt("n") ?? 1_000_000);
const MAX_IN_FLIGHT = Number(opt("max-in-flight") ?? 10_000);
const CLIENT = (opt("client") ?? "platformatic") as "platformatic" | "kafkajs";
const PRODUCE_TOPIC = opt("produce-into"); // the child's role
const TRACE = process.argv.includes("--trace"); // memory every second on stderr
const jscStats: (() => { objectTypeCounts: Record<string, number> }) | undefined =
  TRACE && "Bun" in globalThis ? (await import("bun:jsc" as string)).heapStats : undefined;
const brokers = [kafkaBootstrap()];
const runtime = runtimeName();
const Tick = messageType("bench.Tick", v.object({ id: v.pipe(v.number(), v.integer()), s: v.string() }));
type T = v.InferOutput<typeof Tick.schema>;

const kafka = new Kafka({ brokers, clientId: "loom-backlog-bench", logLevel: logLevel.WARN });
if (PRODUCE_TOPIC !== undefined) {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const BATCH = 5000;
  for (let i = 0; i < N; i += BATCH) {
    const messages = [];
    for (let j = i; j < Math.min(N, i + BATCH); j++) {
      const v = encodeSourceValue({ id: j, s: "x".repeat(40) }, Tick, { producedAtMs: 1 });
      messages.push({ key: `k${j % 512}`, value: Buffer.from(v.buffer, v.byteOffset, v.length) });
    }
    await producer.send({ topic: PRODUCE_TOPIC, acks: 1, messages });
  }
  await producer.disconnect();
  process.exit(0);
}

const tag = Date.now().toString(36);
const input = `bench-backlog-${tag}`;
const admin = kafka.admin();
await admin.connect();
await admin.createTopics({
  topics: [{ topic: input, numPartitions: 3 }, { topic: `${input}.out`, numPartitions: 3 }],
  waitForLeaders: true,
});
const t0 = performance.now();
{
  // the same script and runtime in a child process, so the producer's memory is not measured here
  const self = fileURLToPath(import.meta.url);
  const args = "Deno" in globalThis ? ["run", "-A", self] : [self];
  const r = spawnSync(process.execPath, [...args, `--n=${N}`, `--produce-into=${input}`], {
    stdio: "inherit",
    env: { ...process.env, LOOM_KAFKA_BOOTSTRAP: brokers[0] },
  });
  if (r.status !== 0) throw new Error(`producing the backlog failed (exit ${r.status})`);
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
    consumer: {
      brokers,
      group_id: `backlog-${tag}`,
      topics: [input],
      ...(opt("fetch-max-bytes")
        ? {
          extra: {
            "fetch.max.bytes": Number(opt("fetch-max-bytes")),
            "max.partition.fetch.bytes": Math.min(1048576, Number(opt("fetch-max-bytes"))),
          },
        }
        : {}),
    },
    producer: { brokers },
    producers: { out: { brokers, topic: `${input}.out` } },
  },
  streaming: { runtime: { max_in_flight: MAX_IN_FLIGHT, kafka_client: CLIENT } },
});
let peakRss = 0, peakInFlight = 0, pauses = 0, peakHeap = 0, peakBuffers = 0;
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
  let ticks = 0;
  const sampler = setInterval(() => {
    const m = process.memoryUsage();
    if (TRACE && ++ticks % 10 === 0) {
      console.error(
        `t=${ticks / 10}s rss=${Math.round(m.rss / 1e6)} heap=${Math.round(m.heapUsed / 1e6)}/${
          Math.round(m.heapTotal / 1e6)
        } buffers=${Math.round((m.arrayBuffers ?? m.external) / 1e6)} in_flight=${runner.driver.inFlight}`,
      );
      if (jscStats !== undefined) {
        const counts = Object.entries(jscStats().objectTypeCounts).sort((x, y) => y[1] - x[1]).slice(0, 12);
        console.error("  " + counts.map(([k, n]) => `${k}=${n}`).join(" "));
      }
    }
    peakRss = Math.max(peakRss, m.rss);
    peakHeap = Math.max(peakHeap, m.heapUsed);
    peakBuffers = Math.max(peakBuffers, m.arrayBuffers ?? m.external);
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
  peak_heap_mb: Math.round(peakHeap / 1e6),
  peak_array_buffers_mb: Math.round(peakBuffers / 1e6),
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
