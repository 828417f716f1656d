import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { CompilationError, compileFlow } from "./mod.ts";
import {
  Drain,
  ExpandStep,
  FromTopic,
  IntoTopic,
  Process,
  RecordStep,
  Router,
  StreamFlow,
} from "../dsl/mod.ts";
import { msg } from "../expr/mod.ts";
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

describe("compileFlow basics", () => {
  test("a minimal flow compiles to a single source plan", () => {
    const plan = compileFlow(
      new StreamFlow({
        name: "f",
        source: src(),
        process: new Process(id()),
        output: new IntoTopic("orders.validated"),
      }),
      kafkaConfig(),
    );
    assert.equal(plan.source.kind, "single");
    assert.equal(plan.source.payloadType, OrderPlaced);
    assert.equal(plan.source.shape, "record");
    assert.deepEqual(plan.source.topics, ["orders.raw"]);
    assert.equal(plan.output?.topic, "orders.validated");
    assert.equal(plan.process.nodes[0].op, "step");
    assert.ok(Object.isFrozen(plan));
  });

  test("a missing kafka section is reported", () => {
    const errs = errorsOf(() =>
      compileFlow(new StreamFlow({ name: "f", source: src(), process: new Process(new Drain()) }), {})
    );
    assert.ok(
      errs.some((e) => e.includes("kafka") && e.includes("Config section not found")),
      errs.join("\n"),
    );
  });

  test("a batch-shaped source before a record step is a shape mismatch naming the path", () => {
    const errs = errorsOf(() =>
      compileFlow(
        new StreamFlow({
          name: "f",
          source: new FromTopic("orders.raw", OrderPlaced, { shape: "batch" }),
          process: new Process(id("S"), new Drain()),
        }),
        kafkaConfig(),
      )
    );
    assert.deepEqual(errs, [
      "process[0]: shape mismatch: expected record but got batch before S (add a ForEach before it to flatten batches, or use a BatchStep)",
    ]);
  });

  test("no terminal anywhere is reported", () => {
    const errs = errorsOf(() =>
      compileFlow(new StreamFlow({ name: "f", source: src(), process: new Process(id()) }), kafkaConfig())
    );
    assert.deepEqual(errs, [
      "output: no terminal output found: add IntoTopic, a storage sink node, or flow.output",
    ]);
  });

  test("Drain makes the last node's output none", () => {
    const plan = compileFlow(
      new StreamFlow({ name: "f", source: src(), process: new Process(new Drain()) }),
      kafkaConfig(),
    );
    assert.equal(plan.process.outputShape, "none");
  });

  test("errors are gathered from every phase with node paths", () => {
    const errs = errorsOf(() =>
      compileFlow(
        new StreamFlow({
          name: "f",
          source: src(),
          process: new Process(
            new IntoTopic("nope"),
            Router.by(msg.payload.field("segment"), { a: new Process(ExpandStep.of(() => [])) }),
          ),
        }),
        { kafka: { consumer: { brokers: ["b:1"], group_id: "g", topics: [] } } },
      )
    );
    assert.ok(errs.some((e) => e.startsWith("process[0]: IntoTopic must be the last node")), errs.join("\n"));
    assert.ok(
      errs.some((e) => e.includes("Kafka producer config route not found for logical reference 'nope'")),
    );
    assert.equal(errs.length, 2, errs.join("\n"));
  });

  test("a missing producer route is a CompilationError (not a raw KeyError as in the original)", () => {
    const errs = errorsOf(() =>
      compileFlow(
        new StreamFlow({ name: "f", source: src(), process: new Process(new IntoTopic("o")) }),
        { kafka: { consumer: { brokers: ["b:1"], group_id: "g", topics: ["orders.raw"] } } },
      )
    );
    assert.equal(errs.length, 1);
    assert.match(errs[0], /^process\[0\]: Kafka producer config route not found for logical reference 'o'/);
  });

  test("physical topic comes from the producer's topic, else the logical name", () => {
    const cfg = kafkaConfig();
    (cfg.kafka as Record<string, Record<string, unknown>>).producers["orders.validated"] = {
      brokers: ["b:1"],
      topic: "orders.validated.v1",
    };
    const plan = compileFlow(
      new StreamFlow({
        name: "f",
        source: src(),
        process: new Process(id()),
        output: new IntoTopic("orders.validated"),
      }),
      cfg,
    );
    assert.equal(plan.output?.topic, "orders.validated.v1");
    assert.equal(plan.output?.logical, "orders.validated");
  });

  test("empty consumer topics fall back to the logical source name", () => {
    const cfg = kafkaConfig();
    (cfg.kafka as Record<string, Record<string, unknown>>).consumer.topics = [];
    const plan = compileFlow(
      new StreamFlow({ name: "f", source: src(), process: new Process(new Drain()) }),
      cfg,
    );
    assert.deepEqual(plan.source.topics, ["orders.raw"]);
  });
});
