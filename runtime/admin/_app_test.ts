// Unit tests of the admin routes through app.request() (no server, no broker): the source is a
// compiled plan with real FlowMetrics fed through the observation port.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { compileFlow, ConfigContext } from "../../mod.ts";
import { emptyStats, FlowMetrics, type MetricFamily } from "../../streaming/engine.ts";
import { flow } from "../../tests/flows/relay.ts";
import { parsePrometheusText, sampleValue } from "../../streaming/observe/_test_support.ts";
import { createAdminApp } from "./_app.ts";
import { type AdminSource, type FlowStatus, readinessOf, totalsOf, type WorkerStatus } from "./_source.ts";
import { isSecretKey, redactSecrets } from "./_redact.ts";

const config = ConfigContext.fromObject({
  kafka: {
    consumer: {
      brokers: ["127.0.0.1:1"],
      group_id: "g",
      topics: ["in.t"],
      security: {
        protocol: "SASL_SSL",
        sasl_mechanism: "PLAIN",
        sasl_username: "bob",
        sasl_password: "hunter2",
      },
    },
    producer: { brokers: ["127.0.0.1:1"] },
    producers: { "relay.out": { brokers: ["127.0.0.1:1"], topic: "out.t" } },
  },
  database: { warehouse: { url: "postgresql://u:pa55@db/x" } },
  // a free-form section of the service's own (extra keys of the Kafka sections are checked at compile time)
  vault: { ssl: { "key.password": "k3y" }, api_token: "t0kval" },
  streaming: { runtime: { transport: "kafka" } },
});
const plan = compileFlow(flow, config);

function source(workers: WorkerStatus[], state = "running") {
  const stats = emptyStats();
  const m = new FlowMetrics(plan.name, { stats, inFlight: () => 0 });
  const rec = {
    topic: "in.t",
    partition: 0,
    offset: 0,
    key: null,
    value: null,
    headers: {},
    timestampMs: null,
  };
  m.assigned([{ topic: "in.t", partition: 0 }]);
  m.batchHandled({ topic: "in.t", partition: 0, records: [rec, rec, rec], highWatermark: 5 }, 2, null);
  stats.produced["out.t"] = 3;
  m.committed([{ topic: "in.t", partition: 0, offset: 3 }]);
  const src: AdminSource = {
    plan,
    metrics: (): MetricFamily[] => m.registry.collect(),
    status: (): FlowStatus => {
      const metrics = m.registry.collect();
      const partitions = m.partitions();
      return {
        flow: plan.name,
        state,
        uptimeMs: 1,
        workers,
        partitions,
        totals: totalsOf(metrics, partitions),
        ready: state === "running"
          ? readinessOf(workers)
          : { ready: false, reasons: [`supervisor is ${state}`] },
      };
    },
  };
  return src;
}

const up = (index: number, assigned = ["in.t[0]"]): WorkerStatus => ({
  index,
  thread: "worker",
  state: "running",
  assigned,
  joined: true,
  restarts: 0,
  lastError: null,
});

describe("admin API routes", () => {
  test("GET /health and /ready (200, then 503 with reasons)", async () => {
    const app = createAdminApp(source([up(0), up(1, [])]));
    let res = await app.request("/health");
    assert.equal(res.status, 200);
    assert.equal((await res.json()).status, "ok");
    res = await app.request("/ready");
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { ready: true, reasons: [] });

    const down = createAdminApp(source([up(0), { ...up(1), state: "restarting", assigned: [] }]));
    res = await down.request("/ready");
    assert.equal(res.status, 503);
    assert.deepEqual((await res.json()).reasons, ["worker 1 is restarting"]);
    const unjoined = createAdminApp(source([{ ...up(0), joined: false }]));
    assert.match((await (await unjoined.request("/ready")).json()).reasons[0], /not joined/);
    const failed = createAdminApp(source([up(0)], "failed"));
    assert.equal((await failed.request("/health")).status, 503);
  });

  test("GET /metrics is valid Prometheus text with the flow's counters", async () => {
    const res = await createAdminApp(source([up(0)])).request("/metrics");
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
    const p = parsePrometheusText(await res.text());
    assert.equal(sampleValue(p, "loom_records_consumed_total", { flow: "relay", topic: "in.t" }), 3);
    assert.equal(sampleValue(p, "loom_records_produced_total", { flow: "relay", topic: "out.t" }), 3);
    assert.equal(sampleValue(p, "loom_consumer_lag", { flow: "relay", topic: "in.t", partition: "0" }), 2);
  });

  test("GET /flows: the plan with a Mermaid graph, secrets redacted", async () => {
    const res = await createAdminApp(source([up(0)])).request("/flows");
    assert.equal(res.status, 200);
    const text = await res.text();
    for (const secret of ["hunter2", "k3y", "t0kval", "pa55", "bob"]) {
      assert.ok(!text.includes(secret), secret);
    }
    const body = JSON.parse(text);
    const view = body.flows[0];
    assert.equal(view.name, "relay");
    assert.deepEqual(view.source.topics, ["in.t"]);
    assert.match(view.mermaid, /^flowchart LR\n/);
    assert.match(view.mermaid, /tag \(record\)/);
    assert.match(view.mermaid, /topic out\.t/);
    assert.equal(view.config.kafka.consumer.security.sasl_password, "***");
    assert.equal(view.config.vault.api_token, "***");
    assert.equal(view.config.database.warehouse.url, "postgresql://u:***@db/x");
    assert.ok(view.graph.edges.length >= 2);
    const one = await createAdminApp(source([up(0)])).request("/flows/relay");
    assert.equal((await one.json()).name, "relay");
  });

  test("unknown paths and flows answer 404, bad requests 400, as JSON", async () => {
    const app = createAdminApp(source([up(0)]));
    let res = await app.request("/nope");
    assert.equal(res.status, 404);
    assert.deepEqual(await res.json(), { error: "not found", path: "/nope" });
    res = await app.request("/flows/other");
    assert.equal(res.status, 404);
    assert.match((await res.json()).error, /no flow named 'other'/);
    res = await app.request("/events?interval_ms=abc");
    assert.equal(res.status, 400);
    assert.match((await res.json()).error, /interval_ms/);
    res = await app.request("/metrics", { method: "POST" });
    assert.equal(res.status, 404);
    const custom = createAdminApp(source([up(0)]), { metricsPath: "/prom" });
    assert.equal((await custom.request("/prom")).status, 200);
    assert.equal((await app.request("/prom")).status, 404);
  });

  test("GET /events streams status snapshots; GET / serves the page", async () => {
    const abort = new AbortController();
    const app = createAdminApp(source([up(0)]), { signal: abort.signal });
    const res = await app.request("/events?interval_ms=100");
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
    const reader = res.body!.getReader();
    let text = "";
    const dec = new TextDecoder();
    while ((text.match(/\n\n/g) ?? []).length < 2) text += dec.decode((await reader.read()).value);
    abort.abort();
    await reader.cancel();
    const events = text.split("\n\n").filter((e) => e.includes("data: "));
    assert.match(events[0], /^event: status\ndata: /);
    const status = JSON.parse(events[0].split("\n").find((l) => l.startsWith("data: "))!.slice(6));
    assert.equal(status.totals.consumed, 3);
    assert.deepEqual(status.partitions, [{ topic: "in.t", partition: 0, committed: 3, end: 5, lag: 2 }]);
    const page = await app.request("/");
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-type") ?? "", /text\/html/);
    assert.match(await page.text(), /new EventSource\("events"\)/);
  });

  test("secret keys", () => {
    for (
      const k of ["password", "sasl_username", "sasl.mechanism", "ssl.key.location", "api_token", "apiKey"]
    ) {
      assert.ok(isSecretKey(k), k);
    }
    for (const k of ["brokers", "group_id", "topic", "ssl.ca.location"]) assert.ok(!isSecretKey(k), k);
    assert.deepEqual(redactSecrets({ a: [{ token: "x" }], b: null }), { a: [{ token: "***" }], b: null });
  });
});
