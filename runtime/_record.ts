/**
 * `record`: reads real messages from a topic into the simulator's JSON Lines fixture format.
 *
 * @module
 */
import { writeFileSync } from "node:fs";
import type { ConfigContext } from "../streaming/config/mod.ts";
import { consumerFor, readKafkaSettings } from "../streaming/config/mod.ts";
import { decodeOutputRecord } from "../streaming/_wire_records.ts";
import type { SourceRecord } from "../streaming/_transport.ts";
import { type FixtureMessageView, fixtureRecordFromSource, formatFixture } from "../testing/_fixture.ts";
import { KafkaConsumerClient } from "./kafkajs/mod.ts";

/**
 * Options of {@link recordFixture}.
 *
 * @example
 * ```ts
 * import { loadConfigFile, recordFixture, type RecordOptions } from "@loom/streaming/runtime";
 * const options: RecordOptions = { config: loadConfigFile("config.yaml"), topic: "orders", out: "orders.jsonl", limit: 100 };
 * await recordFixture(options);
 * ```
 */
export interface RecordOptions {
  /** Configuration providing the Kafka consumer settings. */
  readonly config: ConfigContext;
  /** Topic to read. */
  readonly topic: string;
  /** Path of the JSON Lines file to write. */
  readonly out: string;
  /** Maximum records (default 1000). */
  readonly limit?: number;
  /** Stop after this long without a new record (default 10 s). */
  readonly timeoutMs?: number;
  /** Logical consumer name in `kafka.consumers` (default: the default consumer). */
  readonly consumer?: string;
}

function jsonView(bytes: Uint8Array, r: SourceRecord): FixtureMessageView | undefined {
  try {
    const m = decodeOutputRecord({ ...r, value: bytes });
    return {
      json: m.payload,
      messageType: m.meta.messageType ?? undefined,
      messageVersion: m.meta.messageVersion ?? undefined,
      traceId: m.meta.traceId ?? undefined,
      parentTraceId: m.meta.parentTraceId ?? undefined,
      correlationId: m.meta.correlationId ?? undefined,
      causationId: m.meta.causationId ?? undefined,
    };
  } catch {
    return undefined; // not an envelope: kept as raw bytes
  }
}

/**
 * Reads up to `limit` records of `topic` from the beginning (with a throw-away consumer group that
 * commits nothing) and writes them as a fixture. Payloads that decode as envelopes are stored as JSON;
 * anything else as base64 raw bytes. Returns the number of records written.
 *
 * @example
 * ```ts
 * import { loadConfigFile, recordFixture } from "@loom/streaming/runtime";
 * const config = loadConfigFile("config.yaml");
 * await recordFixture({ config, topic: "orders.raw", out: "orders.jsonl", limit: 100 });
 * ```
 */
export async function recordFixture(options: RecordOptions): Promise<number> {
  const kafka = readKafkaSettings(options.config);
  const base = consumerFor(kafka, options.consumer ?? options.topic);
  const settings = { ...base, groupId: `loom-record-${crypto.randomUUID()}`, topics: [options.topic] };
  const consumer = new KafkaConsumerClient(settings);
  const limit = options.limit ?? 1000;
  const records: SourceRecord[] = [];
  let last = Date.now();
  await consumer.connect();
  await consumer.subscribe([options.topic], true);
  await consumer.run({
    onBatch: (batch) => {
      for (const r of batch.records) if (records.length < limit) records.push(r);
      last = Date.now();
      return Promise.resolve();
    },
  });
  const idle = options.timeoutMs ?? 10_000;
  while (records.length < limit && Date.now() - last < idle) await new Promise((r) => setTimeout(r, 50));
  await consumer.stop();
  await consumer.disconnect();
  records.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
  const fixture = records.map((r) =>
    fixtureRecordFromSource(r, { decodeMessage: (bytes) => jsonView(bytes, r) })
  );
  writeFileSync(options.out, formatFixture(fixture));
  return fixture.length;
}
