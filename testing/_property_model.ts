/**
 * The reference model of the property test (testing/_property_test.ts; not part of the public API): the
 * fates a flow spec gives one input — the topics its records land on, its error kinds and its discards —
 * computed without the engine.
 *
 * @module
 */
import type { P, Pipe, RecSpec, StepSpec, TerminalSpec } from "./_property_spec.ts";

/** One fate of an input: `t:<topic>`, `e:<error kind>` or `discard`. */
export type Fate = string; // "t:<topic>" | "e:<kind>" | "discard"

function stepOnce(s: StepSpec, p: P): P | Fate {
  if (p.v % s.k === s.r) return s.business ? "e:business" : "e:task";
  return { ...p, v: (p.v * s.a + s.b) % 100 };
}

function runRecs(
  nodes: readonly RecSpec[],
  i: number,
  p: P,
  out: Fate[],
  end: (p: P, out: Fate[]) => void,
): void {
  if (i === nodes.length) return end(p, out);
  const n = nodes[i];
  switch (n.kind) {
    case "step": {
      const q = stepOnce(n, p);
      if (typeof q === "string") out.push(q);
      else runRecs(nodes, i + 1, q, out, end);
      return;
    }
    case "router": {
      if (n.throwMod !== null && p.v % n.throwMod === 0) {
        out.push("e:routing");
        return;
      }
      const b = n.keys.indexOf(p.v % n.m);
      const steps = b >= 0 ? n.branches[b] : n.def ?? [];
      let q: P | Fate = p;
      for (const s of steps) {
        q = stepOnce(s, q as P);
        if (typeof q === "string") break;
      }
      if (typeof q === "string") out.push(q);
      else runRecs(nodes, i + 1, q, out, end);
      return;
    }
    case "expand": {
      const count = (p.v + n.salt) % 4;
      if (count === 0) out.push("discard");
      for (let j = 0; j < count; j++) {
        runRecs(nodes, i + 1, { ...p, v: (p.v * 3 + j * 11 + n.salt) % 100, sub: j }, out, end);
      }
      return;
    }
    case "batch":
      if (p.v % n.k === n.r) out.push("e:task");
      else runRecs(nodes, i + 1, { ...p, v: (p.v + 7) % 100 }, out, end);
      return;
  }
}

function runTerminal(t: TerminalSpec | null, p: P, out: Fate[]): void {
  if (t === null) {
    out.push("discard");
    return;
  }
  switch (t.kind) {
    case "topic":
    case "output":
      out.push(`t:${t.topic}`);
      return;
    case "drain":
      out.push("discard");
      return;
    case "broadcast":
      for (const r of t.routes) {
        runRecs(r.pipe.nodes, 0, p, out, (q, o) => {
          if (r.pipe.end) runTerminal(r.pipe.end, q, o);
          else if (r.output) o.push(`t:${r.output}`);
          else o.push("discard");
        });
      }
      return;
    case "fork": {
      const b = t.keyed ? t.conds.indexOf(p.v % t.m) : t.conds.findIndex((c) => p.v < c);
      const branch = b >= 0 ? t.branches[b] : t.def;
      if (!branch) {
        out.push("discard");
        return;
      }
      runRecs(branch.nodes, 0, p, out, (q, o) => runTerminal(branch.end, q, o));
      return;
    }
  }
}

/** The fates of input `p` in the flow of `pipe`: one per record written, error or discard. */
export function fatesOf(pipe: Pipe, p: P): Fate[] {
  const out: Fate[] = [];
  runRecs(pipe.nodes, 0, p, out, (q, o) => runTerminal(pipe.end, q, o));
  return out;
}
