/**
 * The flow of the Kafka integration tests (tests/kafka_flow_test.ts): decode → business/task failures →
 * router → CollectBatch + batch step → broadcast to two topics, one through an async step (WithAsync), with one error
 * topic per error kind. Topic names are logical; the YAML config maps them to physical topics.
 *
 * `LOOM_IT_DELAY_MS` (environment) slows the async step down so a test can kill the process mid-stream.
 *
 * @module
 */
import process from "node:process";
import * as v from "valibot";
import {
  BatchStep,
  Broadcast,
  BroadcastRoute,
  CollectBatch,
  ErrorRoute,
  ForEach,
  FromTopic,
  IntoTopic,
  type Message,
  messageType,
  msg,
  PartitionPolicy,
  Process,
  RecordStep,
  Router,
  RuleViolation,
  StreamFlow,
  WithAsync,
} from "../../mod.ts";

const int = v.pipe(v.number(), v.integer());

/** Input payload. */
export const Reading = messageType(
  "loom.it.Reading",
  v.object({ id: v.string(), n: int, kind: v.picklist(["a", "b"]), note: v.optional(v.string(), "") }),
);
/** Input payload type. */
export type ReadingT = v.InferOutput<typeof Reading.schema>;

/** After routing and batch pricing. */
export const Laned = messageType(
  "loom.it.Laned",
  v.object({ id: v.string(), n: int, lane: v.string(), double: int }),
);
/** Payload of {@link Laned}. */
export type LanedT = v.InferOutput<typeof Laned.schema>;

/** What the two broadcast outputs carry. */
export const Scored = messageType(
  "loom.it.Scored",
  v.object({ id: v.string(), n: int, lane: v.string(), double: int, score: int, route: v.string() }),
);
/** Payload of {@link Scored}. */
export type ScoredT = v.InferOutput<typeof Scored.schema>;

/** Task failure for multiples of 13, business failure for (other) multiples of 17. */
export const fate = (n: number): "task" | "business" | "ok" =>
  n % 13 === 0 ? "task" : n % 17 === 0 ? "business" : "ok";

const check = RecordStep.of((m: Message<ReadingT>) => {
  const f = fate(m.payload.n);
  if (f === "task") throw new Error(`unlucky ${m.payload.n}`);
  if (f === "business") throw new RuleViolation("n", `${m.payload.n} is a multiple of 17`);
  return m.payload;
}, { name: "check" });

const lane = (name: string) =>
  RecordStep.of(
    (m: Message<ReadingT>) => ({ id: m.payload.id, n: m.payload.n, lane: name, double: 0 }),
    { name: `lane_${name}`, output: Laned },
  );

const double = BatchStep.of(
  (batch: readonly Message<LanedT>[]) => batch.map((m) => ({ ...m.payload, double: m.payload.n * 2 })),
  { name: "double", output: Laned },
);

const delayMs = Number(process.env.LOOM_IT_DELAY_MS ?? "0");

const scored = (p: LanedT, route: string): ScoredT => ({ ...p, score: p.n % 100, route });

const scoreNow = RecordStep.of((m: Message<LanedT>) => scored(m.payload, "a"), {
  name: "score_now",
  output: Scored,
});

const scoreLater = RecordStep.of(async (m: Message<LanedT>) => {
  if (delayMs > 0) await new Promise((r) => setTimeout(r, delayMs));
  else await Promise.resolve();
  return scored(m.payload, "b");
}, { name: "score_later", output: Scored });

/** The integration-test flow. */
export const flow: StreamFlow<ReadingT> = new StreamFlow<ReadingT>({
  name: "it_pipeline",
  source: new FromTopic("in", Reading),
  process: new Process(
    check,
    Router.by(msg.payload.field("kind"), { a: new Process(lane("A")) }, { default: new Process(lane("B")) }),
    new CollectBatch({ maxRecords: 64, timeoutMs: 100 }),
    double,
    new ForEach(),
    new Broadcast(
      new BroadcastRoute(new Process(scoreNow), new IntoTopic("out_a", { payload: Scored })),
      new BroadcastRoute(
        new Process(
          new WithAsync({
            maxConcurrency: 16,
            taskTimeoutMs: 10_000,
            process: new Process(
              scoreLater,
              new IntoTopic("out_b", {
                payload: Scored,
                // re-keys by lane: every record of a lane lands in one partition
                partitioning: new PartitionPolicy(
                  (m: Message<ScoredT>) => `lane-${m.payload.lane}`,
                  "best_effort",
                  true,
                ),
              }),
            ),
          }),
        ),
      ),
    ),
  ),
  errors: [
    new ErrorRoute(["wire"], new IntoTopic("wire_errors")),
    new ErrorRoute(["task"], new IntoTopic("task_errors")),
    new ErrorRoute(["business", "routing"], new IntoTopic("business_errors")),
  ],
});

/** Logical topic names of {@link flow}: its source, its two outputs and its three error topics. */
export const TOPICS = ["in", "out_a", "out_b", "wire_errors", "task_errors", "business_errors"] as const;
/** Physical topic per logical name. */
export type Topics = Record<(typeof TOPICS)[number], string>;

/**
 * The configuration (as a YAML file would give it) that runs {@link flow} on `brokers` with consumer group
 * `group`, mapping each logical topic onto its physical topic in `t`.
 */
export const pipelineConfig = (
  t: Topics,
  group: string,
  brokers: readonly string[],
): Record<string, unknown> => {
  const producers: Record<string, unknown> = {};
  for (const n of TOPICS) if (n !== "in") producers[n] = { brokers, client_id: "loom-it", topic: t[n] };
  return {
    kafka: {
      consumer: {
        brokers,
        group_id: group,
        topics: [t.in],
        auto_offset_reset: "earliest",
        enable_auto_commit: false,
        extra: { "session.timeout.ms": 6000, "heartbeat.interval.ms": 300 },
      },
      producer: { brokers, client_id: "loom-it" },
      producers,
    },
    streaming: { runtime: { transport: "kafka", unrouted_errors: "fail" } },
  };
};

export default flow;
