/**
 * Shared pieces of the adapter conformance suites (tests/kafka_adapter_conformance_test.ts: producing and
 * placement; tests/kafka_adapter_group_conformance_test.ts: groups, offsets, fetching, failures): the two
 * adapters, settings and record builders, and a consumer that records every batch.
 *
 * @module
 */
import { bootstrap, consumerSettings, quiet } from "./_support.ts";
import { KafkaConsumerClient, KafkaProducerClient } from "../runtime/kafkajs/mod.ts";
import { PlatformaticConsumerClient, PlatformaticProducerClient } from "../runtime/platformatic/mod.ts";
import type { ConsumerSettings, ProducerSettings } from "../streaming/_settings.ts";
import type {
  ConsumerHandler,
  ConsumerPort,
  OutgoingRecord,
  ProducerClientPort,
  RecordBatch,
  SourceRecord,
} from "../streaming/_transport.ts";

export interface Adapter {
  readonly name: string;
  producer(settings: ProducerSettings): ProducerClientPort;
  consumer(settings: ConsumerSettings): ConsumerPort;
}

export const ADAPTERS: readonly Adapter[] = [
  {
    name: "kafkajs",
    producer: (s) => new KafkaProducerClient(s, quiet),
    consumer: (s) => new KafkaConsumerClient(s, quiet),
  },
  {
    name: "platformatic",
    producer: (s) => new PlatformaticProducerClient(s, quiet),
    consumer: (s) => new PlatformaticConsumerClient(s, quiet),
  },
];

export const enc = new TextEncoder();
const dec = new TextDecoder();
export const text = (b: Uint8Array | null | undefined): string | null => (b == null ? null : dec.decode(b));

export const producerSettings = (extra: ProducerSettings["extra"] = {}): ProducerSettings => ({
  brokers: [bootstrap()],
  clientId: "loom-conformance",
  topic: null,
  security: null,
  extra,
});

export const rec = (value: string, extra: Partial<OutgoingRecord> = {}): OutgoingRecord => ({
  key: null,
  value: enc.encode(value),
  headers: {},
  timestampMs: null,
  ...extra,
});

/** 3 partitions × `perPartition` records, value = index, explicit partition i % 3. */
export const fill = async (a: Adapter, topic: string, count: number): Promise<void> => {
  const producer = a.producer(producerSettings());
  await producer.connect();
  try {
    const recs: OutgoingRecord[] = [];
    for (let i = 0; i < count; i++) recs.push(rec(String(i), { partition: i % 3 }));
    await producer.send(topic, recs);
  } finally {
    await producer.disconnect();
  }
};

/** What a recording consumer gives back. */
export interface RecordingConsumer {
  readonly consumer: ConsumerPort;
  readonly records: SourceRecord[];
  readonly batches: RecordBatch[];
}

/** A consumer starter for adapter `a`: each consumer records every batch; optional hooks for the test. */
export const consumerStarter = (a: Adapter): (
  groupId: string,
  topics: readonly string[],
  hooks?: Partial<ConsumerHandler>,
  extra?: ConsumerSettings["extra"],
  fromBeginning?: boolean,
) => Promise<RecordingConsumer> =>
async (groupId, topics, hooks = {}, extra = {}, fromBeginning = true) => {
  const consumer = a.consumer(consumerSettings(groupId, extra));
  const records: SourceRecord[] = [];
  const batches: RecordBatch[] = [];
  await consumer.connect();
  await consumer.subscribe(topics, fromBeginning);
  await consumer.run({
    ...hooks,
    onBatch: async (batch, ctl) => {
      batches.push(batch);
      for (const r of batch.records) records.push(r);
      if (hooks.onBatch) await hooks.onBatch(batch, ctl);
    },
  });
  return { consumer, records, batches };
};
