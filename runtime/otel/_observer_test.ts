// The OpenTelemetry lifecycle observer on the memory transport: a FlowInstance (the same object each worker
// runs) with a MemoryConsumer, its spans recorded by the reference SDK (`@opentelemetry/sdk-trace`) into an
// in-memory exporter. The Kafka version is tests/otel_kafka_test.ts.
import { afterEach, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import {
  InMemorySpanExporter,
  type ReadableSpan,
  SimpleSpanProcessor,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import {
  compileFlow,
  ConfigContext,
  ErrorRoute,
  FromTopic,
  IntoTopic,
  type Message,
  messageType,
  Process,
  RecordStep,
  StreamFlow,
} from "../../mod.ts";
import { encodeSourceValue, type ProducerClientPort, type ProducerPort } from "../../streaming/engine.ts";
import { readObservabilityConfig } from "../../streaming/observe/_config.ts";
import { InMemoryBroker } from "../../testing/mod.ts";
import { MemoryConsumer } from "../../testing/_memory_consumer.ts";
import { configuredLifecycleObservers, FlowInstance } from "../workers/_instance.ts";
import { otelObserver, otelOptionsFromConfig } from "./_observer.ts";

const Item = messageType("otel.Item", v.object({ id: v.string() }));
type ItemT = v.InferOutput<typeof Item.schema>;
const flow = new StreamFlow<ItemT>({
  name: "traced",
  source: new FromTopic("in", Item),
  process: new Process(
    RecordStep.of((m: Message<ItemT>) => {
      if (m.payload.id.startsWith("bad")) throw new TypeError(`bad item ${m.payload.id}`);
      return m.payload;
    }, { name: "check" }),
    RecordStep.of((m: Message<ItemT>) => ({ id: m.payload.id.toUpperCase() }), { name: "upper" }),
  ),
  output: new IntoTopic("out"),
  errors: new ErrorRoute(["task"], new IntoTopic("errors")),
});
const config = {
  kafka: {
    consumer: { brokers: ["mem:9092"], group_id: "g-otel", topics: ["in"], enable_auto_commit: false },
    producer: { brokers: ["mem:9092"] },
  },
  streaming: { runtime: { delivery_retries: 0 } },
};

const utf8 = new TextEncoder();
const TRACE = "0af7651916cd43dd8448eb211c80319c";

interface Setup {
  readonly exporter: InMemorySpanExporter;
  readonly provider: TracerProvider;
  readonly broker: InMemoryBroker;
}
let current: Setup | null = null;
afterEach(async () => {
  await current?.provider.shutdown();
  current = null;
});

function setup(): Setup {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const broker = new InMemoryBroker();
  broker.createTopic("in", { partitions: 2 });
  for (const t of ["out", "errors"]) broker.createTopic(t);
  current = { exporter, provider, broker };
  return current;
}

function send(broker: InMemoryBroker, partition: number, id: string, traceId: string | null = null): void {
  broker.produce("in", [{
    key: utf8.encode(id),
    value: encodeSourceValue({ id }, Item, {
      producedAtMs: 1_700_000_000_000,
      traceId,
      correlationId: `c-${id}`,
    }),
    // the headers a loom producer writes next to the envelope
    headers: {
      ...(traceId ? { "x-trace-id": utf8.encode(traceId) } : {}),
      "x-correlation-id": utf8.encode(`c-${id}`),
    },
    timestampMs: 1_700_000_000_000,
    partition,
  }]);
}

/** The memory broker's producer as a client port (connect, sendMany, disconnect). */
function clientOf(p: ProducerPort): ProducerClientPort {
  return {
    send: (topic, records) => p.send(topic, records),
    sendMany: async (batches) => {
      for (const [topic, records] of batches) await p.send(topic, records);
    },
    connect: () => Promise.resolve(),
    disconnect: () => Promise.resolve(),
  };
}

/** Runs the flow on the memory broker until the input is drained, then stops it. */
async function run(s: Setup, extra: Record<string, unknown> = {}): Promise<FlowInstance> {
  const ctx = new ConfigContext({ ...config, ...extra });
  const plan = compileFlow(flow, ctx);
  const consumer = new MemoryConsumer(s.broker, "g-otel");
  const instance = new FlowInstance(plan, {
    observability: readObservabilityConfig(ctx),
    writeLine: () => {},
    lifecycleObservers: [otelObserver({ tracerProvider: s.provider, tracerVersion: "9.9" })],
    runner: { consumer, producer: clientOf(s.broker.producer()) },
  });
  await instance.start();
  // a failing batch rejects the poll; the runner's failure is what the tests check
  while (instance.runner.state === "running" && await consumer.poll().catch(() => 0) > 0) { /* drain */ }
  if (instance.runner.state === "running") await instance.stop();
  else await instance.runner.done;
  return instance;
}

const byName = (spans: readonly ReadableSpan[], name: string) => spans.filter((s) => s.name === name);
const parentOf = (s: ReadableSpan) => s.parentSpanContext?.spanId;
const idOf = (s: ReadableSpan) => s.spanContext().spanId;

describe("OpenTelemetry lifecycle observer (memory transport)", () => {
  test("a flow span per run; per batch a trace of poll cycle, node and write spans with the records' ids", async () => {
    const s = setup();
    send(s.broker, 0, "a1", TRACE);
    send(s.broker, 0, "bad1");
    send(s.broker, 1, "b1");
    const instance = await run(s);
    assert.equal(instance.runner.failure, null);
    assert.equal(s.broker.records("out").length, 2);
    assert.equal(s.broker.records("errors").length, 1);

    const spans = s.exporter.getFinishedSpans();
    const [root] = byName(spans, "flow:traced");
    assert.ok(root, `no flow span in ${spans.map((x) => x.name).join(", ")}`);
    assert.equal(parentOf(root), undefined);
    assert.equal(root.attributes["loom.flow"], "traced");
    assert.equal(root.attributes["loom.flow.node_count"], 2);
    const runId = root.attributes["loom.id"];
    assert.equal(typeof runId, "string");
    assert.equal(root.status.code, SpanStatusCode.UNSET);
    assert.equal(root.instrumentationScope.name, "loom");
    assert.equal(root.instrumentationScope.version, "9.9");
    for (const x of spans) assert.equal(x.attributes["loom.run_id"], runId, x.name);

    // each poll cycle is the root of its own trace, linked to the flow span
    const polls = byName(spans, "poll_cycle:traced:in");
    assert.equal(polls.length, 2);
    const poll = new Map(polls.map((p) => [p.attributes["messaging.destination.partition.id"], p]));
    assert.deepEqual([...poll.keys()].sort(), ["0", "1"]);
    for (const p of polls) {
      assert.equal(parentOf(p), undefined);
      assert.notEqual(p.spanContext().traceId, root.spanContext().traceId);
      assert.deepEqual(p.links.map((l) => l.context.spanId), [idOf(root)]);
      assert.equal(p.kind, SpanKind.CONSUMER);
      assert.equal(p.attributes["messaging.system"], "kafka");
      assert.equal(p.attributes["messaging.destination.name"], "in");
      assert.equal(p.status.code, SpanStatusCode.UNSET);
    }
    const p0 = poll.get("0")!, p1 = poll.get("1")!;
    assert.notEqual(p0.spanContext().traceId, p1.spanContext().traceId);
    assert.equal(p0.attributes["messaging.batch.message_count"], 2);
    assert.equal(p1.attributes["messaging.batch.message_count"], 1);
    assert.equal(p0.attributes["loom.trace_id"], TRACE);
    assert.equal(p0.attributes["loom.correlation_id"], "c-a1");
    assert.equal(p0.attributes["loom.id"], "in[0]@0");

    // one node span per step and batch, under the poll cycle of its records' partition
    const nodes = spans.filter((x) => x.name.startsWith("node:traced:"));
    assert.equal(nodes.length, 4);
    const node = (p: ReadableSpan, type: string) => {
      const found = nodes.filter((n) => parentOf(n) === idOf(p) && n.attributes["loom.node.type"] === type);
      assert.equal(found.length, 1, `${type} under ${p.attributes["messaging.destination.partition.id"]}`);
      return found[0];
    };
    for (const n of nodes) {
      assert.equal(n.attributes["loom.source.topic"], "in");
      assert.equal(n.kind, SpanKind.INTERNAL);
      assert.equal(typeof n.attributes["loom.node.path"], "string");
      assert.equal(n.name, `node:traced:${n.attributes["loom.node.path"]}`);
      const p = parentOf(n) === idOf(p0) ? p0 : p1;
      assert.equal(n.spanContext().traceId, p.spanContext().traceId);
      assert.equal(
        String(n.attributes["loom.source.partition"]),
        p.attributes["messaging.destination.partition.id"],
      );
    }
    const check0 = node(p0, "check");
    assert.equal(check0.attributes["loom.node.invocations"], 2);
    assert.equal(check0.attributes["loom.node.errors"], 1);
    assert.equal(check0.attributes["loom.trace_id"], TRACE); // the first input's
    assert.equal(check0.attributes["loom.correlation_id"], "c-a1");
    assert.equal(check0.status.code, SpanStatusCode.ERROR);
    assert.equal(check0.status.message, "bad item bad1");
    assert.equal(check0.attributes["error.type"], "TypeError");
    const exceptions = check0.events.filter((e) => e.name === "exception");
    assert.equal(exceptions.length, 1);
    assert.equal(exceptions[0].attributes?.["exception.type"], "TypeError");
    assert.equal(exceptions[0].attributes?.["exception.message"], "bad item bad1");
    assert.equal(node(p0, "upper").attributes["loom.node.invocations"], 1);
    const check1 = node(p1, "check");
    assert.equal(check1.attributes["loom.node.invocations"], 1);
    assert.equal(check1.attributes["loom.node.errors"], 0);
    assert.equal(check1.attributes["loom.correlation_id"], "c-b1");
    assert.equal(check1.status.code, SpanStatusCode.UNSET);
    assert.equal(node(p1, "upper").attributes["loom.node.invocations"], 1);

    // writes: one per topic and batch, under their poll cycle
    const outs = byName(spans, "write:traced:out");
    assert.equal(outs.length, 2);
    assert.deepEqual(outs.map(parentOf).sort(), [idOf(p0), idOf(p1)].sort());
    for (const w of outs) {
      assert.equal(w.kind, SpanKind.PRODUCER);
      assert.equal(w.attributes["loom.sink"], "out");
      assert.equal(w.attributes["messaging.batch.message_count"], 1);
      assert.equal(w.status.code, SpanStatusCode.UNSET);
    }
    const [err] = byName(spans, "write:traced:errors");
    assert.equal(parentOf(err), idOf(p0));
    // children lie within their parents
    const ns = (t: readonly [number, number]) => t[0] * 1e9 + t[1];
    for (const x of [...nodes, ...outs, err]) {
      const p = parentOf(x) === idOf(p0) ? p0 : p1;
      assert.ok(ns(x.startTime) >= ns(p.startTime) - 1e6, `${x.name} starts before its poll cycle`);
      assert.ok(ns(x.endTime) <= ns(p.endTime) + 1e6, `${x.name} ends after its poll cycle`);
    }
  });

  test("a failed delivery marks the write, its poll cycle and the flow span as errors", async () => {
    const s = setup();
    send(s.broker, 0, "a1");
    s.broker.failSends("out", 1, new Error("broker says no"));
    const instance = await run(s);
    assert.ok(instance.runner.failure, "the flow fails");
    const spans = s.exporter.getFinishedSpans();
    const [w] = byName(spans, "write:traced:out");
    assert.equal(w.status.code, SpanStatusCode.ERROR);
    assert.match(w.status.message ?? "", /broker says no/);
    const [poll] = byName(spans, "poll_cycle:traced:in");
    assert.equal(poll.status.code, SpanStatusCode.ERROR);
    assert.equal(parentOf(w), idOf(poll));
    const [root] = byName(spans, "flow:traced");
    assert.equal(root.status.code, SpanStatusCode.ERROR);
    assert.equal(typeof root.attributes["error.type"], "string");
    assert.ok(root.events.some((e) => e.name === "exception"));
  });

  test("otel.config: tracer name and span attributes; exporter keys reported; off unless enabled", async () => {
    const warnings: string[] = [];
    const logger = { info: () => {}, warn: (e: string) => void warnings.push(e), error: () => {} };
    const obsOf = (otel: unknown) =>
      readObservabilityConfig(ConfigContext.fromObject({ observability: { otel } }));
    assert.deepEqual(await configuredLifecycleObservers(obsOf({ enabled: false }), logger), []);
    const cfg = obsOf({
      enabled: true,
      config: {
        tracer_name: "orders",
        span_attributes: { team: "payments", shard: 3 },
        endpoint: "http://otel:4318/v1/traces",
      },
    });
    assert.equal((await configuredLifecycleObservers(cfg, logger)).length, 1);
    assert.deepEqual(warnings, ["otel_exporter_keys_ignored"]);
    assert.throws(
      () => obsOf({ enabled: true, config: { span_attributes: { a: [1] } } }),
      /observability\.otel\.config\.span_attributes/,
    );

    const s = setup();
    const options = otelOptionsFromConfig(cfg.otel.config, logger);
    const events = otelObserver({ ...options, tracerProvider: s.provider });
    events.onEvent({
      scope: "flow",
      name: "f",
      kind: "START",
      traceId: null,
      correlationId: null,
      id: "run-1",
      durationMs: null,
      status: null,
      error: null,
      meta: {},
    });
    events.onEvent({
      scope: "flow",
      name: "f",
      kind: "END",
      traceId: null,
      correlationId: null,
      id: "run-1",
      durationMs: 1,
      status: "success",
      error: null,
      meta: {},
    });
    const [span] = s.exporter.getFinishedSpans();
    assert.equal(span.instrumentationScope.name, "orders");
    assert.equal(span.attributes.team, "payments");
    assert.equal(span.attributes.shard, 3);
  });

  test("without a registered tracer provider it says so once, and spans go nowhere", () => {
    const warnings: Record<string, unknown>[] = [];
    const logger = {
      info: () => {},
      warn: (_e: string, f?: Record<string, unknown>) => void warnings.push(f ?? {}),
      error: () => {},
    };
    const o = otelObserver({ logger });
    const start = {
      scope: "flow" as const,
      name: "f",
      kind: "START" as const,
      traceId: null,
      correlationId: null,
      id: null,
      durationMs: null,
      status: null,
      error: null,
      meta: {},
    };
    o.onEvent(start);
    o.onEvent(start);
    assert.equal(warnings.length, 1);
    assert.match(String(warnings[0].fix), /OTEL_DENO=true/);
  });
});
