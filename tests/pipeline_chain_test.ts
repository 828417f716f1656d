// The three-flow chain of testing/_pipeline_flows.ts on the REAL broker (three runners, one per flow, each
// its own consumer group) gives the same payloads per topic as the PipelineSimulator.
// Run: deno test -A tests/pipeline_chain_test.ts   |   bun test tests/pipeline_chain_test.ts
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { compileFlow } from "../mod.ts";
import { decodeOutputRecord, encodeSourceValue } from "../streaming/engine.ts";
import { PipelineSimulator } from "../testing/mod.ts";
import { KafkaFlowRunner } from "../runtime/mod.ts";
import { KafkaProducerClient } from "../runtime/mod.ts";
import { pipelineFlows, type PipelineTopics, Request, TOPIC_NAMES } from "../testing/_pipeline_flows.ts";
import {
  bootstrap,
  createTopics,
  deleteTopics,
  endOffsets,
  quiet,
  readTopics,
  sleep,
  unique,
} from "./_support.ts";

const IDS = ["r-1", "r-2", "bad-1", "r-3"];

const canonical = (payloads: unknown[]): string[] => payloads.map((p) => JSON.stringify(p)).sort();

const configFor = (flow: string, source: string): Record<string, unknown> => ({
  kafka: {
    consumer: {
      brokers: [bootstrap()],
      group_id: unique(`chain-${flow}`),
      topics: [source],
      auto_offset_reset: "earliest",
      extra: { "session.timeout.ms": 6000, "heartbeat.interval.ms": 300 },
    },
    producer: { brokers: [bootstrap()] },
  },
});

const total = async (topic: string): Promise<number> =>
  [...(await endOffsets(topic)).values()].reduce((a, b) => a + b, 0);

describe("a pipeline of three flows on the real broker", () => {
  const cleanup: string[] = [];
  after(async () => {
    await deleteTopics(cleanup);
  });

  test(
    "three runners give the same payloads per topic as the PipelineSimulator",
    { timeout: 90_000 },
    async () => {
      // simulator
      const pipe = await PipelineSimulator.create(pipelineFlows(), { partitions: 2 });
      for (const id of IDS) pipe.send("requests", { id, hops: 0 }, { key: id });
      await pipe.run();

      // real broker
      const t = Object.fromEntries(
        Object.keys(TOPIC_NAMES).map((k) => [k, unique(`chain-${k}`)]),
      ) as unknown as PipelineTopics;
      cleanup.push(...Object.values(t));
      await createTopics(Object.values(t), 2);
      const runners = pipelineFlows(t).map((flow) =>
        new KafkaFlowRunner(compileFlow(flow, configFor(flow.name, flow.source.name)), { client: quiet })
      );
      for (const r of runners) await r.start();
      try {
        const producer = new KafkaProducerClient(
          { brokers: [bootstrap()], clientId: "chain", topic: null, security: null, extra: {} },
          quiet,
        );
        await producer.connect();
        await producer.send(
          t.requests,
          IDS.map((id) => ({
            key: new TextEncoder().encode(id),
            value: encodeSourceValue({ id, hops: 0 }, Request, { producedAtMs: 1_700_000_000_000 }),
            headers: {},
            timestampMs: null,
          })),
        );
        await producer.disconnect();
        const deadline = performance.now() + 60_000;
        while ((await total(t.done)) < 9 || (await total(t.audit)) < 1) {
          assert.ok(performance.now() < deadline, "the chain did not finish on the broker");
          for (const r of runners) assert.equal(r.failure, null);
          await sleep(100);
        }
      } finally {
        for (const r of runners) await r.stop();
      }
      for (const r of runners) assert.equal(r.failure, null);
      for (const [name, topic] of Object.entries(t) as [keyof PipelineTopics, string][]) {
        const onBroker = (await readTopics([topic])).map((r) => decodeOutputRecord(r).payload);
        const errorsView = (p: unknown) =>
          name === "errors" ? { ...(p as object), originalMessage: "(lineage differs)" } : p;
        assert.deepEqual(
          canonical(onBroker.map(errorsView)),
          canonical(pipe.payloads(TOPIC_NAMES[name]).map(errorsView)),
          `${name}: same payloads on the broker and in the simulator`,
        );
      }
    },
  );
});
