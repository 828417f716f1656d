// Counts leaf test cases and failures in JUnit XML files written by `deno test` and `bun test`.
// A describe() group is reported by Deno as a test case of its own; only leaves are counted.
// Usage: node scripts/junit-count.mjs <label>=<file> ...   Prints one line per file and a total.
import { existsSync, readFileSync } from "node:fs";

function count(xml) {
  const cases = [];
  const re = /<testcase\b([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g;
  let m;
  while ((m = re.exec(xml))) {
    const name = /name="([^"]*)"/.exec(m[1])?.[1] ?? "";
    const body = m[3] ?? "";
    // Deno reports nested steps in another suite than their parent: identify cases by name.
    cases.push({ id: name, failed: /<(failure|error)\b/.test(body), skipped: /<skipped\b/.test(body) });
  }
  const parents = new Set();
  for (const c of cases) {
    const parts = c.id.split(" &gt; ");
    for (let i = 1; i < parts.length; i++) parents.add(parts.slice(0, i).join(" &gt; "));
  }
  const leaves = cases.filter((c) => !parents.has(c.id));
  const failed = leaves.filter((c) => c.failed).length;
  const skipped = leaves.filter((c) => c.skipped).length;
  return { passed: leaves.length - failed - skipped, failed, skipped };
}

let passed = 0, failed = 0, skipped = 0, missing = 0;
for (const arg of process.argv.slice(2)) {
  const [label, file] = arg.split("=");
  if (!existsSync(file)) {
    console.log(`${label}: no report (${file}) — the runner crashed`);
    missing++;
    continue;
  }
  const r = count(readFileSync(file, "utf8"));
  console.log(`${label}: ${r.passed} passed, ${r.failed} failed${r.skipped ? `, ${r.skipped} skipped` : ""}`);
  passed += r.passed;
  failed += r.failed;
  skipped += r.skipped;
}
if (missing) failed += missing;
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(failed > 0 ? 1 : 0);
