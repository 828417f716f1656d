// Commit coupling of buffered table writers (streaming/_table_delivery.ts) through the FlowDriver: offsets are
// committed only once the flush holding their rows resolved, later batches are not blocked by a pending
// flush, refused rows are error-routed, a sink that stays down fails the driver, commit pressure flushes.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { compileFlow } from "./compiler/mod.ts";
import { systemClock } from "./_clock.ts";
import { FlowDriver } from "./_driver.ts";
import { ErrorRoute, FromTopic, IntoTable, IntoTopic, Process, StreamFlow } from "./dsl/mod.ts";
import type { BufferedSinkWriter, RowFailure } from "./_table_delivery.ts";
import type { OutgoingRecord, ProducerPort, RecordBatch } from "./_transport.ts";
import { messageType } from "./_type.ts";
import { encodeSourceValue } from "./_wire_records.ts";
import { kafkaConfig } from "./_test_support.ts";

const Row = messageType("t.Row", v.object({ id: v.number() }));

/** A buffered writer whose flushes the test resolves by hand. */
class ManualWriter implements BufferedSinkWriter<unknown> {
  pending: { rows: readonly unknown[]; resolve: (f: RowFailure[]) => void; reject: (e: unknown) => void }[] =
    [];
  flushes = 0;
  get buffered(): number {
    return this.pending.reduce((a, p) => a + p.rows.length, 0);
  }
  enqueue(rows: readonly unknown[]): Promise<readonly RowFailure[]> {
    return new Promise((resolve, reject) => this.pending.push({ rows, resolve, reject }));
  }
  flush(): Promise<void> {
    this.flushes++;
    return Promise.resolve();
  }
  write(): void {}
  settle(failures: (p: number) => RowFailure[] = () => []): void {
    const all = this.pending;
    this.pending = [];
    all.forEach((p, i) => p.resolve(failures(i)));
  }
}

const sent: [string, OutgoingRecord[]][] = [];
const producer: ProducerPort = {
  send: (topic, records) => (sent.push([topic, [...records]]), Promise.resolve()),
};

const setup = (maxInFlight = 10_000) => {
  const flow = new StreamFlow({
    name: "td",
    source: new FromTopic("orders.raw", Row),
    process: new Process(new IntoTable({ name: "t", payload: Row })),
    errors: [new ErrorRoute(["task"], new IntoTopic("orders.fulfillment"))],
  });
  const plan = compileFlow(
    flow,
    kafkaConfig({ streaming: { sinks: { t: { table: "t" } }, runtime: { max_in_flight: maxInFlight } } }),
  );
  const w = new ManualWriter();
  const tables = new Map([...plan.storageSinks.keys()].map((p) => [p, w]));
  const driver = new FlowDriver(plan, {
    producer,
    tables,
    clock: systemClock,
    ids: { traceId: () => "trace" },
  });
  return { driver, w };
};

let offset = 0;
const batch = (n: number): RecordBatch => ({
  topic: "orders.raw",
  partition: 0,
  records: Array.from({ length: n }, () => ({
    topic: "orders.raw",
    partition: 0,
    offset: offset++,
    key: null,
    value: encodeSourceValue({ id: offset }, Row, { producedAtMs: 0 }),
    headers: {},
    timestampMs: 0,
  })),
});
const tick = () => new Promise((r) => setTimeout(r, 0));

describe("buffered table delivery", () => {
  test("commits wait for the flush; later batches are not blocked by it", async () => {
    offset = 0;
    const { driver, w } = setup();
    await driver.handle(batch(3)); // returns although nothing is written yet
    await driver.handle(batch(2));
    assert.equal(w.pending.length, 2);
    assert.deepEqual(driver.takeCommits(), []);
    assert.equal(driver.inFlight, 5);
    w.settle();
    await tick();
    assert.deepEqual(driver.takeCommits(), [{ topic: "orders.raw", partition: 0, offset: 5 }]);
    assert.equal(driver.stats.tableRows.t, 5);
  });

  test("a refused row is error-routed (task) with the sink's reason; the others commit", async () => {
    offset = 0;
    sent.length = 0;
    const { driver, w } = setup();
    await driver.handle(batch(3));
    w.settle(() => [{ index: 1, reason: "violates check constraint" }]);
    await tick();
    await tick();
    assert.deepEqual(driver.takeCommits(), [{ topic: "orders.raw", partition: 0, offset: 3 }]);
    assert.equal(sent.length, 1);
    assert.equal(sent[0][0], "orders.fulfillment");
    assert.equal(driver.stats.errors.task, 1);
    assert.equal(driver.stats.tableRows.t, 2);
  });

  test("a sink that stays down fails the driver; nothing past its rows is committed", async () => {
    offset = 0;
    const { driver, w } = setup();
    await driver.handle(batch(2));
    w.pending[0].reject(new Error("connection refused"));
    await tick();
    assert.equal(driver.nextDeadline(), Number.NEGATIVE_INFINITY);
    await assert.rejects(driver.tick(), /table sink 't'.*connection refused/);
    await assert.rejects(driver.handle(batch(1)), /connection refused/);
    assert.deepEqual(driver.takeCommits(), []);
  });

  test("commit pressure: half of max_in_flight buffered asks the writer to flush; flush() waits for settlement", async () => {
    offset = 0;
    const { driver, w } = setup(8);
    await driver.handle(batch(3));
    assert.equal(w.flushes, 0);
    await driver.handle(batch(2));
    assert.equal(w.flushes, 1);
    let done = false;
    const f = driver.flush().then(() => (done = true));
    await tick();
    assert.equal(done, false); // waits for the rows to settle
    w.settle();
    await f;
    assert.deepEqual(driver.takeCommits(), [{ topic: "orders.raw", partition: 0, offset: 5 }]);
  });
});
