// Counts leaf test cases and failures in JUnit XML files written by `deno test` and `bun test`.
// A describe() group is reported by Deno as a test case of its own; only leaves are counted.
// Usage: node scripts/junit-count.mjs <label>=<file> ...   Prints one line per file, then each failed test
// (name and the first line of its failure, so a CI log's tail says what failed), then the total.
import { existsSync, readFileSync } from "node:fs";

function count(xml) {
  const cases = [];
  const re = /<testcase\b([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g;
  let m;
  while ((m = re.exec(xml))) {
    const name = /name="([^"]*)"/.exec(m[1])?.[1] ?? "";
    const body = m[3] ?? "";
    // Deno reports nested steps in another suite than their parent: identify cases by name.
    const failure = /<(?:failure|error)\b([^>]*)/.exec(body);
    const message = failure ? (/message="([^"]*)"/.exec(failure[1])?.[1] ?? "") : "";
    cases.push({ id: name, failed: failure !== null, skipped: /<skipped\b/.test(body), message });
  }
  const parents = new Set();
  for (const c of cases) {
    const parts = c.id.split(" &gt; ");
    for (let i = 1; i < parts.length; i++) parents.add(parts.slice(0, i).join(" &gt; "));
  }
  const leaves = cases.filter((c) => !parents.has(c.id));
  const failed = leaves.filter((c) => c.failed).length;
  const skipped = leaves.filter((c) => c.skipped).length;
  const failures = leaves.filter((c) => c.failed).map((c) => ({ name: c.id, message: c.message }));
  return { passed: leaves.length - failed - skipped, failed, skipped, failures };
}

const unescape = (s) =>
  s.replace(/&gt;/g, ">").replace(/&lt;/g, "<").replace(/&quot;/g, '"').replace(/&#10;/g, "\n")
    .replace(/&#x[aA];/g, "\n").replace(/&apos;/g, "'").replace(/&amp;/g, "&");
const failedCases = [];
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
  for (const f of r.failures) failedCases.push({ label, ...f });
  passed += r.passed;
  failed += r.failed;
  skipped += r.skipped;
}
for (const f of failedCases) {
  const first = unescape(f.message).split("\n").find((l) => l.trim() !== "")?.trim().slice(0, 200) ?? "";
  console.log(`FAILED ${f.label}: ${unescape(f.name)}${first ? ` — ${first}` : ""}`);
}
if (missing) failed += missing;
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(failed > 0 ? 1 : 0);
