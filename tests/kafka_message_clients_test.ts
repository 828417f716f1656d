// The message-level clients (KafkaMessageProducer / KafkaMessageConsumer) over both adapters, against the
// REAL local broker. Run: deno test -A tests/kafka_message_clients_test.ts | bun test tests/kafka_message_clients_test.ts
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import {
  bootstrap,
  consumerSettings,
  createTopics,
  deleteTopics,
  quiet,
  sleep,
  unique,
  waitFor,
} from "./_support.ts";
import { messageType } from "../streaming/_type.ts";
import { partitionForKey } from "../kafka/_murmur2.ts";
import { KafkaConsumerError, KafkaDeliveryError } from "../runtime/kafkajs/mod.ts";
import { createKafkaClients, type KafkaClientKind } from "../runtime/_kafka_clients.ts";
import { KafkaMessageProducer } from "../runtime/_message_producer.ts";
import {
  type ConsumedMessage,
  KafkaDeserializationError,
  KafkaMessageConsumer,
} from "../runtime/_message_consumer.ts";
import type { ProducerSettings } from "../streaming/_settings.ts";

const Order = messageType("order.created", v.object({ order_id: v.string(), amount: v.number() }), {
  version: 2,
});
type Order = v.InferOutput<typeof Order.schema>;
const enc = new TextEncoder();
const dec = new TextDecoder();
const settings = (extra: ProducerSettings["extra"] = {}): ProducerSettings => ({
  brokers: [bootstrap()],
  clientId: null,
  topic: null,
  security: null,
  extra,
});

for (const kind of ["kafkajs", "platformatic"] as KafkaClientKind[]) {
  const clients = createKafkaClients(kind, quiet);
  describe(`message clients over ${kind}`, () => {
    test("send builds the envelope and trace headers; the consumer decodes typed messages", {
      timeout: 60_000,
    }, async () => {
      const topic = unique(`${kind}-msg`);
      await createTopics([topic]);
      const raw = clients.producer(settings());
      await raw.connect();
      const producer = new KafkaMessageProducer(raw);
      const sends: Promise<void>[] = [];
      for (let i = 0; i < 30; i++) {
        sends.push(producer.send({
          topic,
          payload: { order_id: `o-${i}`, amount: i * 1.5 },
          type: Order,
          key: `o-${i}`,
          headers: { tenant: "acme" },
          correlationId: `c-${i}`,
          causationId: i === 0 ? "cause-0" : null,
          traceId: i === 0 ? "0af7651916cd43dd8448eb211c80319c" : undefined,
          producedAtMs: 1_700_000_000_000 + i,
        }));
      }
      await Promise.all(sends);
      await producer.close();

      const rawConsumer = clients.consumer(consumerSettings(unique("g")));
      await rawConsumer.connect();
      await rawConsumer.subscribe([topic], true);
      const consumer = new KafkaMessageConsumer<Order>(rawConsumer, Order);
      const got: ConsumedMessage<Order>[] = [];
      await consumer.run({ onMessages: (ms) => Promise.resolve(void got.push(...ms)) });
      try {
        await waitFor(() => got.length >= 30, 30_000, "30 messages");
      } finally {
        await consumer.disconnect();
        await deleteTopics([topic]);
      }
      const byId = new Map(got.map((m) => [m.payload.order_id, m]));
      for (let i = 0; i < 30; i++) {
        const m = byId.get(`o-${i}`)!;
        assert.deepEqual(m.payload, { order_id: `o-${i}`, amount: i * 1.5 });
        assert.equal(m.meta.messageType, "order.created");
        assert.equal(m.meta.messageVersion, 2);
        assert.equal(m.meta.correlationId, `c-${i}`);
        assert.equal(m.meta.producedAtMs, 1_700_000_000_000 + i);
        assert.equal(m.record.timestampMs, 1_700_000_000_000 + i, "record timestamp = produced_at_ms");
        assert.match(m.meta.traceId!, /^[0-9a-f]{32}$/);
        assert.equal(dec.decode(m.record.headers["x-trace-id"]), m.meta.traceId);
        assert.equal(dec.decode(m.record.headers["x-correlation-id"]), `c-${i}`);
        assert.equal(dec.decode(m.record.headers.tenant), "acme");
        assert.equal(m.meta.messageId, `${topic}:${m.record.partition}:${m.record.offset}`);
        assert.equal(m.record.partition, partitionForKey(enc.encode(`o-${i}`), 3), "keyed like Java");
        if (i === 0) {
          assert.equal(m.meta.traceId, "0af7651916cd43dd8448eb211c80319c");
          assert.equal(m.meta.causationId, "cause-0");
          assert.equal(dec.decode(m.record.headers["x-causation-id"]), "cause-0");
        } else {
          assert.equal(m.meta.causationId, null);
          assert.equal(m.record.headers["x-causation-id"], undefined, "null ids are not written as headers");
        }
      }
      assert.equal(new Set(got.map((m) => m.meta.traceId)).size, 30, "a new trace id per message");
    });

    test("records that do not decode are KafkaDeserializationErrors carrying the raw record", {
      timeout: 60_000,
    }, async () => {
      const topic = unique(`${kind}-bad`);
      await createTopics([topic], 1);
      const raw = clients.producer(settings());
      await raw.connect();
      await raw.send(topic, [{
        key: null,
        value: enc.encode("not msgpack"),
        headers: {},
        timestampMs: null,
      }]);
      const producer = new KafkaMessageProducer(raw);
      await producer.send({ topic, payload: { order_id: "x" }, type: null }); // dynamic: amount missing
      await producer.send({ topic, payload: { order_id: "ok", amount: 1 }, type: Order });
      await producer.close();

      const errors: KafkaDeserializationError[] = [];
      const good: ConsumedMessage<Order>[] = [];
      const c1 = clients.consumer(consumerSettings(unique("g")));
      await c1.connect();
      await c1.subscribe([topic], true);
      const consumer = new KafkaMessageConsumer<Order>(c1, Order);
      await consumer.run({
        onMessages: (ms) => Promise.resolve(void good.push(...ms)),
        onDecodeError: (e) => void errors.push(e),
      });
      try {
        await waitFor(() => good.length + errors.length >= 3, 30_000, "3 records");
      } finally {
        await consumer.disconnect();
      }
      assert.deepEqual(good.map((m) => m.payload), [{ order_id: "ok", amount: 1 }]);
      assert.deepEqual(errors.map((e) => e.record.offset), [0, 1]);
      assert.ok(errors.every((e) => e instanceof KafkaDeserializationError));
      assert.equal(dec.decode(errors[0].record.value!), "not msgpack");
      assert.match(errors[1].message, new RegExp(`${topic}\\[0\\]@1: .*amount`));

      // Without onDecodeError the batch fails: the consumer stops and reports the decode error as the cause.
      const failures: Error[] = [];
      const c2 = clients.consumer(consumerSettings(unique("g")));
      await c2.connect();
      await c2.subscribe([topic], true);
      const strict = new KafkaMessageConsumer<Order>(c2, Order);
      let delivered = 0;
      await strict.run({
        onMessages: (ms) => Promise.resolve(void (delivered += ms.length)),
        onError: (e) => void failures.push(e),
      });
      try {
        await waitFor(() => failures.length > 0, 30_000, "onError");
        await sleep(100);
      } finally {
        await strict.disconnect();
        await deleteTopics([topic]);
      }
      assert.equal(delivered, 0);
      assert.ok(failures[0] instanceof KafkaConsumerError);
      assert.ok((failures[0].cause as Error) instanceof KafkaDeserializationError);
    });

    test(
      "a refused send rejects its callers and flush raises the delivery error once",
      { timeout: 60_000 },
      async () => {
        const topic = unique(`${kind}-refused`);
        await createTopics([topic], 1, { "max.message.bytes": "2048" });
        const raw = clients.producer(settings({ retries: 0 }));
        await raw.connect();
        const producer = new KafkaMessageProducer(raw);
        try {
          const big = producer.send({
            topic,
            payload: { order_id: "x".repeat(10_000), amount: 1 },
            type: Order,
          });
          await assert.rejects(big, KafkaDeliveryError);
          await assert.rejects(
            producer.flush(),
            (e: unknown) => e instanceof KafkaDeliveryError && e.recordSpecific,
          );
          await producer.flush(); // raised once
          await producer.send({ topic, payload: { order_id: "small", amount: 1 }, type: Order });
          await producer.flush();
          await assert.rejects(
            producer.send({ topic, payload: { order_id: 42 } as unknown as Order, type: Order }),
            /order_id|string/,
          );
        } finally {
          await producer.close();
          await deleteTopics([topic]);
        }
      },
    );
  });
}
