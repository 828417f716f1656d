// Property-style test of the runtime: random flows (steps, routers, fan-out, batching, forks) over random
// inputs with random time advances and crashes, checked against a small reference model of the flow.
//
// Properties, for every generated case:
//  (a) every input's fate is accounted for: per input id, the records on each output topic and the error
//      envelopes per kind match the model exactly (at least as many after a crash: redelivery duplicates);
//      discards match the model's count;
//  (b) nothing is lost: after `sim.end()` the committed offset equals the end offset of every partition;
//  (c) the commit log is strictly increasing per partition, and no commit passes an input whose outputs
//      are not all written yet (checked inside every commit);
//  (d) determinism: replaying the same case gives byte-identical output topics and the same commit log.
//
// The cases come from testing/_property_spec.ts (its coverage is checked by
// testing/_property_generator_test.ts), the model from testing/_property_model.ts, the real flows from
// testing/_property_flow.ts.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { decodeOutputRecord } from "../streaming/engine.ts";
import { FlowSimulator } from "./mod.ts";
import { type Case, CASES, genCase, type P, TOPICS } from "./_property_spec.ts";
import { type Fate, fatesOf } from "./_property_model.ts";
import { buildFlow } from "./_property_flow.ts";

interface Outcome {
  deadLettered: number;
  topics: Record<string, unknown[]>;
  commitLog: unknown[];
  crashed: boolean;
}

const decoder = new TextDecoder();

async function play(c: Case): Promise<Outcome> {
  const where = `case seed=${c.seed}`;
  const sim = await FlowSimulator.create(buildFlow(c.spec, c.dlq), {
    partitions: c.partitions,
    fetchMaxRecords: c.fetchMaxRecords,
    deliveryRetries: c.deliveryRetries,
  });
  // expected fates per input id, and the input id at each source position
  const expected = new Map<number, Map<Fate, number>>();
  let expectedDiscards = 0;
  const idAt = new Map<string, number>();
  // actual fates per input id, updated incrementally from the topics
  const actual = new Map<number, Map<Fate, number>>();
  const cursor = new Map<string, number>();
  // a record dead-lettered from topic X counts as delivered to X (the DLQ is X's fallback)
  const watched = [...TOPICS, "errs", ...TOPICS.map((t) => `${t}.dlq`), "errs.dlq"];
  const refresh = () => {
    for (const topic of watched) {
      const recs = sim.records(topic);
      for (let i = cursor.get(topic) ?? 0; i < recs.length; i++) {
        const out = decodeOutputRecord(recs[i]);
        let id: number, fate: Fate;
        const base = topic.endsWith(".dlq") ? topic.slice(0, -4) : topic;
        if (base === "errs") {
          const env = out.payload as { kind: string; originalMessage: { payload: P } };
          id = env.originalMessage.payload.id;
          fate = `e:${env.kind}`;
        } else {
          id = (out.payload as P).id;
          fate = `t:${base}`;
        }
        const m = actual.get(id) ?? new Map<Fate, number>();
        m.set(fate, (m.get(fate) ?? 0) + 1);
        actual.set(id, m);
      }
      cursor.set(topic, recs.length);
    }
  };
  const lastCommit = new Map<string, number>();
  const original = sim.broker.commit.bind(sim.broker);
  sim.broker.commit = (group, offsets) => {
    refresh();
    for (const o of offsets) {
      const tp = `${o.topic}/${o.partition}`;
      const prev = lastCommit.get(tp);
      assert.ok(prev === undefined || o.offset > prev, `${where}: commit ${o.offset} of ${tp} after ${prev}`);
      lastCommit.set(tp, o.offset);
      for (let off = 0; off < o.offset; off++) {
        const id = idAt.get(`${o.partition}:${off}`);
        if (id === undefined) continue;
        for (const [fate, n] of expected.get(id)!) {
          if (fate === "discard") continue;
          const got = actual.get(id)?.get(fate) ?? 0;
          assert.ok(
            got >= n,
            `${where}: commit ${o.offset} of ${tp} passes offset ${off} (input ${id}) with ${got}/${n} '${fate}'`,
          );
        }
      }
    }
    original(group, offsets);
  };
  let crashed = false;
  for (const e of c.events) {
    if (e.kind === "send") {
      for (const x of e.inputs) {
        const rec = sim.send(x.p, { key: x.key });
        idAt.set(`${rec.partition}:${rec.offset}`, x.p.id);
        const m = new Map<Fate, number>();
        for (const f of fatesOf(c.spec, x.p)) {
          if (f === "discard") expectedDiscards++;
          m.set(f, (m.get(f) ?? 0) + 1);
        }
        expected.set(x.p.id, m);
      }
      await sim.run();
    } else if (e.kind === "advance") {
      await sim.advanceTime(e.ms);
    } else if (e.kind === "failSink") {
      sim.failSink(e.topic, e.times);
    } else {
      await sim.crash();
      crashed = true;
    }
  }
  await sim.end();
  refresh();

  // (b) nothing lost, nothing in flight
  for (let p = 0; p < c.partitions; p++) {
    assert.equal(
      sim.committed(p) ?? 0,
      sim.broker.endOffset("in", p),
      `${where}: partition ${p} fully committed`,
    );
  }
  assert.equal(sim.inFlight, 0, `${where}: in flight after end`);
  assert.equal(sim.driver.nextDeadline(), null, `${where}: buffered after end`);

  // (a) every input accounted for
  for (const [id, exp] of expected) {
    const got = actual.get(id) ?? new Map<Fate, number>();
    for (const [fate, n] of exp) {
      if (fate === "discard") continue;
      const g = got.get(fate) ?? 0;
      if (crashed) assert.ok(g >= n, `${where}: input ${id} '${fate}' ${g} < ${n}`);
      else assert.equal(g, n, `${where}: input ${id} '${fate}'`);
    }
    for (const [fate, g] of got) {
      assert.ok(
        exp.has(fate),
        `${where}: input ${id} has ${g} unexpected '${fate}' (expected ${JSON.stringify([...exp])})`,
      );
    }
  }
  for (const id of actual.keys()) assert.ok(expected.has(id), `${where}: output for unknown input ${id}`);
  if (crashed) assert.ok(sim.stats.discarded >= expectedDiscards, `${where}: discards`);
  else assert.equal(sim.stats.discarded, expectedDiscards, `${where}: discards`);
  assert.equal(sim.unrouted.length, 0);

  const topics: Record<string, unknown[]> = {};
  for (const t of watched) {
    topics[t] = sim.records(t).map((r) => ({
      partition: r.partition,
      offset: r.offset,
      key: r.key ? decoder.decode(r.key) : null,
      value: [...(r.value ?? [])],
      headers: Object.entries(r.headers).map(([k, h]) => [k, [...h]]),
      ts: r.timestampMs,
    }));
  }
  return {
    topics,
    commitLog: sim.commitLog().map((e) => ({ ...e })),
    crashed,
    deadLettered: sim.stats.deadLettered,
  };
}

describe("random flows (property test)", () => {
  const CHUNK = 20;
  let crashed = 0, outputs = 0, deadLettered = 0;

  // chunks keep every test well under Bun's default 5 s per-test timeout
  for (let from = 1; from <= CASES; from += CHUNK) {
    const to = Math.min(CASES, from + CHUNK - 1);
    test(`cases ${from}-${to}: fates accounted, nothing lost, safe monotonic commits, deterministic`, async () => {
      for (let seed = from; seed <= to; seed++) {
        const first = await play(genCase(seed));
        const second = await play(genCase(seed));
        // (d) determinism
        assert.deepEqual(
          second.topics,
          first.topics,
          `case seed=${seed}: output topics differ between replays`,
        );
        assert.deepEqual(
          second.commitLog,
          first.commitLog,
          `case seed=${seed}: commit logs differ between replays`,
        );
        if (first.crashed) crashed++;
        deadLettered += first.deadLettered;
        for (const t of Object.values(first.topics)) outputs += t.length;
      }
    });
  }

  test("the cases exercised crashes, dead-lettering and produced output", () => {
    assert.ok(crashed >= 10, `only ${crashed} cases crashed`);
    assert.ok(deadLettered >= 10, `only ${deadLettered} records were dead-lettered`);
    assert.ok(outputs >= CASES * 5, `only ${outputs} output records`);
  });
});
