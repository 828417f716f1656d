import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { CompilationError, compileFlow } from "./_compiler.ts";
import {
  BatchStep,
  Broadcast,
  BroadcastRoute,
  CollectBatch,
  ContextFactory,
  DecodeErrors,
  Drain,
  errorEnvelopeOf,
  ExpandRoutes,
  ExpandStep,
  Explode,
  ForEach,
  Fork,
  ForkRoute,
  FromMultiTypeTopic,
  FromTopic,
  IntoTable,
  IntoTopic,
  Process,
  RecordStep,
  Route,
  Router,
  StreamFlow,
  With,
  WithAsync,
} from "./_nodes.ts";
import { msg, payload } from "./_expr.ts";
import { messageType } from "./_type.ts";
import { kafkaConfig, type Order, OrderPlaced } from "./_test_support.ts";
import type { Message } from "./_message.ts";

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

describe("config bindings", () => {
  class Prefix extends RecordStep<{ s: string }, { s: string }> {
    static configSchema = v.object({ prefix: v.string(), suffix: v.optional(v.string(), "") });
    constructor(readonly cfg: { prefix: string; suffix: string }) {
      super();
    }
    execute(m: Message<{ s: string }>) {
      return { s: this.cfg.prefix + m.payload.s + this.cfg.suffix };
    }
  }
  class NoArgs extends RecordStep<Order, Order> {
    execute(m: Message<Order>) {
      return m.payload;
    }
  }
  class NeedsArg extends RecordStep<Order, Order> {
    constructor(x: number) {
      super();
      if (x === undefined) throw new TypeError("missing 1 required argument: 'x'");
    }
    execute(m: Message<Order>) {
      return m.payload;
    }
  }

  test("a bare step class is instantiated", () => {
    const plan = compileFlow(
      new StreamFlow({ name: "f", source: src(), process: new Process(NoArgs, new Drain()) }),
      kafkaConfig(),
    );
    const n = plan.process.nodes[0];
    assert.ok(n.op === "step" && n.step instanceof NoArgs);
  });

  test("a class that needs arguments is reported", () => {
    const errs = errorsOf(() =>
      compileFlow(
        new StreamFlow({ name: "f", source: src(), process: new Process(NeedsArg as never, new Drain()) }),
        kafkaConfig(),
      )
    );
    assert.match(errs[0], /process\[0\]: step NeedsArg: cannot construct it without arguments/);
  });

  test("fromConfig resolves the section; overrides beat YAML", () => {
    const plan = compileFlow(
      new StreamFlow({
        name: "f",
        source: src(),
        process: new Process(Prefix.fromConfig("tasks.prefix", { prefix: ">" }), new Drain()),
      }),
      kafkaConfig({ tasks: { prefix: { prefix: "yaml", suffix: "!" } } }),
    );
    const n = plan.process.nodes[0];
    assert.ok(n.op === "step");
    assert.deepEqual((n.step as Prefix).cfg, { prefix: ">", suffix: "!" });
  });

  test("a missing binding section and a missing required field are reported with the path", () => {
    const e1 = errorsOf(() =>
      compileFlow(
        new StreamFlow({
          name: "f",
          source: src(),
          process: new Process(Prefix.fromConfig("tasks.missing"), new Drain()),
        }),
        kafkaConfig(),
      )
    );
    assert.ok(e1[0].includes("tasks.missing"), e1[0]);
    const e2 = errorsOf(() =>
      compileFlow(
        new StreamFlow({
          name: "f",
          source: src(),
          process: new Process(Prefix.fromConfig("tasks.p"), new Drain()),
        }),
        kafkaConfig({ tasks: { p: { suffix: "x" } } }),
      )
    );
    assert.ok(e2[0].includes("requires config field 'prefix'"), e2[0]);
  });

  test("bindings are resolved inside Router and Fork branches and With deps", () => {
    const made: number[] = [];
    class Factory extends ContextFactory<{ n: number }> {
      static configSchema = v.object({ n: v.pipe(v.number(), v.integer()) });
      constructor(cfg: { n: number }) {
        super(() => {
          made.push(cfg.n);
          return { n: cfg.n };
        });
      }
    }
    const plan = compileFlow(
      new StreamFlow({
        name: "f",
        source: src(),
        process: new Process(
          Router.when([new Route(payload.field("amount").gt(0), new Process(Prefix.fromConfig("t.p")))]),
          Fork.by(msg.payload.field("segment"), {
            vip: new Process(
              new With({
                process: new Process(id(), new IntoTopic("orders.a")),
                deps: { f: Factory.fromConfig("t.f") },
              }),
            ),
          }, { default: new Process(new Drain()) }),
        ),
      }),
      kafkaConfig({ t: { p: { prefix: "a" }, f: { n: 7 } } }),
    );
    const router = plan.process.nodes[0];
    assert.ok(router.op === "router");
    const inner = router.predicates[0][1].nodes[0];
    assert.ok(inner.op === "step" && inner.step instanceof Prefix);
    const fork = plan.process.nodes[1];
    assert.ok(fork.op === "fork");
    const w = fork.keyed[0][1].nodes[0];
    assert.ok(w.op === "with");
    assert.ok(w.deps.factories.f instanceof Factory, "the resolved ContextFactory moves into factories");
  });
});

describe("multi-type sources", () => {
  const A = messageType("a.A", v.object({ a: v.string() }));
  const B = messageType("b.B", v.object({ b: v.string() }));
  test("builds the dispatch table", () => {
    const plan = compileFlow(
      new StreamFlow({
        name: "f",
        source: new FromMultiTypeTopic("orders.raw", [A, B, errorEnvelopeOf(A), DecodeErrors], {
          shape: "batch",
        }),
        process: new Process(new Drain()),
      }),
      kafkaConfig(),
    );
    assert.equal(plan.source.kind, "multi");
    assert.equal(plan.source.dispatch?.plain.get("a.A"), A);
    assert.equal(plan.source.dispatch?.plain.get("b.B"), B);
    assert.equal(plan.source.dispatch?.error.get("a.A"), A);
    assert.equal(plan.source.dispatch?.wire, true);
    assert.equal(plan.source.shape, "batch");
  });
  test("duplicate message types are rejected", () => {
    const A2 = messageType("a.A", v.object({ x: v.string() }));
    const errs = errorsOf(() =>
      compileFlow(
        new StreamFlow({
          name: "f",
          source: new FromMultiTypeTopic("orders.raw", [A, A2]),
          process: new Process(new Drain()),
        }),
        kafkaConfig(),
      )
    );
    assert.deepEqual(errs, [
      "source.payloads[1]: duplicate message type 'a.A' in FromMultiTypeTopic; each type may appear once",
    ]);
  });
  test("a single payload type is rejected at construction", () => {
    assert.throws(() => new FromMultiTypeTopic("x", [A]), /at least two payload types/);
  });
});

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
  test("Router construction errors", () => {
    assert.throws(() => new Router({}), /Router requires a selector or at least one predicate route/);
    assert.throws(() => Router.by(payload.field("x"), {}), /keyed route/);
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
    assert.throws(() => new Broadcast(), /Broadcast requires at least one route/);
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
