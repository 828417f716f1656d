/**
 * Helpers of the recovery tests on the real broker (tests/kafka_recovery_test.ts at-least-once,
 * tests/kafka_exactly_once_test.ts exactly-once): a live input stream, the CLI process running the
 * pipeline flow, and what its outputs hold per input.
 *
 * @module
 */
import { type ChildProcess, spawn } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { Buffer } from "node:buffer";
import { Kafka, logLevel } from "kafkajs";
import { decodeOutputRecord, encodeSourceValue } from "../streaming/engine.ts";
import type { DecodeError, ErrorEnvelope } from "../streaming/_message.ts";
import type { SourceRecord } from "../streaming/_transport.ts";
import { KafkaConsumerClient } from "../runtime/kafkajs/mod.ts";
import {
  bootstrap,
  committedOffsets,
  consumerSettings,
  endOffsets,
  quiet,
  readTopics,
  sleep,
  unique,
} from "./_support.ts";
import { fate, Reading, TOPICS, type Topics } from "./flows/pipeline.ts";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const dec = new TextDecoder();
/** UTF-8 text of key bytes. */
export const text = (b: Uint8Array | null | undefined): string | null => (b == null ? null : dec.decode(b));

/** Fresh physical names of the pipeline's topics. */
export const newTopics = (): Topics => Object.fromEntries(TOPICS.map((n) => [n, unique(n)])) as Topics;

/** Produces inputs `r-0 … r-(n-1)` in `chunks` sends, `gapMs` apart (a live stream, not a backlog). */
export const produceStream = async (
  topic: string,
  n: number,
  chunks: number,
  gapMs: number,
): Promise<void> => {
  const producer = new Kafka({ brokers: [bootstrap()], clientId: "loom-it-in", logLevel: logLevel.NOTHING })
    .producer();
  await producer.connect();
  const per = Math.ceil(n / chunks);
  for (let from = 0; from < n; from += per) {
    const messages = [];
    for (let i = from; i < Math.min(n, from + per); i++) {
      messages.push({
        key: `r-${i}`,
        value: Buffer.from(encodeSourceValue(
          { id: `r-${i}`, n: i, kind: i % 3 === 0 ? "a" : "b" },
          Reading,
          { traceId: `t-${i}`, correlationId: `c-${i}`, producedAtMs: 1_700_000_000_000 + i },
        )),
      });
    }
    await producer.send({ topic, messages, acks: -1 });
    await sleep(gapMs);
  }
  await producer.disconnect();
};

/** Every output of the run, by input id: how many times each input reached each of its destinations. */
export interface Outcome {
  readonly a: Map<string, number>;
  readonly b: Map<string, number>;
  readonly errors: Map<string, number>;
}

/** The input id an output record stands for (`wire:<offset>` for an undecodable input). */
const outputId = (t: Topics, r: SourceRecord): string => {
  const m = decodeOutputRecord(r);
  if (r.topic === t.out_a || r.topic === t.out_b) return (m.payload as { id: string }).id;
  if (r.topic === t.wire_errors) return `wire:${(m.payload as DecodeError).offset}`;
  return ((m.payload as ErrorEnvelope).originalMessage!.payload as { id: string }).id;
};

/** Sorts output records into an {@link Outcome}. */
export const outcomeOf = (t: Topics, records: readonly SourceRecord[]): Outcome => {
  const o: Outcome = { a: new Map(), b: new Map(), errors: new Map() };
  for (const r of records) {
    const m = r.topic === t.out_a ? o.a : r.topic === t.out_b ? o.b : o.errors;
    const id = outputId(t, r);
    m.set(id, (m.get(id) ?? 0) + 1);
  }
  return o;
};

/** The output topics of the pipeline. */
export const outputTopics = (
  t: Topics,
): string[] => [t.out_a, t.out_b, t.task_errors, t.business_errors, t.wire_errors];

/** Reads every output (until the high watermarks; read_uncommitted-safe, no transaction markers). */
export const readOutcome = async (t: Topics): Promise<Outcome> =>
  outcomeOf(t, await readTopics(outputTopics(t)));

/**
 * Every input record of `topic` with its id and coordinates, one entry per offset: a record the producer
 * wrote twice (a retried send) is two inputs with one id, and both count against the committed offsets.
 */
export const readInputs = async (
  topic: string,
): Promise<{ id: string; partition: number; offset: number }[]> =>
  (await readTopics([topic])).map((r) => ({ id: text(r.key)!, partition: r.partition, offset: r.offset }));

/** A live reader of the input topic: the id at each offset of each partition, as far as it has read. */
export interface InputFollower {
  /** Ids by partition, indexed by offset (the input topic is fresh: its offsets start at 0). */
  readonly ids: Map<number, string[]>;
  /** Stops reading. */
  stop(): Promise<void>;
}

/** Starts following `topic` from its beginning with a throw-away group. */
export const followInputs = async (topic: string): Promise<InputFollower> => {
  const ids = new Map<number, string[]>();
  const consumer = new KafkaConsumerClient(consumerSettings(unique("follower")), quiet);
  await consumer.connect();
  await consumer.subscribe([topic], true);
  await consumer.run({
    onBatch: (batch) => {
      for (const r of batch.records) {
        let list = ids.get(r.partition);
        if (list === undefined) ids.set(r.partition, list = []);
        list[r.offset] = text(r.key)!;
      }
      return Promise.resolve();
    },
  });
  return {
    ids,
    stop: async () => {
      await consumer.stop();
      await consumer.disconnect();
    },
  };
};

/**
 * How many output records are written beyond what the committed input offsets of `group` account for
 * (outputs of inputs not committed yet, or copies), or `null` while `inputs` has not read up to the
 * committed offsets. Meaningful for a flow without transactions (every output offset is a record).
 */
export const uncommittedOutputs = async (
  t: Topics,
  group: string,
  inputs: InputFollower,
): Promise<number | null> => {
  const committed = await committedOffsets(group, t.in);
  let accounted = 0;
  for (const [p, upTo] of committed) {
    const ids = inputs.ids.get(p) ?? [];
    for (let o = 0; o < upTo; o++) {
      if (ids[o] === undefined) return null;
      accounted += outputsOf(Number(ids[o].slice(2)));
    }
  }
  let written = 0;
  for (const topic of outputTopics(t)) for (const high of (await endOffsets(topic)).values()) written += high;
  return written - accounted;
};

/** Whether every destination of input `id` has it at least once. */
export const handled = (o: Outcome, id: string): boolean =>
  fate(Number(id.slice(2))) === "ok" ? o.a.has(id) && o.b.has(id) : o.errors.has(id);

/** How many output records input `r-i` gives when handled once (both outputs, or one error record). */
const outputsOf = (i: number): number => fate(i) === "ok" ? 2 : 1;

/** How many output records the inputs `r-0 … r-(n-1)` give when each is handled once. */
export const expectedOutputs = (n: number): number => {
  let total = 0;
  for (let i = 0; i < n; i++) total += outputsOf(i);
  return total;
};

/** Copies beyond the first, over all destinations. */
export const duplicates = (o: Outcome): number =>
  [o.a, o.b, o.errors].reduce((sum, m) => sum + [...m.values()].reduce((s, c) => s + c - 1, 0), 0);

/**
 * Where the duplicated outputs sit, for a failure message: `topic:id=partition@offset|partition@offset`
 * per duplicated output (the first `limit`), so the log segments can be dumped at those offsets.
 */
export const whereDuplicated = (t: Topics, records: readonly SourceRecord[], limit = 40): string => {
  const at = new Map<string, string[]>();
  for (const r of records) {
    const key = `${r.topic}:${outputId(t, r)}`;
    at.set(key, [...(at.get(key) ?? []), `${r.partition}@${r.offset}`]);
  }
  const dup = [...at].filter(([, where]) => where.length > 1);
  return `${dup.length} duplicated output(s): ` +
    dup.slice(0, limit).map(([key, where]) => `${key}=${where.join("|")}`).join(" ");
};

/**
 * Reads the outputs as a `read_committed` consumer (the kafkajs adapter's default) sees them: records of
 * aborted transactions are skipped and commit markers take offsets, so the read ends once `expected`
 * records arrived and nothing more came for `idleMs` (a duplicate would have come before that).
 * `brokers`: another cluster than the shared test broker.
 */
export const readCommitted = async (
  topics: readonly string[],
  expected: number,
  idleMs = 1_500,
  timeoutMs = 30_000,
  brokers?: readonly string[],
): Promise<SourceRecord[]> => {
  const { KafkaConsumerClient } = await import("../runtime/kafkajs/mod.ts");
  const { consumerSettings, quiet } = await import("./_support.ts");
  const records: SourceRecord[] = [];
  let last = performance.now();
  const settings = consumerSettings(unique("committed-reader"));
  const consumer = new KafkaConsumerClient(
    brokers ? { ...settings, brokers: [...brokers] } : settings,
    quiet,
  );
  await consumer.connect();
  await consumer.subscribe(topics, true);
  await consumer.run({
    onBatch: (batch) => {
      records.push(...batch.records);
      if (batch.records.length) last = performance.now();
      return Promise.resolve();
    },
  });
  const deadline = performance.now() + timeoutMs;
  try {
    while (records.length < expected || performance.now() - last < idleMs) {
      if (performance.now() > deadline) break;
      await sleep(100);
    }
  } finally {
    await consumer.stop();
    await consumer.disconnect();
  }
  return records;
};

/** Every partition of `topic` committed up to its high watermark by `group`. */
export const caughtUp = async (
  group: string,
  topic: string,
  committed: (g: string, t: string) => Promise<Map<number, number>>,
): Promise<boolean> => {
  const high = await endOffsets(topic);
  const c = await committed(group, topic);
  return [...high].every(([p, h]) => c.get(p) === h);
};

/**
 * Starts the CLI running the pipeline flow with `configFile` (Deno or Bun, as the test runs), its
 * output collected into `logs`.
 */
export const startFlow = (
  configFile: string,
  logs: string[],
  env: Record<string, string> = {},
): ChildProcess => {
  const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";
  const cli = ["runtime/cli.ts", "run", "tests/flows/pipeline.ts", "--config", configFile];
  const child = spawn(process.execPath, isBun ? cli : ["run", "-A", ...cli], {
    cwd: ROOT,
    env: { ...process.env, LOOM_IT_DELAY_MS: "1", LOOM_LOG_LEVEL: "warn", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.on("data", (d) => logs.push(String(d)));
  child.stderr!.on("data", (d) => logs.push(String(d)));
  return child;
};

/** Resolves with the exit code once the process exited. */
export const exited = (c: ChildProcess): Promise<number | null> =>
  new Promise<number | null>((r) => c.exitCode !== null ? r(c.exitCode) : c.once("exit", (code) => r(code)));
