/**
 * Random cases of the property test (testing/_property_test.ts; not part of the public API): a seeded PRNG,
 * flow specs (steps, routers, expansions and batches, ending in a topic, the flow output, a drain, a
 * broadcast or a fork), the generator of flow specs and of event scripts (sends, time advances, crashes,
 * failing sinks), and the feature count that checks the generator's coverage.
 *
 * @module
 */

/** mulberry32: a tiny deterministic PRNG (the tests never use Math.random). */
function prng(
  seed: number,
): {
  next: () => number;
  int: (n: number) => number;
  pick: <T>(xs: readonly T[]) => T;
  chance: (p: number) => boolean;
} {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { next, int, pick: (xs) => xs[int(xs.length)], chance: (p) => next() < p };
}
type Rng = ReturnType<typeof prng>;

// ---------------------------------------------------------------------------------------------------------------
// flow specs

/** The payload of the generated flows: the input's `id`, the value `v` steps compute on, `sub` if expanded. */
export type P = { id: number; v: number; sub?: number };

/** A record step: fails when `v % k === r` (BUSINESS or TASK), else maps `v` to `(v * a + b) % 100`. */
export interface StepSpec {
  kind: "step";
  /** The step returns a promise (exercises the engine's asynchronous paths). */
  async: boolean;
  k: number;
  r: number;
  business: boolean;
  a: number;
  b: number;
}
/** A Router on `v % m`: steps per key, an optional default; the selector throws when `v % throwMod === 0`. */
export interface RouterSpec {
  kind: "router";
  m: number;
  keys: number[];
  branches: StepSpec[][];
  def: StepSpec[] | null;
  throwMod: number | null;
}
/** An ExpandStep giving `(v + salt) % 4` outputs per input. */
export interface ExpandSpec {
  kind: "expand";
  salt: number;
}
/** CollectBatch + BatchStep (fails when `v % k === r`, else adds 7) + ForEach. */
export interface BatchSpec {
  kind: "batch";
  async: boolean;
  max: number;
  timeout: number;
  k: number;
  r: number;
}
/** A node of a record stream. */
export type RecSpec = StepSpec | RouterSpec | ExpandSpec | BatchSpec;

/** How a pipe ends: a topic, the flow output, a drain, a broadcast or a fork. */
export type TerminalSpec =
  | { kind: "topic"; topic: string }
  | { kind: "output"; topic: string }
  | { kind: "drain" }
  | { kind: "broadcast"; routes: { pipe: Pipe; output: string | null }[] }
  | { kind: "fork"; keyed: boolean; m: number; conds: number[]; branches: Pipe[]; def: Pipe | null };

/** A flow spec: record nodes, then an end (none: the records are discarded). */
export interface Pipe {
  nodes: RecSpec[];
  end: TerminalSpec | null;
}

/** The output topics the generated flows write to (plus the error topic `errs`). */
export const TOPICS: string[] = ["o0", "o1", "o2", "o3"];

function genStep(r: Rng): StepSpec {
  const fails = r.chance(0.6);
  const k = 2 + r.int(9);
  return {
    kind: "step",
    async: r.chance(0.2),
    k,
    r: fails ? r.int(k) : -1,
    business: r.chance(0.3),
    a: 1 + r.int(13),
    b: r.int(100),
  };
}

function genRec(r: Rng, allowBatch: boolean): RecSpec {
  const x = r.next();
  if (x < 0.35) return genStep(r);
  if (x < 0.6) {
    const m = 2 + r.int(4);
    const keys = [...new Set(Array.from({ length: 1 + r.int(m) }, () => r.int(m)))];
    return {
      kind: "router",
      m,
      keys,
      branches: keys.map(() => Array.from({ length: 1 + r.int(2) }, () => genStep(r))),
      def: r.chance(0.5) ? [genStep(r)] : null,
      throwMod: r.chance(0.3) ? 5 + r.int(20) : null,
    };
  }
  if (x < 0.8 || !allowBatch) return { kind: "expand", salt: r.int(4) };
  const k = 3 + r.int(8);
  return {
    kind: "batch",
    async: r.chance(0.3),
    max: 1 + r.int(5),
    timeout: 50 + r.int(1000),
    k,
    r: r.chance(0.5) ? r.int(k) : -1,
  };
}

function genNodes(r: Rng, max: number): RecSpec[] {
  return Array.from({ length: r.int(max + 1) }, () => genRec(r, true));
}

function genTerminal(r: Rng, depth: number, top: boolean): TerminalSpec {
  const x = r.next();
  if (top && x < 0.2) return { kind: "output", topic: r.pick(TOPICS) };
  if (depth >= 2 || x < 0.45) {
    return r.chance(0.8) ? { kind: "topic", topic: r.pick(TOPICS) } : { kind: "drain" };
  }
  if (x < 0.72) {
    const n = 2 + r.int(2);
    return {
      kind: "broadcast",
      routes: Array.from({ length: n }, () => {
        if (r.chance(0.3)) {
          return { pipe: { nodes: genNodes(r, 2), end: genTerminal(r, depth + 1, false) }, output: null };
        }
        const nodes = genNodes(r, 2);
        if (nodes.length === 0) nodes.push(genStep(r));
        return { pipe: { nodes, end: null }, output: r.chance(0.85) ? r.pick(TOPICS) : null };
      }),
    };
  }
  const keyed = r.chance(0.5);
  const m = 2 + r.int(4);
  const n = 1 + r.int(3);
  const conds = keyed
    ? [...new Set(Array.from({ length: n }, () => r.int(m)))]
    : Array.from({ length: n }, () => 10 + r.int(90)).sort((a, b) => a - b);
  return {
    kind: "fork",
    keyed,
    m,
    conds,
    branches: conds.map(() => ({ nodes: genNodes(r, 2), end: genTerminal(r, depth + 1, false) })),
    def: r.chance(0.5) ? { nodes: genNodes(r, 1), end: genTerminal(r, depth + 1, false) } : null,
  };
}

function genPipe(r: Rng): Pipe {
  const nodes = genNodes(r, 3);
  const end = genTerminal(r, 0, true);
  if (end.kind === "output" && nodes.length === 0) nodes.push(genStep(r));
  return { nodes, end };
}

// ---------------------------------------------------------------------------------------------------------------
// scenarios

/** One step of a case's script. */
export type Event =
  | { kind: "send"; inputs: { p: P; key: string | null }[] }
  | { kind: "advance"; ms: number }
  | { kind: "crash" }
  | { kind: "failSink"; topic: string; times: number };

/** A generated case: a flow spec, the simulator settings and the event script. */
export interface Case {
  seed: number;
  spec: Pipe;
  partitions: number;
  fetchMaxRecords: number;
  /** Every topic (outputs and the error route) has a dead-letter topic `<topic>.dlq`. */
  dlq: boolean;
  deliveryRetries: number;
  events: Event[];
}

/** How many cases the property test plays (and the generator test inspects). */
export const CASES = 200;

/** The case of a seed (the same seed always gives the same case). */
export function genCase(seed: number): Case {
  const r = prng(seed);
  const spec = genPipe(r);
  const events: Event[] = [];
  const dlq = r.chance(0.4);
  let id = 0;
  const chunks = 1 + r.int(4);
  for (let c = 0; c < chunks; c++) {
    if (dlq && r.chance(0.4)) {
      events.push({ kind: "failSink", topic: r.pick([...TOPICS, "errs"]), times: 1 + r.int(2) });
    }
    const n = 1 + r.int(12);
    events.push({
      kind: "send",
      inputs: Array.from(
        { length: n },
        () => ({ p: { id: id++, v: r.int(100) }, key: r.chance(0.8) ? `k${r.int(8)}` : null }),
      ),
    });
    if (r.chance(0.3)) events.push({ kind: "advance", ms: r.int(1200) });
    if (r.chance(0.15)) events.push({ kind: "crash" });
  }
  return {
    seed,
    spec,
    partitions: 1 + r.int(4),
    fetchMaxRecords: r.pick([1, 3, 10, 500]),
    events,
    dlq,
    deliveryRetries: r.pick([0, 0, 1]),
  };
}

/** Counts the features a spec uses (to check the generator's coverage). */
export function features(p: Pipe, into: Map<string, number>): void {
  const add = (k: string) => into.set(k, (into.get(k) ?? 0) + 1);
  for (const n of p.nodes) {
    add(n.kind);
    if (n.kind === "step" && n.async) add("async step");
    if (n.kind === "router") {
      if (n.def) add("router default");
      if (n.throwMod !== null) add("router selector error");
    }
    if (n.kind === "batch" && n.async) add("async batch");
  }
  const t = p.end;
  if (!t) return;
  add(t.kind);
  if (t.kind === "broadcast") {
    if (t.routes.length === 3) add("broadcast of 3");
    for (const r of t.routes) features(r.pipe, into);
  }
  if (t.kind === "fork") {
    add(t.keyed ? "keyed fork" : "predicate fork");
    if (!t.def) add("fork without default");
    for (const b of t.branches) features(b, into);
    if (t.def) features(t.def, into);
  }
}
