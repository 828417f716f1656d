import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mergeMetrics, MetricsRegistry } from "./_metrics.ts";
import { toPrometheusText } from "./_prometheus.ts";
import { parsePrometheusText, sampleSum, sampleValue } from "./_test_support.ts";
import { FlowMetrics } from "./_flow_metrics.ts";
import { jsonLinesObserver, ObservabilityRuntime, prometheusObserver } from "./_events.ts";
import { emptyStats } from "../_stats.ts";
import { ConfigContext } from "../config/mod.ts";
import { readAdminSettings, readObservabilityConfig } from "./_config.ts";

describe("metrics registry", () => {
  test("counters, gauges and labelled children", () => {
    const r = new MetricsRegistry();
    const c = r.counter("jobs_total", "Jobs.", ["queue"]);
    c.labels("a").inc();
    c.labels("a").inc(2);
    c.labels("b").inc();
    const g = r.gauge("depth", "Depth.");
    g.set(5);
    g.labels().inc(-2);
    const fams = r.collect();
    assert.deepEqual(fams[0].samples, [{ labels: ["a"], value: 3 }, { labels: ["b"], value: 1 }]);
    assert.deepEqual(fams[1].samples, [{ labels: [], value: 3 }]);
    assert.throws(() => c.labels("a").inc(-1), /cannot decrease/);
    assert.throws(() => c.labels(), /takes 1 label/);
    assert.throws(() => r.counter("bad name", "x"), /invalid metric name/);
    assert.throws(() => r.gauge("jobs_total", "x"), /already registered/);
    assert.equal(r.counter("jobs_total", "Jobs.", ["queue"]), c);
  });

  test("histograms put values in the first bucket whose bound is >= the value", () => {
    const r = new MetricsRegistry();
    const h = r.histogram("size", "Size.", [], [1, 10, 100]);
    for (const v of [0, 1, 2, 10, 11, 1000]) h.observe(v);
    const [f] = r.collect();
    assert.deepEqual(f.samples[0], { labels: [], counts: [2, 2, 1, 1], sum: 1024, count: 6 });
    assert.throws(() => r.histogram("bad", "x", [], [2, 1]), /ascending/);
  });

  test("collectors refresh mirrored values before a snapshot", () => {
    const r = new MetricsRegistry();
    let external = 0;
    const c = r.counter("mirrored_total", "M.");
    r.addCollector(() => c.labels().set(external));
    external = 41;
    assert.equal((r.collect()[0].samples[0] as { value: number }).value, 41);
  });

  test("snapshots of several workers merge by name and labels", () => {
    const a = new MetricsRegistry(), b = new MetricsRegistry();
    a.counter("n_total", "N.", ["t"]).labels("x").inc(2);
    b.counter("n_total", "N.", ["t"]).labels("x").inc(3);
    b.counter("n_total", "N.", ["t"]).labels("y").inc(1);
    a.histogram("h", "H.", [], [1]).observe(0.5);
    b.histogram("h", "H.", [], [1]).observe(5);
    const merged = mergeMetrics([a.collect(), structuredClone(b.collect())]);
    const text = parsePrometheusText(toPrometheusText(merged));
    assert.equal(sampleValue(text, "n_total", { t: "x" }), 5);
    assert.equal(sampleValue(text, "n_total", { t: "y" }), 1);
    assert.equal(sampleValue(text, "h_bucket", { le: "1" }), 1);
    assert.equal(sampleValue(text, "h_bucket", { le: "+Inf" }), 2);
    assert.equal(sampleValue(text, "h_sum"), 5.5);
  });
});

describe("Prometheus exposition", () => {
  test("escapes help and label values and writes cumulative buckets", () => {
    const r = new MetricsRegistry();
    r.counter("weird_total", "Help with \\ and\nnewline.", ["v"]).labels('a"b\\c\nd').inc();
    r.histogram("lat_seconds", "Latency.", ["op"], [0.1, 1]).labels("send").observe(0.5);
    r.gauge("empty_gauge", "Never set.");
    const text = toPrometheusText(r.collect());
    assert.ok(text.includes('weird_total{v="a\\"b\\\\c\\nd"} 1\n'), text);
    assert.ok(text.includes("# HELP weird_total Help with \\\\ and\\nnewline.\n"));
    assert.ok(text.includes('lat_seconds_bucket{op="send",le="0.1"} 0\n'));
    assert.ok(text.includes('lat_seconds_bucket{op="send",le="1"} 1\n'));
    assert.ok(text.includes('lat_seconds_bucket{op="send",le="+Inf"} 1\n'));
    const parsed = parsePrometheusText(text);
    assert.deepEqual(parsed.get("weird_total")?.samples[0].labels, { v: 'a"b\\c\nd' });
    assert.equal(parsed.get("weird_total")?.help, "Help with \\ and\nnewline.");
    assert.equal(parsed.get("empty_gauge")?.samples.length, 0);
  });

  test("the test parser rejects malformed text", () => {
    assert.throws(() => parsePrometheusText("x 1\n"), /outside its family/);
    assert.throws(() => parsePrometheusText("# TYPE x counter\nx{a=b} 1\n"), /quoted/);
    assert.throws(() => parsePrometheusText("# TYPE x counter\nx 1\nx 2\n"), /duplicate series/);
    assert.throws(() => parsePrometheusText("# TYPE x counter\nx one\n"), /bad value/);
    assert.throws(
      () => parsePrometheusText('# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_count 1\n'),
      /cumulative/,
    );
    assert.throws(() => parsePrometheusText('# TYPE h histogram\nh_bucket{le="1"} 2\nh_count 2\n'), /\+Inf/);
  });
});

describe("FlowMetrics", () => {
  test("counts batches per topic, mirrors driver counters, tracks offsets and lag", () => {
    const stats = emptyStats();
    let inFlight = 7;
    const m = new FlowMetrics("orders", { stats, inFlight: () => inFlight });
    const tp = { topic: "in", partition: 1 };
    m.assigned([tp]);
    const rec = {
      topic: "in",
      partition: 1,
      offset: 0,
      key: null,
      value: null,
      headers: {},
      timestampMs: null,
    };
    m.batchHandled({ ...tp, records: [rec, { ...rec, offset: 1 }], highWatermark: 10 }, 12, null);
    stats.produced["out"] = 2;
    stats.errors.task = 1;
    stats.consumed = 2;
    m.committed([{ ...tp, offset: 2 }]);
    m.delivered("out", 2, 3, null, null);
    const p = parsePrometheusText(toPrometheusText(m.registry.collect()));
    assert.equal(sampleValue(p, "loom_records_consumed_total", { flow: "orders", topic: "in" }), 2);
    assert.equal(sampleValue(p, "loom_records_produced_total", { flow: "orders", topic: "out" }), 2);
    assert.equal(sampleValue(p, "loom_errors_total", { flow: "orders", kind: "task" }), 1);
    assert.equal(sampleValue(p, "loom_in_flight_messages", { flow: "orders" }), 7);
    assert.equal(sampleValue(p, "loom_consumer_lag", { flow: "orders", topic: "in", partition: "1" }), 8);
    assert.equal(sampleValue(p, "loom_end_offset", { flow: "orders", topic: "in", partition: "1" }), 10);
    assert.equal(sampleValue(p, "loom_rebalances_total", { flow: "orders" }), 1);
    assert.equal(sampleSum(p, "loom_batch_size_count"), 1);
    assert.equal(
      sampleValue(p, "loom_delivery_duration_seconds_count", { flow: "orders", target: "out" }),
      1,
    );
    assert.deepEqual(m.partitions(), [{ topic: "in", partition: 1, committed: 2, end: 10, lag: 8 }]);
    m.revoked([tp]);
    inFlight = 0;
    const after = parsePrometheusText(toPrometheusText(m.registry.collect()));
    assert.equal(
      sampleValue(after, "loom_consumer_lag", { flow: "orders", topic: "in", partition: "1" }),
      undefined,
    );
    assert.deepEqual(m.partitions(), []);
    // back in the next assignment: its offsets are kept; another partition starts unknown
    m.assigned([tp, { topic: "in", partition: 2 }]);
    assert.deepEqual(m.partitions(), [
      { topic: "in", partition: 1, committed: 2, end: 10, lag: 8 },
      { topic: "in", partition: 2, committed: null, end: null, lag: null },
    ]);
    m.revoked([tp]);
    m.assigned([]);
    m.assigned([tp]);
    assert.deepEqual(m.partitions(), [{ topic: "in", partition: 1, committed: null, end: null, lag: null }]);
  });
});

describe("lifecycle events", () => {
  test("span emits START then END, or ERROR with error_type; a throwing observer is reported once", async () => {
    const lines: string[] = [];
    const registry = new MetricsRegistry();
    const reported: unknown[] = [];
    const obs = new ObservabilityRuntime([
      jsonLinesObserver("debug", (l) => void lines.push(l)),
      prometheusObserver(registry),
      {
        onEvent() {
          throw new Error("boom");
        },
      },
    ], (e) => void reported.push(e));
    assert.equal(await obs.span("write", "f:t", () => 5, { traceId: "t1", meta: { batch_size: 3 } }), 5);
    await assert.rejects(obs.span("flow", "f", () => Promise.reject(new TypeError("bad"))), /bad/);
    const events = lines.map((l) => JSON.parse(l));
    assert.deepEqual(events.map((e) => `${e.scope}:${e.kind}`), [
      "write:START",
      "write:END",
      "flow:START",
      "flow:ERROR",
    ]);
    assert.equal(events[1].status, "success");
    assert.equal(events[1].trace_id, "t1");
    assert.equal(events[1].batch_size, 3);
    assert.equal(typeof events[1].duration_ms, "number");
    assert.equal(events[3].error, "bad");
    assert.equal(events[3].error_type, "TypeError");
    assert.equal(events[3].level, "error");
    assert.equal(reported.length, 1);
    const p = parsePrometheusText(toPrometheusText(registry.collect()));
    assert.equal(sampleValue(p, "lifecycle_errors_total", { scope: "flow", name: "f" }), 1);
    assert.equal(sampleValue(p, "lifecycle_duration_seconds_count", { scope: "write", name: "f:t" }), 1);
  });

  test("at info, only flow events and errors are logged", () => {
    const lines: string[] = [];
    const o = jsonLinesObserver("info", (l) => void lines.push(l));
    assert.equal(o.wantsDetail, false);
    const obs = new ObservabilityRuntime([o]);
    obs.emit({ scope: "poll_cycle", name: "f:t", kind: "END", durationMs: 1 });
    obs.emit({ scope: "flow", name: "f", kind: "START" });
    obs.emit({ scope: "write", name: "f:t", kind: "ERROR", error: "x" });
    assert.deepEqual(lines.map((l) => JSON.parse(l).scope), ["flow", "write"]);
  });
});

describe("observability config", () => {
  test("defaults, the original's keys, and errors for unknown keys", () => {
    const d = readObservabilityConfig(ConfigContext.fromObject({}));
    assert.equal(d.log.enabled, true);
    assert.equal(d.prometheus.enabled, false);
    assert.equal(d.prometheus.bindAddress, "127.0.0.1");
    const c = readObservabilityConfig(ConfigContext.fromObject({
      observability: {
        log: { enabled: true, config: { environment: "prod", level: "WARNING" } },
        otel: { enabled: true, config: { service_name: "orders", endpoint: "http://otel:4318/v1/traces" } },
        prometheus: { enabled: "true", config: { port: "9100", bind_address: "0.0.0.0" } },
      },
    }));
    assert.equal(c.log.level, "warning");
    assert.equal(c.otel.enabled, true);
    assert.equal(c.prometheus.enabled, true);
    assert.equal(c.prometheus.port, 9100);
    assert.throws(
      () =>
        readObservabilityConfig(
          ConfigContext.fromObject({ observability: { prometheus: { enabeld: true } } }),
        ),
      /unknown key 'enabeld'/,
    );
    assert.throws(
      () =>
        readObservabilityConfig(ConfigContext.fromObject({ observability: { otel: { export_logs: true } } })),
      /export_logs requires/,
    );
  });

  test("streaming.runtime.admin", () => {
    assert.equal(readAdminSettings(ConfigContext.fromObject({})), null);
    assert.deepEqual(
      readAdminSettings(ConfigContext.fromObject({ streaming: { runtime: { admin: { port: 0 } } } })),
      { host: "127.0.0.1", port: 0 },
    );
    assert.throws(
      () =>
        readAdminSettings(ConfigContext.fromObject({ streaming: { runtime: { admin: { port: 70000 } } } })),
    );
  });
});
