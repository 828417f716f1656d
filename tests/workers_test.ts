// The worker pool, admin API and CLI on the REAL broker (Deno and Bun):
// - two Web Workers share four partitions and produce complete outputs; /metrics (served over HTTP)
//   parses and its counters equal the records sent; /ready is 200;
// - a worker killed mid-stream is restarted, /ready answers 503 while it is down, and nothing is lost;
// - the CLI with --workers 2 stops on SIGTERM under load: exit 0, and what it committed is exactly what
//   it finished (every output's input is below the committed offsets, and every input below them has
//   an output, none twice);
// - a flow that does not compile fails before any worker starts.
// Run: deno test -A tests/workers_test.ts   |   bun test tests/workers_test.ts
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { compileFlow, ConfigContext } from "../mod.ts";
import { decodeOutputRecord } from "../streaming/engine.ts";
import { createAdminApp, FlowSupervisor, serveAdmin } from "../runtime/mod.ts";
import { parsePrometheusText, sampleSum, sampleValue } from "../streaming/observe/_test_support.ts";
import { flow, type Relay, relayConfig } from "./flows/relay.ts";
import { outputIds, produce, produceStream, spawnCli } from "./_runtime_support.ts";
import {
  bootstrap,
  committedOffsets,
  createTopics,
  deleteTopics,
  endOffsets,
  readTopics,
  sleep,
  unique,
  waitFor,
} from "./_support.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const FLOW_MODULE = fileURLToPath(new URL("./flows/relay.ts", import.meta.url));

const get = async (url: string): Promise<{ status: number; text: string }> => {
  const res = await fetch(url);
  return { status: res.status, text: await res.text() };
};

describe("worker pool on a real broker", () => {
  const cleanup: string[] = [];
  let tmp = "";
  after(async () => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
    await deleteTopics(cleanup);
  });

  const setup = async (partitions = 4) => {
    const t = { in: unique("relay-in"), out: unique("relay-out") };
    cleanup.push(t.in, t.out);
    await createTopics([t.in, t.out], partitions);
    return t;
  };

  test("two workers share four partitions; outputs complete; /metrics counts what was sent; /ready 200", {
    timeout: 90_000,
  }, async () => {
    const t = await setup();
    const N = 3000;
    const config = ConfigContext.fromObject(relayConfig(t, unique("g"), [bootstrap()]));
    const plan = compileFlow(flow, config);
    const sup = new FlowSupervisor({ flowModule: FLOW_MODULE, config, plan, workers: 2, quietClient: true });
    const server = await serveAdmin(createAdminApp(sup), { host: "127.0.0.1", port: 0 });
    try {
      await sup.start();
      assert.equal(sup.inMainThread, false);
      await waitFor(() => sup.workers().every((w) => w.assigned.length === 2), 30_000, "two partitions each");
      await produce(t.in, 0, N);
      await waitFor(() => sup.status().totals.produced >= N, 60_000, "all outputs");
      await waitFor(
        () => sup.workers().every((w) => w.assigned.length === 2) && sup.status().totals.lag === 0,
        30_000,
        "two partitions per worker, no lag",
      );
      const ready = await get(`${server.url}/ready`);
      assert.equal(ready.status, 200, ready.text);
      const m = parsePrometheusText((await get(`${server.url}/metrics`)).text);
      assert.equal(sampleSum(m, "loom_records_consumed_total", { topic: t.in }), N);
      assert.equal(sampleValue(m, "loom_records_produced_total", { flow: "relay", topic: t.out }), N);
      assert.equal(sampleValue(m, "loom_workers_up", { flow: "relay" }), 2);
      // one timed invocation of the record step per record
      assert.equal(sampleSum(m, "loom_node_duration_seconds_count", { flow: "relay", node: "tag" }), N);
      assert.equal(sampleSum(m, "loom_errors_total"), 0);
      assert.equal(sampleSum(m, "loom_consumer_lag"), 0);
      // end offsets come from fetched batches: every partition a worker fetched from reports its end
      const ends = await endOffsets(t.in);
      const reported = m.get("loom_end_offset")!.samples;
      assert.ok(reported.length > 0);
      for (const s of reported) {
        assert.equal(s.value, ends.get(Number(s.labels.partition)), JSON.stringify(s));
      }
      const owned = sup.workers().flatMap((w) => w.assigned).sort();
      assert.deepEqual(owned, [0, 1, 2, 3].map((p) => `${t.in}[${p}]`));
    } finally {
      await sup.stop();
      await server.close();
    }
    assert.equal(sup.stoppedCleanly, true);
    const ids = await outputIds(t.out);
    assert.equal(ids.length, N);
    assert.deepEqual([...new Set(ids)].sort((a, b) => a - b), Array.from({ length: N }, (_, i) => i));
  });

  test("a worker killed mid-stream is restarted, /ready is 503 meanwhile, nothing is lost", {
    timeout: 120_000,
  }, async () => {
    const t = await setup();
    const N = 6000;
    const group = unique("g");
    const config = ConfigContext.fromObject(relayConfig(t, group, [bootstrap()]));
    const plan = compileFlow(flow, config);
    const sup = new FlowSupervisor({
      flowModule: FLOW_MODULE,
      config,
      plan,
      workers: 2,
      quietClient: true,
      restartBaseMs: 1_500,
    });
    const server = await serveAdmin(createAdminApp(sup), { host: "127.0.0.1", port: 0 });
    try {
      await sup.start();
      const producing = produceStream(t.in, N, 300, 100);
      await waitFor(() => sup.status().totals.produced >= 1000, 60_000, "outputs flowing");
      assert.equal((await get(`${server.url}/ready`)).status, 200);
      const consumedBeforeKill = sup.status().totals.consumed;
      sup.kill(1);
      // the killed worker's counters are kept as of its last snapshot: totals never go backwards
      assert.ok(sup.status().totals.consumed >= consumedBeforeKill);
      const down = await get(`${server.url}/ready`);
      assert.equal(down.status, 503);
      assert.match(down.text, /worker 1 is restarting/);
      await waitFor(
        () => sup.workers()[1].restarts === 1 && sup.workers()[1].state === "running",
        30_000,
        "restart",
      );
      await producing;
      await waitFor(() => sup.status().ready.ready, 30_000, "ready again");
      assert.equal((await get(`${server.url}/ready`)).status, 200);
      // every input is eventually committed by the group
      const ends = await endOffsets(t.in);
      const deadline = performance.now() + 60_000;
      for (;;) {
        const c = await committedOffsets(group, t.in);
        if ([...ends].every(([p, e]) => (c.get(p) ?? 0) >= e)) break;
        assert.ok(performance.now() < deadline, `commits never reached the end: ${JSON.stringify([...c])}`);
        await sleep(200);
      }
      const m = parsePrometheusText((await get(`${server.url}/metrics`)).text);
      assert.equal(sampleValue(m, "loom_worker_restarts_total", { flow: "relay" }), 1);
      // totals survive the restart (a crashed worker's last snapshot is up to snapshotMs old, so the
      // records it consumed after it are not counted; their redelivery is)
      assert.ok(sampleSum(m, "loom_records_consumed_total") > consumedBeforeKill);
    } finally {
      await sup.stop();
      await server.close();
    }
    const ids = new Set(await outputIds(t.out));
    const missing = Array.from({ length: N }, (_, i) => i).filter((i) => !ids.has(i));
    assert.deepEqual(missing, [], `${missing.length} input(s) without output`);
  });

  test("one worker runs on the main thread; killed, it restarts there and catches up", {
    timeout: 90_000,
  }, async () => {
    const t = await setup(2);
    const N = 2000;
    const config = ConfigContext.fromObject(relayConfig(t, unique("g"), [bootstrap()]));
    const plan = compileFlow(flow, config);
    const sup = new FlowSupervisor({
      flowModule: FLOW_MODULE,
      config,
      plan,
      quietClient: true,
      restartBaseMs: 100,
    });
    assert.equal(sup.inMainThread, true);
    try {
      await sup.start();
      await produce(t.in, 0, N / 2);
      await waitFor(() => sup.status().totals.produced >= N / 2, 30_000, "first half");
      sup.kill(0);
      await waitFor(() => sup.workers()[0].state === "restarting", 5_000, "crash noticed");
      assert.equal(sup.status().ready.ready, false);
      await waitFor(() => sup.workers()[0].restarts === 1 && sup.status().ready.ready, 30_000, "restarted");
      assert.equal(sup.workers()[0].thread, "main");
      await produce(t.in, N / 2, N / 2);
      await waitFor(() => sup.status().totals.produced >= N, 30_000, "second half");
    } finally {
      await sup.stop();
    }
    const ids = new Set(await outputIds(t.out));
    assert.equal(ids.size, N);
  });

  test("the CLI with --workers 2 stops on SIGTERM under load and commits exactly what it finished", {
    timeout: 120_000,
  }, async () => {
    const t = await setup();
    const group = unique("g");
    tmp ||= mkdtempSync(join(tmpdir(), "loom-workers-"));
    const cfg = join(tmp, `${group}.yaml`);
    writeFileSync(
      cfg,
      JSON.stringify(relayConfig(t, group, [bootstrap()], { force_shutdown_timeout_ms: 20_000 })),
    );
    const N = 20_000;
    const producing = produceStream(t.in, N, 500, 50);
    const cli = [
      "runtime/cli.ts",
      "run",
      FLOW_MODULE,
      "--config",
      cfg,
      "--workers",
      "2",
      "--admin-port",
      "0",
    ];
    const child = spawnCli(cli, {
      LOOM_RELAY_DELAY_MS: "2",
      LOOM_LOG_LEVEL: process.env.LOOM_TEST_LOG ?? "warn",
    });
    const logs = child.logs;
    const committedSum = async () =>
      [...(await committedOffsets(group, t.in)).values()].reduce((a, b) => a + b, 0);
    const deadline = performance.now() + 60_000;
    while ((await committedSum()) < 2000) {
      assert.ok(performance.now() < deadline, `nothing committed; output:\n${logs.join("")}`);
      assert.ok(child.running(), `the CLI exited early:\n${logs.join("")}`);
      await sleep(100);
    }
    child.kill("SIGTERM");
    const code = await child.exited;
    await producing;
    assert.equal(code, 0, logs.join(""));
    const committed = await committedOffsets(group, t.in);
    const total = [...committed.values()].reduce((a, b) => a + b, 0);
    assert.ok(total < N, `the stop must happen under load (committed ${total} of ${N})`);
    const inputs = await readTopics([t.in]);
    const outputs = await outputIds(t.out);
    assert.equal(new Set(outputs).size, outputs.length, "an output was written twice");
    const below = new Set(
      inputs.filter((r) => r.offset < (committed.get(r.partition) ?? 0)).map((r) =>
        (decodeOutputRecord(r).payload as Relay).id
      ),
    );
    assert.equal(below.size, total);
    assert.deepEqual([...new Set(outputs)].sort((a, b) => a - b), [...below].sort((a, b) => a - b));
  });

  test("a flow that does not compile fails before any worker starts", { timeout: 60_000 }, () => {
    tmp ||= mkdtempSync(join(tmpdir(), "loom-workers-"));
    const cfg = join(tmp, "bad.yaml");
    // no kafka.consumer section: the flow cannot compile
    writeFileSync(cfg, JSON.stringify({ kafka: {}, streaming: { runtime: { transport: "kafka" } } }));
    const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";
    const cli = ["runtime/cli.ts", "run", FLOW_MODULE, "--config", cfg, "--workers", "2"];
    const r = spawnSync(process.execPath, isBun ? cli : ["run", "-A", ...cli], {
      cwd: ROOT,
      encoding: "utf8",
    });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /^error: /m);
    assert.doesNotMatch(r.stderr, /workers_started|partitions_assigned/);
  });
});
