/**
 * Compiling routing: the route table shared by Router and Fork (keyed branches, predicate branches,
 * default), the Router rule that every branch ends the same way, the Fork rule that every branch is
 * terminal, and Broadcast.
 *
 * @module
 */
import type { Broadcast, Fork, Router, RouteTable, StreamShape } from "../dsl/mod.ts";
import type { CompiledProcess, CompiledRouteTable, CompiledTopicSink } from "../_plan.ts";
import type { Compiler, Mode, NodeResult } from "./_compiler.ts";
import { topicSink } from "./_terminals.ts";

/** Which branch of a route table: a keyed route, a predicate route, or the default. */
type Branch = { kind: "keyed"; key: unknown } | { kind: "predicate"; index: number } | { kind: "default" };

/**
 * Compiles the branches of a Router or a Fork in selection order (keyed, predicate, default), calling
 * `each` right after each branch.
 */
function compileRouteTable(
  c: Compiler,
  node: RouteTable,
  path: string,
  shape: StreamShape,
  mode: Mode,
  each: (p: CompiledProcess, branch: Branch) => void,
): CompiledRouteTable {
  const keyed = node.routes.map(([k, proc], b) => {
    const cp = c.process(proc, `${path}.routes[${b}].process`, shape, mode);
    each(cp, { kind: "keyed", key: k });
    return [k, cp] as const;
  });
  const predicates = node.predicateRoutes.map((r, b) => {
    const cp = c.process(r.process, `${path}.predicate_routes[${b}].process`, shape, mode);
    each(cp, { kind: "predicate", index: b });
    return [r.when, cp] as const;
  });
  let def: CompiledProcess | null = null;
  if (node.default) {
    def = c.process(node.default, `${path}.default.process`, shape, mode);
    each(def, { kind: "default" });
  }
  return { selector: node.selector, keyed, predicates, default: def };
}

/** Compiles a Router: record input, branches in Router mode, one output shape for all branches. */
export function compileRouter(c: Compiler, node: Router, path: string, shape: StreamShape): NodeResult {
  if (!c.expect(path, node, "record", shape)) return null;
  const shapes = new Map<StreamShape, string[]>();
  const add = (s: StreamShape, label: string) => shapes.set(s, [...(shapes.get(s) ?? []), label]);
  const table = compileRouteTable(c, node, path, "record", "router", (p, b) =>
    add(
      p.outputShape,
      b.kind === "keyed"
        ? `route ${JSON.stringify(b.key)}`
        : b.kind === "predicate"
        ? `predicate_routes[${b.index}]`
        : "default",
    ));
  if (!table.default) add("record", "unmatched messages (no default: they pass through unchanged)");
  if (shapes.size > 1) {
    c.error(
      path,
      `router branches produce different shapes: ${
        [...shapes.entries()].map(([s, ls]) => `${s} (${ls.join(", ")})`).join("; ")
      }. Make every branch end the same way${
        shapes.has("none") ? "; a Router whose branches end in terminals needs a terminal default" : ""
      }`,
    );
  }
  const out: StreamShape = table.default ? table.default.outputShape : "record";
  return { node: { op: "router", path, ...table, outputShape: out }, out };
}

/** Compiles a Fork: not in Router branches, every branch must end in a terminal. */
export function compileFork(
  c: Compiler,
  node: Fork,
  path: string,
  shape: StreamShape,
  mode: Mode,
): NodeResult {
  if (
    c.notInRouter(
      mode,
      path,
      "node Fork is not router-branch safe (a Router is 1-to-1); put the Fork after the Router",
    )
  ) return null;
  if (node.forkKind === "keyed" && !node.selector) c.error(path, "fork selector missing for keyed fork");
  // QUIRK fixed: the original skipped the default branch in every validation.
  const table = compileRouteTable(c, node, path, shape, "branch", (p, b) => {
    if (p.outputShape !== "none") {
      const label = b.kind === "keyed"
        ? JSON.stringify(b.key)
        : b.kind === "predicate"
        ? `predicate[${b.index}]`
        : "default";
      c.error(
        path,
        `fork branch ${label}: no terminal output found; end the branch with IntoTopic, Drain, a storage sink, With or WithAsync`,
      );
    }
  });
  return { node: { op: "fork", path, ...table }, out: "none" };
}

/** Compiles a Broadcast: not in Router branches; each route's output receives what its process leaves. */
export function compileBroadcast(
  c: Compiler,
  node: Broadcast,
  path: string,
  shape: StreamShape,
  mode: Mode,
): NodeResult {
  if (
    c.notInRouter(
      mode,
      path,
      "node Broadcast is not router-branch safe (a Router is 1-to-1); put it after the Router",
    )
  ) return null;
  const routes = node.routes.map((r, b) => {
    const rp = `${path}.routes[${b}]`;
    const proc = c.process(r.process, `${rp}.process`, shape, "branch");
    let output: CompiledTopicSink | null = null;
    if (r.output) {
      if (proc.outputShape === "none") {
        c.error(
          `${rp}.output`,
          "this output is never reached: the route's process ends with a terminal node",
        );
      } else output = topicSink(c, r.output, `${rp}.output`);
    }
    return { process: proc, output };
  });
  return { node: { op: "broadcast", path, routes }, out: "none" };
}
