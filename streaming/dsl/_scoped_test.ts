// Node contracts (reference §7.4 and §7.7): construction, validation and stored fields of every node.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { definitionProblems } from "./_problems.ts";
import * as v from "valibot";
import { ConfigBinding, ContextFactory, IntoTopic, Process, RecordStep, With, WithAsync } from "./mod.ts";
import type { Message } from "../_message.ts";
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
    problemWith(
      () => new With({ process: inner(), deps: { client: { async [Symbol.asyncDispose]() {} } } }),
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
      problemWith(
        () => new WithAsync({ process: inner(), maxConcurrency }),
        /WithAsync\.maxConcurrency must be an integer greater than zero, got /,
      );
    }
  });

  test("WithAsync taskTimeoutMs: default null, 500 accepted, 0 / -1 rejected", () => {
    assert.equal(new WithAsync({ process: inner() }).taskTimeoutMs, null);
    assert.equal(new WithAsync({ process: inner(), taskTimeoutMs: 500 }).taskTimeoutMs, 500);
    for (const taskTimeoutMs of [0, -1]) {
      problemWith(
        () => new WithAsync({ process: inner(), taskTimeoutMs }),
        /WithAsync\.taskTimeoutMs must be greater than zero when given, got /,
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
