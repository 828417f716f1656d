/**
 * Exactly-once against at-least-once on the real broker: the same N pre-produced envelope records (3
 * partitions) run through the same flow (decode → record step → encode, 1 worker, @platformatic/kafka
 * client) under `processing_guarantee: at_least_once`, then `exactly_once` with one transaction per
 * fetched batch, then `exactly_once` with up to 20 batches per transaction (`transaction_batches: 20`,
 * `epoch_interval_ms: 500`). Each run has its own group and output topic; the clock runs from start until
 * every input offset is committed. The variants alternate 3 times and the best round of each counts.
 * Prints a table, the ratios, and one JSON line.
 *
 *   deno run -A bench/kafka_eos_bench.ts [--n=100000] [--fetch-bytes=1048576]
 *   bun bench/kafka_eos_bench.ts [same flags]
 *
 * `--fetch-bytes` (`max.partition.fetch.bytes`) bounds the batch size, so the transaction size (a fetch
 * still returns at least one whole record batch of the producer: here up to 1,000 records).
 *
 * The broker comes from scripts/kafka.sh ensure (or LOOM_KAFKA_BOOTSTRAP).
 *
 * @module
 */
import process from "node:process";
import { Kafka, logLevel } from "kafkajs";
import { compileFlow } from "../mod.ts";
import { KafkaFlowRunner } from "../runtime/mod.ts";
import { enrichFlow, kafkaBootstrap, produceBenchOrders, runtimeName } from "./_common.ts";

const flag = (name: string, fallback: number): number => {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  const n = arg === undefined ? fallback : Number(arg.slice(name.length + 3));
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer`);
  return n;
};
const N = flag("n", 100_000);
// max.partition.fetch.bytes: bounds the batch size (a fetch still returns at least one whole record batch
// of the producer, here up to 1,000 records)
const FETCH_BYTES = flag("fetch-bytes", 1_048_576);
const PARTITIONS = 3;
const brokers = [kafkaBootstrap()];

const tag = Date.now().toString(36);
const input = `bench-eos-in-${tag}`;
const kafka = new Kafka({ brokers, clientId: "loom-eos-bench", logLevel: logLevel.WARN });
const admin = kafka.admin();
await admin.connect();
const variants = [
  { name: "at_least_once", runtime: { processing_guarantee: "at_least_once" } },
  { name: "exactly_once, 1 batch per transaction", runtime: { processing_guarantee: "exactly_once" } },
  {
    name: "exactly_once, ≤ 20 batches / 500 ms per transaction",
    runtime: { processing_guarantee: "exactly_once", transaction_batches: 20, epoch_interval_ms: 500 },
  },
] as const;
const ROUNDS = 3;
await admin.createTopics({
  topics: [input, ...Array.from({ length: variants.length * ROUNDS }, (_, i) => `${input}.out-${i}`)].map((
    topic,
  ) => ({
    topic,
    numPartitions: PARTITIONS,
  })),
  waitForLeaders: true,
});
await produceBenchOrders(kafka, input, N);
const endOf = new Map((await admin.fetchTopicOffsets(input)).map((e) => [e.partition, Number(e.high)]));

const flow = enrichFlow("bench_eos");

/** Runs one variant; resolves with its seconds and how many commits (transactions under exactly_once) it made. */
async function run(i: number, slot: number): Promise<{ seconds: number; commits: number }> {
  const plan = compileFlow(flow, {
    kafka: {
      consumer: {
        brokers,
        group_id: `bench-eos-${slot}-${tag}`,
        topics: [input],
        enable_auto_commit: false,
        extra: { "max.partition.fetch.bytes": FETCH_BYTES },
      },
      producer: { brokers },
      producers: { out: { brokers, topic: `${input}.out-${slot}` } },
    },
    streaming: { runtime: { max_in_flight: 50_000, kafka_client: "platformatic", ...variants[i].runtime } },
  });
  const committed = new Map<number, number>();
  let commits = 0;
  let done!: () => void;
  const finished = new Promise<void>((r) => (done = r));
  const runner = new KafkaFlowRunner(plan, {
    onCommit: (offsets) => {
      commits++;
      for (const o of offsets) committed.set(o.partition, o.offset);
      if ([...endOf].every(([p, e]) => (committed.get(p) ?? 0) >= e)) done();
    },
  });
  const t0 = performance.now();
  await runner.start();
  await finished;
  const seconds = (performance.now() - t0) / 1000;
  await runner.stop();
  if (runner.failure) throw runner.failure;
  return { seconds, commits };
}

// the variants alternate, ROUNDS times (the first runs warm the JIT and the page cache); the best round counts
const results = variants.map(() => ({ seconds: Infinity, commits: 0 }));
for (let r = 0; r < ROUNDS; r++) {
  for (let i = 0; i < variants.length; i++) {
    const one = await run(i, r * variants.length + i);
    if (one.seconds < results[i].seconds) results[i] = one;
  }
}
await admin.disconnect();
const rates = results.map((r) => Math.round(N / r.seconds));
const runtime = runtimeName();
console.log("| guarantee | runtime | messages | seconds | msgs/s | commits | ratio to at_least_once |");
console.log("|---|---|---|---|---|---|---|");
for (let i = 0; i < variants.length; i++) {
  console.log(
    `| ${variants[i].name} | ${runtime} | ${N} | ${results[i].seconds.toFixed(2)} | ${rates[i]} | ${
      results[i].commits
    } | ${(rates[i] / rates[0]).toFixed(2)} |`,
  );
}
console.log(JSON.stringify({
  bench: "kafka_eos",
  runtime,
  messages: N,
  partitions: PARTITIONS,
  fetch_bytes: FETCH_BYTES,
  at_least_once_msgs_per_s: rates[0],
  exactly_once_per_batch_msgs_per_s: rates[1],
  exactly_once_20_batches_msgs_per_s: rates[2],
  ratio_per_batch: Number((rates[1] / rates[0]).toFixed(2)),
  ratio_20_batches: Number((rates[2] / rates[0]).toFixed(2)),
  commits: results.map((r) => r.commits),
}));
process.exit(0);
