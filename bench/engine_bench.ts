/**
 * Engine benchmark (in-memory, no broker): N messages through decode → record step → router → encode,
 * delivered to a counting producer in batches of 500 per partition, with exact commit tracking.
 *
 *   deno run -A bench/engine_bench.ts [N] [observe]      bun bench/engine_bench.ts [N] [observe]
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
import { BenchOrder, runtimeName } from "./_common.ts";

const N = Number(globalThis.process?.argv?.[2] ?? 1_000_000);
const OBSERVE = globalThis.process?.argv?.[3] ?? "off";
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

const flow = new StreamFlow({
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

async function run(n: number): Promise<{ seconds: number; committed: number }> {
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
  await driver.stop();
  return { seconds, committed };
}

await run(Math.min(100_000, N)); // warm-up
produced = 0;
producedBytes = 0;
const mem0 =
  (globalThis as { process?: { memoryUsage?: () => { rss: number } } }).process?.memoryUsage?.().rss ?? 0;
const r = await run(N);
const mem1 =
  (globalThis as { process?: { memoryUsage?: () => { rss: number } } }).process?.memoryUsage?.().rss ?? 0;
if (produced !== N) throw new Error(`expected ${N} outputs, got ${produced}`);
const runtime = runtimeName();
const result = {
  bench: "engine",
  runtime,
  observe: OBSERVE,
  messages: N,
  avg_input_bytes: Math.round(avgBytes),
  seconds: Number(r.seconds.toFixed(3)),
  msgs_per_s: Math.round(N / r.seconds),
  mb_per_s_in: Number(((N * avgBytes) / r.seconds / 1e6).toFixed(1)),
  rss_mb: Math.round(mem1 / 1e6),
  rss_growth_mb: Math.round((mem1 - mem0) / 1e6),
};
console.log("| bench | runtime | observe | messages | avg bytes | seconds | msgs/s | MB/s in | RSS MB |");
console.log("|---|---|---|---|---|---|---|---|---|");
console.log(
  `| engine: decode → step → router → encode | ${result.runtime} | ${OBSERVE} | ${N} | ${result.avg_input_bytes} | ${result.seconds} | ${result.msgs_per_s} | ${result.mb_per_s_in} | ${result.rss_mb} |`,
);
console.log(JSON.stringify(result));
