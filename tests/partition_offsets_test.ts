// Offsets and lag of partitions that deliver nothing, on the REAL broker (Deno and Bun): a 4-partition
// topic with records on partitions 0 and 1 only. A first run consumes and commits them; a second run (two
// Web Workers, same group) fetches nothing at all — partitions 0 and 1 are caught up at start, 2 and 3 are
// empty — yet /metrics shows committed offset, end offset and lag for all four, read from the cluster
// (nothing committed: where the group starts, the start offset). Records then produced to the empty
// partition 3 end up committed with no lag.
// Run: deno test -A tests/partition_offsets_test.ts   |   bun test tests/partition_offsets_test.ts
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { compileFlow, ConfigContext } from "../mod.ts";
import { createAdminApp, FlowSupervisor, serveAdmin } from "../runtime/mod.ts";
import { parsePrometheusText, sampleSum } from "../streaming/observe/_test_support.ts";
import { flow, relayConfig } from "./flows/relay.ts";
import { produce } from "./_runtime_support.ts";
import { bootstrap, createTopics, deleteTopics, unique, waitFor } from "./_support.ts";

const FLOW_MODULE = fileURLToPath(new URL("./flows/relay.ts", import.meta.url));

type Offsets = Record<number, { committed?: number; end?: number; lag?: number }>;

describe("offsets of partitions that deliver nothing", () => {
  const cleanup: string[] = [];
  after(async () => {
    await deleteTopics(cleanup);
  });

  test("/metrics shows committed, end and lag for all four partitions, fetched or not", {
    timeout: 120_000,
  }, async () => {
    const t = { in: unique("offsets-in"), out: unique("offsets-out") };
    cleanup.push(t.in, t.out);
    await createTopics([t.in, t.out], 4);
    await produce(t.in, 0, 7, 0);
    await produce(t.in, 100, 4, 1);
    const group = unique("g-offsets");
    const config = ConfigContext.fromObject(relayConfig(t, group, [bootstrap()]));
    const plan = compileFlow(flow, config);

    // first run: consume and commit the 11 records
    const first = new FlowSupervisor({
      flowModule: FLOW_MODULE,
      config,
      plan,
      workers: 1,
      quietClient: true,
    });
    try {
      await first.start();
      await waitFor(() => first.status().totals.produced >= 11, 60_000, "the first run's outputs");
    } finally {
      await first.stop();
    }
    assert.ok(first.stoppedCleanly);

    // second run: nothing to fetch
    const sup = new FlowSupervisor({ flowModule: FLOW_MODULE, config, plan, workers: 2, quietClient: true });
    const server = await serveAdmin(createAdminApp(sup), { host: "127.0.0.1", port: 0 });
    let text = "";
    const offsets = async (): Promise<Offsets> => {
      text = await (await fetch(`${server.url}/metrics`)).text();
      const m = parsePrometheusText(text);
      const out: Offsets = {};
      for (
        const [family, field] of [
          ["loom_committed_offset", "committed"],
          ["loom_end_offset", "end"],
          ["loom_consumer_lag", "lag"],
        ] as const
      ) {
        for (const s of m.get(family)?.samples ?? []) {
          if (s.labels.topic !== t.in) continue;
          (out[Number(s.labels.partition)] ??= {})[field] = s.value;
        }
      }
      return out;
    };
    const settle = async (want: Offsets, what: string) => {
      let last: Offsets = {};
      const deadline = performance.now() + 30_000;
      while (performance.now() < deadline) {
        last = await offsets();
        if (JSON.stringify(last) === JSON.stringify(want)) return;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.deepEqual(last, want, `${what}\n${text}`);
    };
    try {
      await sup.start();
      await waitFor(() => sup.workers().every((w) => w.assigned.length === 2), 30_000, "two partitions each");
      await settle({
        0: { committed: 7, end: 7, lag: 0 },
        1: { committed: 4, end: 4, lag: 0 },
        2: { committed: 0, end: 0, lag: 0 },
        3: { committed: 0, end: 0, lag: 0 },
      }, "all four partitions from the cluster");
      // nothing was fetched: every value above was read, none came from a batch
      assert.equal(sampleSum(parsePrometheusText(text), "loom_records_consumed_total"), 0);

      await produce(t.in, 300, 5, 3);
      await waitFor(() => sup.status().totals.produced >= 5, 60_000, "the new records' outputs");
      await settle({
        0: { committed: 7, end: 7, lag: 0 },
        1: { committed: 4, end: 4, lag: 0 },
        2: { committed: 0, end: 0, lag: 0 },
        3: { committed: 5, end: 5, lag: 0 },
      }, "partition 3 after its records");
    } finally {
      await sup.stop();
      await server.close();
    }
    assert.ok(sup.stoppedCleanly);
  });
});
