// The flow of the runtime tests (worker pool, admin API, CLI, signals): `relay.in` → a record step
// that tags each row → `relay.out`. Physical topics come from the config (relayConfig).
import * as v from "valibot";
import {
  FromTopic,
  IntoTopic,
  type Message,
  messageType,
  Process,
  RecordStep,
  StreamFlow,
} from "../../mod.ts";

/** The relayed row. */
export const RelayRow = messageType("relay.row", v.object({ id: v.pipe(v.number(), v.integer()) }));
/** Its payload. */
export type Relay = v.InferOutput<typeof RelayRow.schema>;

/** Per-record delay in ms of the step (LOOM_RELAY_DELAY_MS; makes work in flight observable). */
const delayMs = Number(globalThis.process?.env?.LOOM_RELAY_DELAY_MS ?? 0);

/** Tags each row (synchronously, or after a delay when LOOM_RELAY_DELAY_MS is set). */
export const tag: RecordStep<Relay, { id: number; relayed: true }> = RecordStep.of(
  (m: Message<Relay>) =>
    delayMs > 0
      ? new Promise((r) => setTimeout(() => r({ id: m.payload.id, relayed: true as const }), delayMs))
      : { id: m.payload.id, relayed: true as const },
  { name: "tag" },
);

/** The flow. */
export const flow: StreamFlow<Relay> = new StreamFlow<Relay>({
  name: "relay",
  source: new FromTopic<Relay>("relay.in", RelayRow),
  process: new Process<Relay>(tag),
  output: new IntoTopic("relay.out"),
});

export default flow;

/** Config of the relay flow on `brokers` with physical topics and group. */
export const relayConfig = (
  t: { in: string; out: string },
  group: string,
  brokers: readonly string[],
  runtime: Record<string, unknown> = {},
  extra: Record<string, unknown> = {},
): Record<string, unknown> => ({
  kafka: {
    consumer: {
      brokers,
      group_id: group,
      topics: [t.in],
      auto_offset_reset: "earliest",
      enable_auto_commit: false,
      extra: { "session.timeout.ms": 6000, "heartbeat.interval.ms": 300 },
    },
    producer: { brokers, client_id: "loom-relay" },
    producers: { "relay.out": { brokers, client_id: "loom-relay", topic: t.out } },
  },
  streaming: { runtime: { transport: "kafka", ...runtime } },
  ...extra,
});
