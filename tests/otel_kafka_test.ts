// OpenTelemetry spans of a flow run on the REAL broker (Deno and Bun): the relay flow with
// `observability.otel.enabled` runs under the supervisor (one worker, on the main thread, so the test's
// globally registered provider — the reference SDK with an in-memory exporter — receives the spans). The
// spans must account for every record: one flow span; poll cycles (each the root of its trace, linked to
// the flow span) covering the records of both partitions; under each, one node span counting its records
// with its first record's trace id (an output's parent trace id), and writes summing to the outputs.
// On Deno, the CLI with `OTEL_DENO=true` and two Web Workers exports the spans with Deno's built-in OTLP
// exporter to a collector stand-in (an HTTP server in this test that keeps the request bodies). On both
// runtimes, a flow module that registers a provider itself (the README's way on Bun) gets the spans of
// every worker.
// Run: deno test -A tests/otel_kafka_test.ts   |   bun test tests/otel_kafka_test.ts
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { SpanStatusCode, trace } from "@opentelemetry/api";
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { compileFlow, ConfigContext } from "../mod.ts";
import { decodeOutputRecord, type SourceRecord } from "../streaming/engine.ts";
import { FlowSupervisor } from "../runtime/mod.ts";
import { flow, relayConfig } from "./flows/relay.ts";
import { produce } from "./_runtime_support.ts";
import { bootstrap, createTopics, deleteTopics, readTopics, unique, waitFor } from "./_support.ts";

const FLOW_MODULE = fileURLToPath(new URL("./flows/relay.ts", import.meta.url));
const TRACED_MODULE = fileURLToPath(new URL("./flows/relay_traced.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("..", import.meta.url));
const isDeno = typeof (globalThis as { Deno?: unknown }).Deno !== "undefined";

describe("OpenTelemetry spans on a real broker", () => {
  const cleanup: string[] = [];
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  after(async () => {
    trace.disable();
    await provider.shutdown();
    await deleteTopics(cleanup);
  });

  const N = 40;
  const runFlow = async (): Promise<SourceRecord[]> => {
    const t = { in: unique("otel-in"), out: unique("otel-out") };
    cleanup.push(t.in, t.out);
    await createTopics([t.in, t.out], 2);
    const config = ConfigContext.fromObject(relayConfig(t, unique("g-otel"), [bootstrap()], {}, {
      observability: {
        otel: { enabled: true, config: { tracer_name: "loom-it", span_attributes: { suite: "otel_kafka" } } },
      },
    }));
    const plan = compileFlow(flow, config);
    const sup = new FlowSupervisor({ flowModule: FLOW_MODULE, config, plan, quietClient: true });
    assert.equal(sup.inMainThread, true);
    try {
      await sup.start();
      await produce(t.in, 0, N);
      await waitFor(() => sup.status().totals.produced >= N, 60_000, "all outputs");
    } finally {
      await sup.stop();
    }
    assert.ok(sup.stoppedCleanly);
    topic = t.in;
    return await readTopics([t.out]);
  };
  let topic = "";

  test(
    "the relay flow with otel enabled: the spans account for every record",
    { timeout: 90_000 },
    async () => {
      assert.ok(trace.setGlobalTracerProvider(provider), "a tracer provider was already registered");
      const outputs = await runFlow();
      assert.equal(outputs.length, N);

      const spans = exporter.getFinishedSpans();
      const named = (prefix: string) => spans.filter((s) => s.name.startsWith(prefix));
      const parent = (s: ReadableSpan) => s.parentSpanContext?.spanId;
      const flows = named("flow:relay");
      assert.equal(flows.length, 1, spans.map((s) => s.name).join(", "));
      const [root] = flows;
      assert.equal(parent(root), undefined);
      assert.equal(root.instrumentationScope.name, "loom-it");
      for (const s of spans) {
        assert.equal(s.attributes["loom.run_id"], root.attributes["loom.id"], s.name);
        assert.equal(s.attributes.suite, "otel_kafka", s.name);
      }

      // each poll cycle roots its own trace, linked to the flow span
      const polls = named("poll_cycle:relay:");
      assert.ok(polls.length >= 2, `${polls.length} poll cycles`);
      const pollById = new Map(polls.map((p) => [p.spanContext().spanId, p]));
      for (const p of polls) {
        assert.equal(p.name, `poll_cycle:relay:${topic}`);
        assert.equal(parent(p), undefined);
        assert.deepEqual(p.links.map((l) => l.context.spanId), [root.spanContext().spanId]);
        assert.equal(p.attributes["messaging.destination.name"], topic);
      }
      assert.deepEqual(
        [...new Set(polls.map((p) => p.attributes["messaging.destination.partition.id"]))].sort(),
        ["0", "1"],
      );
      const batchSum = polls.reduce((a, p) => a + Number(p.attributes["messaging.batch.message_count"]), 0);
      assert.equal(batchSum, N);

      // one node span per poll cycle (one step), under it, counting its records, with its first record's trace id
      const nodes = named("node:relay:");
      assert.equal(nodes.length, polls.length);
      const outParents = new Set(outputs.map((r) => decodeOutputRecord(r).meta.parentTraceId));
      for (const n of nodes) {
        const p = pollById.get(parent(n) ?? "");
        assert.ok(p, `${n.name} is not under a poll cycle`);
        assert.equal(n.spanContext().traceId, p.spanContext().traceId);
        assert.equal(
          String(n.attributes["loom.source.partition"]),
          p.attributes["messaging.destination.partition.id"],
        );
        assert.equal(n.attributes["loom.node.type"], "tag");
        assert.equal(n.attributes["loom.node.invocations"], p.attributes["messaging.batch.message_count"]);
        assert.equal(n.attributes["loom.node.errors"], 0);
        assert.ok(outParents.has(String(n.attributes["loom.trace_id"])), "the trace id of an input record");
      }

      // writes under the poll cycles, summing to the outputs
      const writes = spans.filter((s) => s.name.startsWith("write:relay:"));
      assert.ok(writes.length >= 2, `${writes.length} writes`);
      for (const w of writes) assert.ok(pollById.has(parent(w) ?? ""), `${w.name} outside a poll cycle`);
      assert.equal(writes.reduce((a, w) => a + Number(w.attributes["messaging.batch.message_count"]), 0), N);
      assert.ok(spans.every((s) => s.status.code !== SpanStatusCode.ERROR), "no span failed");
    },
  );

  /** Runs the CLI (two workers, 200 records) with otel enabled; returns what `collector` received. */
  const runCli = async (
    flowModule: string,
    env: (url: string) => Record<string, string>,
  ): Promise<{ t: { in: string; out: string }; bodies: { path: string; body: Buffer }[] }> => {
    const t = { in: unique("otel-cli-in"), out: unique("otel-cli-out") };
    cleanup.push(t.in, t.out);
    await createTopics([t.in, t.out], 4);
    const cfg = join(ROOT, ".cache", `${unique("otel-cli")}.json`);
    writeFileSync(
      cfg,
      JSON.stringify(relayConfig(t, unique("g-otel-cli"), [bootstrap()], {}, {
        observability: { otel: { enabled: true } },
      })),
    );
    const bodies: { path: string; body: Buffer }[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        bodies.push({ path: req.url ?? "", body: Buffer.concat(chunks) });
        res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const args = [
        "runtime/cli.ts",
        "run",
        flowModule,
        "--config",
        cfg,
        "--workers",
        "2",
        "--max-messages",
        "200",
      ];
      const child = spawn(process.execPath, isDeno ? ["run", "-A", ...args] : args, {
        cwd: ROOT,
        env: { ...process.env, ...env(url) },
        stdio: ["ignore", "ignore", "pipe"],
      });
      let stderr = "";
      child.stderr!.on("data", (d) => (stderr += d));
      const closed = new Promise<number | null>((r) => child.on("close", r));
      // the records come once both workers are in the group, so both process some
      await waitFor(() => stderr.includes('"workers_started"'), 45_000, "both workers started").catch((e) => {
        child.kill("SIGKILL");
        throw new Error(`${e.message}\n${stderr}`);
      });
      await produce(t.in, 0, 200);
      const code = await closed;
      assert.equal(code, 0, stderr);
      assert.doesNotMatch(stderr, /otel_no_tracer_provider/);
    } finally {
      await new Promise((r) => server.close(r));
      rmSync(cfg, { force: true });
    }
    return { t, bodies };
  };

  // Deno's built-in exporter has no Bun counterpart (Bun: register a provider in the flow module, tested
  // below on both runtimes): the case exists on Deno only, instead of being reported as skipped on Bun.
  if (isDeno) {
    test("on Deno, OTEL_DENO=true exports the spans of every worker over OTLP", {
      timeout: 90_000,
    }, async () => {
      const { t, bodies } = await runCli(FLOW_MODULE, (url) => ({
        OTEL_DENO: "true",
        OTEL_EXPORTER_OTLP_ENDPOINT: url,
        OTEL_DENO_CONSOLE: "ignore",
      }));
      const traces = Buffer.concat(bodies.filter((b) => b.path === "/v1/traces").map((b) => b.body)).toString(
        "latin1",
      );
      const count = (s: string) => traces.split(s).length - 1;
      // the protobuf carries the span names as plain strings: one flow span per worker, batches of both
      assert.equal(count("flow:relay"), 2, "a flow span per worker");
      assert.ok(count(`poll_cycle:relay:${t.in}`) >= 2, "poll cycles");
      assert.ok(count("node:relay:process[0]") >= 2, "node spans");
      assert.ok(count(`write:relay:${t.out}`) >= 2, "write spans");
    });
  }
  test(
    "a provider registered by the flow module gets the spans of every worker",
    { timeout: 90_000 },
    async () => {
      const { t, bodies } = await runCli(TRACED_MODULE, (url) => ({ LOOM_TEST_SPAN_SINK: url }));
      const spans = bodies.flatMap((b) =>
        JSON.parse(b.body.toString("utf8")) as { name: string; attributes: Record<string, unknown> }[]
      );
      const polls = spans.filter((s) => s.name === `poll_cycle:relay:${t.in}`);
      const consumed = polls.reduce((a, p) => a + Number(p.attributes["messaging.batch.message_count"]), 0);
      assert.ok(consumed >= 200, `poll cycles cover ${consumed} of 200 records`);
      const partitions = new Set(polls.map((p) => p.attributes["messaging.destination.partition.id"]));
      assert.deepEqual([...partitions].sort(), ["0", "1", "2", "3"]);
      const runs = new Set(polls.map((p) => p.attributes["loom.run_id"]));
      assert.equal(runs.size, 2, "spans of both workers");
      assert.ok(spans.some((s) => s.name === "node:relay:process[0]"));
      assert.ok(spans.some((s) => s.name === `write:relay:${t.out}`));
    },
  );
});
