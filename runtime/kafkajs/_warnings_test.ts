import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";

// A fresh process (the filter is process-wide and other test files build clients): importing the adapter
// leaves process.emitWarning alone; building the first client installs the filter, which drops only
// kafkajs's TimeoutNegativeWarning.
const script = `
import process from "node:process";
import { createRequire } from "node:module";
const queue = createRequire(import.meta.url)("kafkajs/src/network/requestQueue/index.js");
const filtered = () =>
  (process.emitWarning as { loomFiltered?: boolean }).loomFiltered === true && queue.prototype.loomFiltered === true;
const { KafkaProducerClient } = await import("./runtime/mod.ts");
const afterImport = filtered();
new KafkaProducerClient({ brokers: ["127.0.0.1:1"], clientId: null, topic: null, security: null, extra: {} });
const afterClient = filtered();
const seen: string[] = [];
process.on("warning", (w: Error) => seen.push(w.name));
process.emitWarning("negative", "TimeoutNegativeWarning");
process.emitWarning("kept", "LoomTestWarning");
await new Promise((r) => setTimeout(r, 50));
// the patched queue schedules its check with a delay of at least 0 where kafkajs passed -Date.now()
const delays: number[] = [];
const realSetTimeout = globalThis.setTimeout;
globalThis.setTimeout = ((fn: () => void, ms: number) => (delays.push(ms), realSetTimeout(fn, ms))) as typeof setTimeout;
const q = Object.assign(Object.create(queue.prototype), { throttledUntil: 0, pending: [], throttleCheckTimeoutId: null, checkPendingRequests() {} });
q.scheduleCheckPendingRequests();
globalThis.setTimeout = realSetTimeout;
console.log(JSON.stringify({ afterImport, afterClient, seen, delays }));
`;

test("the TimeoutNegativeWarning filter is installed by the first client, not at import", () => {
  const [cmd, args] = isBun
    ? [process.execPath, ["-e", script]]
    : ["bash", ["scripts/deno.sh", "eval", "--ext=ts", script]];
  const out = execFileSync(cmd, args as string[], {
    cwd: root,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  const last = out.trim().split("\n").at(-1)!;
  assert.deepEqual(JSON.parse(last), {
    afterImport: false,
    afterClient: true,
    seen: ["LoomTestWarning"],
    delays: [0],
  });
});
