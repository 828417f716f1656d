/**
 * The flow of the run-loop scenarios shared by `testing/_loop_test.ts` (simulator) and
 * `tests/loop_parity_test.ts` (real broker): records pass through a CollectBatch, so the committed
 * watermark shows exactly which records the loop considers settled.
 *
 * @module
 */
import * as v from "valibot";
import { CollectBatch, ForEach, FromTopic, IntoTopic, messageType, Process, StreamFlow } from "../mod.ts";

/** The scenario's record. */
export type Row = { id: number };

/** The scenario's payload type. */
export const RowType = messageType("loop.row", v.object({ id: v.pipe(v.number(), v.integer()) }));

/**
 * `in` → CollectBatch(maxRecords, timeoutMs) → ForEach → `out`.
 *
 * @param maxRecords records per batch
 * @param timeoutMs CollectBatch timeout
 * @param topics physical topic names (default `in` and `out`)
 */
export function batchFlow(
  maxRecords: number,
  timeoutMs: number,
  topics: { in: string; out: string } = { in: "in", out: "out" },
): StreamFlow<Row> {
  return new StreamFlow<Row>({
    name: "loop",
    source: new FromTopic<Row>(topics.in, RowType),
    process: new Process<Row>(new CollectBatch({ maxRecords, timeoutMs }), new ForEach()),
    output: new IntoTopic(topics.out),
  });
}
