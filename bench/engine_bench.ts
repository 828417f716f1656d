/**
 * Engine benchmark (in-memory, no broker): N messages through decode → record step → router → encode,
 * delivered to a counting producer in batches of 500 per partition, with exact commit tracking — next to
 * the **floor**: a bare loop over the same envelopes that only decodes each one with the source schema's
 * codec and re-encodes its payload (no engine, no headers, no tracking). The two run interleaved, ROUNDS
 * times; `engine ÷ floor` (median of the rounds' ratios) is what the engine costs over the codec itself.
 *
 *   deno run -A bench/engine_bench.ts [N] [ROUNDS] [observe]      bun bench/engine_bench.ts [same]
 *
 * `observe`: `off` (default: no observer, the disabled case), `info` (what a worker runs by default: flow
 * metrics and the JSON-lines lifecycle logger at info), `otel` (the same plus the OpenTelemetry observer on
 * the reference SDK with a batch span processor and an exporter that drops the spans), `otel-noop` (the
 * OpenTelemetry observer with no provider registered: the API's no-op spans).
 *
 * Prints a table and one JSON line.
 *
 * @module
 */
import * as v from "valibot";
import {
  compileFlow,
  FromTopic,
  IntoTopic,
  type Message,
  messageType,
  msg,
  Process,
  randomIds,
  RecordStep,
  Router,
  StreamFlow,
  systemClock,
} from "../mod.ts";
import {
  bothNodeTimers,
  combineObservers,
  encodeSourceValue,
  FlowDriver,
  FlowMetrics,
  type FlowObserver,
  instrumentPlan,
  jsonLinesObserver,
  lifecycleFlowObserver,
  lifecycleNodeTimer,
  type LifecycleObserver,
  MetricsRegistry,
  ObservabilityRuntime,
  type ProducerPort,
  type SourceRecord,
} from "../streaming/engine.ts";
import type { CompiledPlan } from "../streaming/_plan.ts";
import type { TracerProvider } from "@opentelemetry/api";
import { decodeEnvelope, encodeEnvelope } from "../kafka/mod.ts";
import { payloadCodec } from "../streaming/_wire_codecs.ts";
import { BenchOrder, runtimeName } from "./_common.ts";

const N = Number(globalThis.process?.argv?.[2] ?? 1_000_000);
const ROUNDS = Number(globalThis.process?.argv?.[3] ?? 3);
const OBSERVE = globalThis.process?.argv?.[4] ?? "off";
if (!["off", "info", "otel", "otel-noop"].includes(OBSERVE)) {
  throw new Error(`observe must be off, info, otel or otel-noop, not '${OBSERVE}'`);
}
const BATCH = 500;

const Order = BenchOrder;
type O = v.InferOutput<typeof Order.schema>;
const Enriched = messageType(
  "bench.Enriched",
  v.object({
    order_id: v.string(),
    customer: v.string(),
    total: v.number(),
    segment: v.string(),
    country: v.string(),
    lane: v.string(),
  }),
);
type E = v.InferOutput<typeof Enriched.schema>;

const enrich = RecordStep.of((m: Message<O>) => ({
  order_id: m.payload.order_id,
  customer: m.payload.customer,
  total: m.payload.amount * m.payload.quantity,
  segment: m.payload.segment,
  country: m.payload.country,
  lane: "",
}), { name: "enrich", output: Enriched });
const lane = (l: string) =>
  RecordStep.of((m: Message<E>) => ({ ...m.payload, lane: l }), { name: l, output: Enriched });

const MINIMAL = globalThis.process?.env?.LOOM_BENCH_MINIMAL === "1";
const flow = MINIMAL
  ? new StreamFlow({
    name: "bench",
    source: new FromTopic("in", Order),
    process: new Process(RecordStep.of((m: Message<O>) => m.payload, { name: "pass", output: Order })),
    output: new IntoTopic("out"),
  })
  : new StreamFlow({
    name: "bench",
    source: new FromTopic("in", Order),
    process: new Process(
      enrich,
      Router.by(msg.payload.field("segment"), {
        vip: new Process(lane("vip")),
        standard: new Process(lane("std")),
      }, {
        default: new Process(lane("other")),
      }),
    ),
    output: new IntoTopic("out"),
  });

const B = ["127.0.0.1:9092"];
const plan = compileFlow(flow, {
  kafka: {
    consumer: { brokers: B, group_id: "bench", topics: ["in"], enable_auto_commit: false },
    producer: { brokers: B },
  },
});

// Pre-encode distinct records (~200 bytes each), reused cyclically with increasing offsets.
const SEGMENTS = ["vip", "standard", "other"];
const distinct = 4096;
const values: Uint8Array[] = [];
for (let i = 0; i < distinct; i++) {
  values.push(encodeSourceValue(
    {
      order_id: `order-${i.toString().padStart(8, "0")}`,
      customer: `customer-${i % 997}`,
      amount: 10.5 + (i % 100),
      quantity: 1 + (i % 7),
      segment: SEGMENTS[i % 3],
      country: i % 2 ? "ES" : "FR",
      paid: i % 5 !== 0,
      created_at_ms: 1_700_000_000_000 + i,
    },
    Order,
    {
      producedAtMs: 1_700_000_000_000 + i,
      traceId: "0123456789abcdef0123456789abcdef",
      correlationId: `c-${i}`,
    },
  ));
}
const avgBytes = values.reduce((a, b) => a + b.length, 0) / values.length;
const key = new TextEncoder().encode("k");

let produced = 0, producedBytes = 0;
const producer: ProducerPort = {
  send(_topic, records) {
    produced += records.length;
    for (const r of records) producedBytes += r.value.length;
    return Promise.resolve();
  },
};

/** The driver's plan and observer for the `observe` mode (as FlowInstance wires them). */
async function observed(): Promise<{ plan: CompiledPlan; observer?: FlowObserver }> {
  if (OBSERVE === "off") return { plan };
  const observers: LifecycleObserver[] = [jsonLinesObserver("info", () => {})];
  if (OBSERVE.startsWith("otel")) {
    const { otelObserver } = await import("../runtime/otel/_observer.ts");
    let tracerProvider: TracerProvider | undefined;
    if (OBSERVE === "otel") {
      const sdk = await import("@opentelemetry/sdk-trace");
      const exporter = {
        export: (_s: unknown, done: (r: { code: 0 }) => void) => done({ code: 0 }),
        shutdown: () => Promise.resolve(),
      };
      tracerProvider = new sdk.TracerProvider({ spanProcessors: [new sdk.BatchSpanProcessor({ exporter })] });
    }
    observers.push(otelObserver({ tracerProvider }));
  }
  const events = new ObservabilityRuntime(observers);
  const metrics = new FlowMetrics(plan.name, {
    get stats() {
      return current!.stats;
    },
    inFlight: () => current?.inFlight ?? 0,
  }, new MetricsRegistry());
  const timedPlan = instrumentPlan(
    plan,
    bothNodeTimers(metrics.nodeTimer(), lifecycleNodeTimer(plan, events)),
  );
  const flowObserver = lifecycleFlowObserver(plan, events);
  flowObserver.stateChanged?.("running", null);
  return { plan: timedPlan, observer: combineObservers(metrics, flowObserver) };
}
/** The driver of the current run (the metrics read its stats). */
let current: FlowDriver | null = null;
const setup = await observed();

/** CPU seconds (user + system) of this process: on a shared VM they move much less than wall time. */
const cpu = (): number => {
  const u = (globalThis as { process?: { cpuUsage?: () => { user: number; system: number } } }).process
    ?.cpuUsage?.();
  return u === undefined ? 0 : (u.user + u.system) / 1e6;
};

async function run(n: number): Promise<{ seconds: number; cpuSeconds: number; committed: number }> {
  const driver = new FlowDriver(setup.plan, {
    producer,
    clock: systemClock,
    ids: randomIds,
    observer: setup.observer,
  });
  current = driver;
  await driver.start();
  const partitions = 4;
  const next = [0, 0, 0, 0];
  let sent = 0, committed = 0;
  const c0 = cpu();
  const t0 = performance.now();
  while (sent < n) {
    const p = (sent / BATCH) % partitions | 0;
    const size = Math.min(BATCH, n - sent);
    const records: SourceRecord[] = new Array(size);
    for (let i = 0; i < size; i++) {
      records[i] = {
        topic: "in",
        partition: p,
        offset: next[p]++,
        key,
        value: values[(sent + i) % distinct],
        headers: {},
        timestampMs: 1_700_000_000_000,
      };
    }
    await driver.handle({ topic: "in", partition: p, records });
    for (const c of driver.takeCommits()) committed = Math.max(committed, c.offset);
    sent += size;
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpuSeconds = cpu() - c0;
  await driver.stop();
  return { seconds, cpuSeconds, committed };
}

/** The floor: decode each envelope and re-encode its payload, in the same batches, nothing else. */
function floor(n: number): { seconds: number; cpuSeconds: number; bytes: number } {
  const codec = payloadCodec(Order);
  let bytes = 0, sent = 0;
  const c0 = cpu();
  const t0 = performance.now();
  while (sent < n) {
    const size = Math.min(BATCH, n - sent);
    for (let i = 0; i < size; i++) {
      const d = decodeEnvelope(values[(sent + i) % distinct], codec, 1_700_000_000_000);
      bytes += encodeEnvelope(d.header, d.payload, codec).length;
    }
    sent += size;
  }
  return { seconds: (performance.now() - t0) / 1000, cpuSeconds: cpu() - c0, bytes };
}

const rss = (): number =>
  (globalThis as { process?: { memoryUsage?: () => { rss: number } } }).process?.memoryUsage?.().rss ?? 0;
await run(Math.min(100_000, N)); // warm-up
floor(Math.min(100_000, N));
const mem0 = rss();
const engineRates: number[] = [], floorRates: number[] = [], ratios: number[] = [], cpuRatios: number[] = [];
let r = { seconds: 0, cpuSeconds: 0, committed: 0 };
for (let round = 0; round < ROUNDS; round++) {
  produced = 0;
  producedBytes = 0;
  const f0 = round % 2 === 0 ? null : floor(N); // alternate which runs first
  r = await run(N);
  if (produced !== N) throw new Error(`expected ${N} outputs, got ${produced}`);
  const f = f0 ?? floor(N);
  engineRates.push(N / r.seconds);
  floorRates.push(N / f.seconds);
  ratios.push(f.seconds / r.seconds);
  cpuRatios.push(f.cpuSeconds / r.cpuSeconds);
}
const mem1 = rss();
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 === 1 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const engineRate = median(engineRates);
const runtime = runtimeName();
const result = {
  bench: "engine",
  runtime,
  observe: OBSERVE,
  messages: N,
  rounds: ROUNDS,
  avg_input_bytes: Math.round(avgBytes),
  msgs_per_s: Math.round(engineRate),
  floor_msgs_per_s: Math.round(median(floorRates)),
  engine_vs_floor: Number(median(ratios).toFixed(2)),
  engine_vs_floor_cpu: Number(median(cpuRatios).toFixed(2)),
  mb_per_s_in: Number(((engineRate * avgBytes) / 1e6).toFixed(1)),
  rss_mb: Math.round(mem1 / 1e6),
  rss_growth_mb: Math.round((mem1 - mem0) / 1e6),
};
console.log("| bench | runtime | messages | avg bytes | msgs/s (median) | MB/s in | RSS MB |");
console.log("|---|---|---|---|---|---|---|");
console.log(
  `| engine (observe: ${OBSERVE}): decode → step → router → encode | ${result.runtime} | ${N} | ${result.avg_input_bytes} | ${result.msgs_per_s} | ${result.mb_per_s_in} | ${result.rss_mb} |`,
);
console.log(
  `| floor: decode → re-encode, nothing else | ${result.runtime} | ${N} | ${result.avg_input_bytes} | ${result.floor_msgs_per_s} | | |`,
);
console.log(
  `engine ÷ floor: ${result.engine_vs_floor} by wall time, ${result.engine_vs_floor_cpu} by CPU time ` +
    `(median of ${ROUNDS} interleaved rounds)`,
);
console.log(JSON.stringify(result));
