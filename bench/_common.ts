/**
 * Shared pieces of the benchmarks: the runtime's name, the local broker, and the order payload type the
 * engine and end-to-end benches run.
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { Buffer } from "node:buffer";
import { type Kafka, Partitioners } from "kafkajs";
import * as v from "valibot";
import { FromTopic, IntoTopic, type Message, messageType, Process, RecordStep, StreamFlow } from "../mod.ts";
import { encodeSourceValue } from "../streaming/engine.ts";

/** `deno 2.x`, `bun 1.x` or `node vNN`, for the result tables. */
export const runtimeName = (): string => {
  const g = globalThis as { Deno?: { version: { deno: string } }; Bun?: { version: string } };
  if (g.Deno) return `deno ${g.Deno.version.deno}`;
  if (g.Bun) return `bun ${g.Bun.version}`;
  return `node ${process.version}`;
};

/** The broker to use: `LOOM_KAFKA_BOOTSTRAP`, else the local one (`scripts/kafka.sh ensure` starts it). */
export const kafkaBootstrap = (): string => {
  if (process.env.LOOM_KAFKA_BOOTSTRAP) return process.env.LOOM_KAFKA_BOOTSTRAP;
  const script = fileURLToPath(new URL("../scripts/kafka.sh", import.meta.url));
  return execFileSync("bash", [script, "ensure"], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] })
    .trim().split("\n").at(-1)!;
};

/** The 8-field order of the engine and end-to-end benches. */
export const BenchOrder = messageType(
  "bench.Order",
  v.object({
    order_id: v.string(),
    customer: v.string(),
    amount: v.number(),
    quantity: v.pipe(v.number(), v.integer()),
    segment: v.string(),
    country: v.string(),
    paid: v.boolean(),
    created_at_ms: v.pipe(v.number(), v.integer()),
  }),
);

/** The `j`-th {@link BenchOrder} envelope of the end-to-end benches (387 bytes). */
export const benchOrderEnvelope = (j: number): Uint8Array =>
  encodeSourceValue(
    {
      order_id: `order-${j.toString().padStart(8, "0")}`,
      customer: `customer-${j % 997}`,
      amount: 10.5 + (j % 100),
      quantity: 1 + (j % 7),
      segment: j % 3 ? "standard" : "vip",
      country: j % 2 ? "ES" : "FR",
      paid: j % 5 !== 0,
      created_at_ms: 1_700_000_000_000 + j,
    },
    BenchOrder,
    { producedAtMs: 1_700_000_000_000 + j, traceId: "0123456789abcdef0123456789abcdef" },
  );

/** Produces `n` {@link BenchOrder} envelopes to `topic` (keys over 1,000 values, 1,000 per send, acks all). */
export const produceBenchOrders = async (kafka: Kafka, topic: string, n: number): Promise<void> => {
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const BATCH = 1000;
  for (let i = 0; i < n; i += BATCH) {
    const messages = [];
    for (let j = i; j < Math.min(n, i + BATCH); j++) {
      const value = benchOrderEnvelope(j);
      messages.push({
        key: `k-${j % 1000}`,
        value: Buffer.from(value.buffer, value.byteOffset, value.length),
      });
    }
    await producer.send({ topic, acks: -1, messages });
  }
  await producer.disconnect();
};

/** The end-to-end benches' flow: decode a {@link BenchOrder} → a record step → encode to topic `out`. */
// deno-lint-ignore no-explicit-any
export const enrichFlow = (name: string): StreamFlow<any> =>
  new StreamFlow({
    name,
    source: new FromTopic("in", BenchOrder),
    process: new Process(RecordStep.of((m: Message<v.InferOutput<typeof BenchOrder.schema>>) => ({
      order_id: m.payload.order_id,
      customer: m.payload.customer,
      total: m.payload.amount * m.payload.quantity,
      segment: m.payload.segment,
    }), { name: "enrich" })),
    output: new IntoTopic("out"),
  });
