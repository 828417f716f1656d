import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { CompilationError, compileFlow } from "./mod.ts";
import {
  BatchStep,
  Broadcast,
  BroadcastRoute,
  CollectBatch,
  Drain,
  ExpandRoutes,
  ExpandStep,
  Explode,
  Fork,
  ForkRoute,
  FromTopic,
  IntoTopic,
  Process,
  RecordStep,
  Route,
  Router,
  StreamFlow,
} from "../dsl/mod.ts";
import { msg, payload } from "../expr/mod.ts";
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

describe("router rules", () => {
  test("branches producing different shapes are rejected", () => {
    const errs = errorsOf(() =>
      compileFlow(
        new StreamFlow({
          name: "f",
          source: src(),
          process: new Process(
            Router.by(msg.payload.field("segment"), { a: new Process(id()), b: new Process(new Drain()) }, {
              default: new Process(id()),
            }),
          ),
          output: new IntoTopic("orders.routed"),
        }),
        kafkaConfig(),
      )
    );
    assert.match(
      errs[0],
      /router branches produce different shapes: record \(route "a", default\); none \(route "b"\)/,
    );
  });
  test("a Router whose branches all end in terminals (with a terminal default) is terminal", () => {
    const plan = compileFlow(
      new StreamFlow({
        name: "f",
        source: src(),
        process: new Process(
          Router.when(
            [
              new Route(payload.field("segment").eq("a"), new Process(new IntoTopic("orders.a"))),
              new Route(payload.field("segment").eq("b"), new Process(new IntoTopic("orders.b"))),
            ],
            { default: new Process(new IntoTopic("orders.default")) },
          ),
        ),
      }),
      kafkaConfig(),
    );
    assert.equal(plan.process.outputShape, "none");
    // QUIRK fixed: the default branch no longer collides with predicate branch 0
    assert.deepEqual(
      [...plan.topicSinks.entries()].map(([p, s]) => [p, s.topic]),
      [
        ["process[0].predicate_routes[0].process[0]", "orders.a"],
        ["process[0].predicate_routes[1].process[0]", "orders.b"],
        ["process[0].default.process[0]", "orders.default"],
      ],
    );
  });
  test("ExpandStep, CollectBatch, Fork and Broadcast are not allowed in Router branches", () => {
    const errs = errorsOf(() =>
      compileFlow(
        new StreamFlow({
          name: "f",
          source: src(),
          process: new Process(
            Router.by(msg.payload.field("segment"), {
              a: new Process(ExpandStep.of(() => [])),
              b: new Process(new CollectBatch({ maxRecords: 2, timeoutMs: 10 })),
              c: new Process(Fork.when([new ForkRoute(() => true, new Process(new Drain()))])),
            }),
          ),
          output: new IntoTopic("orders.routed"),
        }),
        kafkaConfig(),
      )
    );
    assert.ok(
      errs.some((e) => e.includes("routes[0].process[0]") && e.includes("not supported in Router branches")),
    );
    assert.ok(
      errs.some((e) => e.includes("routes[1].process[0]") && e.includes("CollectBatch is not supported")),
    );
    assert.ok(
      errs.some((e) => e.includes("routes[2].process[0]") && e.includes("Fork is not router-branch safe")),
    );
  });
  test("Router construction errors are compilation errors with the node path", () => {
    const compile = (node: Router) =>
      errorsOf(() =>
        compileFlow(
          new StreamFlow({ name: "f", source: src(), process: new Process(node, new Drain()) }),
          kafkaConfig(),
        )
      );
    assert.match(
      compile(new Router({})).join("\n"),
      /^process\[0\]: Router requires a selector or at least one predicate route/,
    );
    assert.match(
      compile(Router.by(payload.field("x"), {})).join("\n"),
      /^process\[0\]: Router\.by requires at least one keyed route/,
    );
  });
});

describe("fork, broadcast, expand rules", () => {
  test("fork branches must end in a terminal, the default included (QUIRK fixed)", () => {
    const errs = errorsOf(() =>
      compileFlow(
        new StreamFlow({
          name: "f",
          source: src(),
          process: new Process(
            Fork.by(msg.payload.field("segment"), { vip: new Process(new IntoTopic("orders.fork.vip")) }, {
              default: new Process(id()),
            }),
          ),
        }),
        kafkaConfig(),
      )
    );
    assert.deepEqual(errs, [
      "process[0]: fork branch default: no terminal output found; end the branch with IntoTopic, Drain, a storage sink, With or WithAsync",
    ]);
  });
  test("Fork.when with a default compiles to three terminal topics", () => {
    const plan = compileFlow(
      new StreamFlow({
        name: "f",
        source: src(),
        process: new Process(
          Fork.when([
            new ForkRoute(payload.field("segment").eq("a"), new Process(new IntoTopic("orders.a"))),
            new ForkRoute(payload.field("segment").eq("b"), new Process(new IntoTopic("orders.b"))),
          ], { default: new Process(new IntoTopic("orders.default")) }),
        ),
      }),
      kafkaConfig(),
    );
    assert.deepEqual([...plan.topicSinks.values()].map((s) => s.topic).sort(), [
      "orders.a",
      "orders.b",
      "orders.default",
    ]);
  });
  test("fork and broadcast cannot be combined with flow.output", () => {
    const fork = errorsOf(() =>
      compileFlow(
        new StreamFlow({
          name: "f",
          source: src(),
          process: new Process(Fork.when([new ForkRoute(() => true, new Process(new Drain()))])),
          output: new IntoTopic("orders.validated"),
        }),
        kafkaConfig(),
      )
    );
    assert.ok(
      fork.includes("output: flow.output cannot be combined with Fork: branches must be terminal"),
      fork.join(),
    );
    const bc = errorsOf(() =>
      compileFlow(
        new StreamFlow({
          name: "f",
          source: src(),
          process: new Process(
            new Broadcast(new BroadcastRoute(new Process(id()), new IntoTopic("events.analytics"))),
          ),
          output: new IntoTopic("orders.validated"),
        }),
        kafkaConfig(),
      )
    );
    assert.ok(bc.some((e) => e.includes("Broadcast")), bc.join());
  });
  test("a two-route broadcast compiles with both terminal topics; a discard-only route is allowed", () => {
    const plan = compileFlow(
      new StreamFlow({
        name: "f",
        source: src(),
        process: new Process(
          new Broadcast(
            new BroadcastRoute(new Process(id()), new IntoTopic("events.analytics")),
            new BroadcastRoute(new Process(id()), new IntoTopic("orders.fulfillment")),
            new BroadcastRoute(new Process(id())),
          ),
        ),
      }),
      kafkaConfig(),
    );
    assert.deepEqual([...plan.topicSinks.values()].map((s) => s.topic), [
      "events.analytics",
      "orders.fulfillment",
    ]);
    assert.equal(plan.output, null);
    const empty = errorsOf(() =>
      compileFlow(
        new StreamFlow({ name: "f", source: src(), process: new Process(new Broadcast()) }),
        kafkaConfig(),
      )
    );
    assert.match(empty.join("\n"), /^process\[0\]: Broadcast requires at least one route/);
  });
  test("broadcast routes are shape-checked (QUIRK fixed)", () => {
    const errs = errorsOf(() =>
      compileFlow(
        new StreamFlow({
          name: "f",
          source: src(),
          process: new Process(
            new Broadcast(
              new BroadcastRoute(
                new Process(BatchStep.of((b) => b.map((m) => m.payload))),
                new IntoTopic("events.analytics"),
              ),
            ),
          ),
        }),
        kafkaConfig(),
      )
    );
    assert.match(
      errs[0],
      /^process\[0\]\.routes\[0\]\.process\[0\]: shape mismatch: expected batch but got record/,
    );
  });
  test("Explode must be followed by a Router; ExpandRoutes must be last and its routes terminal", () => {
    const errs = errorsOf(() =>
      compileFlow(
        new StreamFlow({
          name: "f",
          source: src(),
          process: new Process(
            new Explode({ expand: () => ({}) }),
            id(),
            new ExpandRoutes({ expander: { expand: () => ({}) }, routes: { x: new Process(id()) } }),
            new Drain(),
          ),
        }),
        kafkaConfig(),
      )
    );
    assert.ok(
      errs.includes("process[0]: Explode must be immediately followed by a Router; got Id"),
      errs.join("\n"),
    );
    assert.ok(
      errs.some((e) => e.startsWith("process[2]: ExpandRoutes must be the last node")),
      errs.join("\n"),
    );
    assert.ok(
      errs.some((e) => e.startsWith("process[2].routes[0]: expand route 'x': no terminal output found")),
    );
  });
});
