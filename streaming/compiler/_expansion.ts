/**
 * Compiling expansion: Explode (must be followed by a Router) and ExpandRoutes (one terminal route per
 * produced type, plus an optional default); neither is allowed in Router branches.
 *
 * @module
 */
import { type ExpandRoutes, type Explode, type ProcessNode, Router, type StreamShape } from "../dsl/mod.ts";
import type { CompiledProcess } from "../_plan.ts";
import { isMessageType } from "../_type.ts";
import type { Compiler, Mode, NodeResult } from "./_compiler.ts";
import { nodeName } from "./_node_name.ts";

/** Compiles an Explode. */
export function compileExplode(
  c: Compiler,
  node: Explode,
  path: string,
  shape: StreamShape,
  mode: Mode,
  next: ProcessNode | undefined,
): NodeResult {
  if (
    c.notInRouter(
      mode,
      path,
      "Explode is not supported in Router branches — Router is 1-to-1; use Fork for fan-out.",
    )
  ) return null;
  if (!c.expect(path, node, "record", shape)) return null;
  if (!(next instanceof Router)) {
    c.error(
      path,
      `Explode must be immediately followed by a Router; got ${next ? nodeName(next) : "nothing"}`,
    );
  }
  return { node: { op: "explode", path, expander: node.expander }, out: "record" };
}

/** Compiles an ExpandRoutes. */
export function compileExpandRoutes(
  c: Compiler,
  node: ExpandRoutes,
  path: string,
  shape: StreamShape,
  mode: Mode,
): NodeResult {
  if (
    c.notInRouter(
      mode,
      path,
      "ExpandRoutes is not supported in Router branches — Router is 1-to-1; use Fork for fan-out.",
    )
  ) return null;
  if (!c.expect(path, node, "record", shape)) return null;
  const seen = new Set<string>();
  const routes = node.routes.map(([k, proc], b) => {
    const name = isMessageType(k) ? k.name : String(k);
    if (seen.has(name)) c.error(`${path}.routes[${b}]`, `type '${name}' has more than one route`);
    seen.add(name);
    const cp = c.process(proc, `${path}.routes[${b}].process`, "record", "branch");
    if (cp.outputShape !== "none") {
      c.error(
        `${path}.routes[${b}]`,
        `expand route '${name}': no terminal output found; end it with IntoTopic, Drain or a storage sink`,
      );
    }
    return [name, isMessageType(k) ? k : null, cp] as const;
  });
  let def: CompiledProcess | null = null;
  if (node.default) {
    def = c.process(node.default, `${path}.default.process`, "record", "branch");
    if (def.outputShape !== "none") {
      c.error(
        `${path}.default`,
        "expand default route: no terminal output found; end it with IntoTopic, Drain or a storage sink",
      );
    }
  }
  return { node: { op: "expand_routes", path, expander: node.expander, routes, default: def }, out: "none" };
}
