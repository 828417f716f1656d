import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import process from "node:process";
import { loadConfigFile, loadFlowModule, main, parseArgs, runInMemory } from "./mod.ts";
import { CompilationError } from "../mod.ts";
import { localBrokerHint } from "./cli.ts";

const root = new URL("../", import.meta.url);
const path = (p: string) => new URL(p, root).pathname;

describe("cli", () => {
  // The memory-bounded launch (deno.json task / package.json script `run:lean`): both runtimes refuse a GC
  // flag they do not know (exit 1), so a misspelt or retired flag fails here, not in a user's deployment.
  test("run:lean starts this runtime with its GC flags and replays the example fixture", () => {
    const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";
    const args = [
      "examples/orders/flow.ts",
      "--config",
      "examples/orders/orders.yaml",
      "--fixture",
      "examples/orders/orders.jsonl",
      "--json",
    ];
    const r = spawnSync(process.execPath, [isBun ? "run" : "task", "run:lean", ...args], {
      cwd: path(""),
      encoding: "utf8",
      timeout: 120_000,
    });
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout) as { consumed: number; committed: Record<string, number> };
    assert.equal(report.consumed, 5);
    assert.deepEqual(report.committed, { "orders.raw[0]": 5 });
  });

  test("parseArgs: positional, --flag value, --flag=value, boolean flags", () => {
    const a = parseArgs(["run", "flow.ts", "--config", "c.yaml", "--limit=5", "--json"]);
    assert.equal(a.command, "run");
    assert.deepEqual(a.positional, ["flow.ts"]);
    assert.deepEqual(a.flags, { config: "c.yaml", limit: "5", json: true });
  });

  test("run on the in-memory broker replays the example fixture", async () => {
    const flow = await loadFlowModule(path("examples/orders/flow.ts"));
    const config = loadConfigFile(path("examples/orders/orders.yaml"), {});
    const report = await runInMemory(
      flow,
      config,
      readFileSync(path("examples/orders/orders.jsonl"), "utf8"),
    );
    assert.equal(report.consumed, 5);
    assert.deepEqual(report.topics["orders.scored"].map((m) => m.key), ["alice", "bob", "dave"]);
    assert.deepEqual(report.errors, { wire: 1, routing: 0, task: 0, business: 1 });
    assert.deepEqual(report.committed, { "orders.raw[0]": 5 });
  });

  test("usage errors exit 2; a missing config file exits 1 with a clear message", async () => {
    const errors: string[] = [];
    const orig = console.error;
    console.error = (...x: unknown[]) => void errors.push(x.join(" "));
    try {
      assert.equal(await main(["nope"]), 2);
      assert.equal(await main(["run"]), 2);
      assert.equal(await main(["run", path("examples/orders/flow.ts"), "--config", "/nonexistent.yaml"]), 1);
    } finally {
      console.error = orig;
    }
    assert.match(errors[0], /unknown command 'nope'/);
    assert.match(errors[1], /missing <flow.ts>/);
    assert.match(errors[2], /cannot read config file \/nonexistent.yaml/);
  });

  test("a missing flow module and a malformed fixture exit 1 with one clear line (no stack)", async () => {
    const errors: string[] = [];
    const orig = console.error;
    console.error = (...x: unknown[]) => void errors.push(x.join(" "));
    const config = path("examples/orders/orders.yaml");
    try {
      assert.equal(await main(["run", "/nonexistent/flow.ts", "--config", config]), 1);
      assert.equal(
        await main(["run", path("examples/orders/flow.ts"), "--config", config, "--fixture", config]),
        1,
      );
    } finally {
      console.error = orig;
    }
    assert.match(errors[0], /^error: FlowModuleError: cannot import flow module \/nonexistent\/flow.ts: /);
    assert.match(errors[1], /^error: FixtureError: .*orders.yaml:\d+: invalid JSON/);
    for (const e of errors) assert.doesNotMatch(e, /\n\s+at /, "no stack trace");
  });

  test("a module without a StreamFlow is rejected with a hint", async () => {
    await assert.rejects(() => loadFlowModule(path("streaming/_test_support.ts")), /exports no StreamFlow/);
    assert.ok(CompilationError);
  });
});

describe("cli: local broker hint", () => {
  test("only a connection failure to the local default broker gets the scripts/kafka.sh hint", () => {
    const err = (name: string, message: string) => Object.assign(new Error(message), { name });
    const local = err("KafkaConsumerError", "could not connect to 127.0.0.1:19092: ECONNREFUSED.");
    assert.match(localBrokerHint(local), /scripts\/kafka\.sh ensure/);
    assert.equal(localBrokerHint(err("KafkaConsumerError", "could not connect to kafka.prod:9092: x")), "");
    assert.equal(localBrokerHint(err("Error", "could not connect to 127.0.0.1:19092")), "");
    assert.equal(localBrokerHint("text"), "");
  });
});
