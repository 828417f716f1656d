/**
 * The flow of `bench/workers_bench.ts`: decode → a record step with some CPU work per record
 * (`LOOM_BENCH_WORK` rounds of integer hashing; the bench sets it, default 10 000) → encode. Topics come from the config.
 *
 * @module
 */
import process from "node:process";
import { FromTopic, IntoTopic, type Message, Process, RecordStep, StreamFlow } from "../mod.ts";
import { BenchOrder } from "./_common.ts";

const WORK = Number(process.env.LOOM_BENCH_WORK ?? 2000);

type Order = { order_id: string; amount: number };

/** Scores an order with `WORK` rounds of hashing (stands for parsing, enrichment, rules). */
const score = RecordStep.of((m: Message<Order>) => {
  let h = 2166136261;
  const id = m.payload.order_id;
  for (let r = 0; r < WORK; r++) h = Math.imul(h ^ id.charCodeAt(r % id.length), 16777619) >>> 0;
  return { ...m.payload, score: h % 1000 };
}, { name: "score" });

/** The bench flow. */
export const flow: StreamFlow<Order> = new StreamFlow<Order>({
  name: "workers_bench",
  // deno-lint-ignore no-explicit-any
  source: new FromTopic<Order>("bench.in", BenchOrder as any),
  process: new Process<Order>(score),
  output: new IntoTopic("bench.out"),
});

export default flow;
