// Fuzz test (seeded, bounded): a corpus of good and bad records through the simulator, with Kafka's default
// topic limits (1 MiB). Every bad record becomes a wire error with its raw bytes (or, per
// streaming.runtime.on_unwritable, is dead-lettered or skipped), every good one is written, and the offsets
// commit to the end. Seed: LOOM_FUZZ_SEED (default fixed); size: LOOM_FUZZ_RECORDS (default 600).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import type { DecodeError, ErrorEnvelope } from "../mod.ts";
import { FlowSimulator, simulatorConfig } from "./mod.ts";
import { fuzzCorpus, fuzzFlow, type FuzzRecord } from "./_fuzz_corpus.ts";

const SEED = Number(process.env.LOOM_FUZZ_SEED ?? 20261201);
const N = Number(process.env.LOOM_FUZZ_RECORDS ?? 600);
const LIMIT = 1_048_576; // Kafka's default max.message.bytes
const text = (b: Uint8Array | null | undefined) => (b == null ? null : new TextDecoder().decode(b));

async function runCorpus(
  corpus: readonly FuzzRecord[],
  policy: "dead_letter" | "log_and_skip",
  fetch: number,
) {
  const flow = fuzzFlow({ input: "in", out: "out", errors: "errors" });
  const base = simulatorConfig(flow);
  const runtime = policy === "dead_letter"
    ? { on_unwritable: "dead_letter", dead_letter_topic: "dead" }
    : { on_unwritable: "log_and_skip" };
  const sim = await FlowSimulator.create(flow, {
    config: { ...base, streaming: { ...(base.streaming as object), runtime } },
    fetchMaxRecords: fetch,
  });
  for (const t of ["out", "errors", "dead"]) sim.broker.createTopic(t, { maxMessageBytes: LIMIT });
  for (const r of corpus) sim.sendRaw(r.value, { key: r.key, headers: r.headers });
  await sim.run();
  return sim;
}

function check(sim: FlowSimulator, corpus: readonly FuzzRecord[], policy: "dead_letter" | "log_and_skip") {
  assert.equal(sim.committed(0), corpus.length, "offsets commit to the end");
  const inputs = sim.records("in");
  const outKeys = new Set(sim.records("out").map((r) => text(r.key)));
  const wire = new Map((sim.errors("wire") as DecodeError[]).map((d) => [d.offset, d] as const));
  const task = new Set((sim.errors("task") as ErrorEnvelope[]).map((e) => e.originalMessage?.meta.offset));
  const dead = new Map(
    sim.records("dead").map((r) => [Number(text(r.headers["x-dlq-source-offset"])), r] as const),
  );
  const counts: Record<string, number> = {};
  for (const [i, r] of corpus.entries()) {
    const what = `#${i} (${r.label})`;
    counts[r.fate] = (counts[r.fate] ?? 0) + 1;
    switch (r.fate) {
      case "out":
        assert.ok(outKeys.has(r.key), `${what} is written`);
        break;
      case "wire": {
        const d = wire.get(i);
        assert.ok(d, `${what} is a wire error`);
        assert.deepEqual(
          d.raw,
          inputs[i].value ?? new Uint8Array(0),
          `${what}: the DecodeError keeps the raw bytes`,
        );
        if (r.reason) assert.match(d.error.reason, r.reason, what);
        break;
      }
      case "task":
        assert.ok(task.has(i), `${what} is a task error`);
        break;
      case "unwritable":
        if (policy === "dead_letter") {
          const d = dead.get(i);
          assert.ok(d, `${what} is dead-lettered`);
          assert.deepEqual(d.value, inputs[i].value, `${what}: the raw input is dead-lettered`);
        } else assert.ok(!dead.has(i) && !outKeys.has(r.key), `${what} is skipped`);
        break;
    }
  }
  const unwritable = counts.unwritable ?? 0;
  assert.equal(outKeys.size, counts.out ?? 0, "nothing else is written");
  assert.equal(wire.size, counts.wire ?? 0);
  assert.equal(policy === "dead_letter" ? sim.stats.deadLettered : sim.stats.skipped, unwritable);
  return counts;
}

describe("fuzz: bad records never stop a partition (simulator)", () => {
  const corpus = fuzzCorpus(SEED, N, { hugeOutputs: true });

  test(`seed ${SEED}, ${N} records, on_unwritable: dead_letter`, { timeout: 60_000 }, async () => {
    const sim = await runCorpus(corpus, "dead_letter", 50);
    const counts = check(sim, corpus, "dead_letter");
    console.log(`fuzz (simulator, seed ${SEED}): ${JSON.stringify(counts)}`);
  });

  test(
    `the same corpus with on_unwritable: log_and_skip and random fetch sizes`,
    { timeout: 60_000 },
    async () => {
      const sim = await runCorpus(corpus, "log_and_skip", 1 + (SEED % 97));
      check(sim, corpus, "log_and_skip");
    },
  );
});
