// How many workers a FlowSupervisor runs: `streaming.runtime.workers_per_process` (one: the main thread),
// `workers` overriding it; partition concurrency is a separate setting each worker's consumer applies
// (runtime/_kafka_runner_test.ts). Nothing is started here.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { compileFlow, ConfigContext } from "../../mod.ts";
import { flow, relayConfig } from "../../tests/flows/relay.ts";
import { FlowSupervisor } from "./_supervisor.ts";

const supervisor = (runtime: Record<string, unknown>, workers?: number) => {
  const config = ConfigContext.fromObject(
    relayConfig({ in: "in", out: "out" }, "g", ["unused:9092"], runtime),
  );
  return new FlowSupervisor({
    flowModule: "tests/flows/relay.ts",
    config,
    plan: compileFlow(flow, config),
    workers,
  });
};

describe("FlowSupervisor worker count", () => {
  test("workers_per_process: N Web Workers; 1 runs on the main thread; `workers` overrides", () => {
    const three = supervisor({ workers_per_process: 3, partition_concurrency: 2 });
    assert.equal(three.workerCount, 3);
    assert.equal(three.inMainThread, false);
    assert.equal(three.plan.runtime.partitionConcurrency, 2);
    const one = supervisor({});
    assert.equal(one.workerCount, 1);
    assert.equal(one.inMainThread, true);
    assert.equal(one.plan.runtime.partitionConcurrency, 1);
    const overridden = supervisor({ workers_per_process: 3 }, 2);
    assert.equal(overridden.workerCount, 2);
    assert.equal(overridden.plan.runtime.partitionConcurrency, 1);
  });
});
