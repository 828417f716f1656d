// Runtime semantics (reference §5) through the FlowSimulator: routing — Router, Fork and Broadcast, ROUTING
// errors, and typed rows (Explode, ExpandRoutes) routed by message type.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import {
  Broadcast,
  BroadcastRoute,
  CollectBatch,
  Drain,
  ExpandRoutes,
  Explode,
  ForEach,
  Fork,
  ForkRoute,
  FromTopic,
  IntoTopic,
  type Message,
  type MessageType,
  messageType,
  msg,
  payload,
  Process,
  RecordStep,
  Route,
  Router,
  StreamFlow,
} from "../mod.ts";
import { FlowSimulator } from "./mod.ts";
import { type Envelope, envelopes, flowOf, ids, int, type ItemP, items, sim, text } from "./_test_support.ts";

describe("routing", () => {
  const tag = (label: string) =>
    RecordStep.of((m: Message<ItemP>) => ({ ...m.payload, lane: label }), { name: `Tag_${label}` });

  test("a Router selector that throws produces a ROUTING envelope; other messages continue", async () => {
    const selector = (m: Message<ItemP>) => {
      if (m.payload.n === 2) throw new Error("selector exploded");
      return m.payload.n;
    };
    const router = Router.by(selector, [[1, new Process(tag("one"))]], {
      default: new Process(tag("other")),
    });
    const s = await sim(
      flowOf(new Process(router), { output: new IntoTopic("out"), errors: new IntoTopic("errs") }),
    );
    s.sendAll([{ id: 0, n: 1 }, { id: 1, n: 2 }, { id: 2, n: 3 }]);
    await s.run();
    assert.deepEqual(s.payloads<{ id: number; lane: string }>("out").map((p) => [p.id, p.lane]), [
      [0, "one"],
      [2, "other"],
    ]);
    const errs = envelopes(s, "errs");
    assert.deepEqual(errs.map((e) => [e.kind, e.reason, e.originalMessage.payload.id]), [[
      "routing",
      "selector exploded",
      1,
    ]]);
    assert.equal(s.committed(0), 3);
  });

  test("a Router path selector on a missing field is a ROUTING envelope (PathError)", async () => {
    const router = Router.by(msg.payload.field("segment"), { vip: new Process(tag("vip")) });
    const s = await sim(
      flowOf(new Process(router), { output: new IntoTopic("out"), errors: new IntoTopic("errs") }),
    );
    s.send({ id: 0, n: 0 });
    await s.run();
    const errs = envelopes(s, "errs");
    assert.equal(errs.length, 1);
    assert.equal(errs[0].kind, "routing");
    assert.match(errs[0].reason, /cannot resolve 'segment' in path 'msg\.payload\.segment'/);
  });

  test("a step failing inside a Router branch is a TASK (not ROUTING) error", async () => {
    const boom = RecordStep.of((): never => {
      throw new Error("boom");
    }, { name: "Boom" });
    const router = Router.when([new Route(payload.field("n").eq(1), new Process(boom))]);
    const s = await sim(
      flowOf(new Process(router), { output: new IntoTopic("out"), errors: new IntoTopic("errs") }),
    );
    s.sendAll([{ id: 0, n: 1 }, { id: 1, n: 0 }]);
    await s.run();
    assert.deepEqual(ids(s, "out"), [1]);
    assert.deepEqual(envelopes(s, "errs").map((e) => [e.kind, e.reason]), [["task", "boom"]]);
  });

  test("a Fork predicate that throws produces a ROUTING envelope (the original crashed)", async () => {
    const when = {
      matches: (m: Message<ItemP>) => {
        if (m.payload.n === 2) throw new Error("predicate exploded");
        return m.payload.n === 1;
      },
    };
    const fork = Fork.when([new ForkRoute(when, new Process(new IntoTopic("a")))], {
      default: new Process(new IntoTopic("b")),
    });
    const s = await sim(flowOf(new Process(fork), { errors: new IntoTopic("errs") }));
    s.sendAll([{ id: 0, n: 1 }, { id: 1, n: 2 }, { id: 2, n: 3 }]);
    await s.run();
    assert.deepEqual(ids(s, "a"), [0]);
    assert.deepEqual(ids(s, "b"), [2]);
    assert.deepEqual(envelopes(s, "errs").map((e) => [e.kind, e.reason, e.originalMessage.payload.id]), [[
      "routing",
      "predicate exploded",
      1,
    ]]);
    assert.equal(s.committed(0), 3);
  });

  test("a Fork selector that throws produces a ROUTING envelope", async () => {
    const fork = Fork.by(msg.payload.field("lane"), { x: new Process(new IntoTopic("a")) }, {
      default: new Process(new Drain()),
    });
    const s = await sim(flowOf(new Process(fork), { errors: new IntoTopic("errs") }));
    s.send({ id: 0, n: 0 });
    await s.run();
    assert.deepEqual(envelopes(s, "errs").map((e) => e.kind), ["routing"]);
    assert.equal(s.committed(0), 1);
  });

  test("Fork without a default discards unmatched messages and completes their offsets", async () => {
    const fork = Fork.by(msg.payload.field("n"), [[1, new Process(new IntoTopic("a"))]]);
    const s = await sim(flowOf(new Process(fork)));
    s.sendAll([{ id: 0, n: 1 }, { id: 1, n: 5 }, { id: 2, n: 1 }]);
    await s.run();
    assert.deepEqual(ids(s, "a"), [0, 2]);
    assert.equal(s.stats.discarded, 1);
    assert.equal(s.committed(0), 3);
  });

  test("a Router with no matching route and no default passes messages through unchanged", async () => {
    const router = Router.by(msg.payload.field("n"), [[1, new Process(tag("one"))]]);
    const s = await sim(flowOf(new Process(router), { output: new IntoTopic("out") }));
    s.sendAll([{ id: 0, n: 1 }, { id: 1, n: 7 }, { id: 2, n: 1 }]);
    await s.run();
    assert.deepEqual(s.payloads("out"), [{ id: 0, n: 1, lane: "one" }, { id: 1, n: 7 }, {
      id: 2,
      n: 1,
      lane: "one",
    }]);
  });

  test("keyed routes match numbers against string keys (object form) and first predicate wins", async () => {
    const router = Router.by(msg.payload.field("n"), {
      "1": new Process(tag("one")),
      "2": new Process(tag("two")),
    });
    const when = Router.when([
      new Route(payload.field("n").ge(2), new Process(tag("big"))),
      new Route(payload.field("n").ge(1), new Process(tag("small"))),
    ]);
    const s1 = await sim(flowOf(new Process(router), { output: new IntoTopic("out") }));
    const s2 = await sim(flowOf(new Process(when), { output: new IntoTopic("out") }));
    for (const s of [s1, s2]) {
      s.sendAll([{ id: 0, n: 1 }, { id: 1, n: 2 }, { id: 2, n: 0 }]);
      await s.run();
    }
    assert.deepEqual(s1.payloads<{ lane?: string }>("out").map((p) => p.lane ?? "-"), ["one", "two", "-"]);
    assert.deepEqual(s2.payloads<{ lane?: string }>("out").map((p) => p.lane ?? "-"), ["small", "big", "-"]);
  });

  test("nested Routers: the inner router runs inside the outer branch, then the flow continues", async () => {
    const inner = Router.by(msg.payload.field("id"), [[0, new Process(tag("inner-0"))]], {
      default: new Process(tag("inner-x")),
    });
    const outer = Router.when([new Route(payload.field("n").eq(1), new Process(tag("outer"), inner))]);
    const after = RecordStep.of((m: Message<ItemP & { lane?: string }>) => ({ ...m.payload, after: true }));
    const s = await sim(flowOf(new Process(outer, after), { output: new IntoTopic("out") }));
    s.sendAll([{ id: 0, n: 1 }, { id: 1, n: 1 }, { id: 2, n: 0 }]);
    await s.run();
    assert.deepEqual(s.payloads("out"), [
      { id: 0, n: 1, lane: "inner-0", after: true },
      { id: 1, n: 1, lane: "inner-x", after: true },
      { id: 2, n: 0, after: true },
    ]);
  });

  test("Broadcast: 3 messages to 2 routes give 3 + 3 outputs; the offset commits only after both routes", async () => {
    const analytics = new BroadcastRoute(new Process(tag("analytics")), new IntoTopic("events.analytics"));
    const fulfillment = new BroadcastRoute(
      new Process(new CollectBatch({ maxRecords: 10, timeoutMs: 1000 }), new ForEach(), tag("fulfillment")),
      new IntoTopic("orders.fulfillment"),
    );
    const s = await sim(flowOf(new Process(new Broadcast(analytics, fulfillment))));
    s.sendAll(items(3));
    await s.run();
    assert.deepEqual(ids(s, "events.analytics"), [0, 1, 2]);
    assert.deepEqual(ids(s, "orders.fulfillment"), []);
    assert.equal(s.committed(0), null, "the second route still holds every message");
    assert.equal(s.inFlight, 3);
    await s.advanceTime(1000);
    assert.deepEqual(ids(s, "orders.fulfillment"), [0, 1, 2]);
    assert.equal(s.committed(0), 3);
    assert.equal(s.inFlight, 0);
  });

  test("Broadcast routes get independent copies: a step in one route does not affect the other", async () => {
    const a = new BroadcastRoute(
      new Process(RecordStep.of((m: Message<ItemP>) => ({ ...m.payload, n: 100 }))),
      new IntoTopic("a"),
    );
    const b = new BroadcastRoute(
      new Process(RecordStep.of((m: Message<ItemP>) => m.payload)),
      new IntoTopic("b"),
    );
    const c = new BroadcastRoute(new Process(new Drain()));
    const s = await sim(flowOf(new Process(new Broadcast(a, b, c))));
    s.sendAll(items(2, (i) => i + 1));
    await s.run();
    assert.deepEqual(s.payloads("a"), [{ id: 0, n: 100 }, { id: 1, n: 100 }]);
    assert.deepEqual(s.payloads("b"), [{ id: 0, n: 1 }, { id: 1, n: 2 }]);
    assert.equal(s.committed(0), 2);
  });

  const StoreEvent = messageType(
    "store.event",
    v.object({ store_id: v.string(), region: v.string(), languages: v.array(v.string()) }),
  );
  const StoreRow = messageType("store.row", v.object({ store_id: v.string(), region: v.string() }));
  const LanguageRow = messageType("language.row", v.object({ store_id: v.string(), language: v.string() }));
  const RoutedRow = messageType("routed.row", v.object({ kind: v.string(), value: v.string() }));
  type Store = v.InferOutput<typeof StoreEvent.schema>;
  const expander = {
    name: "StoreEventExpander",
    outputs: [StoreRow, LanguageRow],
    expand: (e: Store) => ({
      [StoreRow.name]: [{ store_id: e.store_id, region: e.region }],
      [LanguageRow.name]: e.languages.map((language) => ({ store_id: e.store_id, language })),
    }),
  };
  const storeFlow = (process: Process) =>
    new StreamFlow({
      name: "stores",
      source: new FromTopic("stores", StoreEvent),
      process,
      output: new IntoTopic("events.analytics"),
    });
  const routed = (kind: string, field: "store_id" | "language") =>
    RecordStep.of((m: Message<Record<string, string>>) => ({ kind, value: m.payload[field] }), {
      output: RoutedRow,
      name: `Route_${kind}`,
    });

  test("Explode + Router.by(msg.meta.messageType) routes typed rows (string keys)", async () => {
    const flow = storeFlow(
      new Process(
        new Explode(expander),
        Router.by(msg.meta.messageType, {
          "store.row": new Process(routed("store", "store_id")),
          "language.row": new Process(routed("language", "language")),
        }),
      ),
    );
    const s = await FlowSimulator.create(flow);
    s.send({ store_id: "store-1", region: "North", languages: ["en", "es"] }, { key: "store-1" });
    s.send({ store_id: "store-2", region: "South", languages: [] });
    await s.run();
    const out = s.output<{ kind: string; value: string }>("events.analytics");
    assert.deepEqual(out.map((o) => [o.payload.kind, o.payload.value]), [
      ["store", "store-1"],
      ["language", "en"],
      ["language", "es"],
      ["store", "store-2"],
    ]);
    assert.deepEqual(new Set(out.map((o) => o.meta.messageType)), new Set(["routed.row"]));
    assert.equal(text(out[1].meta.key as Uint8Array), "store-1", "rows keep the event's meta");
    assert.equal(s.committed(0), 2);
  });

  test("Explode with 0 rows discards the event and completes its offset; an expander error is a TASK error", async () => {
    const exp = {
      outputs: [StoreRow],
      expand: (e: Store): Record<string, unknown[]> => {
        if (e.region === "boom") throw new Error("explode failed");
        return e.region === "none" ? {} : { "store.row": [{ store_id: e.store_id, region: e.region }] };
      },
    };
    const f = new StreamFlow({
      name: "stores",
      source: new FromTopic("stores", StoreEvent),
      process: new Process(
        new Explode(exp),
        Router.by(msg.meta.messageType, { "store.row": new Process(routed("store", "store_id")) }),
      ),
      output: new IntoTopic("events.analytics"),
      errors: new IntoTopic("errs"),
    });
    const s = await FlowSimulator.create(f);
    s.send({ store_id: "a", region: "none", languages: [] });
    s.send({ store_id: "b", region: "boom", languages: [] });
    s.send({ store_id: "c", region: "r", languages: [] });
    await s.run();
    assert.deepEqual(s.payloads("events.analytics"), [{ kind: "store", value: "c" }]);
    assert.deepEqual(s.payloads<Envelope>("errs").map((e) => [e.kind, e.reason]), [[
      "task",
      "explode failed",
    ]]);
    assert.equal(s.stats.discarded, 1);
    assert.equal(s.committed(0), 3);
  });

  test("Explode rows keep their row type: unrouted rows pass through with the row's type name", async () => {
    const flow = storeFlow(
      new Process(
        new Explode(expander),
        Router.by(msg.meta.messageType, { "store.row": new Process(routed("store", "store_id")) }),
      ),
    );
    const s = await FlowSimulator.create(flow);
    s.send({ store_id: "s", region: "r", languages: ["en"] });
    await s.run();
    const out = s.output("events.analytics");
    assert.deepEqual(out.map((o) => o.meta.messageType), ["routed.row", "language.row"]);
    assert.deepEqual(out[1].payload, { store_id: "s", language: "en" });
  });

  test("Router.by(msg.meta.messageType) with a Map keyed by MessageType matches typed rows", async () => {
    // Regression test (bug found by it, fixed in d2bf024). Old behaviour:
    // BranchSelector only matches a *selected MessageType* against route-key names; a selected type
    // NAME (string, e.g. from msg.meta.messageType) never matches routes keyed by MessageType objects, so
    // every row silently passes through unrouted. Expected: the typed rows reach their branches.
    const flow = storeFlow(
      new Process(
        new Explode(expander),
        Router.by(
          msg.meta.messageType,
          new Map<MessageType, Process>([
            [StoreRow, new Process(routed("store", "store_id"))],
            [LanguageRow, new Process(routed("language", "language"))],
          ]),
        ),
      ),
    );
    const s = await FlowSimulator.create(flow);
    s.send({ store_id: "store-1", region: "North", languages: ["en"] });
    await s.run();
    assert.deepEqual(s.payloads<{ kind: string }>("events.analytics").map((p) => p.kind), [
      "store",
      "language",
    ]);
  });

  test("ExpandRoutes: typed routes, default for undeclared types, 0 rows discards (offset completes)", async () => {
    const Other = messageType("other.row", v.object({ x: int() }));
    const exp = {
      outputs: [StoreRow, LanguageRow, Other],
      expand: (e: Store) =>
        new Map<unknown, unknown[]>([
          [StoreRow, e.region === "none" ? [] : [{ store_id: e.store_id, region: e.region }]],
          [LanguageRow, e.languages.map((language) => ({ store_id: e.store_id, language }))],
          ["other.row", e.region === "other" ? [{ x: 1 }] : []],
        ]) as never,
    };
    const node = new ExpandRoutes({
      expander: exp,
      routes: new Map<MessageType, Process>([
        [StoreRow, new Process(new IntoTopic("stores.out"))],
        [LanguageRow, new Process(new IntoTopic("languages.out"))],
      ]),
      default: new Process(new IntoTopic("other.out")),
    });
    const s = await FlowSimulator.create(
      new StreamFlow({ name: "x", source: new FromTopic("stores", StoreEvent), process: new Process(node) }),
    );
    s.send({ store_id: "a", region: "r", languages: ["en", "fr"] });
    s.send({ store_id: "b", region: "none", languages: [] });
    s.send({ store_id: "c", region: "other", languages: [] });
    await s.run();
    assert.deepEqual(s.payloads("stores.out"), [{ store_id: "a", region: "r" }, {
      store_id: "c",
      region: "other",
    }]);
    assert.deepEqual(s.output("stores.out").map((o) => o.meta.messageType), ["store.row", "store.row"]);
    assert.deepEqual(s.payloads<{ language: string }>("languages.out").map((p) => p.language), ["en", "fr"]);
    assert.deepEqual(s.payloads("other.out"), [{ x: 1 }]);
    assert.equal(s.output("other.out")[0].meta.messageType, "other.row");
    assert.equal(s.stats.discarded, 1, "the event with 0 rows is discarded");
    assert.equal(s.committed(0), 3);
  });

  test("ExpandRoutes without a default ignores undeclared types; an expander error is a TASK error", async () => {
    const exp = {
      expand: (e: Store) => {
        if (e.region === "boom") throw new Error("expander exploded");
        return { "store.row": [{ store_id: e.store_id, region: e.region }], "undeclared.row": [{ y: 1 }] };
      },
    };
    const node = new ExpandRoutes({
      expander: exp,
      routes: { "store.row": new Process(new IntoTopic("stores.out")) },
    });
    const s = await FlowSimulator.create(
      new StreamFlow({
        name: "x",
        source: new FromTopic("stores", StoreEvent),
        process: new Process(node),
        errors: new IntoTopic("errs"),
      }),
    );
    s.send({ store_id: "a", region: "r", languages: [] });
    s.send({ store_id: "b", region: "boom", languages: [] });
    await s.run();
    assert.deepEqual(s.payloads("stores.out"), [{ store_id: "a", region: "r" }]);
    assert.deepEqual(s.payloads<Envelope>("errs").map((e) => [e.kind, e.reason]), [[
      "task",
      "expander exploded",
    ]]);
    assert.equal(s.committed(0), 2);
  });
});
