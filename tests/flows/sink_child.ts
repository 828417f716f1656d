// A flow process for tests/sinks_recovery_test.ts: reads LOOM_IT_SINK_CONFIG (JSON), runs a flow whose
// output goes to a PostgreSQL IntoTable (upsert on id) through KafkaFlowRunner until killed or SIGTERM.
import process from "node:process";
import * as v from "valibot";
import {
  compileFlow,
  FromTopic,
  IntoTable,
  type Message,
  messageType,
  Process,
  RecordStep,
  StreamFlow,
} from "../../mod.ts";
import { KafkaFlowRunner } from "../../runtime/mod.ts";
import { openTableWriters } from "../../sinks/mod.ts";

const int = v.pipe(v.number(), v.integer());
/** Input and row type. */
export const Item = messageType("loom.it.CrashItem", v.object({ id: int, v: v.string() }));
type ItemT = v.InferOutput<typeof Item.schema>;

/** The flow: a slow-ish step (a timer every 20 records) into the `items` table. */
export const flow = new StreamFlow<ItemT>({
  name: "it_sink_crash",
  source: new FromTopic("in", Item),
  process: new Process(
    RecordStep.of(async (m: Message<ItemT>) => {
      if (m.payload.id % 20 === 0) await new Promise((r) => setTimeout(r, 2));
      return { id: m.payload.id, v: `seen ${m.payload.id}` };
    }, { name: "touch", output: Item }),
    new IntoTable({ name: "items", backend: "postgres", payload: Item }),
  ),
});

if (import.meta.main) {
  const config = JSON.parse(process.env.LOOM_IT_SINK_CONFIG!);
  const plan = compileFlow(flow, config);
  const runner = new KafkaFlowRunner(plan, { tables: await openTableWriters(plan) });
  await runner.start();
  process.on("SIGTERM", () => void runner.stop().then(() => process.exit(runner.failure ? 1 : 0)));
  await runner.done;
}
