/**
 * Backlog memory benchmark on the real broker: a child process pre-produces a backlog of N records (default
 * 1,000,000), then another child drains it with KafkaFlowRunner through a flow that buffers (CollectBatch of
 * 5,000 per partition) and does async work per message, with the default `max_in_flight` (10,000) and
 * Kafka client (@platformatic/kafka) unless told otherwise. Only the draining process is measured: it
 * reports its peak RSS (the kernel's high-water mark, `VmHWM`, where /proc exists; else the peak of 100 ms
 * samples), peak heap and peak in-flight count.
 *
 * The drain runs twice on the same backlog (two consumer groups), one after the other:
 * - `default`: the runtime started the way `deno task run` / `bun run run` start a flow (Deno without GC flags:
 *   V8 sizes its heap from the machine's RAM and lets it grow to several times the live set; Bun with the
 *   heap size `scripts/bun-cli.sh` sets, `BUN_JSC_forceRAMSize`, at most 4 GiB);
 * - `lean`: started the way `deno task run:lean` / `bun run run:lean` start it, with the GC sizing flags
 *   read from that task (deno.json, `--v8-flags=…`) or script (package.json, `BUN_JSC_…=` variables and
 *   those `scripts/bun-cli.sh` sets).
 *
 *   deno run -A bench/kafka_backlog_bench.ts [--n=1000000] [--max-in-flight=10000] [--client=platformatic|kafkajs]
 *     [--fetch-max-bytes=B] [--only=default|lean] [--trace] [--produce-encoder=platformatic]
 *     [--fetch-parser=platformatic]
 *   bun bench/kafka_backlog_bench.ts [same flags]
 *
 * `--produce-encoder=platformatic` has the drain's produce requests encoded by @platformatic/kafka itself
 * instead of the adapter, `--fetch-parser=platformatic` its fetch responses parsed by it (for A/B runs; the
 * table's launch column says so).
 * `--trace` makes the draining process print its memory every second on stderr (RSS, V8 heap used/total, external,
 * the kernel's RSS high-water mark so far).
 *
 * @module
 */
import { spawn, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";
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
import type { OutgoingRecord } from "../streaming/_transport.ts";
import { createKafkaClients, heapLimitStats, KafkaAdmin, KafkaFlowRunner } from "../runtime/mod.ts";
import { kafkaBootstrap, runtimeName } from "./_common.ts";
import { ownProduceEncoder } from "../runtime/platformatic/_produce_request.ts";
import { ownFetchParser } from "../runtime/platformatic/_fetch_records.ts";

const opt = (name: string): string | undefined =>
  process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const N = Number(opt("n") ?? 1_000_000);
const MAX_IN_FLIGHT = Number(opt("max-in-flight") ?? 10_000);
const CLIENT = (opt("client") ?? "platformatic") as "platformatic" | "kafkajs";
/** `streaming.runtime.heap_limit_mb` of the drain (absent: the default, 0: none). */
const HEAP_LIMIT_MB = opt("heap-limit-mb") === undefined ? undefined : Number(opt("heap-limit-mb"));
const TRACE = process.argv.includes("--trace");
/**
 * `--produce-encoder=platformatic`: the drain's produce requests are encoded by @platformatic/kafka itself
 * instead of the adapter's encoder (runtime/platformatic/_produce_request.ts), for A/B runs.
 */
const THEIR_PRODUCE_ENCODER = opt("produce-encoder") === "platformatic";
/** `--fetch-parser=platformatic`: the drain's fetch responses are parsed by @platformatic/kafka itself. */
const THEIR_FETCH_PARSER = opt("fetch-parser") === "platformatic";
const brokers = [kafkaBootstrap()];
const runtime = runtimeName();
const isDeno = "Deno" in globalThis;
const self = fileURLToPath(import.meta.url);
const root = fileURLToPath(new URL("..", import.meta.url));
const Tick = messageType("bench.Tick", v.object({ id: v.pipe(v.number(), v.integer()), s: v.string() }));
type T = v.InferOutput<typeof Tick.schema>;
const quiet = { logLevel: "error" as const };
const producerSettings = { brokers, clientId: "loom-backlog-bench", topic: null, security: null, extra: {} };

/** What a draining child prints as its last stdout line. */
interface DrainResult {
  readonly peak_rss_mb: number;
  readonly rss_source: "VmHWM" | "sampled";
  readonly base_rss_mb: number;
  readonly peak_heap_mb: number;
  readonly peak_in_flight: number;
  readonly backpressure_pauses: number;
  readonly drain_seconds: number;
  /** The soft heap limit of the drain (`heap_limit_mb`, 0: none) and the collections it forced. */
  readonly heap_limit_mb: number;
  readonly forced_collections: number;
  readonly forced_collection_ms: number;
}

const PRODUCE_TOPIC = opt("produce-into");
const DRAIN_TOPIC = opt("drain");
if (PRODUCE_TOPIC !== undefined) await produceBacklog(PRODUCE_TOPIC);
else if (DRAIN_TOPIC !== undefined) await drain(DRAIN_TOPIC, opt("group")!);
else await orchestrate();

/** Child role 1: the backlog, in sends of 5,000 (this process's memory is not measured). */
async function produceBacklog(topic: string): Promise<void> {
  const producer = createKafkaClients("platformatic", quiet).producer(producerSettings);
  await producer.connect();
  const BATCH = 5000;
  const enc = new TextEncoder();
  for (let i = 0; i < N; i += BATCH) {
    const out: OutgoingRecord[] = [];
    for (let j = i; j < Math.min(N, i + BATCH); j++) {
      const value = encodeSourceValue({ id: j, s: "x".repeat(40) }, Tick, { producedAtMs: 1 });
      out.push({ key: enc.encode(`k${j % 512}`), value, headers: {}, timestampMs: null });
    }
    await producer.send(topic, out);
  }
  await producer.disconnect();
  process.exit(0);
}

/** The kernel's peak RSS of this process in bytes (Linux), or undefined. */
function highWaterMark(): number | undefined {
  try {
    const m = /VmHWM:\s+(\d+)\s+kB/.exec(readFileSync("/proc/self/status", "utf8"));
    return m === null ? undefined : Number(m[1]) * 1024;
  } catch {
    return undefined;
  }
}

/** Child role 2: drain the backlog with the flow and report this process's memory. */
async function drain(input: string, group: string): Promise<void> {
  if (THEIR_PRODUCE_ENCODER) ownProduceEncoder.enabled = false;
  if (THEIR_FETCH_PARSER) ownFetchParser.enabled = false;
  const admin = new KafkaAdmin(producerSettings);
  const ends = await admin.endOffsets(input);
  await admin.close();
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
  const fetchMax = opt("fetch-max-bytes");
  const plan = compileFlow(flow, {
    kafka: {
      consumer: {
        brokers,
        group_id: group,
        topics: [input],
        ...(fetchMax
          ? {
            extra: {
              "fetch.max.bytes": Number(fetchMax),
              "max.partition.fetch.bytes": Math.min(1048576, Number(fetchMax)),
            },
          }
          : {}),
      },
      producer: { brokers },
      producers: { out: { brokers, topic: `${input}.out` } },
    },
    streaming: {
      runtime: {
        max_in_flight: MAX_IN_FLIGHT,
        kafka_client: CLIENT,
        ...(HEAP_LIMIT_MB === undefined ? {} : { heap_limit_mb: HEAP_LIMIT_MB }),
      },
    },
  });
  let peakRss = 0, peakInFlight = 0, pauses = 0, peakHeap = 0, ticks = 0, forced = 0, forcedMs = 0;
  const committed = new Map<number, number>();
  const baseRss = process.memoryUsage().rss;
  const t0 = performance.now();
  await new Promise<void>((resolve) => {
    const runner: KafkaFlowRunner = new KafkaFlowRunner(plan, {
      client: quiet,
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
          // (read before stop(): the last runner to stop clears the limit and its counts)
          const gc = heapLimitStats();
          if (gc !== null) (forced = gc.collections), (forcedMs = gc.collectMs);
          void runner.stop().then(resolve);
        }
      },
    });
    const sampler = setInterval(() => {
      const m = process.memoryUsage();
      peakRss = Math.max(peakRss, m.rss);
      peakHeap = Math.max(peakHeap, m.heapUsed);
      peakInFlight = Math.max(peakInFlight, runner.driver.inFlight);
      if (TRACE && ++ticks % 10 === 0) {
        console.error(
          `t=${ticks / 10}s rss=${Math.round(m.rss / 1e6)} heap=${Math.round(m.heapUsed / 1e6)}/${
            Math.round(m.heapTotal / 1e6)
          } external=${Math.round(m.external / 1e6)} in_flight=${runner.driver.inFlight} hwm=${
            Math.round((highWaterMark() ?? 0) / 1e6)
          }`,
        );
      }
    }, 100);
    void runner.start();
  });
  const hwm = highWaterMark();
  const result: DrainResult = {
    peak_rss_mb: Math.round((hwm ?? peakRss) / 1e6),
    rss_source: hwm === undefined ? "sampled" : "VmHWM",
    base_rss_mb: Math.round(baseRss / 1e6),
    peak_heap_mb: Math.round(peakHeap / 1e6),
    peak_in_flight: peakInFlight,
    backpressure_pauses: pauses,
    drain_seconds: Number(((performance.now() - t0) / 1000).toFixed(1)),
    heap_limit_mb: plan.runtime.heapLimitMb,
    forced_collections: forced,
    forced_collection_ms: Math.round(forcedMs),
  };
  console.log(JSON.stringify(result));
  process.exit(0);
}

/**
 * The GC sizing flags of one of this runtime's launch commands: a deno.json task (`--v8-flags=…`) on Deno,
 * a package.json script (`BUN_JSC_…=…` variables) on Bun.
 */
function launchFlags(name: string): { args: string[]; env: Record<string, string>; text: string } {
  if (isDeno) {
    const task = String(JSON.parse(readFileSync(`${root}deno.json`, "utf8")).tasks?.[name] ?? "");
    const args = task.split(/\s+/).filter((a) => a.startsWith("--v8-flags="));
    return { args, env: {}, text: args.join(" ") || "(none)" };
  }
  const script = String(JSON.parse(readFileSync(`${root}package.json`, "utf8")).scripts?.[name] ?? "");
  const env: Record<string, string> = {};
  for (const m of script.matchAll(/\b(BUN_JSC_\w+)=(\S+)/g)) env[m[1]] = m[2];
  if (script.includes("scripts/bun-cli.sh")) {
    // the heap size that launcher sets (BUN_JSC_forceRAMSize, unless set already)
    const r = spawnSync("bash", [`${root}scripts/bun-cli.sh`], {
      env: { ...process.env, LOOM_PRINT_BUN_ENV: "1" },
      encoding: "utf8",
    });
    for (const m of String(r.stdout).matchAll(/\b(BUN_JSC_\w+)=(\S+)/g)) env[m[1]] ??= m[2];
  }
  return { args: [], env, text: Object.entries(env).map(([k, v]) => `${k}=${v}`).join(" ") || "(none)" };
}

/** Runs this script in a child process of the same runtime; resolves with its last stdout line. */
function child(runtimeArgs: string[], env: Record<string, string>, args: string[]): Promise<string> {
  const argv = isDeno ? ["run", "-A", ...runtimeArgs, self, ...args] : [...runtimeArgs, self, ...args];
  return new Promise((resolve, reject) => {
    const c = spawn(process.execPath, argv, {
      stdio: ["ignore", "pipe", "inherit"],
      env: { ...process.env, ...env, LOOM_KAFKA_BOOTSTRAP: brokers[0] },
    });
    let out = "";
    c.stdout.on("data", (d) => (out += String(d)));
    c.on("error", reject);
    c.on("exit", (code) => {
      if (code !== 0) return reject(new Error(`the draining process exited with ${code}`));
      resolve(out.trim().split("\n").pop() ?? "");
    });
  });
}

async function orchestrate(): Promise<void> {
  const tag = Date.now().toString(36);
  const input = `bench-backlog-${tag}`;
  const admin = new KafkaAdmin(producerSettings);
  await admin.createTopics([{ topic: input, partitions: 3 }, { topic: `${input}.out`, partitions: 3 }]);
  const t0 = performance.now();
  const args = isDeno ? ["run", "-A", self] : [self];
  const r = spawnSync(process.execPath, [...args, `--n=${N}`, `--produce-into=${input}`], {
    stdio: "inherit",
    env: { ...process.env, LOOM_KAFKA_BOOTSTRAP: brokers[0] },
  });
  if (r.status !== 0) throw new Error(`producing the backlog failed (exit ${r.status})`);
  const produceSeconds = (performance.now() - t0) / 1000;
  const launch = { default: launchFlags("run"), lean: launchFlags("run:lean") };
  const only = opt("only");
  const modes = (["default", "lean"] as const).filter((m) => only === undefined || only === m);
  const passOn = process.argv.slice(2).filter((a) => !a.startsWith("--only="));
  const rows: { mode: string; flags: string; r: DrainResult }[] = [];
  for (const mode of modes) {
    const flags = launch[mode];
    const line = await child(flags.args, flags.env, [
      ...passOn,
      `--drain=${input}`,
      `--group=backlog-${tag}-${mode}`,
    ]);
    const theirs = [THEIR_PRODUCE_ENCODER && "produce encoder", THEIR_FETCH_PARSER && "fetch parser"].filter(
      Boolean,
    );
    const label = theirs.length ? `${mode} (platformatic's ${theirs.join(" and ")})` : mode;
    rows.push({ mode: label, flags: flags.text, r: JSON.parse(line) as DrainResult });
  }
  await admin.deleteTopics([input, `${input}.out`]).catch(() => {});
  await admin.close();
  console.log(
    "| backlog | runtime | launch | GC flags | heap_limit_mb (forced GCs, ms) | max_in_flight | peak in flight | pauses | RSS at start | peak RSS | peak heap | drain msgs/s |",
  );
  console.log("|---|---|---|---|---|---|---|---|---|---|---|---|");
  for (const { mode, flags: f, r: d } of rows) {
    console.log(
      `| ${N} | ${runtime} | ${mode} | \`${f}\` | ${d.heap_limit_mb} (${d.forced_collections}, ${d.forced_collection_ms}) | ${MAX_IN_FLIGHT} | ${d.peak_in_flight} | ${d.backpressure_pauses} | ${d.base_rss_mb} MB | ${d.peak_rss_mb} MB (${d.rss_source}) | ${d.peak_heap_mb} MB | ${
        Math.round(N / d.drain_seconds)
      } |`,
    );
  }
  console.log(JSON.stringify({
    bench: "kafka_backlog",
    runtime,
    client: CLIENT,
    backlog: N,
    max_in_flight: MAX_IN_FLIGHT,
    produce_seconds: Number(produceSeconds.toFixed(1)),
    runs: Object.fromEntries(rows.map(({ mode, flags: f, r: d }) => [mode, { flags: f, ...d }])),
  }));
  process.exit(0);
}
