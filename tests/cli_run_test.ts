// The CLI's Kafka path on the REAL broker (Deno and Bun): stderr is JSON lines only when it is not a
// TTY; on a TTY (script(1) gives it a pseudo-terminal) a live status line shows the counters and the
// workers; a second SIGTERM during the graceful stop forces exit 130.
// Run: deno test -A tests/cli_run_test.ts   |   bun test tests/cli_run_test.ts
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { relayConfig } from "./flows/relay.ts";
import { outputIds, produce, produceStream, spawnCli } from "./_runtime_support.ts";
import { bootstrap, createTopics, deleteTopics, sleep, unique, waitFor } from "./_support.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const FLOW_MODULE = fileURLToPath(new URL("./flows/relay.ts", import.meta.url));
const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";
const cliArgs = (args: string[]) => (isBun ? args : ["run", "-A", ...args]);
const withoutNoWarnings = (): Record<string, string> => {
  const env = { ...process.env } as Record<string, string>;
  delete env.NODE_NO_WARNINGS;
  return env;
};

describe("the CLI on a real broker", () => {
  const cleanup: string[] = [];
  const tmp = mkdtempSync(join(tmpdir(), "loom-cli-"));
  after(async () => {
    rmSync(tmp, { recursive: true, force: true });
    await deleteTopics(cleanup);
  });

  const setup = async (runtime: Record<string, unknown> = {}) => {
    const t = { in: unique("cli-in"), out: unique("cli-out") };
    cleanup.push(t.in, t.out);
    await createTopics([t.in, t.out], 4);
    const group = unique("g");
    const cfg = join(tmp, `${group}.yaml`);
    writeFileSync(cfg, JSON.stringify(relayConfig(t, group, [bootstrap()], runtime)));
    return { t, cfg };
  };

  test(
    "stderr is JSON lines only when it is not a TTY; --max-messages stops cleanly",
    { timeout: 90_000 },
    async () => {
      const { t, cfg } = await setup();
      await produce(t.in, 0, 500);
      const r = spawnSync(
        process.execPath,
        cliArgs([
          "runtime/cli.ts",
          "run",
          FLOW_MODULE,
          "--config",
          cfg,
          "--workers",
          "2",
          "--max-messages",
          "500",
        ]),
        // no NODE_NO_WARNINGS: kafkajs's negative timeouts must not print a plain-text TimeoutNegativeWarning
        { cwd: ROOT, encoding: "utf8", timeout: 60_000, env: withoutNoWarnings() },
      );
      assert.equal(r.status, 0, r.stderr);
      const lines = r.stderr.split("\n").filter((l) => l.trim() !== "");
      assert.ok(lines.length > 0);
      for (const l of lines) assert.doesNotThrow(() => JSON.parse(l), `not a JSON line: ${l}`);
      const events = lines.map((l) => JSON.parse(l).event);
      assert.ok(events.includes("workers_started"));
      assert.ok(events.includes("workers_stopped"));
      assert.equal(new Set(await outputIds(t.out)).size, 500);
    },
  );

  test("on a TTY a live status line shows counters and workers", { timeout: 90_000 }, async () => {
    const { t, cfg } = await setup();
    const cmd = [process.execPath, ...cliArgs(["runtime/cli.ts", "run", FLOW_MODULE, "--config", cfg])]
      .concat(["--workers", "2", "--max-messages", "300"])
      .map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
    const child = spawn("script", ["-qfec", cmd, "/dev/null"], {
      cwd: ROOT,
      env: { ...process.env, LOOM_LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "", stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const exited = new Promise<number | null>((r) => child.on("close", (code) => r(code)));
    // the records are produced once both workers are up (all at once before the start, the first worker to
    // join could consume them before the second one starts; while they join, a rebalance redelivers some)
    await waitFor(() => /2\/2 workers up/.test(stdout), 45_000, "both workers up").catch((e) => {
      child.kill("SIGKILL");
      throw new Error(`${e.message}\n${stdout}${stderr}`);
    });
    await produce(t.in, 0, 300);
    const killer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    const status = await exited;
    clearTimeout(killer);
    assert.equal(status, 0, stdout + stderr);
    // deno-lint-ignore no-control-regex
    const out = stdout.replace(/\x1b\[[0-9;]*[A-Za-z]/g, "");
    assert.match(
      out,
      /relay · 2\/2 workers up · consumed \d+ \(\d+\/s\) · produced \d+ \(\d+\/s\) · errors 0/,
    );
    assert.match(out, /consumed 300 /);
  });

  test("a second SIGTERM during the graceful stop forces exit 130", { timeout: 90_000 }, async () => {
    const { t, cfg } = await setup();
    const producing = produceStream(t.in, 4000, 200, 50);
    const child = spawnCli(
      ["runtime/cli.ts", "run", FLOW_MODULE, "--config", cfg, "--workers", "2"],
      { LOOM_RELAY_DELAY_MS: "400", LOOM_LOG_LEVEL: "info" },
    );
    // Signal only once both workers are up and one of them committed after that: its next 400 ms batch is
    // then in flight, so the graceful stop lasts longer than the 30 ms before the second signal (a SIGTERM
    // right after the first worker's commit could land while the second worker's join left both idle, and
    // the stop finished in 26 ms).
    const deadline = performance.now() + 60_000;
    const committedAfterStart = () => {
      const logs = child.logs.join("");
      const started = logs.indexOf('"event":"workers_started"');
      return started >= 0 && logs.indexOf('"event":"committed"', started) >= 0;
    };
    while (!committedAfterStart()) {
      assert.ok(performance.now() < deadline && child.running(), child.logs.join(""));
      await sleep(50);
    }
    child.kill("SIGTERM");
    await sleep(30);
    child.kill("SIGTERM");
    const code = await child.exited;
    await producing;
    assert.equal(code, 130, child.logs.join(""));
    assert.match(child.logs.join(""), /"event":"forced_exit"/);
  });
});
