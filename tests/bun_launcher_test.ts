// The Bun launcher (`scripts/bun-cli.sh`, behind `bun run run`, `bun run run:lean` and
// `scripts/run.sh --runtime bun`): it sizes JSC's heap for at most 4 GiB of RAM unless told otherwise, and
// runs the CLI. Runs under Deno and Bun (it starts bash and Bun itself).
// Run: deno test -A tests/bun_launcher_test.ts   |   bun test tests/bun_launcher_test.ts
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import process from "node:process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const LAUNCHER = `${ROOT}scripts/bun-cli.sh`;
const GIB4 = 4 * 1024 ** 3;

/** Runs the launcher with `env` added; returns its exit status and output. */
function launch(args: string[], env: Record<string, string>): { status: number | null; out: string } {
  const r = spawnSync("bash", [LAUNCHER, ...args], {
    cwd: ROOT,
    env: { ...process.env, PATH: `${ROOT}node_modules/.bin:${process.env.PATH}`, ...env },
    encoding: "utf8",
  });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

/** The machine's RAM in bytes (MemTotal), or the cgroup's memory limit when lower. */
function memoryBytes(): number {
  let bytes = Number(/^MemTotal:\s+(\d+) kB/m.exec(readFileSync("/proc/meminfo", "utf8"))![1]) * 1024;
  for (const f of ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"]) {
    let text: string;
    try {
      text = readFileSync(f, "utf8").trim();
    } catch {
      continue;
    }
    if (/^\d+$/.test(text)) bytes = Math.min(bytes, Number(text));
    break; // the launcher reads the first file that exists
  }
  return bytes;
}

describe("the Bun launcher", () => {
  test("sizes JSC's heap for the smallest of 4 GiB, the RAM and the cgroup limit, and keeps a size that is already set", () => {
    const sized = launch([], { LOOM_PRINT_BUN_ENV: "1", BUN_JSC_forceRAMSize: "" });
    assert.equal(sized.status, 0, sized.out);
    const size = Number(/^BUN_JSC_forceRAMSize=(\d+)$/m.exec(sized.out)?.[1]);
    assert.equal(size, Math.min(GIB4, memoryBytes()));
    const kept = launch([], { LOOM_PRINT_BUN_ENV: "1", BUN_JSC_forceRAMSize: "1073741824" });
    assert.match(kept.out, /^BUN_JSC_forceRAMSize=1073741824$/m);
  });

  test("runs the CLI: the example flow on the embedded broker, from another directory", () => {
    const r = spawnSync("bash", [
      LAUNCHER,
      "run",
      `${ROOT}examples/orders/flow.ts`,
      "--config",
      `${ROOT}examples/orders/orders.yaml`,
      "--fixture",
      `${ROOT}examples/orders/orders.jsonl`,
    ], {
      cwd: "/",
      env: { ...process.env, PATH: `${ROOT}node_modules/.bin:${process.env.PATH}` },
      encoding: "utf8",
    });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /committed offsets: orders\.raw\[0\]=5/);
    assert.match(r.stdout, /errors: wire=1 routing=0 task=0 business=1/);
  });

  test("is what the package.json scripts start", () => {
    const scripts = JSON.parse(readFileSync(`${ROOT}package.json`, "utf8")).scripts as Record<string, string>;
    assert.match(scripts.run, /bash scripts\/bun-cli\.sh run$/);
    assert.match(scripts["run:lean"], /BUN_JSC_smallHeapGrowthFactor=1\.4 bash scripts\/bun-cli\.sh run$/);
  });
});
