// Node contracts (reference §7.4 and §7.7): construction, validation and stored fields of every node.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { definitionProblems } from "./_problems.ts";
import * as v from "valibot";
import {
  Broadcast,
  BroadcastRoute,
  Drain,
  ExpandRoutes,
  Explode,
  ForEach,
  Fork,
  ForkRoute,
  IntoTopic,
  Process,
  RecordStep,
  Route,
  Router,
} from "./mod.ts";
import type { Message } from "../_message.ts";
import { messageType } from "../_type.ts";
import { msg, payload } from "../expr/mod.ts";
import type { Order } from "../_test_support.ts";

const id = (name = "Id") => RecordStep.of((m: Message<Order>) => m.payload, { name });

/** The node's constructor recorded a problem matching `re` (compileFlow reports it with the node's path). */
function problemWith(make: () => unknown, re: RegExp): void {
  const problems = definitionProblems(make());
  assert.ok(
    problems.some((p) => re.test(p)),
    `expected a definition problem matching ${re}, got ${JSON.stringify(problems)}`,
  );
}

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
    problemWith(() => Router.by(msg.payload.field("x"), {}), /keyed route/);
    problemWith(() => Router.by(msg.payload.field("x"), new Map()), /keyed route/);
    problemWith(() => Router.when([]), /selector or at least one predicate/);
    problemWith(() => new Router({}), /selector or at least one predicate/);
    problemWith(() => new Router({ selector: msg.payload.field("x") }), /keyed route/);
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
    problemWith(() => Fork.by(msg.payload.field("lane"), {}), /at least one keyed route/);
    problemWith(() => Fork.when([]), /at least one predicate route/);
  });

  test("Broadcast needs a route; routes and outputs are stored", () => {
    problemWith(() => new Broadcast(), /at least one route/);
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
    problemWith(() => new ExpandRoutes({ expander }), /at least one route or a default/);
    problemWith(() => new ExpandRoutes({ expander, routes: {} }), /at least one route or a default/);
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
