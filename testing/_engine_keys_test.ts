// Runtime semantics (reference §4.5) through the FlowSimulator: record keys and PartitionPolicy, and the
// input order kept in outputs across branches and partitions.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  Drain,
  Fork,
  IntoTopic,
  type Message,
  msg,
  PartitionPolicy,
  Process,
  RecordStep,
  Router,
} from "../mod.ts";
import type { FlowSimulator } from "./mod.ts";
import { flowOf, ids, type ItemP, items, sim, text } from "./_test_support.ts";

describe("keys and PartitionPolicy (§4.5)", () => {
  const keyOf = (s: FlowSimulator, topic: string) => s.records(topic).map((r) => text(r.key));
  const byId = (m: Message<ItemP>) => `id-${m.payload.id}`;

  test("no policy: the incoming key is kept; no key stays null", async () => {
    const s = await sim(flowOf(new Process(new IntoTopic("out"))));
    s.send({ id: 0, n: 0 }, { key: "k0" });
    s.send({ id: 1, n: 0 });
    await s.run();
    assert.deepEqual(keyOf(s, "out"), ["k0", null]);
  });

  test("with a policy: a message without a key gets the policy key; an existing key is kept", async () => {
    const s = await sim(
      flowOf(new Process(new IntoTopic("out", { partitioning: new PartitionPolicy(byId) }))),
    );
    s.send({ id: 0, n: 0 }, { key: "k0" });
    s.send({ id: 1, n: 0 });
    await s.run();
    assert.deepEqual(keyOf(s, "out"), ["k0", "id-1"]);
  });

  test("allowRepartition replaces an existing key (unless the policy returns null)", async () => {
    const policy = new PartitionPolicy(
      { partitionKey: (m: Message<ItemP>) => (m.payload.n === 9 ? null : byId(m)) },
      "entity_stable",
      true,
    );
    const s = await sim(flowOf(new Process(new IntoTopic("out", { partitioning: policy }))));
    s.send({ id: 0, n: 0 }, { key: "k0" });
    s.send({ id: 1, n: 9 }, { key: "k1" });
    s.send({ id: 2, n: 9 });
    s.send({ id: 3, n: 0 });
    await s.run();
    assert.deepEqual(keyOf(s, "out"), ["id-0", "k1", null, "id-3"]);
  });

  test("the policy is applied on the flow output too, and error envelopes keep the original key", async () => {
    const boom = RecordStep.of((m: Message<ItemP>) => {
      if (m.payload.n === 1) throw new Error("x");
      return m.payload;
    });
    const s = await sim(flowOf(new Process(boom), {
      output: new IntoTopic("out", { partitioning: new PartitionPolicy(byId, "best_effort", true) }),
      errors: new IntoTopic("errs"),
    }));
    s.send({ id: 0, n: 0 }, { key: "k0" });
    s.send({ id: 1, n: 1 }, { key: "k1" });
    await s.run();
    assert.deepEqual(keyOf(s, "out"), ["id-0"]);
    assert.deepEqual(keyOf(s, "errs"), ["k1"]);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe("input order in outputs", () => {
  const lane = (n: string) => RecordStep.of((m: Message<ItemP>) => m.payload, { name: `lane_${n}` });
  // one key, alternating branches: 0→b, 1→a, 2→b, 3→a, …
  const inputs = () => items(8, (i) => (i % 2 === 0 ? 2 : 1));
  const byN = msg.payload.field("n");

  test("Router branches ending in the same topic keep the input order (per key)", async () => {
    const s = await sim(flowOf(
      new Process(
        Router.by(byN, {
          1: new Process(lane("a"), new IntoTopic("out")),
          2: new Process(lane("b"), new IntoTopic("out")),
        }, { default: new Process(new Drain()) }),
      ),
    ));
    s.sendAll(inputs(), { key: "k" });
    await s.run();
    assert.deepEqual(ids(s, "out"), [0, 1, 2, 3, 4, 5, 6, 7]);
  });

  test("Fork branches, and errors next to outputs in one topic, keep the input order", async () => {
    const failOdd = RecordStep.of((m: Message<ItemP>) => {
      if (m.payload.id % 4 === 1) throw new Error("x");
      return m.payload;
    }, { name: "fail" });
    const s = await sim(flowOf(
      new Process(
        Fork.by(byN, {
          1: new Process(failOdd, new IntoTopic("out")),
          2: new Process(lane("b"), new IntoTopic("out")),
        }),
      ),
      { errors: new IntoTopic("out") },
    ));
    s.sendAll(inputs(), { key: "k" });
    await s.run();
    const seen = s.output<ItemP & { originalMessage?: { payload: ItemP } }>("out").map((o) =>
      o.meta.messageType === "loom.streaming.error.task"
        ? `e${o.payload.originalMessage!.payload.id}`
        : `${o.payload.id}`
    );
    assert.deepEqual(seen, ["0", "e1", "2", "3", "4", "e5", "6", "7"]);
  });

  test("several partitions: each keeps its own order", async () => {
    const s = await sim(
      flowOf(
        new Process(
          Router.by(byN, {
            1: new Process(lane("a"), new IntoTopic("out")),
            2: new Process(lane("b"), new IntoTopic("out")),
          }, { default: new Process(new Drain()) }),
        ),
      ),
      { partitions: 3 },
    );
    s.sendAll(items(60, (i) => (i % 3 === 0 ? 1 : 2)), { key: (p: ItemP) => `k${p.id % 5}` });
    await s.run();
    const out = s.output<ItemP>("out");
    for (let k = 0; k < 5; k++) {
      const ofKey = out.filter((o) => text(o.meta.key as Uint8Array) === `k${k}`).map((o) => o.payload.id);
      assert.deepEqual(ofKey, [...ofKey].sort((a, b) => a - b), `key k${k} in input order`);
      assert.equal(ofKey.length, 12);
    }
  });
});
