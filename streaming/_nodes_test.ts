// Node contracts (reference §7.4 and §7.7): construction, validation and stored fields of every node.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import {
  Backend,
  BatchExpandStep,
  BatchStep,
  Broadcast,
  BroadcastRoute,
  CollectBatch,
  ConfigBinding,
  ContextFactory,
  DecodeErrors,
  Drain,
  errorEnvelopeOf,
  ErrorRoute,
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
  isIntoSink,
  isStep,
  isStepClass,
  PartitionPolicy,
  Process,
  RecordStep,
  Route,
  Router,
  StreamFlow,
  With,
  WithAsync,
} from "./_nodes.ts";
import {
  DECODE_ERROR_MESSAGE_TYPE,
  DEFAULT_MESSAGE_TYPE,
  DomainError,
  ERROR_KINDS,
  ErrorKind,
  errorMessageType,
  type Message,
  message,
  messageMeta,
  RuleViolation,
} from "./_message.ts";
import { isMessageType, messageType } from "./_type.ts";
import { msg, payload } from "./_expr.ts";
import { type Order, OrderPlaced } from "./_test_support.ts";

const src = () => new FromTopic("orders.raw", OrderPlaced);
const id = (name = "Id") => RecordStep.of((m: Message<Order>) => m.payload, { name });
const flow = (errors: unknown) =>
  new StreamFlow({
    name: "f",
    source: src(),
    process: new Process(new Drain()),
    errors: errors as never,
  });

function throwsWith(fn: () => unknown, type: new (...a: never[]) => Error, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(
      e instanceof type,
      `expected ${type.name}, got ${(e as Error)?.constructor?.name}: ${String(e)}`,
    );
    assert.match((e as Error).message, pattern);
    return true;
  });
}

describe("Process", () => {
  test("keeps node order, iterates and has a length", () => {
    const a = id("A"), b = id("B"), d = new Drain();
    const p = new Process(a, b, d);
    assert.equal(p.length, 3);
    assert.deepEqual([...p], [a, b, d]);
    assert.deepEqual(p.nodes, [a, b, d]);
    assert.equal(p.kind, "process");
    const seen: unknown[] = [];
    for (const n of p) seen.push(n);
    assert.deepEqual(seen, [a, b, d]);
  });

  test("rejects an empty process", () => {
    throwsWith(() => new Process(), Error, /at least one node/);
  });

  test("its node list is frozen (a copy of the arguments)", () => {
    const nodes = [id("A")];
    const p = new Process(...nodes);
    nodes.push(id("B"));
    assert.equal(p.length, 1);
    assert.ok(Object.isFrozen(p.nodes));
  });
});

describe("StreamFlow", () => {
  test("stores its fields; output defaults to null and errors to an empty map", () => {
    const source = src(), process = new Process(id()), output = new IntoTopic("orders.validated");
    const f = new StreamFlow({ name: "orders", source, process, output });
    assert.equal(f.kind, "stream_flow");
    assert.equal(f.name, "orders");
    assert.equal(f.source, source);
    assert.equal(f.process, process);
    assert.equal(f.output, output);
    assert.equal(f.errors.size, 0);
    const g = new StreamFlow({ name: "g", source, process: new Process(new Drain()) });
    assert.equal(g.output, null);
  });

  test("an empty or blank name is rejected", () => {
    throwsWith(
      () => new StreamFlow({ name: "", source: src(), process: new Process(new Drain()) }),
      Error,
      /name must not be empty/,
    );
    throwsWith(
      () => new StreamFlow({ name: "  ", source: src(), process: new Process(new Drain()) }),
      Error,
      /name must not be empty/,
    );
  });

  test("a single IntoTopic covers all four error kinds", () => {
    const t = new IntoTopic("orders.errors");
    const f = flow(t);
    assert.deepEqual([...f.errors.keys()], ["wire", "routing", "task", "business"]);
    for (const k of ERROR_KINDS) assert.equal(f.errors.get(k), t);
  });

  test("an ErrorRoute covers only its kinds", () => {
    const t = new IntoTopic("orders.errors");
    const f = flow(new ErrorRoute([ErrorKind.WIRE, ErrorKind.ROUTING], t));
    assert.deepEqual([...f.errors.keys()], ["wire", "routing"]);
    assert.equal(f.errors.get("wire"), t);
    assert.equal(f.errors.has("task"), false);
    const g = flow([
      new ErrorRoute(["wire", "routing"], t),
      new ErrorRoute(["task"], new IntoTopic("orders.task")),
    ]);
    assert.deepEqual([...g.errors.keys()].sort(), ["routing", "task", "wire"]);
  });

  test("an empty sequence of routes is an error", () => {
    throwsWith(() => flow([]), Error, /empty sequence/);
  });

  test("an ErrorRoute with no kinds is an error", () => {
    throwsWith(() => flow([new ErrorRoute([], new IntoTopic("e"))]), Error, /kinds must not be empty/);
  });

  test("the same kind declared twice with different topics is an error", () => {
    throwsWith(
      () =>
        flow([
          new ErrorRoute(["task"], new IntoTopic("a")),
          new ErrorRoute(["task", "business"], new IntoTopic("b")),
        ]),
      Error,
      /error kind task is declared more than once/,
    );
  });

  test("the same kind declared twice with the same topic object is allowed", () => {
    const t = new IntoTopic("a");
    const f = flow([new ErrorRoute(["task"], t), new ErrorRoute(["task", "business"], t)]);
    assert.equal(f.errors.get("task"), t);
    assert.equal(f.errors.get("business"), t);
  });

  test("text instead of a declaration is a TypeError", () => {
    throwsWith(() => flow("orders.errors"), TypeError, /not text/);
  });

  test("non-ErrorRoute entries in a sequence are a TypeError", () => {
    throwsWith(() => flow([new IntoTopic("a")]), TypeError, /ErrorRoute/);
  });

  test("the map form (object or Map) assigns topics per kind", () => {
    const a = new IntoTopic("a"), b = new IntoTopic("b");
    const f = flow({ task: a, business: b });
    assert.equal(f.errors.get("task"), a);
    assert.equal(f.errors.get("business"), b);
    assert.equal(f.errors.size, 2);
    const g = flow(new Map([["routing", a]]));
    assert.deepEqual([...g.errors.entries()], [["routing", a]]);
  });

  test("an unknown kind is an error listing the valid kinds", () => {
    throwsWith(
      () => flow({ fatal: new IntoTopic("a") }),
      Error,
      /unknown error kind 'fatal'; expected one of wire, routing, task, business/,
    );
    throwsWith(
      () => flow(new ErrorRoute(["fatal" as ErrorKind], new IntoTopic("a"))),
      Error,
      /unknown error kind 'fatal'/,
    );
  });

  test("a map value that is not an IntoTopic is a TypeError", () => {
    throwsWith(() => flow({ task: "orders.errors" }), TypeError, /errors\['task'\] must be an IntoTopic/);
  });

  test("null / undefined errors declare no route", () => {
    assert.equal(flow(null).errors.size, 0);
    assert.equal(flow(undefined).errors.size, 0);
  });
});

describe("boundaries", () => {
  test("FromTopic holds its payload type, shape (record by default) and logical ref", () => {
    const s = src();
    assert.equal(s.kind, "from_topic");
    assert.equal(s.payload, OrderPlaced);
    assert.equal(s.shape, "record");
    assert.equal(s.logicalRef, "orders.raw");
    assert.equal(new FromTopic("orders.raw", OrderPlaced, { shape: "batch" }).shape, "batch");
    throwsWith(() => new FromTopic(" ", OrderPlaced).logicalRef, Error, /non-empty/);
  });

  test("IntoTopic stores payload, shape, partitioning and dlq", () => {
    const plain = new IntoTopic("orders.out");
    assert.equal(plain.kind, "into_topic");
    assert.equal(plain.payload, undefined);
    assert.equal(plain.shape, "record");
    assert.equal(plain.partitioning, undefined);
    assert.equal(plain.dlq, undefined);
    const policy = new PartitionPolicy((m: Message<Order>) => m.payload.order_id, "entity_stable", true);
    const t = new IntoTopic("orders.out", {
      payload: OrderPlaced,
      shape: "batch",
      partitioning: policy,
      dlq: "orders.dlq",
    });
    assert.equal(t.payload, OrderPlaced);
    assert.equal(t.shape, "batch");
    assert.equal(t.partitioning, policy);
    assert.equal(t.dlq, "orders.dlq");
  });

  test("PartitionPolicy defaults: best_effort, no repartition", () => {
    const strategy = { partitionKey: () => "k" };
    const p = new PartitionPolicy(strategy);
    assert.equal(p.kind, "partition_policy");
    assert.equal(p.strategy, strategy);
    assert.equal(p.guarantee, "best_effort");
    assert.equal(p.allowRepartition, false);
  });

  test("FromMultiTypeTopic needs at least two payloads; three are fine; shape is kept", () => {
    const A = messageType("a", v.object({ a: v.string() }));
    const B = messageType("b", v.object({ b: v.string() }));
    throwsWith(() => new FromMultiTypeTopic("events", [A]), Error, /at least two payload types/);
    throwsWith(() => new FromMultiTypeTopic("events", []), Error, /at least two/);
    const m = new FromMultiTypeTopic("events", [A, B, errorEnvelopeOf(A)], { shape: "batch" });
    assert.equal(m.kind, "from_multi_type_topic");
    assert.equal(m.payloads.length, 3);
    assert.equal(m.shape, "batch");
    assert.equal(m.logicalRef, "events");
    assert.equal(new FromMultiTypeTopic("events", [A, DecodeErrors]).shape, "record");
    assert.deepEqual(errorEnvelopeOf(A), { kind: "error_envelope_of", original: A });
  });

  test("IntoTable defaults and the IntoSink protocol", () => {
    const t = new IntoTable({ name: "orders_sink" });
    assert.equal(t.kind, "sink");
    assert.equal(t.table, "");
    assert.equal(t.backend, Backend.SQLALCHEMY);
    const u = new IntoTable({ name: "s", table: "orders", backend: "postgres", payload: OrderPlaced });
    assert.deepEqual([u.table, u.backend, u.payload], ["orders", "postgres", OrderPlaced]);
    assert.equal(isIntoSink(t), true);
    assert.equal(isIntoSink({ kind: "sink", name: "custom", createWriter: () => ({ write() {} }) }), true);
    assert.equal(isIntoSink({ kind: "sink" }), false);
    assert.equal(isIntoSink(new IntoTopic("x")), false);
  });
});

describe("CollectBatch", () => {
  test("stores its options with defaults", () => {
    const c = new CollectBatch({ maxRecords: 100, timeoutMs: 500 });
    assert.equal(c.kind, "collect_batch");
    assert.deepEqual([c.maxRecords, c.timeoutMs, c.window, c.eventTime], [100, 500, "collect", false]);
    assert.equal(
      new CollectBatch({ maxRecords: 1, timeoutMs: 0.5, window: "tumbling", eventTime: true }).window,
      "tumbling",
    );
  });

  test("maxRecords must be a positive integer", () => {
    for (const maxRecords of [0, -1, 1.5, Number.NaN]) {
      throwsWith(
        () => new CollectBatch({ maxRecords, timeoutMs: 1 }),
        Error,
        /max_records must be greater than zero/,
      );
    }
  });

  test("timeoutMs must be positive", () => {
    for (const timeoutMs of [0, -5, Number.NaN]) {
      throwsWith(
        () => new CollectBatch({ maxRecords: 1, timeoutMs }),
        Error,
        /timeout_ms must be greater than zero/,
      );
    }
  });

  test("eventTime needs a window other than collect", () => {
    throwsWith(
      () => new CollectBatch({ maxRecords: 1, timeoutMs: 1, eventTime: true }),
      Error,
      /event_time=True requires/,
    );
  });

  test("is immutable", () => {
    const c = new CollectBatch({ maxRecords: 2, timeoutMs: 10 });
    assert.ok(Object.isFrozen(c));
    assert.throws(() => {
      (c as { maxRecords: number }).maxRecords = 5;
    }, TypeError);
    assert.equal(c.maxRecords, 2);
  });
});

describe("With / WithAsync", () => {
  const inner = () => new Process(id(), new IntoTopic("orders.out"));

  test("dependency classification: factories, sync contexts, async contexts, plain values, bindings", () => {
    const factory = new ContextFactory(() => ({ id: 1 }));
    const sync = { [Symbol.dispose]() {} };
    const both = { [Symbol.dispose]() {}, async [Symbol.asyncDispose]() {} };
    const asyncOnly = { async [Symbol.asyncDispose]() {} };
    class Cfg {
      static configSchema = v.object({});
      constructor(readonly c: unknown) {}
    }
    const binding = new ConfigBinding(Cfg, "deps.cfg");
    const w = new WithAsync({
      process: inner(),
      deps: { factory, sync, both, asyncOnly, retries: 3, name: "x", nothing: null, binding },
    });
    assert.deepEqual(Object.keys(w.classified.contextFactories), ["factory"]);
    assert.deepEqual(Object.keys(w.classified.syncContexts), ["sync", "both"]);
    assert.deepEqual(Object.keys(w.classified.asyncContexts), ["asyncOnly"]);
    assert.deepEqual(w.classified.plainDeps, { retries: 3, name: "x", nothing: null });
    assert.deepEqual(Object.keys(w.classified.bindings), ["binding"]);
    assert.equal(w.classified.contextFactories.factory, factory);
  });

  test("With stores scope (worker by default), process and a copy of deps", () => {
    const deps = { retries: 3 };
    const p = inner();
    const w = new With({ process: p, deps });
    assert.equal(w.kind, "with");
    assert.equal(w.scope, "worker");
    assert.equal(w.process, p);
    deps.retries = 4;
    assert.deepEqual(w.deps, { retries: 3 });
    assert.equal(new With({ process: p, scope: "batch" }).scope, "batch");
    assert.deepEqual(new With({ process: p }).deps, {});
  });

  test("With rejects an async-only disposable (use WithAsync), accepts one that is also sync-disposable", () => {
    throwsWith(
      () => new With({ process: inner(), deps: { client: { async [Symbol.asyncDispose]() {} } } }),
      TypeError,
      /With only accepts sync context managers.*client.*Use WithAsync/,
    );
    const both = { [Symbol.dispose]() {}, async [Symbol.asyncDispose]() {} };
    assert.equal(new With({ process: inner(), deps: { both } }).classified.syncContexts.both, both);
  });

  test("WithAsync accepts async and sync disposables", () => {
    const w = new WithAsync({
      process: inner(),
      deps: { a: { async [Symbol.asyncDispose]() {} }, s: { [Symbol.dispose]() {} } },
    });
    assert.equal(w.kind, "with_async");
    assert.ok(w instanceof With);
    assert.deepEqual(Object.keys(w.classified.asyncContexts), ["a"]);
    assert.deepEqual(Object.keys(w.classified.syncContexts), ["s"]);
  });

  test("WithAsync maxConcurrency: default 10, stored, 0 / negative / fractional rejected", () => {
    assert.equal(new WithAsync({ process: inner() }).maxConcurrency, 10);
    assert.equal(new WithAsync({ process: inner(), maxConcurrency: 3 }).maxConcurrency, 3);
    for (const maxConcurrency of [0, -1, 2.5]) {
      throwsWith(
        () => new WithAsync({ process: inner(), maxConcurrency }),
        Error,
        /max_concurrency must be greater than zero/,
      );
    }
  });

  test("WithAsync taskTimeoutMs: default null, 500 accepted, 0 / -1 rejected", () => {
    assert.equal(new WithAsync({ process: inner() }).taskTimeoutMs, null);
    assert.equal(new WithAsync({ process: inner(), taskTimeoutMs: 500 }).taskTimeoutMs, 500);
    for (const taskTimeoutMs of [0, -1]) {
      throwsWith(
        () => new WithAsync({ process: inner(), taskTimeoutMs }),
        Error,
        /task_timeout_ms must be greater than zero/,
      );
    }
  });

  test("ContextFactory.create() returns a fresh instance per call; name defaults to the factory's name", () => {
    let n = 0;
    function makeClient(): { id: number } {
      return { id: ++n };
    }
    const f = new ContextFactory(makeClient);
    const a = f.create() as { id: number }, b = f.create() as { id: number };
    assert.notEqual(a, b);
    assert.deepEqual([a.id, b.id], [1, 2]);
    assert.equal(f.kind, "context_factory");
    assert.equal(f.name, "makeClient");
    assert.equal(new ContextFactory(() => 1, "clients").name, "clients");
  });

  test("ContextFactory.fromConfig builds a binding; an empty path is rejected", () => {
    class Pool extends ContextFactory<number> {
      static configSchema = v.object({ size: v.number() });
      constructor(readonly cfg: { size: number }) {
        super(() => cfg.size);
      }
    }
    const b = Pool.fromConfig("deps.pool", { size: 2 });
    assert.ok(b instanceof ConfigBinding);
    assert.equal(b.target, Pool);
    assert.equal(b.configPath, "deps.pool");
    assert.deepEqual(b.overrides, { size: 2 });
    throwsWith(() => Pool.fromConfig(" "), Error, /config_path must not be empty/);
  });
});

describe("routing nodes", () => {
  test("Router.by stores the selector and keyed routes (object, Map, pairs) and the default", () => {
    const a = new Process(id("A")), b = new Process(id("B")), d = new Process(id("D"));
    const sel = msg.payload.field("segment");
    const r = Router.by(sel, { vip: a, standard: b }, { default: d });
    assert.equal(r.kind, "router");
    assert.equal(r.selector, sel);
    assert.deepEqual(r.routes, [["vip", a], ["standard", b]]);
    assert.equal(r.default, d);
    assert.deepEqual(r.predicateRoutes, []);
    assert.deepEqual(Router.by(sel, new Map<unknown, Process>([[1, a]])).routes, [[1, a]]);
    assert.deepEqual(Router.by(sel, [[true, b]]).routes, [[true, b]]);
    assert.equal(Router.by(sel, { vip: a }).default, null);
  });

  test("Router.when stores ordered predicate routes", () => {
    const r1 = new Route(payload.field("amount").ge(100), new Process(id("Big")));
    const r2 = new Route((m: Message<Order>) => m.payload.amount < 0, new Process(id("Neg")));
    const r = Router.when([r1, r2]);
    assert.deepEqual(r.predicateRoutes, [r1, r2]);
    assert.equal(r.selector, null);
    assert.equal(r1.kind, "route");
  });

  test("empty router declarations are rejected", () => {
    throwsWith(() => Router.by(msg.payload.field("x"), {}), Error, /keyed route/);
    throwsWith(() => Router.by(msg.payload.field("x"), new Map()), Error, /keyed route/);
    throwsWith(() => Router.when([]), Error, /selector or at least one predicate/);
    throwsWith(() => new Router({}), Error, /selector or at least one predicate/);
    throwsWith(() => new Router({ selector: msg.payload.field("x") }), Error, /keyed route/);
  });

  test("Fork.by / Fork.when: kinds, routes, default; empty declarations rejected", () => {
    const a = new Process(new IntoTopic("orders.a")), d = new Process(new Drain());
    const byKey = Fork.by(msg.payload.field("lane"), { vip: a }, { default: d });
    assert.equal(byKey.kind, "fork");
    assert.equal(byKey.forkKind, "keyed");
    assert.deepEqual(byKey.routes, [["vip", a]]);
    assert.equal(byKey.default, d);
    const fr = new ForkRoute(payload.field("amount").ge(100), a);
    const byPred = Fork.when([fr]);
    assert.equal(byPred.forkKind, "predicate");
    assert.deepEqual(byPred.predicateRoutes, [fr]);
    assert.equal(byPred.default, null);
    assert.equal(fr.kind, "fork_route");
    throwsWith(() => Fork.by(msg.payload.field("lane"), {}), Error, /at least one keyed route/);
    throwsWith(() => Fork.when([]), Error, /at least one predicate route/);
  });

  test("Broadcast needs a route; routes and outputs are stored", () => {
    throwsWith(() => new Broadcast(), Error, /at least one route/);
    const r1 = new BroadcastRoute(new Process(id()), new IntoTopic("events.analytics"));
    const r2 = new BroadcastRoute(new Process(new Drain()));
    const b = new Broadcast(r1, r2);
    assert.equal(b.kind, "broadcast");
    assert.deepEqual(b.routes, [r1, r2]);
    assert.equal(r2.output, null);
    assert.equal(r1.kind, "broadcast_route");
  });

  test("ExpandRoutes needs a route or a default; default-only is allowed; routes and expander are stored", () => {
    const Row = messageType("row", v.object({ t: v.string() }));
    const expander = {
      outputs: [Row],
      expand: (e: { tags: string[] }) => ({ row: e.tags.map((t) => ({ t })) }),
    };
    throwsWith(() => new ExpandRoutes({ expander }), Error, /at least one route or a default/);
    throwsWith(() => new ExpandRoutes({ expander, routes: {} }), Error, /at least one route or a default/);
    const d = new Process(new Drain());
    const onlyDefault = new ExpandRoutes({ expander, default: d });
    assert.equal(onlyDefault.default, d);
    assert.deepEqual(onlyDefault.routes, []);
    const p = new Process(new IntoTopic("rows"));
    const byName = new ExpandRoutes({ expander, routes: { row: p } });
    assert.equal(byName.kind, "expand_routes");
    assert.equal(byName.expander, expander);
    assert.deepEqual(byName.routes, [["row", p]]);
    assert.equal(byName.default, null);
    assert.deepEqual(byName.expander.outputs, [Row]);
    const byType = new ExpandRoutes({ expander, routes: new Map([[Row, p]]) });
    assert.deepEqual(byType.routes, [[Row, p]]);
  });

  test("Explode stores its expander", () => {
    const expander = { expand: () => ({}) };
    const e = new Explode(expander);
    assert.equal(e.kind, "explode");
    assert.equal(e.expander, expander);
  });

  test("ForEach and Drain are markers", () => {
    assert.equal(new ForEach().kind, "for_each");
    assert.equal(new Drain().kind, "drain");
  });
});

describe("steps", () => {
  test("stepName() is the class name, or the explicit name", () => {
    class EnrichOrder extends RecordStep<Order, Order> {
      execute(m: Message<Order>): Order {
        return m.payload;
      }
    }
    class Named extends RecordStep<Order, Order> {
      override readonly name = "custom-name";
      execute(m: Message<Order>): Order {
        return m.payload;
      }
    }
    assert.equal(new EnrichOrder().stepName(), "EnrichOrder");
    assert.equal(new Named().stepName(), "custom-name");
  });

  test("the .of factories name steps by option, else function name, else the kind", () => {
    function normalize(m: Message<Order>): Order {
      return m.payload;
    }
    assert.equal(RecordStep.of(normalize).stepName(), "normalize");
    assert.equal(RecordStep.of(normalize, { name: "Norm" }).stepName(), "Norm");
    assert.equal(RecordStep.of((m: Message<Order>) => m.payload, {}).stepName(), "RecordStep");
    const anon = [
      BatchStep.of((ms: readonly Message<Order>[]) => ms.map((m) => m.payload)),
      ExpandStep.of((m: Message<Order>) => [m.payload]),
      BatchExpandStep.of((ms: readonly Message<Order>[]) => ms.map((m) => [m.payload])),
    ];
    assert.deepEqual(anon.map((s) => s.stepName()), ["BatchStep", "ExpandStep", "BatchExpandStep"]);
  });

  test("RecordStep.of / BatchStep.of / ExpandStep.of / BatchExpandStep.of: kinds, output type and execution", async () => {
    const r = RecordStep.of((m: Message<{ n: number }>) => ({ n: m.payload.n + 1 }), { output: OrderPlaced });
    const b = BatchStep.of((ms: readonly Message<{ n: number }>[]) =>
      ms.map((m) => ({ n: m.payload.n * 2 }))
    );
    const e = ExpandStep.of((m: Message<{ n: number }>) => [m.payload, m.payload]);
    const be = BatchExpandStep.of((ms: readonly Message<{ n: number }>[]) =>
      Promise.resolve(ms.map((m) => [m.payload]))
    );
    assert.deepEqual([r.stepKind, b.stepKind, e.stepKind, be.stepKind], [
      "record",
      "batch",
      "expand",
      "batch_expand",
    ]);
    assert.equal(r.output, OrderPlaced);
    assert.equal(b.output, undefined);
    const m = message({ n: 1 }, { messageId: "m" });
    assert.deepEqual(r.execute(m, {}), { n: 2 });
    assert.deepEqual(b.execute([m, m], {}), [{ n: 2 }, { n: 2 }]);
    assert.deepEqual([...(e.execute(m, {}) as Iterable<unknown>)], [{ n: 1 }, { n: 1 }]);
    assert.deepEqual(await be.execute([m], {}), [[{ n: 1 }]]);
  });

  test("deps are passed as the second argument", () => {
    const s = RecordStep.of((m: Message<{ n: number }>, d: { k: number }) => ({ n: m.payload.n + d.k }));
    assert.deepEqual(s.execute(message({ n: 1 }, { messageId: "m" }), { k: 10 }), { n: 11 });
  });

  test("isStep / isStepClass", () => {
    class S extends RecordStep {
      execute(m: Message): unknown {
        return m.payload;
      }
    }
    assert.equal(isStep(new S()), true);
    assert.equal(isStep(S), false);
    assert.equal(isStepClass(S), true);
    assert.equal(isStepClass(new S()), false);
    assert.equal(isStep({ stepKind: "record", execute() {} }), false);
    assert.equal(isStepClass(class {}), false);
  });

  test("Step.fromConfig builds a ConfigBinding; an empty path is rejected", () => {
    class Prefix extends RecordStep<{ s: string }, { s: string }> {
      static configSchema = v.object({ prefix: v.string() });
      constructor(readonly cfg: { prefix: string }) {
        super();
      }
      execute(m: Message<{ s: string }>): { s: string } {
        return { s: this.cfg.prefix + m.payload.s };
      }
    }
    const b = Prefix.fromConfig("streaming.bindings.prefix", { prefix: ">" });
    assert.equal(b.kind, "config_binding");
    assert.equal(b.target, Prefix);
    assert.equal(b.configPath, "streaming.bindings.prefix");
    assert.deepEqual(b.overrides, { prefix: ">" });
    assert.deepEqual(Prefix.fromConfig("a.b").overrides, {});
    throwsWith(() => Prefix.fromConfig(""), Error, /config_path must not be empty/);
  });
});

describe("message model", () => {
  test("messageType validates its name and version and is frozen", () => {
    const T = messageType("order.created", v.object({ order_id: v.string() }));
    assert.equal(T.kind, "loom.message_type");
    assert.equal(T.name, "order.created");
    assert.equal(T.version, 1);
    assert.ok(Object.isFrozen(T));
    assert.equal(messageType("x", v.string(), { version: 0 }).version, 0);
    assert.equal(messageType("x", v.string(), { version: 3 }).version, 3);
    throwsWith(() => messageType("", v.string()), TypeError, /non-empty string/);
    throwsWith(() => messageType("   ", v.string()), TypeError, /non-empty string/);
    throwsWith(() => messageType(42 as unknown as string, v.string()), TypeError, /non-empty string/);
    throwsWith(
      () => messageType("x", v.string(), { version: -1 }),
      TypeError,
      /'x': version must be a non-negative integer, got -1/,
    );
    throwsWith(
      () => messageType("x", v.string(), { version: 1.5 }),
      TypeError,
      /version must be a non-negative integer/,
    );
    assert.equal(isMessageType(T), true);
    assert.equal(isMessageType({ name: "x" }), false);
    assert.equal(isMessageType(null), false);
  });

  test("messageMeta fills every missing field with null and headers with {}", () => {
    assert.deepEqual(messageMeta({ messageId: "m-1" }), {
      messageId: "m-1",
      correlationId: null,
      traceId: null,
      parentTraceId: null,
      causationId: null,
      producedAtMs: null,
      messageType: null,
      messageVersion: null,
      topic: null,
      partition: null,
      offset: null,
      key: null,
      headers: {},
    });
    const meta = messageMeta({
      messageId: "orders:0:7",
      topic: "orders",
      partition: 0,
      offset: 0,
      key: "k",
      producedAtMs: 0,
    });
    assert.deepEqual([meta.topic, meta.partition, meta.offset, meta.key, meta.producedAtMs], [
      "orders",
      0,
      0,
      "k",
      0,
    ]);
  });

  test("message() builds payload + meta", () => {
    const m = message({ order_id: "o-1" }, { messageId: "test-0", correlationId: "c" });
    assert.deepEqual(m.payload, { order_id: "o-1" });
    assert.equal(m.meta.messageId, "test-0");
    assert.equal(m.meta.correlationId, "c");
    assert.equal(m.meta.traceId, null);
  });

  test("RuleViolation is a DomainError whose reason is 'field: message'", () => {
    const e = new RuleViolation("amount", "must be positive");
    assert.ok(e instanceof DomainError);
    assert.ok(e instanceof Error);
    assert.equal(e.message, "amount: must be positive");
    assert.equal(e.field, "amount");
    assert.equal(e.name, "RuleViolation");
    assert.equal(new DomainError("nope").name, "DomainError");
  });

  test("error kinds and wire type names", () => {
    assert.deepEqual(ERROR_KINDS, ["wire", "routing", "task", "business"]);
    assert.deepEqual(Object.values(ErrorKind), ["wire", "routing", "task", "business"]);
    assert.equal(errorMessageType("task"), "loom.streaming.error.task");
    assert.equal(errorMessageType(ErrorKind.WIRE), DECODE_ERROR_MESSAGE_TYPE);
    assert.equal(DEFAULT_MESSAGE_TYPE, "loom.streaming.message");
  });
});
