/**
 * The Kafka client adapters compared on the local broker, interleaved round after round on the same records.
 * The pipes (`raw` and `flow` for both clients, `client` for @platformatic/kafka only):
 * - **raw**: the raw pipe through the core's ports (`createKafkaClients(kind)`, i.e. our adapter in
 *   runtime/kafkajs/ or runtime/platformatic/): consume a batch → produce it to an output topic in sends
 *   of at most BATCH (acks=all, bytes and the 4 trace headers copied) → commit the batch's next offset;
 *   what the run loop gets from the adapter, without our engine. The platformatic adapter takes records
 *   straight out of the fetch responses (runtime/platformatic/_fetch_tap.ts), not from the library's stream;
 * - **client** (platformatic only): the same pipe hand-written on the @platformatic/kafka API as a user
 *   would, without our adapter: `Consumer.consume()`'s MessagesStream in flowing mode, its messages grouped
 *   per partition (no promise per message) into batches of at most BATCH, one `Producer.send` (the
 *   adapter's producer settings) and one `Consumer.commit` per batch, the stream paused while too much is
 *   waiting; what the library itself gives a user (raw's batches are whatever the adapter hands out — all
 *   the records queued for the partition — in sends of at most BATCH with one commit);
 * - **flow**: `KafkaFlowRunner` with `kafkaClient: kind` running decode → record step → encode with exact
 *   commits (the trace headers it writes are the same 4 keys).
 *
 * The input is N envelopes of the 8-field bench order (390 B) with the 4 trace headers a loom producer
 * writes, produced once on a 3-partition topic; every run reads it with its own group and writes a fresh
 * output topic, timed from its first batch to its last commit, and checks that the output holds N records.
 * Prints a table (median msgs/s of each pipe, platformatic ÷ kafkajs, flow ÷ raw per client, flow ÷ client,
 * CPU per record, peak RSS) and one JSON line (`{"bench":"kafka_raw",...}`).
 *
 * Run (the broker is started with scripts/kafka.sh ensure unless LOOM_KAFKA_BOOTSTRAP is set):
 *   deno run -A bench/kafka_raw_bench.ts [--n=200000] [--batch=1000] [--concurrency=3] [--rounds=3]
 *     [--warmup=1] [--heap-limit-mb=M]
 *   bun bench/kafka_raw_bench.ts [same flags]
 * Every pipe first runs `--warmup` times untimed (0 to skip), so that no pipe is measured before the JIT
 * compiled its code.
 * `--client-ab=produce|fetch|both` also runs the platformatic adapter's raw and flow pipes (`raw-theirs`,
 * `flow-theirs`) with platformatic's own produce request encoder, fetch response parser or both instead of
 * the adapter's (runtime/platformatic/_produce_request.ts, _fetch_records.ts), and prints ours ÷ theirs.
 * `--only=platformatic` runs that client's pipes alone (raw, client, flow interleaved; the table shows — for
 * the other client); `--only=platformatic/client` (client/pipe) runs one pipe alone and prints only its
 * round lines, e.g. under `deno run --cpu-prof`.
 *
 * @module
 */

import type { Buffer } from "node:buffer";
import process from "node:process";
import { Consumer, type Message as KafkaMessage, type MessageToProduce, Producer } from "@platformatic/kafka";
import type * as v from "valibot";
import { BenchOrder, benchOrderEnvelope, kafkaBootstrap, runtimeName } from "./_common.ts";
import { compileFlow, FromTopic, IntoTopic, type Message, Process, RecordStep, StreamFlow } from "../mod.ts";
import { HEADERS } from "../streaming/engine.ts";
import {
  createKafkaClients,
  heapLimitStats,
  KafkaAdmin,
  type KafkaClientKind,
  KafkaFlowRunner,
} from "../runtime/mod.ts";
import type { ConsumerSettings, ProducerSettings } from "../streaming/_settings.ts";
import { ownProduceEncoder } from "../runtime/platformatic/_produce_request.ts";
import { ownFetchParser } from "../runtime/platformatic/_fetch_records.ts";
import type { OutgoingRecord } from "../streaming/_transport.ts";

const flag = (name: string, fallback: number, min = 1): number => {
  const arg = process.argv.find((a) => a.startsWith(`--${name}=`));
  const n = arg === undefined ? fallback : Number(arg.slice(name.length + 3));
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}`);
  return n;
};

const N = flag("n", 200_000);
const BATCH = flag("batch", 1000);
const CONCURRENCY = flag("concurrency", 3);
const ROUNDS = flag("rounds", 3);
const WARMUP = flag("warmup", 1, 0);
/** `--heap-limit-mb=M`: the flow's `streaming.runtime.heap_limit_mb` (absent: the default, 0: none). */
const HEAP_LIMIT_MB = process.argv.some((a) => a.startsWith("--heap-limit-mb="))
  ? flag("heap-limit-mb", 0, 0)
  : undefined;
const PARTITIONS = 3;
const CLIENTS: readonly KafkaClientKind[] = ["kafkajs", "platformatic"];
type Mode = "raw" | "client" | "flow" | "raw-theirs" | "flow-theirs";
/**
 * `--client-ab=produce|fetch|both`: the platformatic adapter's raw and flow pipes also run (`raw-theirs`,
 * `flow-theirs`, interleaved with the others) with platformatic's own produce request encoder, fetch
 * response parser, or both, instead of the adapter's; the summary prints ours ÷ theirs.
 */
const CLIENT_AB = process.argv.find((a) => a.startsWith("--client-ab="))?.slice(12);
if (CLIENT_AB !== undefined && !["produce", "fetch", "both"].includes(CLIENT_AB)) {
  throw new Error(`--client-ab=${CLIENT_AB}: expected produce, fetch or both`);
}
const PRODUCE_AB = CLIENT_AB !== undefined;
/** The pipes of each client: `client` (hand-written on the library) exists for @platformatic/kafka only. */
const MODES: Readonly<Record<KafkaClientKind, readonly Mode[]>> = {
  kafkajs: ["raw", "flow"],
  platformatic: PRODUCE_AB
    ? ["raw", "raw-theirs", "client", "flow", "flow-theirs"]
    : ["raw", "client", "flow"],
};

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

/** The adapter's fetch defaults (runtime/platformatic/_settings.ts), copied so `client` fetches alike. */
const FETCH_MAX_BYTES = 10 * 1024 * 1024;
const PARTITION_FETCH_MAX_BYTES = 1024 * 1024;
type PlatformaticMessage = KafkaMessage<Buffer, Buffer, Buffer, Buffer>;

/**
 * The raw pipe hand-written on @platformatic/kafka (no adapter): the MessagesStream's 'data' events are
 * appended to per-partition arrays (no promise per message); after each fetch's burst (a microtask) and
 * after each finished batch, every idle partition with records takes up to BATCH of them as its batch, at
 * most CONCURRENCY partitions at once: one send (acks=all; key, value, the received header Map of Buffers
 * and the timestamp) → commit of the batch's next offset. The stream is paused while more than
 * `fetch.max.bytes` of values are waiting and resumed below half of it (as our adapter's queues).
 */
const clientPipe = async (output: string, group: string): Promise<number> => {
  const base = {
    clientId: producerSettings.clientId!,
    bootstrapBrokers: brokers,
    retries: 5,
    retryDelay: 300,
    autocreateTopics: false,
  };
  // as our adapter: acks=all on every send, no compression, not idempotent (enable.idempotence default)
  const producer = new Producer<Buffer, Buffer, Buffer, Buffer>({
    ...base,
    acks: -1,
    compression: "none",
    idempotent: false,
  });
  producer.on("error", () => {}); // failures reach the sends' promises
  await producer.listApis();
  const fetchOptions = {
    autocommit: false,
    minBytes: 1,
    maxBytes: FETCH_MAX_BYTES,
    maxBytesPerPartition: PARTITION_FETCH_MAX_BYTES,
    maxWaitTime: consumerSettings(group).pollTimeoutMs,
    isolationLevel: 1, // read_committed, as our adapter
  };
  const consumer = new Consumer<Buffer, Buffer, Buffer, Buffer>({
    ...base,
    groupId: group,
    sessionTimeout: 30_000,
    heartbeatInterval: 3_000,
    rebalanceTimeout: 60_000,
    ...fetchOptions,
  });
  const { promise: done, resolve, reject } = Promise.withResolvers<void>();
  consumer.on("error", reject);
  const stream = await consumer.consume({
    topics: [input],
    mode: "committed",
    fallbackMode: "earliest",
    ...fetchOptions,
  });
  stream.on("error", reject);

  const pending = new Map<number, PlatformaticMessage[]>();
  const busy = new Set<number>();
  let pendingBytes = 0;
  let paused = false;
  let scheduled = false;
  let piped = 0;
  let firstBatchAt = 0;
  const sendBatch = async (partition: number, batch: PlatformaticMessage[]): Promise<void> => {
    const messages: MessageToProduce<Buffer, Buffer, Buffer, Buffer>[] = new Array(batch.length);
    for (let i = 0; i < batch.length; i++) {
      const m = batch[i];
      messages[i] = { topic: output, key: m.key, value: m.value, headers: m.headers, timestamp: m.timestamp };
    }
    await producer.send({ messages, acks: -1 });
    const last = batch[batch.length - 1];
    await consumer.commit({
      offsets: [{ topic: last.topic, partition, offset: last.offset + 1n, leaderEpoch: last.leaderEpoch }],
    });
    piped += batch.length;
    if (piped >= N) resolve();
  };
  const dispatch = (): void => {
    scheduled = false;
    for (const [partition, records] of pending) {
      if (busy.size >= CONCURRENCY) break;
      if (records.length === 0 || busy.has(partition)) continue;
      if (firstBatchAt === 0) firstBatchAt = performance.now();
      const batch = records.length <= BATCH ? records : records.splice(0, BATCH);
      if (batch === records) pending.set(partition, []);
      for (const m of batch) pendingBytes -= m.value.byteLength;
      busy.add(partition);
      sendBatch(partition, batch).then(() => {
        busy.delete(partition);
        if (paused && pendingBytes < FETCH_MAX_BYTES / 2) {
          paused = false;
          stream.resume();
        }
        dispatch();
      }, reject);
    }
  };
  stream.on("data", (m: PlatformaticMessage) => {
    let records = pending.get(m.partition);
    if (records === undefined) pending.set(m.partition, records = []);
    records.push(m);
    pendingBytes += m.value.byteLength;
    if (!paused && pendingBytes > FETCH_MAX_BYTES) {
      paused = true;
      stream.pause();
    }
    if (!scheduled) {
      scheduled = true;
      queueMicrotask(dispatch); // after this fetch's burst of 'data' events
    }
  });
  await done;
  const seconds = (performance.now() - firstBatchAt) / 1000;
  await stream.close();
  await consumer.close();
  await producer.close();
  return seconds;
};

/** The soft heap limit's forced collections during the last flow run (runtime/_heap_limit.ts), for its round line. */
let forcedGcs = "";

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
    streaming: {
      runtime: {
        kafka_client: kind,
        ...(HEAP_LIMIT_MB === undefined ? {} : { heap_limit_mb: HEAP_LIMIT_MB }),
      },
    },
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
  const gc = heapLimitStats();
  forcedGcs = gc === null ? "" : `, ${gc.collections} forced GCs (${Math.round(gc.collectMs)} ms)`;
  await runner.stop();
  return seconds;
};

const runOnce = async (kind: KafkaClientKind, mode: Mode, round: number): Promise<Result> => {
  const output = `bench-raw-out-${tag}-${kind}-${mode}-${round}`;
  await admin.createTopics([{ topic: output, partitions: PARTITIONS }]);
  peakRss = process.memoryUsage().rss;
  const group = `bench-raw-${tag}-${kind}-${mode}-${round}`;
  const theirs = mode.endsWith("-theirs");
  ownProduceEncoder.enabled = !(theirs && (CLIENT_AB === "produce" || CLIENT_AB === "both"));
  ownFetchParser.enabled = !(theirs && (CLIENT_AB === "fetch" || CLIENT_AB === "both"));
  const c0 = process.cpuUsage();
  const seconds = mode === "client"
    ? await clientPipe(output, group)
    : await (mode.startsWith("raw") ? rawPipe : flowPipe)(kind, output, group);
  const c = process.cpuUsage(c0);
  const rssMb = Math.round(peakRss / 1048576);
  const written = [...(await admin.endOffsets(output)).values()].reduce((s, n) => s + n, 0);
  await admin.deleteTopics([output]).catch(() => {});
  if (written !== N) throw new Error(`${kind} ${mode}: output topic holds ${written} records, expected ${N}`);
  return { rate: N / seconds, rssMb, cpuUs: (c.user + c.system) / N };
};

const only = process.argv.find((a) => a.startsWith("--only="))?.slice(7);
const RUNS: readonly (readonly [KafkaClientKind, Mode])[] = CLIENTS.flatMap((k) =>
  MODES[k].map((m) => [k, m] as const)
)
  .filter(([k, m]) => only === undefined || only === k || only === `${k}/${m}`);
if (RUNS.length === 0) {
  throw new Error(`--only=${only}: expected kafkajs[/raw|flow] or platformatic[/raw|client|flow]`);
}
const results = new Map<string, Result[]>(RUNS.map(([k, m]) => [`${k}/${m}`, []]));
// Warm-up: every pipe runs WARMUP times first, untimed. A pipe's first run in a process is its coldest (the
// JIT has not compiled its code yet): on Bun, the flow's first run took 16.5 µs of CPU per record and its
// second 11.3. Without it, whichever pipe runs first in round 1 is measured cold.
for (let w = 0; w < WARMUP; w++) {
  for (const [kind, mode] of RUNS) {
    const r = await runOnce(kind, mode, -1 - w);
    console.error(
      `warm-up ${w + 1}/${WARMUP} ${kind} ${mode}: ${Math.round(r.rate)} msgs/s, ${
        r.cpuUs.toFixed(1)
      } µs CPU/record (not counted)`,
    );
  }
}
for (let round = 0; round < ROUNDS; round++) {
  // Alternate the order so no pipe always runs on a warmer broker.
  const order = round % 2 === 0 ? RUNS : [...RUNS].reverse();
  for (const [kind, mode] of order) {
    const r = await runOnce(kind, mode, round);
    results.get(`${kind}/${mode}`)!.push(r);
    console.error(
      `round ${round + 1}/${ROUNDS} ${kind} ${mode}: ${Math.round(r.rate)} msgs/s, ${
        r.cpuUs.toFixed(1)
      } µs CPU/record, peak RSS ${r.rssMb} MB${mode === "flow" ? forcedGcs : ""}`,
    );
  }
}
clearInterval(sampler);
await admin.deleteTopics([input]).catch(() => {});
await admin.close();
// one pipe alone (e.g. under a profiler): its round lines are the output
if (only?.includes("/")) process.exit(0);

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
/** Median of `f` over a pipe's rounds; null when that pipe did not run (`--only=`). */
const med = (kind: KafkaClientKind, mode: Mode, f: (r: Result) => number): number | null => {
  const rs = results.get(`${kind}/${mode}`);
  return rs === undefined ? null : median(rs.map(f));
};
const rate = (k: KafkaClientKind, m: Mode) => {
  const r = med(k, m, (x) => x.rate);
  return r === null ? null : Math.round(r);
};
const rss = (k: KafkaClientKind, m: Mode) => med(k, m, (r) => r.rssMb);
const cpuUs = (k: KafkaClientKind, m: Mode) => {
  const c = med(k, m, (r) => r.cpuUs);
  return c === null ? null : Number(c.toFixed(1));
};
// ratios of one round's runs, then their median (the runs of a round are adjacent in time)
const roundRatio = (a: [KafkaClientKind, Mode], b: [KafkaClientKind, Mode]): number | null => {
  const ra = results.get(a.join("/"));
  const rb = results.get(b.join("/"));
  if (ra === undefined || rb === undefined) return null;
  return Number(median(ra.map((r, i) => r.rate / rb[i].rate)).toFixed(2));
};
const flowVsRaw = {
  kafkajs: roundRatio(["kafkajs", "flow"], ["kafkajs", "raw"]),
  platformatic: roundRatio(["platformatic", "flow"], ["platformatic", "raw"]),
};
const flowVsClient = roundRatio(["platformatic", "flow"], ["platformatic", "client"]);
/** `--client-ab`: the adapter's code ÷ platformatic's, per pipe, and flow ÷ raw with theirs. */
const produceAb = PRODUCE_AB
  ? {
    raw: roundRatio(["platformatic", "raw"], ["platformatic", "raw-theirs"]),
    flow: roundRatio(["platformatic", "flow"], ["platformatic", "flow-theirs"]),
    flowVsRawTheirs: roundRatio(["platformatic", "flow-theirs"], ["platformatic", "raw-theirs"]),
  }
  : null;
const rawRatio = roundRatio(["platformatic", "raw"], ["kafkajs", "raw"]);
const flowRatio = roundRatio(["platformatic", "flow"], ["kafkajs", "flow"]);

const rt = runtimeName();
console.log(
  `\nkafka pipes, kafkajs vs @platformatic/kafka — ${rt}, ${N} envelopes of ${envelopeBytes} B + 4 trace ` +
    `headers, ${PARTITIONS} partitions (${CONCURRENCY} at once), median of ${ROUNDS} interleaved rounds, ` +
    `brokers ${brokers.join(",")}\n`,
);
const cell = (x: number | null, digits = 0) => x === null ? "—" : x.toFixed(digits);
/** `a/b/c` of the pipes a client has (— for one that did not run). */
const perMode = (k: KafkaClientKind, f: (k: KafkaClientKind, m: Mode) => number | null, digits = 0) =>
  MODES[k].map((m) => cell(f(k, m), digits)).join("/");
const row = (cells: string[]) => console.log(`| ${cells.join(" | ")} |`);
row(["pipe".padEnd(56), "kafkajs".padStart(11), "platformatic".padStart(14), "ratio".padStart(6)]);
row(["-".repeat(56), "-".repeat(11), "-".repeat(14), "-".repeat(6)]);
row([
  "raw (our adapter): consume → produce → commit, msgs/s".padEnd(56),
  cell(rate("kafkajs", "raw")).padStart(11),
  cell(rate("platformatic", "raw")).padStart(14),
  cell(rawRatio, 2).padStart(6),
]);
row([
  "client (hand-written on the library), msgs/s".padEnd(56),
  "".padStart(11),
  cell(rate("platformatic", "client")).padStart(14),
  "".padStart(6),
]);
row([
  "flow: decode → step → encode, exact commits".padEnd(56),
  cell(rate("kafkajs", "flow")).padStart(11),
  cell(rate("platformatic", "flow")).padStart(14),
  cell(flowRatio, 2).padStart(6),
]);
row([
  "flow ÷ raw (same client)".padEnd(56),
  cell(flowVsRaw.kafkajs, 2).padStart(11),
  cell(flowVsRaw.platformatic, 2).padStart(14),
  "".padStart(6),
]);
row([
  "flow ÷ client".padEnd(56),
  "".padStart(11),
  cell(flowVsClient, 2).padStart(14),
  "".padStart(6),
]);
row([
  "CPU µs per record, raw / (client /) flow (this process)".padEnd(56),
  perMode("kafkajs", cpuUs, 1).padStart(11),
  perMode("platformatic", cpuUs, 1).padStart(14),
  "".padStart(6),
]);
row([
  "peak RSS raw / (client /) flow, MB".padEnd(56),
  perMode("kafkajs", rss).padStart(11),
  perMode("platformatic", rss).padStart(14),
  "".padStart(6),
]);
if (produceAb !== null) {
  row([
    `${CLIENT_AB} path, ours ÷ platformatic's: raw / flow`.padEnd(56),
    "".padStart(11),
    `${cell(produceAb.raw, 2)}/${cell(produceAb.flow, 2)}`.padStart(14),
    "".padStart(6),
  ]);
  row([
    `flow ÷ raw, both on platformatic's ${CLIENT_AB} path`.padEnd(56),
    "".padStart(11),
    cell(produceAb.flowVsRawTheirs, 2).padStart(14),
    "".padStart(6),
  ]);
}
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
    platformatic_client_msgs_per_s: rate("platformatic", "client"),
    kafkajs_flow_msgs_per_s: rate("kafkajs", "flow"),
    platformatic_flow_msgs_per_s: rate("platformatic", "flow"),
    raw_ratio_platformatic_vs_kafkajs: rawRatio,
    flow_ratio_platformatic_vs_kafkajs: flowRatio,
    flow_vs_raw_kafkajs: flowVsRaw.kafkajs,
    flow_vs_raw_platformatic: flowVsRaw.platformatic,
    flow_vs_client_platformatic: flowVsClient,
    ...(produceAb !== null && {
      client_ab: CLIENT_AB,
      client_path_ours_vs_theirs: { raw: produceAb.raw, flow: produceAb.flow },
      flow_vs_raw_platformatic_theirs: produceAb.flowVsRawTheirs,
    }),
    cpu_us_per_record: Object.fromEntries(
      [...results.keys()].map((k) => [k, cpuUs(...k.split("/") as [KafkaClientKind, Mode])]),
    ),
    peak_rss_mb: Object.fromEntries(
      [...results.keys()].map((k) => [k, rss(...k.split("/") as [KafkaClientKind, Mode])]),
    ),
  }),
);
process.exit(0);
