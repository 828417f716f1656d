/**
 * @loom/streaming — typed, declarative Kafka stream-processing flows for Deno and Bun.
 *
 * Declare a {@link StreamFlow} (source topic, {@link Process} of nodes, output, error routes) with
 * payload types as valibot schemas, compile it with {@link compileFlow}, and run it on Kafka
 * (`@loom/streaming/runtime`) or on the deterministic simulator (`@loom/streaming/testing`).
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { FromTopic, IntoTopic, Process, RecordStep, StreamFlow, messageType } from "@loom/streaming";
 * const Order = messageType("order.created", v.object({ order_id: v.string() }));
 * const flow = new StreamFlow({
 *   name: "orders",
 *   source: new FromTopic("orders.raw", Order),
 *   process: new Process(RecordStep.of((m) => m.payload)),
 *   output: new IntoTopic("orders.out"),
 * });
 * ```
 *
 * @module
 */
export * from "./streaming/mod.ts";
