import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { CompilationError, compileFlow } from "./mod.ts";
import {
  ContextFactory,
  Drain,
  Fork,
  FromTopic,
  IntoTopic,
  Process,
  RecordStep,
  Route,
  Router,
  StreamFlow,
  With,
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
