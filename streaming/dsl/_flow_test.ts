// Node contracts (reference §7.4 and §7.7): construction, validation and stored fields of every node.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { definitionProblems } from "./_problems.ts";
import * as v from "valibot";
import {
  Backend,
  DecodeErrors,
  Drain,
  errorEnvelopeOf,
  ErrorRoute,
  FromMultiTypeTopic,
  FromTopic,
  IntoTable,
  IntoTopic,
  isIntoSink,
  PartitionPolicy,
  Process,
  RecordStep,
  StreamFlow,
} from "./mod.ts";
import { ERROR_KINDS, ErrorKind, type Message } from "../_message.ts";
import { messageType } from "../_type.ts";
import { type Order, OrderPlaced } from "../_test_support.ts";

const src = () => new FromTopic("orders.raw", OrderPlaced);
const id = (name = "Id") => RecordStep.of((m: Message<Order>) => m.payload, { name });
const flow = (errors: unknown) =>
  new StreamFlow({
    name: "f",
    source: src(),
    process: new Process(new Drain()),
    errors: errors as never,
  });

/** The node's constructor recorded a problem matching `re` (compileFlow reports it with the node's path). */
function problemWith(make: () => unknown, re: RegExp): void {
  const problems = definitionProblems(make());
  assert.ok(
    problems.some((p) => re.test(p)),
    `expected a definition problem matching ${re}, got ${JSON.stringify(problems)}`,
  );
}

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
    problemWith(() => new Process(), /at least one node/);
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
