/**
 * The Kafka client adapters compared on a raw consume → produce → commit pipe against the local broker:
 * kafkajs (`KafkaConsumerClient` / `KafkaProducerClient`) and @platformatic/kafka
 * (`PlatformaticConsumerClient` / `PlatformaticProducerClient`), through the core's ports, so the numbers
 * are what the run loop gets. The clients run interleaved, round after round, on the same records.
 *
 * Per round and client:
 * 1. pre-produces N records (SIZE-byte values, keyed, 4 small headers) to a fresh 3-partition input topic
 *    in sends of BATCH (acks=all);
 * 2. consumes them with the adapter's consumer (`partitionsConsumedConcurrently` = CONCURRENCY), produces
 *    each batch to a fresh output topic in sends of at most BATCH (acks=all), then commits the batch's
 *    next offset;
 * 3. checks the output topic holds N records.
 * Prints a table (median msgs/s per client, the platformatic ÷ kafkajs ratio, peak RSS) and one JSON line
 * (`{"bench":"kafka_raw",...}`).
 *
 * Run (the broker is started with scripts/kafka.sh ensure unless LOOM_KAFKA_BOOTSTRAP is set):
 *   deno run -A bench/kafka_raw_bench.ts [--n=200000] [--size=390] [--batch=1000] [--concurrency=3] [--rounds=3]
 *   bun bench/kafka_raw_bench.ts [same flags]
 *
 * @module
 */

import process from "node:process";
import { kafkaBootstrap, runtimeName } from "./_common.ts";
import { createKafkaClients, KafkaAdmin, type KafkaClientKind } from "../runtime/mod.ts";
import type { ConsumerSettings, ProducerSettings } from "../streaming/_settings.ts";
import type { OutgoingRecord } from "../streaming/_transport.ts";

const flag = (name: string, fallback: number): number => {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  const n = arg === undefined ? fallback : Number(arg.slice(name.length + 3));
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer`);
  return n;
};

const N = flag("n", 200_000);
const SIZE = flag("size", 390);
const BATCH = flag("batch", 1000);
const CONCURRENCY = flag("concurrency", 3);
const ROUNDS = flag("rounds", 3);
const CLIENTS: readonly KafkaClientKind[] = ["kafkajs", "platformatic"];

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

// The same records for every client and round.
const enc = new TextEncoder();
const filler = new Uint8Array(SIZE - 16).fill(120);
const headers = {
  "loom-type": enc.encode("bench.Order"),
  "loom-version": enc.encode("1"),
  "loom-trace": enc.encode("0af7651916cd43dd8448eb211c80319c"),
  "content-type": enc.encode("application/msgpack"),
};
const records: OutgoingRecord[] = new Array(N);
for (let i = 0; i < N; i++) {
  const value = new Uint8Array(SIZE);
  value.set(enc.encode(String(i).padStart(16, "0")));
  value.set(filler, 16);
  records[i] = { key: enc.encode(`key-${i % 10_000}`), value, headers, timestampMs: null };
}

let peakRss = 0;
const sampler = setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
}, 50);

interface Result {
  readonly produce: number;
  readonly pipe: number;
  readonly rssMb: number;
}

const runOnce = async (kind: KafkaClientKind, round: number): Promise<Result> => {
  const clients = createKafkaClients(kind, quiet);
  const input = `bench-raw-in-${tag}-${kind}-${round}`;
  const output = `bench-raw-out-${tag}-${kind}-${round}`;
  await admin.createTopics([{ topic: input, partitions: 3 }, { topic: output, partitions: 3 }]);
  const producer = clients.producer(producerSettings);
  await producer.connect();
  peakRss = process.memoryUsage().rss;
  const t0 = performance.now();
  for (let start = 0; start < N; start += BATCH) {
    await producer.send(input, records.slice(start, start + BATCH));
  }
  const produceSeconds = (performance.now() - t0) / 1000;

  const consumer = clients.consumer(consumerSettings(`bench-raw-${tag}-${kind}-${round}`));
  await consumer.connect();
  await consumer.subscribe([input], true);
  let piped = 0;
  let firstBatchAt = 0;
  const { promise: done, resolve, reject } = Promise.withResolvers<void>();
  peakRss = process.memoryUsage().rss;
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
  const pipeSeconds = (performance.now() - firstBatchAt) / 1000;
  const rssMb = Math.round(peakRss / 1048576);
  await consumer.disconnect();
  await producer.disconnect();
  const written = [...(await admin.endOffsets(output)).values()].reduce((s, n) => s + n, 0);
  await admin.deleteTopics([input, output]).catch(() => {});
  if (written !== N) throw new Error(`${kind}: output topic holds ${written} records, expected ${N}`);
  return { produce: N / produceSeconds, pipe: N / pipeSeconds, rssMb };
};

const results: Record<KafkaClientKind, Result[]> = { kafkajs: [], platformatic: [] };
for (let round = 0; round < ROUNDS; round++) {
  // Alternate the order so neither client always runs on a warmer broker.
  const order = round % 2 === 0 ? CLIENTS : [...CLIENTS].reverse();
  for (const kind of order) {
    const r = await runOnce(kind, round);
    results[kind].push(r);
    console.error(
      `round ${round + 1}/${ROUNDS} ${kind}: produce ${Math.round(r.produce)} msgs/s, pipe ${
        Math.round(r.pipe)
      } msgs/s, peak RSS ${r.rssMb} MB`,
    );
  }
}
clearInterval(sampler);
await admin.close();

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const med = (kind: KafkaClientKind, f: (r: Result) => number) => median(results[kind].map(f));
const rows: [string, number, number][] = [
  [
    `produce (sends of ${BATCH}, acks=all)`,
    med("kafkajs", (r) => r.produce),
    med("platformatic", (r) => r.produce),
  ],
  [
    `consume→produce→commit (${CONCURRENCY} partitions at once)`,
    med("kafkajs", (r) => r.pipe),
    med("platformatic", (r) => r.pipe),
  ],
  ["peak RSS during the phase, MB", med("kafkajs", (r) => r.rssMb), med("platformatic", (r) => r.rssMb)],
];
const rt = runtimeName();
console.log(
  `\nkafka raw pipe, kafkajs vs @platformatic/kafka — ${rt}, ${N} records of ${SIZE} B + 4 headers, ` +
    `median of ${ROUNDS} interleaved rounds, brokers ${brokers.join(",")}\n`,
);
console.log(
  `| ${"phase".padEnd(48)} | ${"kafkajs".padStart(9)} | ${"platformatic".padStart(12)} | ${
    "ratio".padStart(6)
  } |`,
);
console.log(`|${"-".repeat(50)}|${"-".repeat(11)}|${"-".repeat(14)}|${"-".repeat(8)}|`);
for (const [phase, k, p] of rows) {
  console.log(
    `| ${phase.padEnd(48)} | ${String(Math.round(k)).padStart(9)} | ${String(Math.round(p)).padStart(12)} | ${
      (p / k).toFixed(2).padStart(6)
    } |`,
  );
}
console.log(
  JSON.stringify({
    bench: "kafka_raw",
    runtime: rt,
    n: N,
    size: SIZE,
    headers: 4,
    batch: BATCH,
    concurrency: CONCURRENCY,
    rounds: ROUNDS,
    kafkajs_produce_msgs_per_s: Math.round(rows[0][1]),
    platformatic_produce_msgs_per_s: Math.round(rows[0][2]),
    kafkajs_pipe_msgs_per_s: Math.round(rows[1][1]),
    platformatic_pipe_msgs_per_s: Math.round(rows[1][2]),
    pipe_ratio: Number((rows[1][2] / rows[1][1]).toFixed(2)),
    kafkajs_peak_rss_mb: rows[2][1],
    platformatic_peak_rss_mb: rows[2][2],
  }),
);
