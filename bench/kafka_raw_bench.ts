/**
 * Baseline for the engine: a raw kafkajs consume → produce → commit pipe against the local broker.
 *
 * 1. pre-produces N records (~SIZE bytes, keyed) to a fresh 3-partition input topic in sends of BATCH;
 * 2. consumes them with `eachBatch` (auto-commit off), produces each fetched batch to a fresh output
 *    topic in sends of at most BATCH records (acks=-1; one fetched batch can exceed the broker's 1 MiB
 *    record-batch limit, and keyed records of one input partition all land on one output partition),
 *    then commits the batch's next offset;
 * 3. prints a table and one JSON line (`{"bench":"kafka_raw",...}`).
 *
 * Run (the broker is started with scripts/kafka.sh ensure unless LOOM_KAFKA_BOOTSTRAP is set):
 *   deno run -A bench/kafka_raw_bench.ts [--n=200000] [--size=200] [--batch=1000] [--concurrency=3]
 *   bun bench/kafka_raw_bench.ts [same flags]
 *
 * @module
 */

import { Buffer } from "node:buffer";
import process from "node:process";
import { Kafka, logLevel, type Message, Partitioners } from "kafkajs";
import { kafkaBootstrap, runtimeName } from "./_common.ts";

const flag = (name: string, fallback: number): number => {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  const n = arg === undefined ? fallback : Number(arg.slice(name.length + 3));
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer`);
  return n;
};

const N = flag("n", 200_000);
const SIZE = flag("size", 200);
const BATCH = flag("batch", 1000);
const CONCURRENCY = flag("concurrency", 3);

const runtime = runtimeName;

const brokers = [kafkaBootstrap()];
const kafka = new Kafka({ brokers, clientId: "loom-raw-bench", logLevel: logLevel.WARN });
const tag = `${Date.now().toString(36)}`;
const input = `bench-raw-in-${tag}`;
const output = `bench-raw-out-${tag}`;
const groupId = `bench-raw-${tag}`;

const admin = kafka.admin();
await admin.connect();
await admin.createTopics({
  topics: [{ topic: input, numPartitions: 3 }, { topic: output, numPartitions: 3 }],
  waitForLeaders: true,
});

const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
await producer.connect();

// 1. pre-produce
const payload = Buffer.alloc(SIZE - 16, 120); // value ≈ SIZE bytes with its 16-byte prefix
const t0 = performance.now();
for (let start = 0; start < N; start += BATCH) {
  const count = Math.min(BATCH, N - start);
  const messages = new Array<Message>(count);
  for (let j = 0; j < count; j++) {
    const i = start + j;
    messages[j] = {
      key: Buffer.from(`key-${i % 10_000}`),
      value: Buffer.concat([Buffer.from(String(i).padStart(16, "0")), payload]),
    };
  }
  await producer.send({ topic: input, messages, acks: -1 });
}
const produceSeconds = (performance.now() - t0) / 1000;

// 2. consume → produce → commit
const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 100 });
await consumer.connect();
await consumer.subscribe({ topics: [input], fromBeginning: true });
let piped = 0;
let firstBatchAt = 0;
let resolveDone!: () => void;
let rejectDone!: (e: unknown) => void;
const done = new Promise<void>((resolve, reject) => {
  resolveDone = resolve;
  rejectDone = reject;
});
consumer.on(consumer.events.CRASH, (e) => rejectDone(e.payload.error));
await consumer.run({
  autoCommit: false,
  partitionsConsumedConcurrently: CONCURRENCY,
  eachBatch: async ({ batch }) => {
    if (firstBatchAt === 0) firstBatchAt = performance.now();
    const n = batch.messages.length;
    for (let start = 0; start < n; start += BATCH) {
      const end = Math.min(n, start + BATCH);
      const messages = new Array<Message>(end - start);
      for (let i = start; i < end; i++) {
        const m = batch.messages[i];
        messages[i - start] = { key: m.key, value: m.value, headers: m.headers, timestamp: m.timestamp };
      }
      await producer.send({ topic: output, messages, acks: -1 });
    }
    const next = (BigInt(batch.messages[n - 1].offset) + 1n).toString();
    await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: next }]);
    piped += n;
    if (piped >= N) resolveDone();
  },
});
const tRun = performance.now();
await done;
const tEnd = performance.now();
const pipeSeconds = (tEnd - firstBatchAt) / 1000;
const pipeWithJoinSeconds = (tEnd - tRun) / 1000;

await consumer.disconnect();
const outOffsets = await admin.fetchTopicOffsets(output);
const written = outOffsets.reduce((s, p) => s + Number(p.high), 0);
await admin.deleteTopics({ topics: [input, output] }).catch(() => {});
await producer.disconnect();
await admin.disconnect();
if (written !== N) throw new Error(`output topic holds ${written} records, expected ${N}`);

const rate = (n: number, s: number): number => Math.round(n / s);
const rows: [string, number, number][] = [
  [`produce (sends of ${BATCH})`, N, produceSeconds],
  [`consume→produce→commit (${CONCURRENCY} partitions at once)`, N, pipeSeconds],
];
const rt = runtime();
console.log(`\nkafka raw kafkajs bench — ${rt}, ${N} records of ~${SIZE} B, brokers ${brokers.join(",")}\n`);
console.log(
  `| ${"phase".padEnd(48)} | ${"records".padStart(8)} | ${"seconds".padStart(8)} | ${"msgs/s".padStart(9)} |`,
);
console.log(`|${"-".repeat(50)}|${"-".repeat(10)}|${"-".repeat(10)}|${"-".repeat(11)}|`);
for (const [phase, n, s] of rows) {
  console.log(
    `| ${phase.padEnd(48)} | ${String(n).padStart(8)} | ${s.toFixed(2).padStart(8)} | ${
      String(rate(n, s)).padStart(9)
    } |`,
  );
}
console.log(
  JSON.stringify({
    bench: "kafka_raw",
    runtime: rt,
    n: N,
    size: SIZE,
    batch: BATCH,
    concurrency: CONCURRENCY,
    produce_msgs_per_s: rate(N, produceSeconds),
    pipe_msgs_per_s: rate(N, pipeSeconds),
    pipe_incl_join_msgs_per_s: rate(N, pipeWithJoinSeconds),
  }),
);
