// The last resorts of a record whose fate cannot be written (reliability, part B): an error record the error
// topic refuses is written again as a reduced envelope; a record still refused goes to
// streaming.runtime.on_unwritable (fail naming the record | dead_letter the raw input | log_and_skip).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { DeliveryFailure } from "../streaming/engine.ts";
import {
  Broadcast,
  BroadcastRoute,
  ConfigContext,
  ConfigError,
  type DecodeError,
  type ErrorEnvelope,
  ErrorRoute,
  FromTopic,
  IntoTopic,
  type Message,
  messageType,
  Process,
  readRuntimeSettings,
  RecordStep,
  StreamFlow,
} from "../mod.ts";
import { FlowSimulator, simulatorConfig } from "./mod.ts";

const text = (b: Uint8Array | undefined): string | undefined => (b ? new TextDecoder().decode(b) : undefined);
const Item = messageType("unw.Item", v.object({ s: v.string() }));
type ItemT = { s: string };

/** A flow whose step fails on payloads starting with "bad", and writes the others to `out`. */
const flowOf = (): StreamFlow<ItemT> =>
  new StreamFlow<ItemT>({
    name: "unwritable",
    source: new FromTopic("in", Item),
    process: new Process(RecordStep.of((m: Message<ItemT>) => {
      if (m.payload.s.startsWith("bad")) throw new Error("bad payload");
      return m.payload;
    }, { name: "check" })),
    output: new IntoTopic("out"),
    errors: new ErrorRoute(["task", "wire"], new IntoTopic("errors")),
  });

const runtime = (flow: StreamFlow<ItemT>, settings: Record<string, unknown>) => {
  const base = simulatorConfig(flow);
  return { ...base, streaming: { ...(base.streaming as object), runtime: settings } };
};

describe("error records the error topic refuses: a reduced envelope", () => {
  test("a task error of a 600 KB payload is written without its payload, meta and reason kept", async () => {
    const sim = await FlowSimulator.create(flowOf());
    sim.broker.createTopic("errors", { maxMessageBytes: 500_000 });
    sim.send({ s: "bad" + "x".repeat(600_000) }, { key: "k1", headers: { app: "a" } });
    sim.send({ s: "good" });
    await sim.run();
    assert.equal(sim.committed(0), 2, "the partition goes on");
    assert.equal(sim.records("out").length, 1);
    const [env] = sim.errors("task") as ErrorEnvelope[];
    assert.match(
      env.reason,
      /^\[original payload omitted: the error topic refused the error record: .*MESSAGE_TOO_LARGE/,
    );
    assert.match(env.reason, /bad payload$/);
    assert.equal(env.originalMessage?.payload, null);
    assert.equal(env.originalMessage?.meta.messageId, "in:0:0");
    assert.equal(text(env.originalMessage?.meta.headers.app), "a");
    const [rec] = sim.records("errors");
    assert.equal(text(rec.key!), "k1");
    assert.equal(text(rec.headers["x-error-kind"]), "task");
    assert.equal(sim.stats.reducedErrors, 1);
  });

  test("a decode error of 600 KB of garbage is written without its raw bytes", async () => {
    const sim = await FlowSimulator.create(flowOf());
    sim.broker.createTopic("errors", { maxMessageBytes: 500_000 });
    const garbage = new Uint8Array(600_000).fill(0xc1);
    sim.sendRaw(garbage, { key: "g" });
    await sim.run();
    assert.equal(sim.committed(0), 1);
    const [de] = sim.errors("wire") as DecodeError[];
    assert.equal(de.raw.length, 0);
    assert.equal(de.offset, 0);
    assert.match(de.error.reason, /^\[original payload omitted: .*\] MessagePack data is malformed/);
  });
});

describe("streaming.runtime.on_unwritable", () => {
  /** An output record over the output topic's limit, and an error record even reduced over its topic's. */
  const poisoned = async (settings: Record<string, unknown>) => {
    const flow = flowOf();
    const sim = await FlowSimulator.create(flow, { config: runtime(flow, settings), deliveryRetries: 0 });
    sim.broker.createTopic("out", { maxMessageBytes: 2_000 });
    sim.broker.createTopic("errors", { maxMessageBytes: 100 }); // even a reduced envelope is refused
    sim.send({ s: "ok-0" });
    sim.send({ s: "y".repeat(5_000) }, { key: "big", headers: { h: "1" } }); // offset 1: output refused
    sim.send({ s: "bad" }, { key: "bad" }); // offset 2: its error record refused, also reduced
    sim.send({ s: "ok-3" });
    return sim;
  };

  test("fail (default): the runner stops naming the record and the setting", async () => {
    const sim = await poisoned({});
    await assert.rejects(() => sim.run(), (e: unknown) => {
      assert.ok(e instanceof DeliveryFailure, String(e));
      assert.match(e.message, /MESSAGE_TOO_LARGE/);
      assert.match(e.message, /the record in\[0\]@1/);
      assert.match(e.message, /streaming\.runtime\.on_unwritable/);
      assert.deepEqual(e.record, { topic: "in", partition: 0, offset: 1 });
      return true;
    });
    assert.notEqual(sim.committed(0), 4);
    assert.ok((sim.committed(0) ?? 0) <= 1, "nothing past the record commits");
  });

  test("dead_letter: the raw input records go to the dead-letter topic with the reason and their coordinates", async () => {
    const sim = await poisoned({ on_unwritable: "dead_letter", dead_letter_topic: "dead" });
    const inputs = sim.records("in");
    await sim.run();
    assert.equal(sim.committed(0), 4, "offsets commit to the end");
    assert.deepEqual(sim.records("out").map((r) => r.offset), [0, 1]); // ok-0, ok-3
    const dead = sim.records("dead");
    assert.equal(dead.length, 2);
    for (const [i, d] of dead.entries()) {
      const src = inputs[i + 1];
      assert.deepEqual(d.value, src.value, "the raw input value");
      assert.deepEqual(d.key, src.key);
      assert.equal(text(d.headers["x-dlq-source-topic"]), "in");
      assert.equal(text(d.headers["x-dlq-source-partition"]), "0");
      assert.equal(text(d.headers["x-dlq-source-offset"]), String(i + 1));
      assert.match(text(d.headers["x-dlq-error"])!, /MESSAGE_TOO_LARGE/);
    }
    assert.equal(text(dead[0].headers.h), "1", "input headers are kept");
    assert.match(text(dead[1].headers["x-dlq-error"])!, /delivery to errors failed/);
    assert.equal(sim.stats.deadLettered, 2);
  });

  test("dead_letter: a refused dead-letter write commits nothing past the record", async () => {
    const sim = await poisoned({ on_unwritable: "dead_letter", dead_letter_topic: "dead" });
    sim.broker.createTopic("dead", { maxMessageBytes: 10 });
    await assert.rejects(
      () => sim.run(),
      (e: unknown) => e instanceof DeliveryFailure && /dead/.test(e.message),
    );
    assert.ok((sim.committed(0) ?? 0) <= 1);
  });

  test("log_and_skip: logged, counted and committed, nothing written for them", async () => {
    const sim = await poisoned({ on_unwritable: "log_and_skip" });
    await sim.run();
    assert.equal(sim.committed(0), 4);
    assert.equal(sim.records("out").length, 2);
    assert.equal(sim.records("errors").length, 0);
    assert.equal(sim.stats.skipped, 2);
  });

  test("a record with two refused outputs (Broadcast to two topics) is dead-lettered once", async () => {
    const flow = new StreamFlow<ItemT>({
      name: "twice",
      source: new FromTopic("in", Item),
      process: new Process(
        new Broadcast(
          new BroadcastRoute(
            new Process(RecordStep.of((m: Message<ItemT>) => m.payload, { name: "a" })),
            new IntoTopic("out.a"),
          ),
          new BroadcastRoute(
            new Process(RecordStep.of((m: Message<ItemT>) => m.payload, { name: "b" })),
            new IntoTopic("out.b"),
          ),
        ),
      ),
    });
    const sim = await FlowSimulator.create(flow, {
      config: runtime(flow, { on_unwritable: "dead_letter", dead_letter_topic: "dead" }),
    });
    sim.broker.createTopic("out.a", { maxMessageBytes: 1_000 });
    sim.broker.createTopic("out.b", { maxMessageBytes: 1_000 });
    sim.send({ s: "z".repeat(3_000) });
    sim.send({ s: "fine" });
    await sim.run();
    assert.equal(sim.committed(0), 2);
    assert.equal(sim.records("dead").length, 1, "one fate per record");
    assert.equal(sim.records("out.a").length, 1);
    assert.equal(sim.records("out.b").length, 1);
  });

  test("config: dead_letter needs dead_letter_topic; unknown policies are errors; absent means fail", () => {
    const ctx = (rt: Record<string, unknown>) => ConfigContext.fromObject({ streaming: { runtime: rt } });
    assert.throws(
      () => readRuntimeSettings(ctx({ on_unwritable: "dead_letter" })),
      (e: unknown) => e instanceof ConfigError && /dead_letter_topic/.test(e.message),
    );
    assert.throws(() => readRuntimeSettings(ctx({ on_unwritable: "drop" })), ConfigError);
    const rt = readRuntimeSettings(ctx({ on_unwritable: "dead_letter", dead_letter_topic: "dlt" }));
    assert.equal(rt.onUnwritable, "dead_letter");
    assert.equal(rt.deadLetterTopic, "dlt");
    assert.equal(readRuntimeSettings(ctx({})).onUnwritable, undefined);
  });
});
