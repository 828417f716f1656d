// The web-only entry points (`.`, `./kafka`, `./testing`) must not load the @platformatic/kafka adapter
// (Node-only sockets): walks their static import graph (relative imports) and looks for the package.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { fileURLToPath } from "node:url";

const root = normalize(join(dirname(fileURLToPath(import.meta.url)), ".."));
const IMPORT = /(?:import|export)\s[^;]*?from\s+["']([^"']+)["']|import\(\s*["']([^"']+)["']\s*\)/g;

const graph = (entry: string): { files: Set<string>; packages: Set<string> } => {
  const files = new Set<string>();
  const packages = new Set<string>();
  const visit = (file: string) => {
    if (files.has(file)) return;
    files.add(file);
    const src = readFileSync(file, "utf8");
    for (const m of src.matchAll(IMPORT)) {
      const spec = m[1] ?? m[2];
      if (spec.startsWith(".")) visit(normalize(join(dirname(file), spec)));
      else packages.add(spec);
    }
  };
  visit(join(root, entry));
  return { files, packages };
};

test("web-only entry points do not load @platformatic/kafka; the runtime entry does", () => {
  for (const entry of ["mod.ts", "kafka/mod.ts", "testing/mod.ts"]) {
    const { files, packages } = graph(entry);
    assert.ok(files.size > 1, `${entry} has imports`);
    assert.ok(!packages.has("@platformatic/kafka"), `${entry} must not import @platformatic/kafka`);
    assert.ok(![...files].some((f) => f.includes("/runtime/")), `${entry} must not import runtime/`);
  }
  assert.ok(graph("runtime/mod.ts").packages.has("@platformatic/kafka"), "the walker sees the package");
});
