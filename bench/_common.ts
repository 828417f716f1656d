/**
 * Shared pieces of the benchmarks: the runtime's name, the local broker, and the order payload type the
 * engine and end-to-end benches run.
 *
 * @module
 */
import { execFileSync } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import * as v from "valibot";
import { messageType } from "../mod.ts";

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
