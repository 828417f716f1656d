/**
 * The Kafka client adapters compared on the local broker, interleaved round after round on the same records:
 * kafkajs and @platformatic/kafka, each as
 * - a **raw pipe** through the core's ports (`createKafkaClients(kind)`): consume a batch → produce it to an
 *   output topic in sends of at most BATCH (acks=all, bytes and the 4 trace headers copied) → commit the
 *   batch's next offset; what the run loop gets from the client, without our engine;
 * - the **flow**: `KafkaFlowRunner` with `kafkaClient: kind` running decode → record step → encode with exact
 *   commits (the trace headers it writes are the same 4 keys).
 *
 * The input is N envelopes of the 8-field bench order (390 B) with the 4 trace headers a loom producer
 * writes, produced once on a 3-partition topic; every run reads it with its own group and writes a fresh
 * output topic, timed from its first batch to its last commit. Prints a table (median msgs/s of each pipe,
 * flow ÷ raw per client, platformatic ÷ kafkajs, peak RSS) and one JSON line (`{"bench":"kafka_raw",...}`).
 *
 * Run (the broker is started with scripts/kafka.sh ensure unless LOOM_KAFKA_BOOTSTRAP is set):
 *   deno run -A bench/kafka_raw_bench.ts [--n=200000] [--batch=1000] [--concurrency=3] [--rounds=3]
 *   bun bench/kafka_raw_bench.ts [same flags]
 * `--only=platformatic/flow` (client/pipe) runs one pipe alone, e.g. under `deno run --cpu-prof`.
 *
 * @module
 */

import process from "node:process";
import type * as v from "valibot";
import { BenchOrder, benchOrderEnvelope, kafkaBootstrap, runtimeName } from "./_common.ts";
import { compileFlow, FromTopic, IntoTopic, type Message, Process, RecordStep, StreamFlow } from "../mod.ts";
import { HEADERS } from "../streaming/engine.ts";
import { createKafkaClients, KafkaAdmin, type KafkaClientKind, KafkaFlowRunner } from "../runtime/mod.ts";
import type { ConsumerSettings, ProducerSettings } from "../streaming/_settings.ts";
import type { OutgoingRecord } from "../streaming/_transport.ts";

const flag = (name: string, fallback: number): number => {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  const n = arg === undefined ? fallback : Number(arg.slice(name.length + 3));
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer`);
  return n;
};

const N = flag("n", 200_000);
const BATCH = flag("batch", 1000);
const CONCURRENCY = flag("concurrency", 3);
const ROUNDS = flag("rounds", 3);
const PARTITIONS = 3;
const CLIENTS: readonly KafkaClientKind[] = ["kafkajs", "platformatic"];
type Mode = "raw" | "flow";

const brokers = [kafkaBootstrap()];
const tag = Date.now().toString(36);
const producerSettings: ProducerSettings = {
  brokers,
  clientId: "loom-raw-bench",
  topic: null,
  security: null,
  extra: {},
};
const consumerSettings = (groupId: string): ConsumerSettings => ({
  brokers,
  groupId,
  topics: [],
  autoOffsetReset: "earliest",
  pollTimeoutMs: 100,
  enableAutoCommit: false,
  security: null,
  extra: {},
});
const quiet = { logLevel: "error" as const };
const admin = new KafkaAdmin(producerSettings);

type O = v.InferOutput<typeof BenchOrder.schema>;
const input = `bench-raw-in-${tag}`;
await admin.createTopics([{ topic: input, partitions: PARTITIONS }]);
let envelopeBytes = 0;
{
  const enc = new TextEncoder();
  const trace = enc.encode("0af7651916cd43dd8448eb211c80319c");
  const headers = {
    [HEADERS.traceId]: trace,
    [HEADERS.parentTraceId]: trace,
    [HEADERS.correlationId]: trace,
    [HEADERS.causationId]: trace,
  };
  const producer = createKafkaClients("platformatic", quiet).producer(producerSettings);
  await producer.connect();
  for (let i = 0; i < N; i += BATCH) {
    const out: OutgoingRecord[] = [];
    for (let j = i; j < Math.min(N, i + BATCH); j++) {
      const value = benchOrderEnvelope(j);
      envelopeBytes = value.length;
      out.push({ key: enc.encode(`k-${j % 1000}`), value, headers, timestampMs: null });
    }
    await producer.send(input, out);
  }
  await producer.disconnect();
}
const ends = await admin.endOffsets(input);

let peakRss = 0;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 50);

interface Result {
  readonly rate: number;
  /** CPU time of this process per record during the pipe, µs (the broker runs in another process). */
  readonly cpuUs: number;
  readonly rssMb: number;
}

const rawPipe = async (kind: KafkaClientKind, output: string, group: string): Promise<number> => {
  const clients = createKafkaClients(kind, quiet);
  const producer = clients.producer(producerSettings);
  await producer.connect();
  const consumer = clients.consumer(consumerSettings(group));
  await consumer.connect();
  await consumer.subscribe([input], true);
  let piped = 0;
  let firstBatchAt = 0;
  const { promise: done, resolve, reject } = Promise.withResolvers<void>();
  await consumer.run({
    onBatch: async (batch) => {
      if (firstBatchAt === 0) firstBatchAt = performance.now();
      const n = batch.records.length;
      for (let start = 0; start < n; start += BATCH) {
        const end = Math.min(n, start + BATCH);
        const out: OutgoingRecord[] = new Array(end - start);
        for (let i = start; i < end; i++) {
          const r = batch.records[i];
          out[i - start] = { key: r.key, value: r.value!, headers: r.headers, timestampMs: r.timestampMs };
        }
        await producer.send(output, out);
      }
      await consumer.commit([{
        topic: batch.topic,
        partition: batch.partition,
        offset: batch.records[n - 1].offset + 1,
      }]);
      piped += n;
      if (piped >= N) resolve();
    },
    onError: reject,
  }, { partitionsConsumedConcurrently: CONCURRENCY });
  await done;
  const seconds = (performance.now() - firstBatchAt) / 1000;
  await consumer.disconnect();
  await producer.disconnect();
  return seconds;
};

const flowPipe = async (kind: KafkaClientKind, output: string, group: string): Promise<number> => {
  const enrich = RecordStep.of((m: Message<O>) => ({
    order_id: m.payload.order_id,
    customer: m.payload.customer,
    total: m.payload.amount * m.payload.quantity,
    segment: m.payload.segment,
  }), { name: "enrich" });
  const flow = new StreamFlow({
    name: "bench",
    source: new FromTopic("in", BenchOrder),
    process: new Process(enrich),
    output: new IntoTopic("out"),
  });
  const plan = compileFlow(flow, {
    kafka: {
      consumer: { brokers, group_id: group, topics: [input], enable_auto_commit: false },
      producer: { brokers },
      producers: { out: { brokers, topic: output } },
    },
    streaming: { runtime: { kafka_client: kind } },
  });
  let firstBatchAt = 0;
  const committed = new Map<number, number>();
  const { promise: done, resolve, reject } = Promise.withResolvers<void>();
  const runner = new KafkaFlowRunner(plan, {
    client: quiet,
    partitionsConsumedConcurrently: CONCURRENCY,
    observer: {
      batchStarted: () => {
        if (firstBatchAt === 0) firstBatchAt = performance.now();
      },
    },
    onCommit: (offsets) => {
      for (const o of offsets) committed.set(o.partition, o.offset);
      if ([...ends].every(([p, e]) => (committed.get(p) ?? 0) >= e)) resolve();
    },
  });
  runner.start().catch(reject);
  await done;
  const seconds = (performance.now() - firstBatchAt) / 1000;
  await runner.stop();
  return seconds;
};

const runOnce = async (kind: KafkaClientKind, mode: Mode, round: number): Promise<Result> => {
  const output = `bench-raw-out-${tag}-${kind}-${mode}-${round}`;
  await admin.createTopics([{ topic: output, partitions: PARTITIONS }]);
  peakRss = process.memoryUsage().rss;
  const group = `bench-raw-${tag}-${kind}-${mode}-${round}`;
  const c0 = process.cpuUsage();
  const seconds = await (mode === "raw" ? rawPipe : flowPipe)(kind, output, group);
  const c = process.cpuUsage(c0);
  const rssMb = Math.round(peakRss / 1048576);
  const written = [...(await admin.endOffsets(output)).values()].reduce((s, n) => s + n, 0);
  await admin.deleteTopics([output]).catch(() => {});
  if (written !== N) throw new Error(`${kind} ${mode}: output topic holds ${written} records, expected ${N}`);
  return { rate: N / seconds, rssMb, cpuUs: (c.user + c.system) / N };
};

const only = process.argv.find((a) => a.startsWith("--only="))?.slice(7);
const RUNS: readonly (readonly [KafkaClientKind, Mode])[] = CLIENTS.flatMap((k) =>
  [[k, "raw"], [k, "flow"]] as const
)
  .filter(([k, m]) => only === undefined || only === `${k}/${m}`);
if (RUNS.length === 0) throw new Error(`--only=${only}: expected kafkajs|platformatic / raw|flow`);
const results = new Map<string, Result[]>(RUNS.map(([k, m]) => [`${k}/${m}`, []]));
for (let round = 0; round < ROUNDS; round++) {
  // Alternate the order so no pipe always runs on a warmer broker.
  const order = round % 2 === 0 ? RUNS : [...RUNS].reverse();
  for (const [kind, mode] of order) {
    const r = await runOnce(kind, mode, round);
    results.get(`${kind}/${mode}`)!.push(r);
    console.error(
      `round ${round + 1}/${ROUNDS} ${kind} ${mode}: ${Math.round(r.rate)} msgs/s, ${
        r.cpuUs.toFixed(1)
      } µs CPU/record, peak RSS ${r.rssMb} MB`,
    );
  }
}
clearInterval(sampler);
await admin.deleteTopics([input]).catch(() => {});
await admin.close();
if (only !== undefined) process.exit(0);

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const med = (kind: KafkaClientKind, mode: Mode, f: (r: Result) => number) =>
  median(results.get(`${kind}/${mode}`)!.map(f));
const rate = (k: KafkaClientKind, m: Mode) => Math.round(med(k, m, (r) => r.rate));
const rss = (k: KafkaClientKind, m: Mode) => med(k, m, (r) => r.rssMb);
// ratios of one round's runs, then their median (the runs of a round are adjacent in time)
const roundRatio = (a: [KafkaClientKind, Mode], b: [KafkaClientKind, Mode]) =>
  Number(
    median(results.get(a.join("/"))!.map((r, i) => r.rate / results.get(b.join("/"))![i].rate)).toFixed(2),
  );
const flowVsRaw = { kafkajs: roundRatio(["kafkajs", "flow"], ["kafkajs", "raw"]), platformatic: 0 };
flowVsRaw.platformatic = roundRatio(["platformatic", "flow"], ["platformatic", "raw"]);
const rawRatio = roundRatio(["platformatic", "raw"], ["kafkajs", "raw"]);
const flowRatio = roundRatio(["platformatic", "flow"], ["kafkajs", "flow"]);

const rt = runtimeName();
console.log(
  `\nkafka pipes, kafkajs vs @platformatic/kafka — ${rt}, ${N} envelopes of ${envelopeBytes} B + 4 trace ` +
    `headers, ${PARTITIONS} partitions (${CONCURRENCY} at once), median of ${ROUNDS} interleaved rounds, ` +
    `brokers ${brokers.join(",")}\n`,
);
const row = (cells: string[]) => console.log(`| ${cells.join(" | ")} |`);
row(["pipe".padEnd(46), "kafkajs".padStart(9), "platformatic".padStart(12), "ratio".padStart(6)]);
row(["-".repeat(46), "-".repeat(9), "-".repeat(12), "-".repeat(6)]);
row([
  "raw consume → produce → commit, msgs/s".padEnd(46),
  String(rate("kafkajs", "raw")).padStart(9),
  String(rate("platformatic", "raw")).padStart(12),
  rawRatio.toFixed(2).padStart(6),
]);
row([
  "flow: decode → step → encode, exact commits".padEnd(46),
  String(rate("kafkajs", "flow")).padStart(9),
  String(rate("platformatic", "flow")).padStart(12),
  flowRatio.toFixed(2).padStart(6),
]);
row([
  "flow ÷ raw (same client)".padEnd(46),
  flowVsRaw.kafkajs.toFixed(2).padStart(9),
  flowVsRaw.platformatic.toFixed(2).padStart(12),
  "".padStart(6),
]);
const cpuUs = (k: KafkaClientKind, m: Mode) => med(k, m, (r) => r.cpuUs).toFixed(1);
row([
  "CPU µs per record, raw / flow (this process)".padEnd(46),
  `${cpuUs("kafkajs", "raw")}/${cpuUs("kafkajs", "flow")}`.padStart(9),
  `${cpuUs("platformatic", "raw")}/${cpuUs("platformatic", "flow")}`.padStart(12),
  "".padStart(6),
]);
row([
  "peak RSS raw / flow, MB".padEnd(46),
  `${rss("kafkajs", "raw")}/${rss("kafkajs", "flow")}`.padStart(9),
  `${rss("platformatic", "raw")}/${rss("platformatic", "flow")}`.padStart(12),
  "".padStart(6),
]);
console.log(
  JSON.stringify({
    bench: "kafka_raw",
    runtime: rt,
    n: N,
    envelope_bytes: envelopeBytes,
    headers: 4,
    batch: BATCH,
    concurrency: CONCURRENCY,
    rounds: ROUNDS,
    kafkajs_raw_msgs_per_s: rate("kafkajs", "raw"),
    platformatic_raw_msgs_per_s: rate("platformatic", "raw"),
    kafkajs_flow_msgs_per_s: rate("kafkajs", "flow"),
    platformatic_flow_msgs_per_s: rate("platformatic", "flow"),
    raw_ratio_platformatic_vs_kafkajs: rawRatio,
    flow_ratio_platformatic_vs_kafkajs: flowRatio,
    flow_vs_raw_kafkajs: flowVsRaw.kafkajs,
    flow_vs_raw_platformatic: flowVsRaw.platformatic,
    cpu_us_per_record: Object.fromEntries(
      [...results.keys()].map((k) => [k, Number(cpuUs(...k.split("/") as [KafkaClientKind, Mode]))]),
    ),
    peak_rss_mb: Object.fromEntries(
      [...results.keys()].map((k) => [k, rss(...k.split("/") as [KafkaClientKind, Mode])]),
    ),
  }),
);
process.exit(0);
