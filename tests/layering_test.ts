// The module layering, as Deno resolves it (`deno info --json`, spawned on Deno and on Bun alike):
//   kafka/ (the wire) → streaming/ (the core, with the root mod.ts) → testing/ → runtime/, and sinks/ at the edge
//   (with the edge entry point cli.ts, which hands the sinks to the runtime's CLI).
// (1) The web-only entry points (mod.ts, kafka/mod.ts, testing/mod.ts) load no `node:` module and no npm
//     client: they run in any JavaScript runtime.
// (2) No import runs back up: every file (tests included) of a layer imports only from its own layer or lower.
// Run: deno test -A tests/layering_test.ts   |   bun test tests/layering_test.ts
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const root = fileURLToPath(new URL("..", import.meta.url));

/** npm packages that are Kafka, database, HTTP or telemetry clients: only the runtime and the sinks may load them. */
const CLIENTS = [
  "kafkajs",
  "@platformatic/kafka",
  "postgres",
  "@clickhouse/client",
  "hono",
  "@opentelemetry/api",
];

interface Dependency {
  readonly specifier: string;
  readonly isDynamic?: boolean;
  readonly code?: { readonly specifier?: string };
  readonly type?: { readonly specifier?: string };
}
interface GraphModule {
  readonly specifier: string;
  readonly kind?: string;
  readonly dependencies?: readonly Dependency[];
}
interface Graph {
  readonly modules: readonly GraphModule[];
  readonly redirects?: Readonly<Record<string, string>>;
}

function denoInfo(file: string): Graph {
  const out = execFileSync("bash", [join(root, "scripts/deno.sh"), "info", "--json", file], {
    cwd: root,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    stdio: ["ignore", "pipe", "pipe"],
  });
  return JSON.parse(out) as Graph;
}

/** The npm package a specifier loads (`npm:x@1`, a bare `x/y`, or a file under node_modules), else null. */
function npmPackage(specifier: string): string | null {
  let rest: string;
  if (specifier.startsWith("npm:")) rest = specifier.slice(4).replace(/^\//, "");
  else if (specifier.includes("/node_modules/")) {
    rest = specifier.slice(specifier.lastIndexOf("/node_modules/") + 14);
  } else if (/^[@a-z]/.test(specifier) && !/^[a-z]+:/.test(specifier)) rest = specifier;
  else return null;
  const parts = rest.split("/");
  const name = rest.startsWith("@") ? `${parts[0]}/${parts[1] ?? ""}` : parts[0];
  return name.replace(/(.)@.*$/, "$1");
}

/** Every specifier of a graph: the modules and what each of them imports (before and after resolution). */
function specifiers(graph: Graph): Set<string> {
  const all = new Set<string>();
  for (const m of graph.modules) {
    all.add(m.specifier);
    for (const d of m.dependencies ?? []) {
      all.add(d.specifier);
      if (d.code?.specifier) all.add(d.code.specifier);
      if (d.type?.specifier) all.add(d.type.specifier);
    }
  }
  for (const [from, to] of Object.entries(graph.redirects ?? {})) all.add(from).add(to);
  return all;
}

describe("layering", () => {
  for (const entry of ["mod.ts", "kafka/mod.ts", "testing/mod.ts"]) {
    test(`${entry} loads no node: module and no npm client`, { timeout: 60_000 }, () => {
      const graph = denoInfo(entry);
      assert.ok(graph.modules.some((m) => m.specifier === pathToFileURL(join(root, entry)).href));
      const all = [...specifiers(graph)];
      assert.deepEqual(all.filter((s) => s.startsWith("node:")), [], `${entry} reaches node: modules`);
      const clients = all.filter((s) => CLIENTS.includes(npmPackage(s) ?? ""));
      assert.deepEqual(clients, [], `${entry} reaches an npm client`);
    });
  }

  test("runtime/mod.ts loads @opentelemetry/api only through the dynamic import of otel.enabled", {
    timeout: 60_000,
  }, () => {
    const graph = denoInfo("runtime/mod.ts");
    const byUrl = new Map(graph.modules.map((m) => [m.specifier, m]));
    const start = pathToFileURL(join(root, "runtime/mod.ts")).href;
    const seen = new Set<string>([start]);
    const todo = [start];
    while (todo.length) {
      for (const d of byUrl.get(todo.pop()!)?.dependencies ?? []) {
        const target = d.code?.specifier;
        if (d.isDynamic || target === undefined || seen.has(target)) continue;
        seen.add(target);
        todo.push(target);
      }
    }
    const static_ = [...seen].filter((s) => npmPackage(s) === "@opentelemetry/api");
    assert.deepEqual(static_, [], "runtime/mod.ts imports @opentelemetry/api statically");
    // …and it is in the graph at all (through the dynamic import), so this check can fail
    assert.ok([...specifiers(graph)].some((s) => npmPackage(s) === "@opentelemetry/api"));
  });

  test("no file imports from a layer above its own", { timeout: 60_000 }, () => {
    // What each layer must not import (the root mod.ts re-exports the core: it counts as streaming/).
    const forbidden: Readonly<Record<string, readonly string[]>> = {
      kafka: ["streaming", "testing", "runtime", "sinks"],
      streaming: ["testing", "runtime", "sinks"],
      testing: ["runtime", "sinks"],
      // the table backends sit above the runtime: it gets them through a factory (runtime/_table_writers.ts)
      // that the edge entry point (cli.ts) or the user supplies
      runtime: ["sinks"],
    };
    const layerOf = (url: string): string | null => {
      if (!url.startsWith("file:")) return null;
      const rel = relative(root, fileURLToPath(url)).split("\\").join("/");
      if (rel.startsWith("..") || rel.startsWith("node_modules/")) return null;
      if (rel === "mod.ts") return "streaming";
      const top = rel.split("/")[0];
      return rel.includes("/") ? top : null;
    };
    // One graph over every TypeScript file of the checked layers: a temporary module imports them all.
    const files: string[] = [];
    for (const layer of Object.keys(forbidden)) {
      for (const name of readdirSync(join(root, layer), { recursive: true }) as string[]) {
        if (name.endsWith(".ts")) files.push(join(root, layer, name));
      }
    }
    assert.ok(files.length > 30, `found only ${files.length} files`);
    mkdirSync(join(root, ".cache"), { recursive: true }); // a fresh checkout has none before scripts/test.sh
    const dir = mkdtempSync(join(root, ".cache", "layering-"));
    try {
      const all = join(dir, "all.ts");
      writeFileSync(all, files.map((f) => `import ${JSON.stringify(pathToFileURL(f).href)};\n`).join(""));
      const graph = denoInfo(all);
      const violations = new Set<string>();
      const wanted = new Set(files.map((f) => pathToFileURL(f).href));
      for (const m of graph.modules) {
        const from = layerOf(m.specifier);
        if (from === null || !(from in forbidden)) continue;
        wanted.delete(m.specifier);
        for (const d of m.dependencies ?? []) {
          for (const target of [d.code?.specifier, d.type?.specifier]) {
            const to = target === undefined ? null : layerOf(target);
            if (to !== null && forbidden[from].includes(to)) {
              violations.add(`${relative(root, fileURLToPath(m.specifier))} imports ${d.specifier}`);
            }
          }
        }
      }
      assert.deepEqual([...wanted], [], "every file of the checked layers is in the graph");
      assert.deepEqual([...violations], []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
