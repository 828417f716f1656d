// The CLI's in-memory run (runInMemory) reports a flow whose outputs are error payloads without failing:
// a step returning decodeError.error writes an ErrorEnvelope of kind wire that reads back.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  ConfigContext,
  type DecodeError,
  DecodeErrors,
  type ErrorEnvelope,
  errorEnvelopeOf,
  FromMultiTypeTopic,
  IntoTopic,
  type Message,
  Process,
  RecordStep,
  StreamFlow,
} from "../mod.ts";
import { A, upstreamErrors } from "../testing/_error_flows.ts";
import { formatMemoryReport, runInMemory } from "./_memory_run.ts";

const unwrap = new StreamFlow({
  name: "unwrap",
  source: new FromMultiTypeTopic("errs", [errorEnvelopeOf(A), DecodeErrors]),
  process: new Process(RecordStep.of((m: Message<unknown>) => {
    const p = m.payload as DecodeError | ErrorEnvelope;
    return "raw" in p ? p.error : p;
  })),
  output: new IntoTopic("unwrapped"),
});

describe("runInMemory", () => {
  test("reports error payloads written by a flow (an ErrorEnvelope of kind wire among them)", async () => {
    const fixture = (await upstreamErrors()).map((r) =>
      JSON.stringify({ topic: "errs", value: { base64: btoa(String.fromCharCode(...r.value!)) } })
    ).join("\n");
    const report = await runInMemory(
      unwrap,
      ConfigContext.fromObject({
        kafka: {
          consumer: { brokers: ["sim:9092"], group_id: "unwrap", topics: ["errs"] },
          producer: { brokers: ["sim:9092"] },
        },
      }),
      fixture,
    );
    assert.deepEqual(report.topics.unwrapped.map((m) => m.messageType), [
      "loom.streaming.error.task",
      "loom.streaming.error.wire",
    ]);
    assert.ok(report.topics.unwrapped.every((m) => m.undecodable === undefined));
    assert.match(formatMemoryReport(report), /loom\.streaming\.error\.wire/);
    assert.deepEqual(report.committed, { "errs[0]": 2 });
  });
});
