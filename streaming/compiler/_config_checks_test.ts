import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { CompilationError, compileFlow } from "./mod.ts";
import { parseConfig } from "../config/mod.ts";
import { FromTopic, IntoTopic, Process, RecordStep, StreamFlow } from "../dsl/mod.ts";
import { type Order, OrderPlaced } from "../_test_support.ts";
import type { Message } from "../_message.ts";

const flow = () =>
  new StreamFlow({
    name: "orders",
    source: new FromTopic("orders.raw", OrderPlaced),
    process: new Process(RecordStep.of((m: Message<Order>) => m.payload, { name: "Id" })),
    output: new IntoTopic("orders.out"),
  });

const KAFKA = `kafka:
  consumer: {brokers: [a:9092], group_id: g, topics: [orders.raw]}
  producer: {brokers: [a:9092]}
`;

function errorsOf(yaml: string): string[] {
  try {
    compileFlow(flow(), parseConfig(yaml, { file: "c.yaml" }));
  } catch (e) {
    if (e instanceof CompilationError) return [...e.errors];
    throw e;
  }
  assert.fail("expected a CompilationError");
}

describe("configuration checked against the flow", () => {
  test("a misspelt kafka.producers entry is an error, not a silent fallback to the logical topic", () => {
    const errors = errorsOf(`${KAFKA}  producers:\n    orders.outt: {brokers: [a:9092], topic: orders.v1}\n`);
    assert.deepEqual(errors, [
      "c.yaml:5: kafka.producers.orders.outt: no node of this flow writes to 'orders.outt'; " +
      "did you mean 'orders.out'? (the flow writes to 'orders.out')",
    ]);
  });

  test("a misspelt kafka.consumers entry is an error, not a silent fallback to the default consumer", () => {
    const errors = errorsOf(
      `${KAFKA}  consumers:\n    orders.rwa: {brokers: [a:9092], group_id: g2, topics: [x]}\n`,
    );
    assert.deepEqual(errors, [
      "c.yaml:5: kafka.consumers.orders.rwa: no node of this flow reads from 'orders.rwa'; " +
      "did you mean 'orders.raw'? (the flow reads from 'orders.raw')",
    ]);
  });

  test("an unused entry far from any used name lists the names the flow uses", () => {
    const errors = errorsOf(`${KAFKA}  producers:\n    audit: {brokers: [a:9092]}\n`);
    assert.deepEqual(errors, [
      "c.yaml:5: kafka.producers.audit: no node of this flow writes to 'audit'; the flow writes to " +
      "'orders.out'; rename the entry to one of them or remove it",
    ]);
  });

  test("extra keys are checked at compile time, by role", () => {
    const errors = errorsOf(`kafka:
  consumer:
    brokers: [a:9092]
    group_id: g
    topics: [orders.raw]
    extra: {session.timeout.msec: 1, acks: all, sasl.mechanisms: PLAIN}
  producer:
    brokers: [a:9092]
    extra: {linger.ms: 5, fetch.min.bytes: 1}
`);
    assert.deepEqual(
      errors,
      [
        "c.yaml:6: kafka.producer.extra.fetch.min.bytes: 'fetch.min.bytes' only applies to a consumer; " +
        "remove it from this producer's extra",
        "c.yaml:6: kafka.producer.extra.linger.ms: 'linger.ms' is not supported by the Kafka transport: " +
        "kafkajs sends each call as its own request; the engine already sends one request per processed batch; remove it",
        "c.yaml:6: kafka.consumer.extra.acks: 'acks' only applies to a producer; remove it from this consumer's extra",
        "c.yaml:6: kafka.consumer.extra.sasl.mechanisms: 'sasl.mechanisms' is managed by the typed settings " +
        "(like 'sasl.mechanism'); set the typed field instead",
        "c.yaml:6: kafka.consumer.extra.session.timeout.msec: unknown consumer option 'session.timeout.msec'; " +
        "did you mean 'session.timeout.ms'?",
      ].map((e) => e.replace(/^c\.yaml:6: kafka\.producer/, "c.yaml:9: kafka.producer")),
    );
  });

  test("a typo under streaming is an error (it used to run on the in-memory broker)", () => {
    assert.deepEqual(errorsOf(`${KAFKA}streaming:\n  runtim: {transport: kafka}\n`), [
      "c.yaml:5: streaming.runtim: unknown key 'runtim'; did you mean 'runtime'?",
    ]);
    assert.deepEqual(errorsOf(`${KAFKA}streaming:\n  fetch: {a: 1}\n`), [
      "c.yaml:5: streaming.fetch: unknown key 'fetch'; streaming holds runtime, sinks, bindings and the " +
      "sections read by this flow's fromConfig bindings; move free-form sections under streaming.bindings",
    ]);
    assert.deepEqual(errorsOf(`${KAFKA}streming:\n  runtime: {transport: kafka}\n`), [
      "c.yaml:4: streming: unknown section 'streming'; did you mean 'streaming'?",
    ]);
    assert.deepEqual(errorsOf(`${KAFKA}streaming: [runtime]\n`), [
      "c.yaml:4: streaming: expected a map, got a list; write it as 'key: value' lines (keys: runtime, sinks, bindings)",
    ]);
  });

  test("free-form sections stay allowed: streaming.bindings, other top-level sections", () => {
    const plan = compileFlow(
      flow(),
      parseConfig(`${KAFKA}streaming:\n  bindings: {x: {a: 1}}\n  runtime: {}\napp: {name: x}\n`),
    );
    assert.equal(plan.output?.topic, "orders.out");
  });
});
