// The CLI's in-memory run (runInMemory) reports a flow whose outputs are error payloads without failing:
// a step returning decodeError.error writes an ErrorEnvelope of kind wire that reads back.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import {
  ConfigContext,
  type DecodeError,
  DecodeErrors,
  type ErrorEnvelope,
  errorEnvelopeOf,
  ErrorRoute,
  FromMultiTypeTopic,
  FromTopic,
  IntoTopic,
  type Message,
  messageType,
  Process,
  RecordStep,
  StreamFlow,
} from "../mod.ts";
import { FlowSimulator } from "../testing/mod.ts";
import { formatMemoryReport, runInMemory } from "./_memory_run.ts";

const A = messageType("a.A", v.object({ id: v.string(), n: v.pipe(v.number(), v.integer()) }));
type AT = v.InferOutput<typeof A.schema>;

const upstream = new StreamFlow<AT>({
  name: "upstream",
  source: new FromTopic("a.raw", A),
  process: new Process(RecordStep.of((m: Message<AT>) => {
    if (m.payload.n < 0) throw new Error(`negative ${m.payload.n}`);
    return m.payload;
  })),
  output: new IntoTopic("a.ok"),
  errors: new ErrorRoute(["wire", "task"], new IntoTopic("a.errors")),
});

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
    const up = await FlowSimulator.create(upstream);
    up.send({ id: "x1", n: -1 });
    up.sendRaw(new Uint8Array([0xc1, 0xff]));
    await up.run();
    const fixture = up.records("a.errors").map((r) =>
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
