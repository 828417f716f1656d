// Error records stay small and always have a fate: bounded reasons and x-error-reason headers, oversized
// input headers kept once (in the envelope), and an error envelope that cannot be encoded with its payload
// (nested too deep) is written without it instead of stopping the partition.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { encodeSourceValue } from "../streaming/engine.ts";
import {
  ERROR_RECORD_LIMITS,
  type ErrorEnvelope,
  ErrorRoute,
  FromTopic,
  IntoTopic,
  type Message,
  messageType,
  Process,
  RecordStep,
  StreamFlow,
} from "../mod.ts";
import { FlowSimulator } from "./mod.ts";

const text = (b: Uint8Array | undefined): string | undefined => (b ? new TextDecoder().decode(b) : undefined);

describe("error record limits", () => {
  test("a 1 MB error reason is cut in the envelope and in the header; a huge input header is kept once", async () => {
    const Item = messageType("lim.Item", v.object({ s: v.string() }));
    const flow = new StreamFlow<{ s: string }>({
      name: "limits",
      source: new FromTopic("in", Item),
      process: new Process(RecordStep.of((m: Message<{ s: string }>) => {
        throw new Error(`bad value ${m.payload.s}`); // the reason repeats the 1 MB value
      })),
      output: new IntoTopic("out"),
      errors: new ErrorRoute(["task"], new IntoTopic("errors")),
    });
    const sim = await FlowSimulator.create(flow);
    sim.broker.createTopic("errors", { maxMessageBytes: 1_048_576 });
    const big = "x".repeat(1_000_000);
    sim.send({ s: "small" }, { headers: { app: "a", blob: "y".repeat(300_000) } });
    await sim.run();
    sim.send({ s: big }, { headers: { app: "b" } });
    await sim.run();
    assert.equal(sim.committed(0), 2, "both inputs have a fate");
    const [small, huge] = sim.errors("task") as ErrorEnvelope[];
    const [smallRec, hugeRec] = sim.records("errors");
    assert.equal(small.reason, "bad value small");
    assert.ok(huge.reason.length <= ERROR_RECORD_LIMITS.reasonChars, `reason of ${huge.reason.length}`);
    assert.match(huge.reason, /^bad value x+ … \[cut: 1000010 characters in all\]$/);
    const header = text(hugeRec.headers["x-error-reason"])!;
    assert.ok(header.length <= ERROR_RECORD_LIMITS.headerReasonChars);
    assert.match(header, /\[cut: \d+ characters in all\]$/);
    // the error record is the size of its input, not three times it
    assert.ok(
      hugeRec.value!.length < 1_000_000 + ERROR_RECORD_LIMITS.reasonChars + 1_000,
      `error record of ${hugeRec.value!.length} bytes`,
    );
    // an oversized input header is not copied onto the error record; the envelope keeps it
    assert.equal(smallRec.headers.blob, undefined);
    assert.equal(text(smallRec.headers["x-error-headers-omitted"]), "blob");
    assert.equal(text(smallRec.headers.app), "a");
    assert.equal(small.originalMessage!.meta.headers.blob.length, 300_000);
  });

  test("a payload nested 100,000 deep gets a fate (written, or an error with its raw bytes) and the partition goes on", async () => {
    const Any = messageType("lim.Any", v.any());
    const flow = new StreamFlow<unknown>({
      name: "deep",
      source: new FromTopic("in", Any),
      process: new Process(RecordStep.of((m: Message<unknown>) => m.payload)),
      output: new IntoTopic("out"),
      errors: new ErrorRoute(["task", "wire"], new IntoTopic("errors")),
    });
    const sim = await FlowSimulator.create(flow);
    sim.send({ ok: 1 });
    // an envelope whose payload is 100,000 arrays nested in each other (the payload is the last field)
    const shallow = encodeSourceValue(0, null, { producedAtMs: 1 });
    const depth = 100_000;
    const deep = new Uint8Array(shallow.length - 1 + depth + 1);
    deep.set(shallow.subarray(0, shallow.length - 1));
    deep.fill(0x91, shallow.length - 1, shallow.length - 1 + depth); // fixarray of 1
    deep[deep.length - 1] = 0x90; // the innermost empty array
    sim.sendRaw(deep);
    sim.send({ ok: 3 });
    await sim.run();
    assert.equal(sim.committed(0), 3, "no record stops the partition");
    assert.deepEqual(sim.payloads("out").filter((p) => !Array.isArray(p)), [{ ok: 1 }, { ok: 3 }]);
    const errors = [...sim.errors("task"), ...sim.errors("wire")];
    const written = sim.payloads("out").length;
    assert.equal(written + errors.length, 3, "the deep record is written or error-routed, once");
    for (const e of sim.errors("task") as ErrorEnvelope[]) {
      assert.equal(e.originalMessage!.payload, null);
      assert.match(e.reason, /original payload omitted: it could not be encoded/);
      assert.equal(e.originalMessage!.meta.offset, 1);
    }
  });

  test("an error envelope whose original payload cannot be encoded is written without it", async () => {
    const Item = messageType("lim.Obj", v.any()); // encoded dynamically: every field counts
    const flow = new StreamFlow<{ id: string }>({
      name: "circular",
      source: new FromTopic("in", Item),
      process: new Process(RecordStep.of((m: Message<{ id: string }>) => {
        if (m.payload.id === "loop") (m.payload as Record<string, unknown>).self = m.payload; // now circular
        return m.payload;
      })),
      output: new IntoTopic("out"),
      errors: new ErrorRoute(["task"], new IntoTopic("errors")),
    });
    const sim = await FlowSimulator.create(flow);
    sim.sendAll([{ id: "a" }, { id: "loop" }, { id: "b" }]);
    await sim.run();
    assert.equal(sim.committed(0), 3, "the circular record does not stop the partition");
    assert.deepEqual(sim.payloads("out"), [{ id: "a" }, { id: "b" }]);
    const [e] = sim.errors("task") as ErrorEnvelope[];
    assert.equal(e.originalMessage!.payload, null);
    assert.equal(e.originalMessage!.meta.offset, 1);
    assert.equal(e.payloadType, "lim.Obj");
    assert.match(e.reason, /\[original payload omitted: it could not be encoded: .+\]$/);
  });
});
