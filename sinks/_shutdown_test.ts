// flush_on_shutdown on the simulator, with the table sinks' own buffer (BufferedTableWriter) over an
// in-memory backend: false leaves the buffered rows unwritten AND their inputs uncommitted at a graceful
// stop, so the next simulator on the same broker gets them again and writes each once; true writes and
// commits them. (The real broker + PostgreSQL case is tests/sinks_shutdown_test.ts.)
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { FromTopic, IntoTable, type Message, messageType, Process, RecordStep, StreamFlow } from "../mod.ts";
import { FlowSimulator, type InMemoryBroker, type VirtualClock } from "../testing/mod.ts";
import { BufferedTableWriter, type TableBackend } from "../streaming/_table_buffer.ts";
import { SinkOptions } from "./_config.ts";

const Item = messageType("loom.test.ShutdownItem", v.object({ id: v.pipe(v.number(), v.integer()) }));
type ItemT = v.InferOutput<typeof Item.schema>;
const flow = new StreamFlow<ItemT>({
  name: "shutdown_items",
  source: new FromTopic("items.in", Item),
  process: new Process(
    RecordStep.of((m: Message<ItemT>) => ({ id: m.payload.id }), { name: "copy", output: Item }),
    new IntoTable({ name: "items", payload: Item }),
  ),
});

class MemoryBackend implements TableBackend<ItemT> {
  readonly label = "memory table items";
  readonly rows: number[] = [];
  write(rows: readonly ItemT[]): Promise<void> {
    this.rows.push(...rows.map((r) => r.id));
    return Promise.resolve();
  }
  isPermanent(): boolean {
    return false;
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const config = (flushOnShutdown: boolean) => ({
  kafka: {
    consumer: { brokers: ["simulator:9092"], group_id: "g", topics: ["items.in"], enable_auto_commit: false },
  },
  streaming: {
    sinks: {
      items: {
        table: "items",
        flush_on_shutdown: flushOnShutdown,
        buffer_max_records: 10_000,
        buffer_max_age_s: 3600,
        max_commit_delay_s: 3600,
      },
    },
  },
});

const simulator = (
  backend: MemoryBackend,
  flushOnShutdown: boolean,
  shared?: { broker: InMemoryBroker; clock: VirtualClock },
) => {
  const c = config(flushOnShutdown);
  const writer = new BufferedTableWriter(backend, SinkOptions.read(c, "items").policy());
  return FlowSimulator.create(flow, {
    config: c,
    partitions: 2,
    tables: new Map([["items", writer]]),
    ...shared,
  });
};

describe("flush_on_shutdown on the simulator (buffered table writer)", () => {
  test("false: a graceful stop writes nothing and commits nothing; the next run writes each row once", async () => {
    const backend = new MemoryBackend();
    const sim = await simulator(backend, false);
    for (let i = 0; i < 20; i++) sim.send({ id: i }, { partition: i % 2 });
    await sim.run();
    assert.deepEqual(backend.rows, [], "rows stay buffered while running");
    await sim.stop();
    assert.deepEqual(backend.rows, [], "not written at shutdown");
    assert.equal(sim.committed(0), null, "their inputs are not committed");
    assert.equal(sim.committed(1), null);

    const again = await simulator(backend, true, { broker: sim.broker, clock: sim.clock });
    await again.stop();
    assert.deepEqual([...backend.rows].sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i));
    assert.equal(again.committed(0), 10);
    assert.equal(again.committed(1), 10);
  });

  test("true (the default): a graceful stop writes the buffered rows and commits their inputs", async () => {
    const backend = new MemoryBackend();
    const sim = await simulator(backend, true);
    for (let i = 0; i < 20; i++) sim.send({ id: i }, { partition: i % 2 });
    await sim.run();
    assert.deepEqual(backend.rows, []);
    await sim.stop();
    assert.equal(backend.rows.length, 20);
    assert.equal(sim.committed(0), 10);
    assert.equal(sim.committed(1), 10);
  });

  test("end() (end of input) writes them whatever flush_on_shutdown says", async () => {
    const backend = new MemoryBackend();
    const sim = await simulator(backend, false);
    for (let i = 0; i < 20; i++) sim.send({ id: i }, { partition: i % 2 });
    await sim.end();
    await sim.stop();
    assert.equal(backend.rows.length, 20);
    assert.equal(sim.committed(0), 10);
  });
});
