import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { CompilationError, compileFlow } from "./mod.ts";
import {
  CollectBatch,
  ContextFactory,
  Drain,
  ForEach,
  Fork,
  ForkRoute,
  FromTopic,
  IntoTable,
  IntoTopic,
  Process,
  RecordStep,
  StreamFlow,
  With,
  WithAsync,
} from "../dsl/mod.ts";
import { kafkaConfig, type Order, OrderPlaced } from "../_test_support.ts";
import type { Message } from "../_message.ts";

const src = () => new FromTopic("orders.raw", OrderPlaced);
const id = (name = "Id") => RecordStep.of((m: Message<Order>) => m.payload, { name });

function errorsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof CompilationError) return [...e.errors];
    throw e;
  }
  assert.fail("expected a CompilationError");
}

describe("windows, ForEach, With", () => {
  test("COLLECT compiles; TUMBLING and SESSION fail with the strategy name, nested too (QUIRK fixed)", () => {
    compileFlow(
      new StreamFlow({
        name: "f",
        source: src(),
        process: new Process(new CollectBatch({ maxRecords: 2, timeoutMs: 5 }), new Drain()),
      }),
      kafkaConfig(),
    );
    for (const w of ["tumbling", "session"] as const) {
      const errs = errorsOf(() =>
        compileFlow(
          new StreamFlow({
            name: "f",
            source: src(),
            process: new Process(
              Fork.when([
                new ForkRoute(
                  () => true,
                  new Process(new CollectBatch({ maxRecords: 2, timeoutMs: 5, window: w }), new Drain()),
                ),
              ]),
            ),
          }),
          kafkaConfig(),
        )
      );
      assert.ok(errs[0].includes(`CollectBatch.window=${w}`), errs[0]);
      assert.ok(errs[0].startsWith("process[0].predicate_routes[0].process[0]"), errs[0]);
    }
  });
  test("ForEach flattens batches (QUIRK fixed) and rejects record input", () => {
    const plan = compileFlow(
      new StreamFlow({
        name: "f",
        source: src(),
        process: new Process(new CollectBatch({ maxRecords: 2, timeoutMs: 5 }), new ForEach(), id()),
        output: new IntoTopic("orders.validated"),
      }),
      kafkaConfig(),
    );
    assert.deepEqual(plan.process.nodes.map((n) => n.op), ["collect", "for_each", "step"]);
    const errs = errorsOf(() =>
      compileFlow(
        new StreamFlow({ name: "f", source: src(), process: new Process(new ForEach(), new Drain()) }),
        kafkaConfig(),
      )
    );
    assert.match(errs[0], /expected batch but got record before ForEach/);
  });
  test("nested CollectBatch is rejected", () => {
    const errs = errorsOf(() =>
      compileFlow(
        new StreamFlow({
          name: "f",
          source: src(),
          process: new Process(
            new CollectBatch({ maxRecords: 2, timeoutMs: 5 }),
            new CollectBatch({ maxRecords: 2, timeoutMs: 5 }),
            new Drain(),
          ),
        }),
        kafkaConfig(),
      )
    );
    assert.match(errs[0], /process\[1\]: shape mismatch: expected record but got batch before CollectBatch/);
  });
  test("With scope=batch rejects direct disposables; accepts ContextFactory", () => {
    const cm = { [Symbol.dispose]() {} };
    const errs = errorsOf(() =>
      compileFlow(
        new StreamFlow({
          name: "f",
          source: src(),
          process: new Process(
            new With({
              scope: "batch",
              process: new Process(id(), new IntoTopic("orders.priced")),
              deps: { client: cm },
            }),
          ),
        }),
        kafkaConfig(),
      )
    );
    assert.ok(errs[0].includes("Use ContextFactory for batch-scoped resources"), errs[0]);
    compileFlow(
      new StreamFlow({
        name: "f",
        source: src(),
        process: new Process(
          new With({
            scope: "batch",
            process: new Process(id(), new IntoTopic("orders.priced")),
            deps: { client: new ContextFactory(() => cm) },
          }),
        ),
      }),
      kafkaConfig(),
    );
  });
  test("WithAsync only supports record steps and a final IntoTopic", () => {
    const errs = errorsOf(() =>
      compileFlow(
        new StreamFlow({
          name: "f",
          source: src(),
          process: new Process(
            new WithAsync({
              process: new Process(
                new CollectBatch({ maxRecords: 1, timeoutMs: 1 }),
                new IntoTopic("orders.scored"),
              ),
            }),
          ),
        }),
        kafkaConfig(),
      )
    );
    assert.deepEqual(errs, [
      "process[0].process[0]: WithAsync(process=...) only supports RecordStep nodes and an optional terminal IntoTopic; found CollectBatch.",
    ]);
  });
  test("inner With sink path uses the wrapper path", () => {
    const plan = compileFlow(
      new StreamFlow({
        name: "f",
        source: src(),
        process: new Process(
          new CollectBatch({ maxRecords: 2, timeoutMs: 5 }),
          new WithAsync({ process: new Process(id(), new IntoTopic("orders.scored")) }),
        ),
      }),
      kafkaConfig(),
    );
    assert.deepEqual([...plan.topicSinks.keys()], ["process[1].process[1]"]);
  });
  test("storage sinks need a name and a config section", () => {
    const errs = errorsOf(() =>
      compileFlow(
        new StreamFlow({
          name: "f",
          source: src(),
          process: new Process(new IntoTable({ name: "orders_sink" })),
        }),
        kafkaConfig(),
      )
    );
    assert.deepEqual(errs, [
      "process[0]: storage sink 'orders_sink': no config section found at streaming.sinks.orders_sink; add it to the YAML (e.g. streaming.sinks.orders_sink: {table: ...})",
    ]);
    const plan = compileFlow(
      new StreamFlow({
        name: "f",
        source: src(),
        process: new Process(new IntoTable({ name: "orders_sink" })),
      }),
      kafkaConfig({ streaming: { sinks: { orders_sink: { table: "orders", database: "wh" } } } }),
    );
    assert.equal([...plan.storageSinks.values()][0].section?.table, "orders");
  });
  test("flow.output after a terminal node is never reached", () => {
    const errs = errorsOf(() =>
      compileFlow(
        new StreamFlow({
          name: "f",
          source: src(),
          process: new Process(new IntoTopic("orders.a")),
          output: new IntoTopic("orders.b"),
        }),
        kafkaConfig(),
      )
    );
    assert.deepEqual(errs, [
      "output: flow.output is never reached: the process ends with IntoTopic, which is terminal",
    ]);
  });
});
