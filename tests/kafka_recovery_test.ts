// Integration tests of at-least-once recovery on the REAL local broker:
// - the CLI process running a flow is killed (SIGKILL) mid-stream and restarted: no input is missing from
//   the outputs, duplicates are counted, and the offsets committed at the kill never pass an input whose
//   outputs were not written;
// - two runners in one consumer group share the partitions; one joins and one leaves mid-stream and
//   nothing is lost.
// Run: deno test -A tests/kafka_recovery_test.ts   |   bun test tests/kafka_recovery_test.ts
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { Buffer } from "node:buffer";
import { Kafka, logLevel } from "kafkajs";
import * as v from "valibot";
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
import { encodeSourceValue, type Logger } from "../streaming/engine.ts";
import { KafkaFlowRunner } from "../runtime/mod.ts";
import {
  bootstrap,
  committedOffsets,
  createTopics,
  deleteTopics,
  endOffsets,
  quiet,
  readTopics,
  sleep,
  unique,
  waitFor,
} from "./_support.ts";
import { flow, pipelineConfig, type Topics } from "./flows/pipeline.ts";
import {
  duplicates,
  exited,
  handled,
  newTopics,
  produceStream,
  readInputs,
  readOutcome,
  startFlow as startCli,
  text,
} from "./_recovery.ts";

const configFor = (t: Topics, group: string): Record<string, unknown> =>
  pipelineConfig(t, group, [bootstrap()]);

describe("recovery on a real broker", () => {
  let tmp = "";
  const cleanup: string[] = [];
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), "loom-it-"));
  });
  after(async () => {
    rmSync(tmp, { recursive: true, force: true });
    await deleteTopics(cleanup);
  });

  test(
    "a flow process killed mid-stream restarts from its commits: nothing is lost, commits never run ahead",
    {
      timeout: 120_000,
    },
    async () => {
      const t = newTopics();
      cleanup.push(...Object.values(t));
      const group = unique("group");
      await createTopics(Object.values(t), 3);
      const cfg = join(tmp, "crash.yaml");
      writeFileSync(cfg, JSON.stringify(configFor(t, group))); // JSON is YAML

      const logs: string[] = [];
      const startFlow = () => startCli(cfg, logs);

      const N = 6000;
      const producing = produceStream(t.in, N, 60, 100);
      let child = startFlow();
      // Kill once outputs are flowing and some offsets are committed, while input is still arriving.
      const committedSum = async () =>
        [...(await committedOffsets(group, t.in)).values()].reduce((a, b) => a + b, 0);
      const deadline = performance.now() + 60_000;
      while ((await committedSum()) < 600) {
        assert.ok(
          performance.now() < deadline,
          `the flow never committed 600 offsets; its output:\n${logs.join("")}`,
        );
        assert.equal(child.exitCode, null, `the flow exited early:\n${logs.join("")}`);
        await sleep(100);
      }
      child.kill("SIGKILL");
      await exited(child);
      const atKill = await committedOffsets(group, t.in);
      const killedAfter = [...atKill.values()].reduce((a, b) => a + b, 0);

      // Committed offsets never pass an input whose outputs were not all written before the kill.
      const inputsAtKill = await readInputs(t.in);
      const beforeRestart = await readOutcome(t);
      let checked = 0;
      for (const at of inputsAtKill) {
        const id = at.id;
        if (at.offset < (atKill.get(at.partition) ?? 0)) {
          checked++;
          assert.ok(
            handled(beforeRestart, id),
            `${id} (${at.partition}@${at.offset}) was committed before it was handled`,
          );
        }
      }
      assert.equal(checked, killedAfter);

      await producing;
      assert.ok(killedAfter < N, `the kill must happen mid-stream (committed ${killedAfter} of ${N})`);

      // Restart: the new process resumes from the commits and catches up.
      child = startFlow();
      const high = await endOffsets(t.in);
      const until = performance.now() + 60_000;
      for (;;) {
        const c = await committedOffsets(group, t.in);
        if ([...high].every(([p, h]) => c.get(p) === h)) break;
        assert.ok(performance.now() < until, `the restarted flow did not catch up:\n${logs.join("")}`);
        assert.equal(child.exitCode, null, `the restarted flow exited:\n${logs.join("")}`);
        await sleep(100);
      }
      // process.kill, not child.kill: Deno's ChildProcess reports a child it signalled itself as killed
      // by that signal even when the child handled it and exited with 0.
      const code = exited(child);
      process.kill(child.pid!, "SIGTERM");
      assert.equal(await code, 0, `graceful stop on SIGTERM:\n${logs.join("")}`);

      const inputs = new Set((await readInputs(t.in)).map((r) => r.id));
      assert.equal(inputs.size, N);
      const outcome = await readOutcome(t);
      const missing = [...inputs].filter((id) => !handled(outcome, id));
      assert.deepEqual(missing, [], "no input is missing from the outputs");
      const dups = duplicates(outcome);
      // Only what was in flight (not committed) at the kill can be redelivered: at most 3 destinations each.
      assert.ok(dups <= 3 * (N - killedAfter), `${dups} duplicates`);
      console.log(
        `crash test: killed with ${killedAfter}/${N} committed; after restart ${dups} duplicate output(s), 0 missing`,
      );
    },
  );

  test("two runners in one group share the partitions; a join and a leave mid-stream lose nothing", {
    timeout: 120_000,
  }, async () => {
    const t = newTopics();
    cleanup.push(...Object.values(t));
    const group = unique("group");
    await createTopics([t.in], 6);
    await createTopics(Object.values(t).filter((x) => x !== t.in), 3);
    const assignments: { runner: number; partitions: number[] }[] = [];
    const loggerFor = (runner: number): Logger => ({
      info: (event, fields) => {
        if (event === "partitions_assigned") {
          const ps = (fields?.partitions as string[]).map((p) => Number(p.slice(p.lastIndexOf("[") + 1, -1)));
          assignments.push({ runner, partitions: ps.sort((a, b) => a - b) });
        }
      },
      warn: () => {},
      error: () => {},
    });
    const runnerFor = (i: number) =>
      new KafkaFlowRunner(compileFlow(flow, ConfigContext.fromObject(configFor(t, group))), {
        client: { ...quiet, logLevel: "nothing" },
        logger: loggerFor(i),
      });

    const N = 6000;
    const producing = produceStream(t.in, N, 30, 100);
    const r1 = runnerFor(1);
    await r1.start();
    await waitFor(() => r1.driver.stats.consumed >= 300, 30_000, "runner 1 to consume");
    const r2 = runnerFor(2);
    await r2.start();
    await waitFor(
      () =>
        assignments.some((a) => a.runner === 2 && a.partitions.length > 0) && r2.driver.stats.consumed > 0,
      30_000,
      "runner 2 to get partitions and consume",
    );
    const shared = assignments.filter((a) => a.runner === 2).at(-1)!.partitions;
    const r1Consumed = r1.driver.stats.consumed;
    await r1.stop(); // leaves the group: runner 2 takes every partition
    assert.equal(r1.failure, null);
    await producing;
    const high = await endOffsets(t.in);
    const until = performance.now() + 60_000;
    for (;;) {
      const c = await committedOffsets(group, t.in);
      if ([...high].every(([p, h]) => c.get(p) === h)) break;
      assert.ok(performance.now() < until, "runner 2 did not catch up");
      assert.equal(r2.failure, null);
      await sleep(100);
    }
    await r2.stop();
    assert.equal(r2.failure, null);

    assert.ok(shared.length > 0 && shared.length < 6, `runner 2 first got a share: ${shared}`);
    assert.deepEqual(assignments.filter((a) => a.runner === 2).at(-1)!.partitions, [0, 1, 2, 3, 4, 5]);
    assert.ok(r1Consumed > 0 && r2.driver.stats.consumed > 0);
    const inputs = new Set((await readInputs(t.in)).map((r) => r.id));
    const outcome = await readOutcome(t);
    assert.deepEqual([...inputs].filter((id) => !handled(outcome, id)), [], "no input is missing");
    const dups = duplicates(outcome);
    console.log(
      `rebalance test: runner 1 consumed ${r1Consumed}, runner 2 ${r2.driver.stats.consumed}; ${dups} duplicate output(s)`,
    );
  });

  test("a batch slower than session.timeout.ms keeps the group membership: no rebalance, no duplicate", {
    timeout: 60_000,
  }, async () => {
    const input = unique("slow-in");
    const out = unique("slow-out");
    cleanup.push(input, out);
    await createTopics([input, out], 1);
    const Slow = messageType("loom.it.Slow", v.object({ id: v.string() }));
    const slowFlow = new StreamFlow({
      name: "it_slow",
      source: new FromTopic("in", Slow),
      process: new Process(RecordStep.of(async (m: Message<{ id: string }>) => {
        if (m.payload.id === "slow") await sleep(8_000); // session.timeout.ms is 6000
        return m.payload;
      }, { name: "slow" })),
      output: new IntoTopic("out"),
    });
    const brokers = [bootstrap()];
    const group = unique("group");
    const config = ConfigContext.fromObject({
      kafka: {
        consumer: {
          brokers,
          group_id: group,
          topics: [input],
          enable_auto_commit: false,
          extra: { "session.timeout.ms": 6000, "heartbeat.interval.ms": 500 },
        },
        producer: { brokers },
        producers: { out: { brokers, topic: out } },
      },
    });
    const events: string[] = [];
    const runner = new KafkaFlowRunner(compileFlow(slowFlow, config), {
      client: { ...quiet, logLevel: "nothing" },
      logger: {
        info: (e) => void events.push(e),
        warn: (e) => void events.push(e),
        error: (e) => void events.push(e),
      },
    });
    const producer = new Kafka({ brokers, clientId: "loom-it-in", logLevel: logLevel.NOTHING }).producer();
    await producer.connect();
    await producer.send({
      topic: input,
      messages: ["a", "slow", "b"].map((id) => ({
        key: id,
        value: Buffer.from(encodeSourceValue({ id }, Slow, { producedAtMs: 1 })),
      })),
      acks: -1,
    });
    await producer.disconnect();
    const started = performance.now();
    await runner.start();
    await waitFor(
      () => runner.failure !== null || runner.driver.stats.produced[out] === 3,
      40_000,
      "the slow batch to be delivered",
    );
    await sleep(1_000); // a rebalance caused by an eviction would show up now
    await runner.stop();
    assert.equal(runner.failure, null);
    assert.ok(performance.now() - started >= 8_000);
    assert.deepEqual(events.filter((e) => e === "partitions_revoked").length, 1, "revoked once: at stop");
    assert.equal(events.filter((e) => e === "partitions_assigned").length, 1, "assigned once");
    const written = (await readTopics([out])).map((r) => text(r.key));
    assert.deepEqual(written, ["a", "slow", "b"], "each record written once");
    assert.deepEqual(await committedOffsets(group, input), new Map([[0, 3]]));
  });
});
