// Integration tests of delivery failures on the REAL local broker: records refused by the broker
// (over the topic's max.message.bytes) go to the dead-letter topic, alone; without a DLQ the flow fails
// and the committed offsets never pass the refused record.
// Run: deno test -A tests/kafka_delivery_test.ts   |   bun test tests/kafka_delivery_test.ts
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import * as v from "valibot";
import { Kafka, logLevel } from "kafkajs";
import {
  compileFlow,
  ConfigContext,
  FromTopic,
  IntoTopic,
  type Message,
  messageType,
  Process,
  RecordStep,
  StreamFlow,
} from "../mod.ts";
import { decodeOutputRecord, DeliveryFailure, encodeSourceValue } from "../streaming/engine.ts";
import { KafkaFlowRunner } from "../runtime/mod.ts";
import {
  bootstrap,
  committedOffsets,
  createTopics,
  deleteTopics,
  endOffsets,
  quiet,
  readTopics,
  unique,
  waitFor,
} from "./_support.ts";

const dec = new TextDecoder();
const text = (b: Uint8Array | null | undefined): string | null => (b == null ? null : dec.decode(b));

const Item = messageType("loom.it.Item", v.object({ id: v.string(), size: v.pipe(v.number(), v.integer()) }));
type ItemT = v.InferOutput<typeof Item.schema>;
const pad = RecordStep.of((m: Message<ItemT>) => ({ id: m.payload.id, pad: "x".repeat(m.payload.size) }), {
  name: "pad",
});
const flowTo = (dlq: string | null): StreamFlow<ItemT> =>
  new StreamFlow<ItemT>({
    name: "it_delivery",
    source: new FromTopic("in", Item),
    process: new Process(pad),
    output: new IntoTopic("out", dlq ? { dlq } : {}),
  });

const configFor = (input: string, out: string, group: string): ConfigContext => {
  const brokers = [bootstrap()];
  return ConfigContext.fromObject({
    kafka: {
      consumer: {
        brokers,
        group_id: group,
        topics: [input],
        enable_auto_commit: false,
        extra: { "session.timeout.ms": 6000, "heartbeat.interval.ms": 300 },
      },
      producer: { brokers, client_id: "loom-it" },
      producers: { out: { brokers, client_id: "loom-it", topic: out } },
    },
    streaming: { runtime: { transport: "kafka", delivery_retries: 1, retry_backoff_ms: 10 } },
  });
};

const N = 300;
const big = (i: number): boolean => i % 25 === 7;

describe("delivery failures on a real broker", () => {
  const input = unique("in");
  const out = unique("out");
  const dead = unique("dead");
  const inputs = new Map<string, { partition: number; offset: number }>();

  before(async () => {
    await createTopics([input, dead], 3);
    await createTopics([out], 3, { "max.message.bytes": "8192" });
    const producer = new Kafka({ brokers: [bootstrap()], clientId: "loom-it-in", logLevel: logLevel.NOTHING })
      .producer();
    await producer.connect();
    const messages = [];
    for (let i = 0; i < N; i++) {
      const value = encodeSourceValue({ id: `i-${i}`, size: big(i) ? 20_000 : 16 }, Item, {
        producedAtMs: 1,
      });
      messages.push({ key: `i-${i}`, value: Buffer.from(value) });
    }
    await producer.send({ topic: input, messages, acks: -1 });
    await producer.disconnect();
    for (const r of await readTopics([input])) {
      inputs.set(text(r.key)!, { partition: r.partition, offset: r.offset });
    }
  });
  after(() => deleteTopics([input, out, dead]));

  test("only the refused records are dead-lettered (with the reason and their key); all offsets commit", {
    timeout: 60_000,
  }, async () => {
    const group = unique("group");
    const high = await endOffsets(input);
    const committed = new Map<number, number>();
    const runner = new KafkaFlowRunner(compileFlow(flowTo(dead), configFor(input, out, group)), {
      client: { ...quiet, logLevel: "nothing" },
      onCommit: (offsets) => offsets.forEach((o) => committed.set(o.partition, o.offset)),
    });
    await runner.start();
    await waitFor(
      () => [...high].every(([p, h]) => committed.get(p) === h) || runner.failure !== null,
      45_000,
      "everything to commit",
    );
    await runner.stop();
    assert.equal(runner.failure, null, String(runner.failure));
    assert.deepEqual(await committedOffsets(group, input), high);

    const ids = (topic: string) => readTopics([topic]).then((rs) => rs.map((r) => decodeOutputRecord(r)));
    const written = await ids(out);
    const dlq = await ids(dead);
    const all = [...inputs.keys()];
    assert.deepEqual(
      written.map((m) => (m.payload as { id: string }).id).sort(),
      all.filter((id) => !big(Number(id.slice(2)))).sort(),
      "every record that fits is written to the topic, once",
    );
    assert.deepEqual(
      dlq.map((m) => (m.payload as { id: string }).id).sort(),
      all.filter((id) => big(Number(id.slice(2)))).sort(),
      "exactly the oversized records are dead-lettered",
    );
    for (const m of dlq) {
      assert.equal(text(m.record.key), (m.payload as { id: string }).id, "the DLQ record keeps the key");
      assert.match(text(m.record.headers["x-dlq-error"]) ?? "", /larger than the max message size/);
      assert.equal(
        (m.payload as { pad: string }).pad.length,
        20_000,
        "the DLQ record is the refused message",
      );
    }
    assert.equal(runner.driver.stats.deadLettered, dlq.length);
  });

  test("without a DLQ the flow fails with a DeliveryFailure and never commits past a refused record", {
    timeout: 60_000,
  }, async () => {
    const group = unique("group");
    const runner = new KafkaFlowRunner(compileFlow(flowTo(null), configFor(input, unique("out2"), group)), {
      client: { ...quiet, logLevel: "nothing" },
    });
    // the second output topic has the same limit
    await createTopics([runner.plan.output!.topic], 3, { "max.message.bytes": "8192" });
    await runner.start();
    await Promise.race([runner.done, new Promise((r) => setTimeout(r, 45_000))]);
    assert.equal(runner.state, "failed");
    assert.ok(runner.failure instanceof DeliveryFailure, `got ${runner.failure}`);
    assert.match(
      (runner.failure as Error).message,
      /delivery to .*out2.* failed: .*larger than the max message size/,
    );
    const firstBig = new Map<number, number>();
    for (const [id, at] of inputs) {
      if (!big(Number(id.slice(2)))) continue;
      firstBig.set(at.partition, Math.min(firstBig.get(at.partition) ?? Infinity, at.offset));
    }
    const committed = await committedOffsets(group, input);
    for (const [p, c] of committed) {
      assert.ok(
        c <= (firstBig.get(p) ?? Infinity),
        `partition ${p}: committed ${c} passes the refused record`,
      );
    }
    await deleteTopics([runner.plan.output!.topic]);
  });
});
