/**
 * Shared fixtures for the runtime-semantics tests through the FlowSimulator (testing/_engine_*_test.ts; not
 * part of the public API): the `test.item` input type, a one-source flow around a Process, the simulator
 * around it, and readers of output payloads, ids and error envelopes.
 *
 * @module
 */
import * as v from "valibot";
import { FromTopic, messageType, type Process, StreamFlow, type StreamFlowOptions } from "../mod.ts";
import { FlowSimulator, type SimulatorOptions } from "./mod.ts";

/** An integer schema. */
export const int = (): v.SchemaWithPipe<
  readonly [v.NumberSchema<undefined>, v.IntegerAction<number, undefined>]
> => v.pipe(v.number(), v.integer());

/** The input type of the test flows: `test.item` `{ id, n }`. */
const Item = messageType("test.item", v.object({ id: int(), n: int() }));

/** Payload of the input type `test.item`. */
export type ItemP = { id: number; n: number };

/** A shared UTF-8 encoder. */
export const utf8: TextEncoder = new TextEncoder();

/** The UTF-8 text of some bytes (a key or a header value), `null` when there are none. */
export const text = (
  b: Uint8Array | undefined | null,
): string | null => (b ? new TextDecoder().decode(b) : null);

/** A flow named `t` reading {@link Item} from topic `in` through `process` (plus `extra` options). */
export function flowOf(
  process: Process,
  extra: Partial<Omit<StreamFlowOptions<ItemP>, "process">> = {},
): StreamFlow<ItemP> {
  return new StreamFlow<ItemP>({
    name: "t",
    source: new FromTopic<ItemP>("in", Item),
    process: process as Process<ItemP>,
    ...extra,
  });
}

/** A simulator running `flow`. */
export function sim(flow: StreamFlow<ItemP>, options: SimulatorOptions = {}): Promise<FlowSimulator> {
  return FlowSimulator.create(flow, options);
}

/** The `id` of every payload written to `topic`, in order. */
export const ids = (s: FlowSimulator, topic: string): number[] =>
  s.payloads<{ id: number }>(topic).map((p) => p.id);

/** An error envelope of a `test.item` input, as decoded from an error topic. */
export interface Envelope {
  kind: string;
  reason: string;
  payloadType: string | null;
  originalMessage: { payload: ItemP; meta: { messageId: string; key: Uint8Array | null } };
}

/** The error envelopes written to `topic`, in order. */
export const envelopes = (s: FlowSimulator, topic: string): Envelope[] => s.payloads<Envelope>(topic);

/** `n` items with ids 0…n-1 and `n: f(id)` (0 by default). */
export const items = (n: number, f: (i: number) => number = () => 0): ItemP[] =>
  Array.from({ length: n }, (_, i) => ({ id: i, n: f(i) }));
