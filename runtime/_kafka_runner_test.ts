// Unit tests of KafkaFlowRunner's commit policy, driven through its client ports (no broker: the real
// broker behaviour is covered by tests/kafka_*_test.ts). The consumer port below is a scripted stand-in
// that hands the runner batches and records or refuses its commits.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import {
  BatchStep,
  CollectBatch,
  compileFlow,
  ForEach,
  FromTopic,
  IntoTable,
  IntoTopic,
  type Message,
  messageType,
  Process,
  RecordStep,
  Router,
  StreamFlow,
  WithAsync,
} from "../mod.ts";
import {
  decodeOutputRecord,
  encodeSourceValue,
  type SourceRecord,
  type TopicPartition,
  type TopicPartitionOffset,
} from "../streaming/engine.ts";
import type {
  ConsumerHandler,
  ConsumerRunOptions,
  KafkaConsumerPort,
  KafkaProducerPort,
} from "./kafkajs/mod.ts";
import { InMemoryBroker, VirtualClock } from "../testing/mod.ts";
import { KafkaFlowRunner } from "./_kafka_runner.ts";
import { heapLimitStats } from "./_heap_limit.ts";

const Item = messageType("it.item", v.object({ id: v.string() }));
const flow = new StreamFlow<{ id: string }>({
  name: "commit_policy",
  source: new FromTopic("in", Item),
  process: new Process(RecordStep.of((m: Message<{ id: string }>) => m.payload, { name: "pass" })),
  output: new IntoTopic("out"),
});
const config: Record<string, unknown> = {
  kafka: {
    consumer: { brokers: ["unused:9092"], group_id: "g", topics: ["in"], enable_auto_commit: false },
    producer: { brokers: ["unused:9092"] },
  },
};

class ScriptedConsumer implements KafkaConsumerPort {
  handler: ConsumerHandler | null = null;
  readonly commits: TopicPartitionOffset[] = [];
  refuseCommits = 0;
  refused = 0;
  readonly tps: TopicPartition[] = [{ topic: "in", partition: 0 }];
  runOptions: ConsumerRunOptions | undefined;
  #inflight: Promise<void> = Promise.resolve();
  connect(): Promise<void> {
    return Promise.resolve();
  }
  subscribe(): Promise<void> {
    return Promise.resolve();
  }
  run(handler: ConsumerHandler, options?: ConsumerRunOptions): Promise<void> {
    this.handler = handler;
    this.runOptions = options;
    handler.onAssigned?.(this.tps);
    return Promise.resolve();
  }
  assignment(): readonly TopicPartition[] {
    return this.tps;
  }
  commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    if (this.refuseCommits > 0) {
      this.refuseCommits--;
      this.refused++;
      return Promise.reject(new Error("The group is rebalancing (REBALANCE_IN_PROGRESS)"));
    }
    this.commits.push(...offsets);
    return Promise.resolve();
  }
  pause(): void {}
  resume(): void {}
  async stop(): Promise<void> {
    await this.#inflight; // like the real client: in-flight batches finish before the revoke
    await this.handler?.onRevoked?.(this.tps);
  }
  disconnect(): Promise<void> {
    return Promise.resolve();
  }
  /** Hands the runner one batch of `n` records of partition 0, from offset `from`. */
  deliver(n: number, from = 0, partition = 0): Promise<void> {
    const records: SourceRecord[] = Array.from({ length: n }, (_, i) => ({
      topic: "in",
      partition,
      offset: from + i,
      key: null,
      value: encodeSourceValue({ id: `p${partition}-${from + i}` }, Item, { producedAtMs: 1 }),
      headers: {},
      timestampMs: 1,
    }));
    const p = this.handler!.onBatch({ topic: "in", partition, records }, {
      heartbeat: () => Promise.resolve(),
      isRunning: () => true,
      isStale: () => false,
    });
    const before = this.#inflight;
    this.#inflight = Promise.all([before, p.catch(() => {})]).then(() => {});
    return p;
  }
}

const producerOn = (broker: InMemoryBroker): KafkaProducerPort => {
  const p = broker.producer();
  return {
    connect: () => Promise.resolve(),
    send: p.send,
    sendMany: async (batches) => {
      for (const [t, rs] of batches) await p.send(t, rs);
    },
    disconnect: () => Promise.resolve(),
  };
};

const until = async (cond: () => boolean, what: string): Promise<void> => {
  for (let i = 0; i < 500 && !cond(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(cond(), `timed out waiting for ${what}`);
};

describe("KafkaFlowRunner commit policy", () => {
  test("refused commits are retried at the next tick; the settled watermark is committed once accepted", async () => {
    const consumer = new ScriptedConsumer();
    consumer.refuseCommits = 3;
    const warnings: string[] = [];
    const broker = new InMemoryBroker();
    const runner = new KafkaFlowRunner(compileFlow(flow, config), {
      consumer,
      producer: producerOn(broker),
      tickMs: 10,
      logger: { info() {}, warn: (e) => void warnings.push(e), error() {} },
    });
    await runner.start();
    await consumer.deliver(5);
    await until(() => consumer.commits.length > 0, "a commit");
    assert.equal(runner.failure, null);
    assert.equal(consumer.refused, 3);
    assert.deepEqual(warnings.filter((w) => w === "commit_retry").length, 3);
    assert.deepEqual(consumer.commits, [{ topic: "in", partition: 0, offset: 5 }]);
    assert.equal(broker.records("out").length, 5);
    await runner.stop();
    assert.equal(runner.state, "stopped");
  });

  test("commits refused for longer than commitFailureTimeoutMs stop the runner with the reason", async () => {
    const consumer = new ScriptedConsumer();
    consumer.refuseCommits = Infinity;
    const runner = new KafkaFlowRunner(compileFlow(flow, config), {
      consumer,
      producer: producerOn(new InMemoryBroker()),
      tickMs: 10,
      commitFailureTimeoutMs: 100,
    });
    await runner.start();
    await consumer.deliver(3);
    await runner.done;
    assert.equal(runner.state, "failed");
    assert.match(
      String((runner.failure as Error).message),
      /^offset commits have failed for \d+ ms \(commitFailureTimeoutMs 100\): The group is rebalancing/,
    );
    assert.deepEqual(consumer.commits, [], "nothing was committed");
  });
});

describe("KafkaFlowRunner and streaming.runtime", () => {
  const withRuntime = (runtime: Record<string, unknown>) =>
    compileFlow(flow, { ...config, streaming: { runtime } });

  test("partition_concurrency is the number of partitions one consumer processes at once (default 1)", async () => {
    const concurrency = async (runtime: Record<string, unknown>) => {
      const consumer = new ScriptedConsumer();
      const runner = new KafkaFlowRunner(withRuntime(runtime), {
        consumer,
        producer: producerOn(new InMemoryBroker()),
      });
      await runner.start();
      await runner.stop();
      return consumer.runOptions?.partitionsConsumedConcurrently;
    };
    assert.equal(await concurrency({ partition_concurrency: 4 }), 4);
    assert.equal(await concurrency({}), 1);
    // workers_per_process is the number of Web Workers, not a per-consumer setting
    assert.equal(await concurrency({ workers_per_process: 4 }), 1);
    assert.equal(await concurrency({ workers_per_process: 2, partition_concurrency: 3 }), 3);
  });

  test("heap_limit_mb: a running runner holds this isolate's soft heap limit; stop() leaves it", async () => {
    // (another runner of this process, e.g. from another test file, would only lower the limit)
    const before = heapLimitStats()?.limitBytes ?? Infinity;
    const runner = new KafkaFlowRunner(withRuntime({ heap_limit_mb: 90_000 }), {
      consumer: new ScriptedConsumer(),
      producer: producerOn(new InMemoryBroker()),
    });
    await runner.start();
    assert.equal(heapLimitStats()?.limitBytes, Math.min(before, 90_000 * 1024 * 1024));
    await runner.stop();
    await runner.done;
    assert.equal(heapLimitStats()?.limitBytes ?? Infinity, before);
    const off = new KafkaFlowRunner(withRuntime({ heap_limit_mb: 0 }), {
      consumer: new ScriptedConsumer(),
      producer: producerOn(new InMemoryBroker()),
    });
    await off.start();
    assert.equal(heapLimitStats()?.limitBytes ?? Infinity, before, "0: no limit");
    await off.stop();
  });

  test("epoch_interval_ms: settled offsets are committed at most once per epoch", async () => {
    const consumer = new ScriptedConsumer();
    const clock = new VirtualClock(1_000);
    const runner = new KafkaFlowRunner(withRuntime({ epoch_interval_ms: 200 }), {
      consumer,
      producer: producerOn(new InMemoryBroker()),
      clock,
      tickMs: 5,
    });
    await runner.start();
    await consumer.deliver(5);
    await until(() => consumer.commits.length === 1, "the first commit");
    await consumer.deliver(5, 5);
    await new Promise((r) => setTimeout(r, 60)); // a dozen ticks, all inside the epoch
    assert.deepEqual(consumer.commits.map((c) => c.offset), [5]);
    await clock.advance(200);
    await until(() => consumer.commits.length === 2, "the next epoch's commit");
    assert.deepEqual(consumer.commits.map((c) => c.offset), [5, 10]);
    await runner.stop();
  });

  test("force_shutdown_timeout_ms bounds a graceful stop that cannot finish", async () => {
    const consumer = new ScriptedConsumer();
    const stuck: KafkaProducerPort = {
      connect: () => Promise.resolve(),
      send: () => new Promise<void>(() => {}), // the broker never answers
      sendMany: () => new Promise<void>(() => {}),
      disconnect: () => Promise.resolve(),
    };
    const runner = new KafkaFlowRunner(withRuntime({ force_shutdown_timeout_ms: 100 }), {
      consumer,
      producer: stuck,
    });
    await runner.start();
    void consumer.deliver(3);
    const started = performance.now();
    await runner.stop();
    assert.ok(performance.now() - started < 2_000);
    assert.equal(runner.state, "failed");
    assert.match(String((runner.failure as Error).message), /force_shutdown_timeout_ms \(100 ms\)/);
    assert.deepEqual(consumer.commits, []);
  });

  test("partitions processed concurrently (async steps, Router, CollectBatch) give each partition's own results", async () => {
    const consumer = new ScriptedConsumer();
    consumer.tps.push({ topic: "in", partition: 1 }, { topic: "in", partition: 2 });
    const slowly = RecordStep.of(async (m: Message<{ id: string }>) => {
      // uneven latencies interleave the three partitions' batches at every await
      await new Promise((r) => setTimeout(r, (m.payload.id.length * 7) % 5));
      return { id: `${m.payload.id}!` };
    }, { name: "slowly" });
    const concurrent = new StreamFlow<{ id: string }>({
      name: "concurrent",
      source: new FromTopic("in", Item),
      process: new Process(
        Router.by((m: Message<{ id: string }>) => m.payload.id.endsWith("0"), {
          true: new Process(
            RecordStep.of((m: Message<{ id: string }>) => ({ id: `${m.payload.id}+` }), { name: "tag" }),
          ),
        }),
        new CollectBatch({ maxRecords: 7, timeoutMs: 10_000 }),
        BatchStep.of((b: readonly Message<{ id: string }>[]) => b.map((m) => m.payload), { name: "batch" }),
        new ForEach(),
        new WithAsync({ maxConcurrency: 3, process: new Process(slowly, new IntoTopic("out")) }),
      ),
    });
    const broker = new InMemoryBroker();
    const runner = new KafkaFlowRunner(
      compileFlow(concurrent, { ...config, streaming: { runtime: { partition_concurrency: 3 } } }),
      {
        consumer,
        producer: producerOn(broker),
        tickMs: 5,
      },
    );
    await runner.start();
    await Promise.all([0, 1, 2].map((p) => consumer.deliver(21, 0, p)));
    await runner.stop(); // flushes the CollectBatch buffers
    assert.equal(runner.failure, null);
    const out = broker.records("out").map((r) => decodeOutputRecord(r).payload as { id: string });
    for (const p of [0, 1, 2]) {
      const ids = out.map((o) => o.id).filter((id) => id.startsWith(`p${p}-`));
      const expected = Array.from({ length: 21 }, (_, i) => `p${p}-${i}${i % 10 === 0 ? "+" : ""}!`);
      assert.deepEqual(ids, expected, `partition ${p}: every message once, in order`);
    }
    assert.deepEqual(
      consumer.commits.filter((c) => c.offset === 21).map((c) => c.partition).sort(),
      [0, 1, 2],
    );
  });
});

describe("KafkaFlowRunner table writers (openTables)", () => {
  const tableFlow = new StreamFlow<{ id: string }>({
    name: "tables",
    source: new FromTopic("in", Item),
    process: new Process(
      RecordStep.of((m: Message<{ id: string }>) => m.payload, { name: "pass", output: Item }),
      new IntoTable({ name: "items", payload: Item }),
    ),
  });
  const tableConfig = { ...config, streaming: { sinks: { items: { table: "items" } } } };

  test("the factory's writers are opened at start, written to, and closed at stop", async () => {
    const consumer = new ScriptedConsumer();
    const rows: unknown[] = [];
    let opened = 0, closed = 0;
    const runner = new KafkaFlowRunner(compileFlow(tableFlow, tableConfig), {
      consumer,
      producer: producerOn(new InMemoryBroker({ clock: new VirtualClock(0) })),
      openTables: (plan) => {
        opened++;
        assert.equal(plan.name, "tables");
        return Promise.resolve(
          new Map([["items", {
            write: (items: readonly unknown[]) => void rows.push(...items),
            close: () => void closed++,
          }]]),
        );
      },
    });
    assert.equal(opened, 0, "nothing is opened before start");
    await runner.start();
    assert.equal(opened, 1);
    await consumer.deliver(3);
    await runner.stop();
    assert.deepEqual(rows, [{ id: "p0-0" }, { id: "p0-1" }, { id: "p0-2" }]);
    assert.equal(closed, 1);
    assert.deepEqual(consumer.commits.at(-1), { topic: "in", partition: 0, offset: 3 });
  });

  test("without writers or a factory the runner names the sink and the edge CLI", () => {
    assert.throws(
      () => new KafkaFlowRunner(compileFlow(tableFlow, tableConfig), { consumer: new ScriptedConsumer() }),
      /storage sink 'items' \(.*\) has no writer: run the flow with the edge CLI \(cli\.ts/,
    );
  });

  test("a factory that fails makes start fail with its error", async () => {
    const runner = new KafkaFlowRunner(compileFlow(tableFlow, tableConfig), {
      consumer: new ScriptedConsumer(),
      producer: producerOn(new InMemoryBroker({ clock: new VirtualClock(0) })),
      openTables: () => Promise.reject(new Error("table sink 'items': cannot reach PostgreSQL")),
    });
    await assert.rejects(runner.start(), /cannot reach PostgreSQL/);
  });
});
