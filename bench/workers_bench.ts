/**
 * Worker-pool scaling on the real broker: the same N records on 4 partitions (produced once the workers
 * have joined the group, so no rebalance falls inside the measure) are processed
 * by the flow of `_workers_flow.ts` (decode → CPU-bound record step → encode) with 1 and then 2 module
 * Web Workers (each its own consumer in a fresh group, its own output topic). Throughput is measured from
 * the first consumed record to the last produced one. Prints a table, the scaling ratio and one JSON line.
 *
 *   deno run -A bench/workers_bench.ts [--n=50000] [--work=10000]
 *   bun bench/workers_bench.ts [same flags]
 *
 * The broker comes from scripts/kafka.sh ensure (or LOOM_KAFKA_BOOTSTRAP).
 *
 * @module
 */
import { Buffer } from "node:buffer";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { Kafka, logLevel, Partitioners } from "kafkajs";
import { compileFlow, ConfigContext } from "../mod.ts";
import { encodeSourceValue } from "../streaming/engine.ts";
import { FlowSupervisor } from "../runtime/mod.ts";
import { kafkaBootstrap, runtimeName } from "./_common.ts";

const flag = (name: string, fallback: number): number => {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  const n = arg === undefined ? fallback : Number(arg.slice(name.length + 3));
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer`);
  return n;
};
const N = flag("n", 50_000);
process.env.LOOM_BENCH_WORK = String(flag("work", 10_000)); // read by the flow module in each worker
const PARTITIONS = 4;
const brokers = [kafkaBootstrap()];
const run = `loombench-${Date.now().toString(36)}`;
const kafka = new Kafka({ brokers, clientId: "loom-workers-bench", logLevel: logLevel.NOTHING });
const admin = kafka.admin();
await admin.connect();
const outputs = [1, 2].map((w) => `${run}-out-${w}`);
await admin.createTopics({
  topics: outputs.map((topic) => ({ topic, numPartitions: PARTITIONS })),
  waitForLeaders: true,
});

// N envelope records spread over the partitions, encoded up front (produced once the workers are ready)
const batches: { key: string; value: Buffer; partition: number }[][] = [];
for (let i = 0; i < N; i += 1000) {
  const messages = [];
  for (let k = i; k < Math.min(N, i + 1000); k++) {
    const payload = {
      order_id: `o-${k}`,
      customer: `c-${k % 977}`,
      amount: (k % 1000) / 10,
      quantity: k % 7,
      segment: k % 3 ? "standard" : "vip",
      country: "FR",
      paid: true,
      created_at_ms: 1_700_000_000_000 + k,
    };
    const value = encodeSourceValue(payload, null, { producedAtMs: 1_700_000_000_000 });
    messages.push({
      key: payload.order_id,
      value: Buffer.from(value.buffer, value.byteOffset, value.length),
      partition: k % PARTITIONS,
    });
  }
  batches.push(messages);
}
const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
await producer.connect();

const flowModule = fileURLToPath(new URL("./_workers_flow.ts", import.meta.url));
const { flow } = await import("./_workers_flow.ts");

const measure = async (workers: number, output: string) => {
  const topic = `${run}-in-${workers}`;
  await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true });
  const config = ConfigContext.fromObject({
    kafka: {
      consumer: {
        brokers,
        group_id: `${run}-g${workers}`,
        topics: [topic],
        auto_offset_reset: "earliest",
        extra: { "session.timeout.ms": 6000, "heartbeat.interval.ms": 300 },
      },
      producer: { brokers },
      producers: { "bench.out": { brokers, topic: output } },
    },
    streaming: { runtime: { transport: "kafka", workers_per_process: workers } },
    observability: { log: { enabled: false } },
  });
  const plan = compileFlow(flow, config);
  const sup = new FlowSupervisor({
    flowModule,
    config,
    plan,
    mainThread: false,
    quietClient: true,
    snapshotMs: 50,
    logLevel: "warn",
  });
  await sup.start();
  // produce once every worker has joined and holds its partitions (no rebalance during the measure)
  const ready = performance.now() + 60_000;
  while (!sup.status().ready.ready || sup.workers().some((w) => w.assigned.length === 0)) {
    if (performance.now() > ready) throw new Error(`workers not ready: ${sup.status().ready.reasons}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  void (async () => {
    for (let i = 0; i < batches.length; i += 8) {
      await Promise.all(
        batches.slice(i, i + 8).map((messages) => producer.send({ topic, acks: -1, messages })),
      );
    }
  })();
  let first = 0;
  const deadline = performance.now() + 300_000;
  for (;;) {
    const t = sup.status().totals;
    if (!first && t.consumed > 0) first = performance.now();
    if (t.produced >= N) break;
    if (performance.now() > deadline) throw new Error(`timed out with ${t.produced} of ${N} produced`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const seconds = (performance.now() - first) / 1000;
  const restarts = sup.workers().reduce((a, w) => a + w.restarts, 0);
  await sup.stop();
  await admin.deleteTopics({ topics: [topic] }).catch(() => {});
  return { workers, seconds, msgsPerS: N / seconds, restarts };
};

const one = await measure(1, outputs[0]);
const two = await measure(2, outputs[1]);
await producer.disconnect();
await admin.deleteTopics({ topics: outputs }).catch(() => {});
await admin.disconnect();

const ratio = two.msgsPerS / one.msgsPerS;
const rt = runtimeName();
console.log(
  `\nworker pool scaling — ${rt}, ${N} records, ${PARTITIONS} partitions, work=${process.env.LOOM_BENCH_WORK}\n`,
);
console.log("| workers | seconds | msgs/s | restarts |");
console.log("|--------:|--------:|-------:|---------:|");
for (const r of [one, two]) {
  console.log(`| ${r.workers} | ${r.seconds.toFixed(2)} | ${Math.round(r.msgsPerS)} | ${r.restarts} |`);
}
console.log(`\nscaling 2 vs 1 workers: ${ratio.toFixed(2)}x\n`);
console.log(JSON.stringify({
  bench: "workers",
  runtime: rt,
  n: N,
  partitions: PARTITIONS,
  work: Number(process.env.LOOM_BENCH_WORK),
  one_worker_msgs_per_s: Math.round(one.msgsPerS),
  two_workers_msgs_per_s: Math.round(two.msgsPerS),
  scaling: Number(ratio.toFixed(3)),
}));
process.exit(0);
