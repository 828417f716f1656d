// Exactly-once processing (streaming.runtime.processing_guarantee: exactly_once) on the REAL local broker:
// - the CLI process running the pipeline flow is killed (SIGKILL) at random points 10 times mid-stream
//   and restarted each time: a read_committed reader sees every input's outputs exactly once; the same
//   kills under at_least_once give duplicates (the reader does see them);
// - two runners in one group: one joins and one leaves mid-stream, every output once;
// - a second instance with the same transactional id fences the first one (a zombie), every output once;
// - a poison record goes to the error topic inside the transaction (with its batch's outputs and offsets).
// Run: deno test -A tests/kafka_exactly_once_test.ts   |   bun test tests/kafka_exactly_once_test.ts
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import type { ChildProcess } from "node:child_process";
import { Buffer } from "node:buffer";
import { Kafka, logLevel } from "kafkajs";
import * as v from "valibot";
import {
  compileFlow,
  ConfigContext,
  ErrorRoute,
  FromTopic,
  IntoTopic,
  type Message,
  messageType,
  Process,
  RecordStep,
  StreamFlow,
} from "../mod.ts";
import { decodeOutputRecord, encodeSourceValue } from "../streaming/engine.ts";
import { KafkaFlowRunner } from "../runtime/mod.ts";
import {
  bootstrap,
  committedOffsets,
  createTopics,
  deleteTopics,
  quiet,
  sleep,
  unique,
  waitFor,
} from "./_support.ts";
import { flow, pipelineConfig, type Topics } from "./flows/pipeline.ts";
import {
  caughtUp,
  duplicates,
  exited,
  expectedOutputs,
  followInputs,
  handled,
  type InputFollower,
  newTopics,
  outcomeOf,
  outputTopics,
  produceStream,
  readCommitted,
  readInputs,
  startFlow,
  text,
  uncommittedOutputs,
  whereDuplicated,
} from "./_recovery.ts";

/** The pipeline's config on the platformatic client (3 s sessions: a killed member leaves the group quickly). */
const eosConfig = (
  t: Topics,
  group: string,
  guarantee: "exactly_once" | "at_least_once" = "exactly_once",
): Record<string, unknown> => {
  const cfg = pipelineConfig(t, group, [bootstrap()]) as {
    kafka: { consumer: { extra: Record<string, unknown> } };
    streaming: { runtime: Record<string, unknown> };
  };
  cfg.kafka.consumer.extra = { "session.timeout.ms": 3000, "heartbeat.interval.ms": 300 };
  cfg.streaming.runtime = {
    ...cfg.streaming.runtime,
    processing_guarantee: guarantee,
    kafka_client: "platformatic",
    // at-least-once commits once a second: a kill then finds outputs written and their inputs not committed
    ...(guarantee === "at_least_once" ? { epoch_interval_ms: 1000 } : {}),
  };
  return cfg;
};

const sum = (m: Map<number, number>): number => [...m.values()].reduce((a, b) => a + b, 0);

/**
 * Freezes `child` (SIGSTOP) at a moment when outputs are written beyond what its committed offsets account
 * for, so a kill now must redeliver: stops it, lets requests already sent land, looks, and resumes it for a
 * few random milliseconds when nothing is outstanding (at most 50 looks; the caller's assertion tells).
 */
const freezeWithUncommittedOutputs = async (
  child: ChildProcess,
  t: Topics,
  group: string,
  inputs: InputFollower,
  random: () => number,
): Promise<number> => {
  for (let look = 1; look <= 50; look++) {
    // process.kill, not child.kill: Deno and Bun mark the child as killed by SIGSTOP and refuse a later kill
    process.kill(child.pid!, "SIGSTOP");
    await sleep(150);
    const outstanding = await uncommittedOutputs(t, group, inputs);
    if (outstanding !== null && outstanding > 0) return look;
    process.kill(child.pid!, "SIGCONT");
    await sleep(10 + Math.floor(random() * 120));
  }
  return -1;
};

describe("exactly-once on a real broker", () => {
  let tmp = "";
  const cleanup: string[] = [];
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), "loom-eos-"));
  });
  after(async () => {
    rmSync(tmp, { recursive: true, force: true });
    await deleteTopics(cleanup);
  });

  /**
   * Runs the pipeline flow as a CLI process over a live stream, kills it (SIGKILL) at 10 random points,
   * restarting it each time, lets the last instance catch up and stop, and reads the outputs as a
   * read_committed consumer.
   */
  const killLoop = async (guarantee: "exactly_once" | "at_least_once") => {
    const t = newTopics();
    cleanup.push(...Object.values(t));
    const group = unique("eos-group");
    await createTopics(Object.values(t), 3);
    const cfg = join(tmp, `${guarantee}.yaml`);
    writeFileSync(cfg, JSON.stringify(eosConfig(t, group, guarantee))); // JSON is YAML
    const logs: string[] = [];
    // exactly-once children log at info (joins, assignments, commits): a duplicate's log tells which
    // instance wrote it twice and after which assignment
    const env: Record<string, string> = guarantee === "exactly_once" ? { LOOM_LOG_LEVEL: "info" } : {};
    const N = 4000;
    // ~65 s of live input: each instance needs ~2–4 s to start, join, commit and be frozen, so all 10 kills
    // land mid-stream (with 45 s the last kill came at 3,976 of 4,000 records on a loaded machine)
    const producing = produceStream(t.in, N, 100, 650);
    const kills: number[] = [];
    // at-least-once: a kill must land while outputs are written and their inputs not committed yet, or it
    // redelivers nothing (random points alone all fell between a commit and the next write in 1 of ~4 runs)
    const follower = guarantee === "at_least_once" ? await followInputs(t.in) : null;
    const looks: number[] = [];
    let seed = 12345;
    const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    for (let k = 0; k < 10; k++) {
      logs.push(`=== instance ${k} started at ${new Date().toISOString()}\n`);
      const child = startFlow(cfg, logs, env);
      const from = sum(await committedOffsets(group, t.in));
      // wait until this instance committed, then kill it at a random point of its work
      const deadline = performance.now() + 30_000;
      while (sum(await committedOffsets(group, t.in)) <= from) {
        assert.ok(performance.now() < deadline, `instance ${k} never committed:\n${logs.join("")}`);
        assert.equal(child.exitCode, null, `instance ${k} exited early:\n${logs.join("")}`);
        await sleep(50);
      }
      await sleep(Math.floor(random() * 600));
      if (follower !== null) {
        looks.push(await freezeWithUncommittedOutputs(child, t, group, follower, random));
      }
      child.kill("SIGKILL");
      await exited(child);
      logs.push(`=== instance ${k} killed at ${new Date().toISOString()}\n`);
      kills.push(sum(await committedOffsets(group, t.in)));
    }
    await producing;
    await follower?.stop();
    assert.ok(kills.at(-1)! < N, `the kills must happen mid-stream (committed ${kills.at(-1)} of ${N})`);
    logs.push(`=== last instance started at ${new Date().toISOString()}\n`);
    const last = startFlow(cfg, logs, env);
    const until = performance.now() + 60_000;
    while (!(await caughtUp(group, t.in, committedOffsets))) {
      assert.ok(performance.now() < until, `the last instance did not catch up:\n${logs.join("")}`);
      assert.equal(last.exitCode, null, `the last instance exited:\n${logs.join("")}`);
      await sleep(100);
    }
    const code = exited(last);
    process.kill(last.pid!, "SIGTERM");
    assert.equal(await code, 0, `graceful stop on SIGTERM:\n${logs.join("")}`);

    const inputs = new Set((await readInputs(t.in)).map((r) => r.id));
    assert.equal(inputs.size, N);
    const expected = expectedOutputs(N);
    const records = await readCommitted(outputTopics(t), expected);
    const outcome = outcomeOf(t, records);
    const missing = [...inputs].filter((id) => !handled(outcome, id));
    const dups = duplicates(outcome);
    console.log(
      `${guarantee} crash test: 10 kills (committed at each: ${kills.join(", ")} of ${N}); ` +
        `${records.length} committed outputs (expected ${expected}), ${dups} duplicate(s), ${missing.length} missing` +
        (looks.length > 0 ? `; looks before each kill: ${looks.join(", ")}` : ""),
    );
    if (guarantee === "exactly_once" && dups > 0) {
      // keep the topics for kafka.tools.DumpLogSegments and the children's logs for the post-mortem
      for (const topic of Object.values(t)) cleanup.splice(cleanup.indexOf(topic), 1);
      const file = join(tmpdir(), `loom-eos-duplicates-${Date.now()}.log`);
      writeFileSync(file, logs.join(""));
      console.log(
        `exactly_once duplicates: ${whereDuplicated(t, records)}; topics kept: ${JSON.stringify(t)}, ` +
          `group ${group}; the instances' logs: ${file}`,
      );
    }
    assert.deepEqual(missing, [], "no input is missing from the committed outputs");
    return { dups, records: records.length, expected };
  };

  test(
    "exactly_once: 10 kill -9 at random points mid-stream, a read_committed reader sees every output once",
    {
      timeout: 170_000,
    },
    async () => {
      const { dups, records, expected } = await killLoop("exactly_once");
      assert.equal(dups, 0, "no output is duplicated for a read_committed reader");
      assert.equal(records, expected);
    },
  );

  test(
    "at_least_once: 10 kills, each with outputs written and not committed, redeliver (duplicates, nothing missing)",
    { timeout: 170_000 },
    async () => {
      const { dups } = await killLoop("at_least_once");
      // the reader is the same: it does see duplicates when there are any
      assert.ok(dups > 0, "at-least-once redelivers what was in flight at a kill");
    },
  );

  test(
    "exactly_once: a rebalance mid-stream with two runners (a join, then a leave) loses and repeats nothing",
    {
      timeout: 120_000,
    },
    async () => {
      const t = newTopics();
      cleanup.push(...Object.values(t));
      const group = unique("eos-group");
      await createTopics([t.in], 6);
      await createTopics(Object.values(t).filter((x) => x !== t.in), 3);
      const revoked: number[] = [];
      const runnerFor = (worker: number) =>
        new KafkaFlowRunner(compileFlow(flow, ConfigContext.fromObject(eosConfig(t, group))), {
          client: { ...quiet, logLevel: "nothing" },
          workerIndex: worker, // its own transactional id
          logger: {
            info: (event) => void (event === "partitions_revoked" && revoked.push(worker)),
            warn: () => {},
            error: () => {},
          },
        });
      const N = 3000;
      const producing = produceStream(t.in, N, 30, 200);
      const r1 = runnerFor(0);
      await r1.start();
      await waitFor(() => r1.driver.stats.consumed >= 300, 30_000, "runner 1 to consume");
      const r2 = runnerFor(1);
      await r2.start(); // runner 1 revokes (commits its open transaction), both rejoin
      await waitFor(() => r2.driver.stats.consumed > 0, 30_000, "runner 2 to consume");
      const r1Consumed = r1.driver.stats.consumed;
      await r1.stop(); // leaves: runner 2 takes every partition
      assert.equal(r1.failure, null);
      await producing;
      const until = performance.now() + 60_000;
      while (!(await caughtUp(group, t.in, committedOffsets))) {
        assert.ok(performance.now() < until, "runner 2 did not catch up");
        assert.equal(r2.failure, null);
        await sleep(100);
      }
      await r2.stop();
      assert.equal(r2.failure, null);
      assert.ok(revoked.includes(0) && revoked.includes(1), `both runners revoked partitions: ${revoked}`);
      const inputs = new Set((await readInputs(t.in)).map((r) => r.id));
      const expected = expectedOutputs(N);
      const records = await readCommitted(outputTopics(t), expected);
      const outcome = outcomeOf(t, records);
      const missing = [...inputs].filter((id) => !handled(outcome, id));
      console.log(
        `exactly_once rebalance test: runner 1 consumed ${r1Consumed}, runner 2 ${r2.driver.stats.consumed}; ` +
          `${records.length} committed outputs (expected ${expected}), ${
            duplicates(outcome)
          } duplicate(s), ${missing.length} missing`,
      );
      assert.deepEqual(missing, []);
      assert.equal(duplicates(outcome), 0);
      assert.equal(records.length, expected);
    },
  );

  test("exactly_once: a second instance with the same transactional id fences the first (a zombie)", {
    timeout: 120_000,
  }, async () => {
    const t = newTopics();
    cleanup.push(...Object.values(t));
    const group = unique("eos-group");
    await createTopics(Object.values(t), 3);
    const runnerFor = () =>
      new KafkaFlowRunner(compileFlow(flow, ConfigContext.fromObject(eosConfig(t, group))), {
        client: { ...quiet, logLevel: "nothing" },
        workerIndex: 0, // both: the same transactional id
      });
    const N = 2000;
    const producing = produceStream(t.in, N, 20, 200);
    const zombie = runnerFor();
    await zombie.start();
    await waitFor(() => zombie.driver.stats.consumed >= 200, 30_000, "the first instance to consume");
    const next = runnerFor();
    await next.start(); // registers the id: the first instance's next transaction is refused
    await waitFor(() => zombie.failure !== null, 30_000, "the first instance to be fenced");
    assert.match(
      String((zombie.failure as Error).message),
      /(PRODUCER_FENCED|INVALID_PRODUCER_EPOCH).*Another producer registered the transactional id .*-0" after this one/,
    );
    await producing;
    const until = performance.now() + 60_000;
    while (!(await caughtUp(group, t.in, committedOffsets))) {
      assert.ok(performance.now() < until, `the second instance did not catch up: ${next.failure}`);
      assert.equal(next.failure, null);
      await sleep(100);
    }
    await next.stop();
    await zombie.stop();
    const inputs = new Set((await readInputs(t.in)).map((r) => r.id));
    const expected = expectedOutputs(N);
    const records = await readCommitted(outputTopics(t), expected);
    const outcome = outcomeOf(t, records);
    const missing = [...inputs].filter((id) => !handled(outcome, id));
    console.log(
      `exactly_once fencing test: ${records.length} committed outputs (expected ${expected}), ` +
        `${duplicates(outcome)} duplicate(s), ${missing.length} missing; the zombie: ${
          (zombie.failure as Error).message.slice(0, 160)
        }`,
    );
    assert.deepEqual(missing, []);
    assert.equal(duplicates(outcome), 0);
  });

  test(
    "a poison record goes to the error topic in the transaction of its batch",
    { timeout: 60_000 },
    async () => {
      const input = unique("eos-poison-in");
      const out = unique("eos-poison-out");
      const errors = unique("eos-poison-errors");
      cleanup.push(input, out, errors);
      await createTopics([input, out, errors], 1);
      const Item = messageType("loom.it.Item", v.object({ id: v.string() }));
      const poisonFlow = new StreamFlow({
        name: "it_eos_poison",
        source: new FromTopic("in", Item),
        process: new Process(RecordStep.of((m: Message<{ id: string }>) => {
          if (m.payload.id === "poison") throw new Error("poison record");
          return m.payload;
        }, { name: "check" })),
        output: new IntoTopic("out"),
        errors: [new ErrorRoute(["task"], new IntoTopic("errors"))],
      });
      const brokers = [bootstrap()];
      const group = unique("eos-group");
      const config = ConfigContext.fromObject({
        kafka: {
          consumer: { brokers, group_id: group, topics: [input], enable_auto_commit: false },
          producer: { brokers },
          producers: { out: { brokers, topic: out }, errors: { brokers, topic: errors } },
        },
        streaming: { runtime: { processing_guarantee: "exactly_once", kafka_client: "platformatic" } },
      });
      const commits: number[] = [];
      const runner = new KafkaFlowRunner(compileFlow(poisonFlow, config), {
        client: { ...quiet, logLevel: "nothing" },
        onCommit: (offsets) => void commits.push(...offsets.map((o) => o.offset)),
      });
      const producer = new Kafka({ brokers, clientId: "loom-it-in", logLevel: logLevel.NOTHING }).producer();
      await producer.connect();
      await producer.send({
        topic: input,
        messages: ["a", "poison", "b"].map((id) => ({
          key: id,
          value: Buffer.from(encodeSourceValue({ id }, Item, { producedAtMs: 1 })),
        })),
        acks: -1,
      });
      await producer.disconnect();
      await runner.start();
      await waitFor(() => runner.failure !== null || commits.includes(3), 30_000, "the batch to commit");
      await runner.stop();
      assert.equal(runner.failure, null);
      const records = await readCommitted([out, errors], 3);
      assert.deepEqual(records.filter((r) => r.topic === out).map((r) => text(r.key)), ["a", "b"]);
      const errs = records.filter((r) => r.topic === errors);
      assert.equal(errs.length, 1);
      assert.match(JSON.stringify(decodeOutputRecord(errs[0]).payload), /poison record/);
      assert.deepEqual(await committedOffsets(group, input), new Map([[0, 3]]));
    },
  );
});
