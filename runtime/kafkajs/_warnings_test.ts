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
const filtered = () => (process.emitWarning as { loomFiltered?: boolean }).loomFiltered === true;
const { KafkaProducerClient } = await import("./runtime/mod.ts");
const afterImport = filtered();
new KafkaProducerClient({ brokers: ["127.0.0.1:1"], clientId: null, topic: null, security: null, extra: {} });
const afterClient = filtered();
const seen: string[] = [];
process.on("warning", (w: Error) => seen.push(w.name));
process.emitWarning("negative", "TimeoutNegativeWarning");
process.emitWarning("kept", "LoomTestWarning");
await new Promise((r) => setTimeout(r, 50));
console.log(JSON.stringify({ afterImport, afterClient, seen }));
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
  assert.deepEqual(JSON.parse(last), { afterImport: false, afterClient: true, seen: ["LoomTestWarning"] });
});
