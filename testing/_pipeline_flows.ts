/**
 * A three-service pipeline shared by `testing/_pipeline_test.ts` (PipelineSimulator) and
 * `tests/pipeline_chain_test.ts` (three runners on the real broker):
 * - `requests` reads `requests`, rejects ids starting with "bad" (a business error to `errors`) and writes
 *   a Response to `responses`;
 * - `responses` reads `responses` and fans out: every response goes to `done`; one with `hops < 2` also
 *   goes back to `requests` with `hops + 1` (a loop back to the first flow's input);
 * - `audit` reads the error topic (`errors`: error envelopes of Request) and writes one Audit per error.
 *
 * @module
 */
import * as v from "valibot";
import {
  Broadcast,
  BroadcastRoute,
  type DecodeError,
  DecodeErrors,
  type ErrorEnvelope,
  errorEnvelopeOf,
  ErrorRoute,
  ExpandStep,
  FromMultiTypeTopic,
  FromTopic,
  IntoTopic,
  type Message,
  messageType,
  Process,
  RecordStep,
  RuleViolation,
  StreamFlow,
} from "../mod.ts";

const int = () => v.pipe(v.number(), v.integer());

/** A request. */
export const Request = messageType("pipe.Request", v.object({ id: v.string(), hops: int() }));
/** A response. */
export const Response = messageType(
  "pipe.Response",
  v.object({ id: v.string(), hops: int(), ok: v.boolean() }),
);
/** An audit record of an error. */
export const Audit = messageType(
  "pipe.Audit",
  v.object({ id: v.string(), kind: v.string(), reason: v.string() }),
);

const isDecodeError = (p: unknown): p is DecodeError =>
  typeof p === "object" && p !== null && "raw" in p && "error" in p;

type Req = v.InferOutput<typeof Request.schema>;
type Res = v.InferOutput<typeof Response.schema>;

/** Physical topic names of one pipeline run. */
export interface PipelineTopics {
  readonly requests: string;
  readonly responses: string;
  readonly done: string;
  readonly errors: string;
  readonly audit: string;
}

/** The default topic names. */
export const TOPIC_NAMES: PipelineTopics = {
  requests: "requests",
  responses: "responses",
  done: "done",
  errors: "errors",
  audit: "audit",
};

/** The three flows over `t`. */
// deno-lint-ignore no-explicit-any
export function pipelineFlows(t: PipelineTopics = TOPIC_NAMES): StreamFlow<any>[] {
  const requests = new StreamFlow<Req>({
    name: "requests",
    source: new FromTopic<Req>(t.requests, Request),
    process: new Process<Req>(RecordStep.of((m: Message<Req>) => {
      if (m.payload.id.startsWith("bad")) throw new RuleViolation("id", `rejected ${m.payload.id}`);
      return { id: m.payload.id, hops: m.payload.hops, ok: true };
    }, { name: "answer", output: Response })),
    output: new IntoTopic(t.responses),
    errors: new ErrorRoute(["business", "task", "wire"], new IntoTopic(t.errors)),
  });
  const responses = new StreamFlow<Res>({
    name: "responses",
    source: new FromTopic<Res>(t.responses, Response),
    process: new Process<Res>(
      new Broadcast(
        new BroadcastRoute(new Process(RecordStep.of((m: Message<Res>) => m.payload)), new IntoTopic(t.done)),
        new BroadcastRoute(
          new Process(
            // 0 or 1 follow-up request: an empty expansion is deliberately discarded
            ExpandStep.of(
              (m: Message<Res>) => m.payload.hops < 2 ? [{ id: m.payload.id, hops: m.payload.hops + 1 }] : [],
              {
                name: "again",
                output: Request,
              },
            ),
          ),
          new IntoTopic(t.requests),
        ),
      ),
    ),
  });
  const audit = new StreamFlow({
    name: "audit",
    source: new FromMultiTypeTopic(t.errors, [errorEnvelopeOf(Request), DecodeErrors]),
    process: new Process(RecordStep.of((m: Message<unknown>) => {
      if (isDecodeError(m.payload)) return { id: "?", kind: "wire", reason: m.payload.error.reason };
      const e = m.payload as ErrorEnvelope<Req>;
      return { id: e.originalMessage?.payload.id ?? "?", kind: e.kind, reason: e.reason };
    }, { name: "record", output: Audit })),
    output: new IntoTopic(t.audit),
  });
  return [requests, responses, audit];
}
