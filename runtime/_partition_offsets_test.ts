// Reading assigned partitions' offsets into FlowMetrics: the reset position stands in for a missing commit,
// this consumer's own commits win, unassigned partitions are ignored, a failing admin is logged once. The
// admin here is a table of offsets; the real one is exercised on the broker in tests/partition_offsets_test.ts.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { emptyStats, FlowMetrics } from "../streaming/engine.ts";
import type { ConsumerSettings } from "../streaming/_settings.ts";
import { type OffsetsAdmin, PartitionOffsetsPoller, readPartitionOffsets } from "./_partition_offsets.ts";

const settings = (autoOffsetReset: "earliest" | "latest"): ConsumerSettings => ({
  brokers: ["unused:9092"],
  groupId: "g",
  topics: ["t"],
  autoOffsetReset,
  pollTimeoutMs: 100,
  enableAutoCommit: false,
  security: null,
  extra: {},
});

const admin = (fail = false): OffsetsAdmin & { calls: string[] } => {
  const calls: string[] = [];
  const m = (entries: [number, number][]) => Promise.resolve(new Map(entries));
  return {
    calls,
    endOffsets: (
      t,
    ) => (calls.push(`end ${t}`),
      fail ? Promise.reject(new Error("no broker")) : m([[0, 50], [1, 9], [2, 30]])),
    startOffsets: (t) => (calls.push(`start ${t}`), m([[0, 0], [1, 0], [2, 12]])),
    committedOffsets: (g, t) => (calls.push(`committed ${g} ${t}`), m([[0, 40]])),
    close: () => Promise.resolve(),
  };
};

const tps = [0, 1, 2].map((partition) => ({ topic: "t", partition }));

describe("partition offsets", () => {
  test("committed when the group committed, else where it starts (earliest: start offset, latest: end)", async () => {
    const early = await readPartitionOffsets(admin(), settings("earliest"), tps);
    assert.deepEqual(early, [
      { topic: "t", partition: 0, committed: 40, end: 50 },
      { topic: "t", partition: 1, committed: 0, end: 9 },
      { topic: "t", partition: 2, committed: 12, end: 30 },
    ]);
    const a = admin();
    const late = await readPartitionOffsets(a, settings("latest"), tps);
    assert.deepEqual(late.map((o) => o.committed), [40, 9, 30]);
    assert.ok(!a.calls.some((c) => c.startsWith("start")), "latest needs no start offsets");
  });

  test("the poller feeds assigned partitions; the consumer's own commits win; failures logged once", async () => {
    const metrics = new FlowMetrics("f", { stats: emptyStats(), inFlight: () => 0 });
    metrics.assigned(tps.slice(0, 2));
    metrics.committed([{ topic: "t", partition: 1, offset: 7 }]);
    const poller = new PartitionOffsetsPoller(settings("earliest"), metrics, { admin: admin() });
    await poller.poll();
    assert.deepEqual(metrics.partitions(), [
      { topic: "t", partition: 0, committed: 40, end: 50, lag: 10 },
      { topic: "t", partition: 1, committed: 7, end: 9, lag: 2 },
    ]);
    await poller.stop();

    const warnings: string[] = [];
    const logger = { info: () => {}, warn: (e: string) => void warnings.push(e), error: () => {} };
    const failing = new PartitionOffsetsPoller(settings("earliest"), metrics, { admin: admin(true), logger });
    await failing.poll();
    await failing.poll();
    assert.deepEqual(warnings, ["partition_offsets_failed"]);
    await failing.stop();
  });
});
