/**
 * Shared fixtures for the project's own tests (not part of the public API).
 *
 * @module
 */
import * as v from "valibot";
import { messageType } from "./_type.ts";

const B = ["127.0.0.1:9092"];

/**
 * The original's unit-test Kafka config (minus the default producer topic quirk). Its per-topic producers
 * only repeated the default producer's brokers, and a `kafka.producers` entry no node uses is a
 * compilation error now, so every output uses the default producer.
 */
export function kafkaConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    kafka: {
      consumer: { brokers: B, group_id: "g", topics: ["orders.raw"], enable_auto_commit: false },
      producer: { brokers: B },
      producers: {},
    },
    ...extra,
  };
}

/** `OrderPlaced` of the original examples. */
export const OrderPlaced = messageType(
  "smoke.models.OrderPlaced",
  v.object({
    order_id: v.string(),
    amount: v.pipe(v.number(), v.integer()),
    segment: v.optional(v.string(), "standard"),
  }),
);

/** Payload of {@link OrderPlaced}. */
export type Order = { order_id: string; amount: number; segment?: string };

/** `ValidatedOrder`. */
export const ValidatedOrder = messageType(
  "smoke.models.ValidatedOrder",
  v.object({ order_id: v.string(), accepted: v.boolean() }),
);
