/**
 * Test support: an upstream service whose error topic (`a.errors`) carries real task envelopes and decode
 * errors, shared by the error-payload tests of the simulator and of the CLI's in-memory run.
 *
 * @module
 */
import * as v from "valibot";
import {
  ErrorRoute,
  FromTopic,
  IntoTopic,
  type Message,
  messageType,
  Process,
  RecordStep,
  StreamFlow,
} from "../mod.ts";
import type { SourceRecord } from "../streaming/_transport.ts";
import { FlowSimulator } from "./mod.ts";

/** The upstream payload type. */
export const A = messageType("a.A", v.object({ id: v.string(), n: v.pipe(v.number(), v.integer()) }));
/** Its payload. */
export type AT = v.InferOutput<typeof A.schema>;

/** Upstream service: fails for n < 0, writes task envelopes and decode errors to `a.errors`. */
const upstream = new StreamFlow<AT>({
  name: "upstream",
  source: new FromTopic("a.raw", A),
  process: new Process(RecordStep.of((m: Message<AT>) => {
    if (m.payload.n < 0) throw new Error(`negative ${m.payload.n}`);
    return m.payload;
  })),
  output: new IntoTopic("a.ok"),
  errors: new ErrorRoute(["wire", "task"], new IntoTopic("a.errors")),
});

/** The records of the upstream error topic: a task envelope (x1) and a decode error. */
export const upstreamErrors = async (): Promise<SourceRecord[]> => {
  const up = await FlowSimulator.create(upstream);
  up.send({ id: "x1", n: -1 }, { key: "x1", traceId: "t-x1", correlationId: "c-x1" });
  up.sendRaw(new Uint8Array([0xc1, 0xff]), { key: "junk" });
  await up.run();
  return up.records("a.errors");
};
