// Node contracts (reference §7.4 and §7.7): construction, validation and stored fields of every node.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { BatchExpandStep, BatchStep, ExpandStep, isStep, isStepClass, RecordStep } from "./mod.ts";
import { type Message, message } from "../_message.ts";
import { type Order, OrderPlaced } from "../_test_support.ts";

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
