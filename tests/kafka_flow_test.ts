// Integration tests: a whole flow (router, CollectBatch + batch step, async step, broadcast, error routes)
// running on the REAL local broker through KafkaFlowRunner; then the same input topic recorded into a
// fixture and replayed on the simulator, which must give the same outputs.
// Run: deno test -A tests/kafka_flow_test.ts   |   bun test tests/kafka_flow_test.ts
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Buffer } from "node:buffer";
import { spawnSync } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { Kafka, logLevel } from "kafkajs";
import { compileFlow, ConfigContext } from "../mod.ts";
import { decodeOutputRecord, encodeSourceValue, type OutputMessage } from "../streaming/engine.ts";
import type { DecodeError, ErrorEnvelope } from "../streaming/_message.ts";
import type { TopicPartitionOffset } from "../streaming/_transport.ts";
import { KafkaFlowRunner, recordFixture } from "../runtime/mod.ts";
import { FlowSimulator, parseFixture } from "../testing/mod.ts";
import { partitionForKey } from "../kafka/_murmur2.ts";
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
import { fate, flow, pipelineConfig, Reading, type ScoredT, TOPICS, type Topics } from "./flows/pipeline.ts";

const dec = new TextDecoder();
const text = (b: Uint8Array | null | undefined): string | null => (b == null ? null : dec.decode(b));

const N = 3000;
const T0 = 1_700_000_000_000;
const names = TOPICS;

const configFor = (t: Topics, group: string): Record<string, unknown> =>
  pipelineConfig(t, group, [bootstrap()]);

const GARBAGE = new Uint8Array([0xc1, 0xff, 0x00, 0x13, 0x37]);
/** Poison records: garbage bytes, an envelope whose payload misses fields, a wrong field type. */
const poison = (t: Topics) =>
  [
    { partition: 2, key: "poison-0", value: GARBAGE, at: 0 },
    {
      partition: 0,
      key: "poison-1",
      value: encodeSourceValue({ id: "x" }, null, { messageType: Reading.name, producedAtMs: T0 }),
      at: N / 2,
    },
    {
      partition: 1,
      key: "poison-2",
      value: encodeSourceValue({ id: "y", n: "seven", kind: "a" }, null, { producedAtMs: T0 }),
      at: N / 3,
    },
  ].map((p) => ({ ...p, topic: t.in }));

describe("a flow on a real Kafka broker", () => {
  const topics = Object.fromEntries(names.map((n) => [n, unique(n)])) as Topics;
  const group = unique("group");
  let out: Record<string, OutputMessage[]> = {};
  const inputs = new Map<string, { partition: number; offset: number }>();
  const poisonAt = new Map<string, { partition: number; offset: number }>();
  let tmp = "";

  before(async () => {
    tmp = mkdtempSync(join(tmpdir(), "loom-it-"));
    await createTopics(Object.values(topics), 3);
  });
  after(async () => {
    rmSync(tmp, { recursive: true, force: true });
    await deleteTopics(Object.values(topics));
  });

  test("every input reaches its outputs or its error topic, with keys, headers and envelopes", {
    timeout: 90_000,
  }, async () => {
    // --- produce the input: N envelopes keyed by id, plus poison records between them -----------------
    const producer = new Kafka({ brokers: [bootstrap()], clientId: "loom-it-in", logLevel: logLevel.NOTHING })
      .producer();
    await producer.connect();
    const bad = poison(topics);
    const send = async (from: number, to: number) => {
      const messages = [];
      for (let i = from; i < to; i++) {
        messages.push({
          key: `r-${i}`,
          value: Buffer.from(encodeSourceValue(
            { id: `r-${i}`, n: i, kind: i % 3 === 0 ? "a" : "b" },
            Reading,
            { traceId: `t-${i}`, correlationId: `c-${i}`, producedAtMs: T0 + i },
          )),
          headers: { "x-origin": "it" },
        });
      }
      const meta = await producer.send({ topic: topics.in, messages, acks: -1 });
      return meta;
    };
    let from = 0;
    for (const p of [...bad].sort((a, b) => a.at - b.at)) {
      if (p.at > from) await send(from, p.at);
      from = p.at;
      const [m] = await producer.send({
        topic: p.topic,
        messages: [{ key: p.key, value: Buffer.from(p.value), partition: p.partition }],
        acks: -1,
      });
      poisonAt.set(p.key, { partition: p.partition, offset: Number(m.baseOffset) });
    }
    await send(from, N);
    await producer.disconnect();
    for (const r of await readTopics([topics.in])) {
      const k = text(r.key)!;
      if (!k.startsWith("poison")) inputs.set(k, { partition: r.partition, offset: r.offset });
    }
    assert.equal(inputs.size, N);

    // --- run the flow until everything is committed ------------------------------------------------------
    const high = await endOffsets(topics.in);
    const startedAt = Date.now();
    const committed = new Map<number, number>();
    const runner = new KafkaFlowRunner(
      compileFlow(flow, ConfigContext.fromObject(configFor(topics, group))),
      {
        client: quiet,
        onCommit: (offsets: readonly TopicPartitionOffset[]) => {
          for (const o of offsets) committed.set(o.partition, o.offset);
        },
      },
    );
    await runner.start();
    await waitFor(
      () => [...high].every(([p, h]) => committed.get(p) === h) || runner.failure !== null,
      60_000,
      "the flow to commit the whole input",
    );
    await runner.stop();
    assert.equal(runner.failure, null, `runner failed: ${runner.failure}`);
    assert.equal(runner.state, "stopped");
    assert.deepEqual(await committedOffsets(group, topics.in), high, "the group's committed offsets");

    const s = runner.driver.stats;
    assert.equal(s.consumed, N + 3);
    const expectOk = [...inputs.keys()].filter((id) => fate(Number(id.slice(2))) === "ok");
    const expectTask = [...inputs.keys()].filter((id) => fate(Number(id.slice(2))) === "task");
    const expectBusiness = [...inputs.keys()].filter((id) => fate(Number(id.slice(2))) === "business");
    assert.equal(s.produced[topics.out_a], expectOk.length);
    assert.equal(s.produced[topics.out_b], expectOk.length);

    // --- read every output topic back --------------------------------------------------------------------
    const records = await readTopics(names.filter((n) => n !== "in").map((n) => topics[n]));
    out = {};
    for (const r of records) (out[r.topic] ??= []).push(decodeOutputRecord(r));

    const ids = (ms: OutputMessage[] | undefined) =>
      (ms ?? []).map((m) => (m.payload as { id: string }).id).sort();
    assert.deepEqual(ids(out[topics.out_a]), expectOk.sort(), "out_a: every ok input exactly once");
    assert.deepEqual(ids(out[topics.out_b]), expectOk.sort(), "out_b: every ok input exactly once");

    for (const m of out[topics.out_a]) {
      const p = m.payload as ScoredT;
      const i = p.n;
      assert.deepEqual(p, {
        id: `r-${i}`,
        n: i,
        lane: i % 3 === 0 ? "A" : "B",
        double: 2 * i,
        score: i % 100,
        route: "a",
      });
      const r = m.record;
      assert.equal(text(r.key), `r-${i}`, "the input key is kept");
      assert.equal(r.partition, partitionForKey(r.key!, 3), "placed by Kafka's murmur2 partitioner");
      // produced_at_ms is when the output was produced (the original copied the input's: a quirk).
      assert.ok(r.timestampMs! >= startedAt && r.timestampMs! <= Date.now(), "the record timestamp is now");
      assert.equal(
        m.meta.producedAtMs,
        r.timestampMs,
        "the record timestamp is the envelope's produced_at_ms",
      );
      assert.equal(m.meta.messageType, "loom.it.Scored");
      assert.equal(m.meta.correlationId, `c-${i}`);
      assert.equal(m.meta.parentTraceId, `t-${i}`, "lineage: the parent is the input's trace");
      assert.match(m.meta.traceId ?? "", /^[0-9a-f]{32}$/, "a new trace id");
      assert.equal(text(r.headers["x-origin"]), "it", "input headers are forwarded");
      assert.equal(text(r.headers["x-trace-id"]), m.meta.traceId);
      assert.equal(text(r.headers["x-parent-trace-id"]), `t-${i}`);
      assert.equal(text(r.headers["x-correlation-id"]), `c-${i}`);
    }
    const laneParts = new Map<string, Set<number>>();
    for (const m of out[topics.out_b]) {
      const p = m.payload as ScoredT;
      assert.equal(p.route, "b");
      assert.equal(text(m.record.key), `lane-${p.lane}`, "out_b is re-keyed by its PartitionPolicy");
      let set = laneParts.get(p.lane);
      if (!set) laneParts.set(p.lane, set = new Set());
      set.add(m.record.partition);
    }
    assert.deepEqual([...laneParts.values()].map((s) => s.size), [1, 1], "one partition per lane key");

    // --- error topics --------------------------------------------------------------------------------------
    const envelopes = (topic: string) =>
      (out[topic] ?? []).map((m) => ({ m, e: m.payload as ErrorEnvelope }));
    const task = envelopes(topics.task_errors);
    assert.deepEqual(
      task.map(({ e }) => (e.originalMessage!.payload as { id: string }).id).sort(),
      expectTask.sort(),
    );
    for (const { m, e } of task) {
      const n = (e.originalMessage!.payload as { n: number }).n;
      assert.equal(e.kind, "task");
      assert.equal(e.reason, `unlucky ${n}`);
      assert.equal(e.payloadType, "loom.it.Reading");
      assert.equal(m.meta.messageType, "loom.streaming.error.task");
      assert.equal(text(m.record.headers["x-error-kind"]), "task");
      assert.equal(text(m.record.headers["x-error-reason"]), `unlucky ${n}`);
      assert.equal(text(m.record.key), `r-${n}`, "error envelopes keep the original key");
      assert.equal(m.meta.traceId, `t-${n}`, "an error envelope keeps the original trace id");
      assert.equal(
        e.originalMessage!.meta.messageId,
        `${topics.in}:${inputs.get(`r-${n}`)!.partition}:${inputs.get(`r-${n}`)!.offset}`,
      );
    }
    const business = envelopes(topics.business_errors);
    assert.deepEqual(
      business.map(({ e }) => (e.originalMessage!.payload as { id: string }).id).sort(),
      expectBusiness.sort(),
    );
    for (const { m, e } of business) {
      const n = (e.originalMessage!.payload as { n: number }).n;
      assert.equal(e.kind, "business");
      assert.equal(e.reason, `n: ${n} is a multiple of 17`);
      assert.equal(text(m.record.headers["x-error-kind"]), "business");
    }

    const wire = (out[topics.wire_errors] ?? []).map((m) => ({ m, d: m.payload as DecodeError }));
    assert.deepEqual(wire.map(({ m }) => text(m.record.key)).sort(), ["poison-0", "poison-1", "poison-2"]);
    for (const { m, d } of wire) {
      const key = text(m.record.key)!;
      const at = poisonAt.get(key)!;
      assert.equal(d.error.kind, "wire");
      assert.ok(d.error.reason.length > 0, "a decode error says why");
      assert.equal(d.topic, topics.in);
      assert.equal(d.partition, at.partition);
      assert.equal(d.offset, at.offset);
      assert.equal(text(d.key), key);
      assert.equal(m.meta.messageType, "loom.streaming.error.wire");
      assert.equal(text(m.record.headers["x-error-kind"]), "wire");
      if (key === "poison-0") assert.deepEqual(d.raw, GARBAGE, "the raw bytes are kept");
    }
    assert.equal(s.errors.wire, 3);
    assert.equal(s.errors.task, expectTask.length);
    assert.equal(s.errors.business, expectBusiness.length);
  });

  test("the input recorded into a fixture replays on the simulator with the same outputs", {
    timeout: 60_000,
  }, async () => {
    assert.ok(out[topics.out_a]?.length, "needs the previous test's outputs");
    const file = join(tmp, "in.jsonl");
    const config = ConfigContext.fromObject(configFor(topics, unique("recorder")));
    const n = await recordFixture({ config, topic: topics.in, out: file, limit: 100_000, timeoutMs: 2_000 });
    assert.equal(n, N + 3);
    const fixture = parseFixture(readFileSync(file, "utf8"), file);
    assert.equal(fixture.length, N + 3);
    const garbage = fixture.find((r) => text(r.key) === "poison-0");
    assert.deepEqual(
      garbage?.value,
      { raw: GARBAGE },
      "undecodable bytes are recorded as raw (base64) bytes",
    );

    const sim = await FlowSimulator.create(flow, {
      config: configFor(topics, group),
      partitions: { [topics.in]: 3 },
    });
    for (const t of [topics.out_a, topics.out_b]) sim.broker.createTopic(t, { partitions: 3 });
    sim.loadFixture(fixture, file);
    await sim.run();
    await sim.advanceTime(100);
    await sim.end();

    // Same payloads, keys, partitions and lineage as production (only new trace ids differ).
    const view = (ms: OutputMessage[]) =>
      ms.map((m) =>
        [text(m.record.key), m.record.partition, m.meta.parentTraceId, JSON.stringify(m.payload)].join("|")
      )
        .sort();
    assert.deepEqual(view(sim.output(topics.out_a)), view(out[topics.out_a]));
    assert.deepEqual(view(sim.output(topics.out_b)), view(out[topics.out_b]));
    const reasons = (ms: OutputMessage[] | undefined) =>
      (ms ?? []).map((m) => `${text(m.record.key)}:${(m.payload as ErrorEnvelope).reason}`).sort();
    assert.deepEqual(reasons(sim.output(topics.task_errors)), reasons(out[topics.task_errors]));
    assert.deepEqual(reasons(sim.output(topics.business_errors)), reasons(out[topics.business_errors]));
    const wireKeys = (ms: OutputMessage[] | undefined) =>
      (ms ?? []).map((m) =>
        `${text(m.record.key)}@${(m.payload as DecodeError).partition}:${(m.payload as DecodeError).offset}`
      ).sort();
    assert.deepEqual(wireKeys(sim.output(topics.wire_errors)), wireKeys(out[topics.wire_errors]));
    for (const [p, h] of await endOffsets(topics.in)) assert.equal(sim.committed(p, topics.in), h);
  });

  test("the CLI `record` command writes a fixture of the topic", { timeout: 60_000 }, () => {
    const file = join(tmp, "cli.jsonl");
    const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";
    const cli = ["runtime/cli.ts", "record", "--brokers", bootstrap(), "--topic", topics.in, "--out", file];
    const res = spawnSync(process.execPath, [...(isBun ? [] : ["run", "-A"]), ...cli, "--limit", "25"], {
      cwd: fileURLToPath(new URL("..", import.meta.url)),
      encoding: "utf8",
      timeout: 50_000,
    });
    assert.equal(res.status, 0, res.stderr);
    assert.match(res.stderr, /recorded 25 record\(s\)/);
    const records = parseFixture(readFileSync(file, "utf8"), file);
    assert.equal(records.length, 25);
    for (const r of records) {
      assert.equal(r.topic, topics.in);
      if (text(r.key)!.startsWith("r-")) {
        assert.deepEqual(r.value, {
          json: {
            id: text(r.key),
            n: Number(text(r.key)!.slice(2)),
            kind: Number(text(r.key)!.slice(2)) % 3 === 0 ? "a" : "b",
            note: "",
          },
        });
      }
    }
  });
});
