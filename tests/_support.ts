// Shared helpers of the integration tests that talk to the REAL local Kafka broker (scripts/kafka.sh).
import { Buffer } from "node:buffer";
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { type Admin, Kafka, logLevel } from "kafkajs";
import { KafkaConsumerClient, type KafkaLogRecord } from "../runtime/kafkajs/mod.ts";
import type { ConsumerSettings } from "../streaming/_settings.ts";
import type { SourceRecord, TopicPartition } from "../streaming/_transport.ts";

const SCRIPT = fileURLToPath(new URL("../scripts/kafka.sh", import.meta.url));
let bootstrapOnce: string | undefined;

/** Starts (or finds) the local broker once per test file and returns its bootstrap address. */
export const bootstrap = (): string => {
  if (bootstrapOnce === undefined) {
    const out = execFileSync("bash", [SCRIPT, "ensure"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "inherit"],
      timeout: 300_000,
    });
    bootstrapOnce = out.trim().split("\n").at(-1)!;
  }
  return bootstrapOnce;
};

const RUN = `loomtest-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
let seq = 0;
/** A name unique to this test run (topics, groups). */
export const unique = (what: string): string => `${RUN}-${what}-${++seq}`;

/** kafkajs log lines collected instead of printed (assertions may inspect them). */
export const quietLogs: KafkaLogRecord[] = [];
/** Client options that collect kafkajs logs into {@link quietLogs}. */
export const quiet = { logger: (r: KafkaLogRecord): void => void quietLogs.push(r) };

/** Runs `fn` with a connected admin client. */
export const withAdmin = async <T>(fn: (admin: Admin) => Promise<T>): Promise<T> => {
  const admin = new Kafka({ brokers: [bootstrap()], clientId: "loom-test-admin", logLevel: logLevel.NOTHING })
    .admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
};

/** A record for {@link sendRecords}. */
export interface RawRecord {
  readonly key: string;
  readonly value: Uint8Array;
  readonly partition?: number;
}

/** Produces raw records to `topic` with a throw-away kafkajs producer (acks from all replicas). */
export const sendRecords = async (topic: string, records: readonly RawRecord[]): Promise<void> => {
  const producer = new Kafka({ brokers: [bootstrap()], clientId: "loom-it-in", logLevel: logLevel.NOTHING })
    .producer();
  await producer.connect();
  try {
    for (let i = 0; i < records.length; i += 5000) {
      const messages = records.slice(i, i + 5000).map((r) => ({ ...r, value: Buffer.from(r.value) }));
      await producer.send({ topic, messages, acks: -1 });
    }
  } finally {
    await producer.disconnect();
  }
};

/**
 * Creates topics and waits until every partition has a leader; `config` are topic-level configs such as
 * max.message.bytes. kafkajs's own wait is off (`waitForLeaders: false`): it retries only
 * LEADER_NOT_AVAILABLE, and a KRaft broker may answer the first metadata requests after a creation with
 * UNKNOWN_TOPIC_OR_PARTITION ("This server does not host this topic-partition") while its metadata cache
 * lags the controller. With kafkajs's wait on, `admin.createTopics` itself rejected with that error: the
 * three exactly-once tests after the kill tests (a loaded broker) failed that way in one full run.
 */
export const createTopics = (
  topics: readonly string[],
  numPartitions = 3,
  config: Record<string, string> = {},
): Promise<boolean> =>
  withAdmin(async (admin) => {
    const created = await admin.createTopics({
      waitForLeaders: false,
      topics: topics.map((topic) => ({
        topic,
        numPartitions,
        configEntries: Object.entries(config).map(([name, value]) => ({ name, value })),
      })),
    });
    await waitForLeaders(admin, topics, 30_000);
    return created;
  });

/**
 * Polls the topics' metadata until every partition has a leader that answers ListOffsets (errors retried
 * until `timeoutMs`).
 */
export const waitForLeaders = async (
  admin: Admin,
  topics: readonly string[],
  timeoutMs: number,
): Promise<void> => {
  const deadline = performance.now() + timeoutMs;
  let last: unknown = null;
  while (performance.now() < deadline) {
    try {
      const md = await admin.fetchTopicMetadata({ topics: [...topics] });
      const ready = topics.every((name) => {
        const t = md.topics.find((x) => x.name === name);
        return t !== undefined && t.partitions.length > 0 && t.partitions.every((p) => p.leader >= 0);
      });
      // a leader in the metadata may not lead yet (a produce gets NOT_LEADER_OR_FOLLOWER): ListOffsets,
      // answered by each partition's leader, fails until it does
      if (ready) {
        for (const topic of topics) await admin.fetchTopicOffsets(topic);
        return;
      }
      last = "a partition without a leader";
    } catch (e) {
      last = e;
    }
    await sleep(100);
  }
  throw new Error(`topics ${topics.join(", ")} got no leaders within ${timeoutMs} ms: ${String(last)}`);
};

/** Deletes topics, ignoring errors (cleanup). */
export const deleteTopics = (topics: readonly string[]): Promise<void> =>
  withAdmin((admin) => admin.deleteTopics({ topics: [...topics] })).catch(() => {});

/** Polls `cond` every 20 ms until it holds or `timeoutMs` passes. */
export const waitFor = async (cond: () => boolean, timeoutMs: number, what: string): Promise<void> => {
  const deadline = performance.now() + timeoutMs;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `topic[partition]`. */
export const tpKey = (tp: TopicPartition): string => `${tp.topic}[${tp.partition}]`;

/** Consumer settings for the local broker (fast group protocol timings). */
export const consumerSettings = (
  groupId: string,
  extra: ConsumerSettings["extra"] = {},
): ConsumerSettings => ({
  brokers: [bootstrap()],
  groupId,
  topics: [],
  autoOffsetReset: "earliest",
  pollTimeoutMs: 100,
  enableAutoCommit: false,
  security: null,
  extra: { "session.timeout.ms": 6000, "heartbeat.interval.ms": 300, ...extra },
});

/** High watermark (next offset) of every partition of `topic`. */
export const endOffsets = (topic: string): Promise<Map<number, number>> =>
  withAdmin(async (admin) =>
    new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, Number(p.high)] as const))
  );

/** Committed offsets of `group` on `topic` (partitions with no commit are absent). */
export const committedOffsets = (group: string, topic: string): Promise<Map<number, number>> =>
  withAdmin(async (admin) => {
    const [res] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    const out = new Map<number, number>();
    for (const p of res?.partitions ?? []) if (Number(p.offset) >= 0) out.set(p.partition, Number(p.offset));
    return out;
  });

/**
 * Reads every record of `topics` from the beginning with a throw-away group until the high watermarks
 * seen at the start are reached (so the result is complete).
 */
export const readTopics = async (topics: readonly string[], timeoutMs = 30_000): Promise<SourceRecord[]> => {
  const targets = new Map<string, number>();
  for (const t of topics) {
    for (const [p, high] of await endOffsets(t)) if (high > 0) targets.set(`${t}[${p}]`, high);
  }
  const records: SourceRecord[] = [];
  if (targets.size === 0) return records;
  const reached = new Map<string, number>();
  const consumer = new KafkaConsumerClient(consumerSettings(unique("reader")), quiet);
  await consumer.connect();
  await consumer.subscribe(topics, true);
  await consumer.run({
    onBatch: (batch) => {
      for (const r of batch.records) {
        records.push(r);
        reached.set(`${r.topic}[${r.partition}]`, r.offset + 1);
      }
      return Promise.resolve();
    },
  });
  try {
    await waitFor(
      () => [...targets].every(([k, high]) => (reached.get(k) ?? 0) >= high),
      timeoutMs,
      `reading ${topics.join(", ")}`,
    );
  } finally {
    await consumer.stop();
    await consumer.disconnect();
  }
  return records;
};
