/**
 * Compiling steps: resolution of step classes and config bindings (`Step.fromConfig`), and the shape
 * rules of RecordStep, BatchStep, ExpandStep and BatchExpandStep (also inside Router branches).
 *
 * @module
 */
import { bindConfig } from "../config/mod.ts";
import { ConfigBinding, isStepClass, type ProcessNode, type Step, type StreamShape } from "../dsl/mod.ts";
import type { Compiler, Mode, NodeResult } from "./_compiler.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

/** Instantiates a step class or a config binding (errors recorded; the node is returned unresolved). */
export function resolveNode(c: Compiler, node: ProcessNode, path: string): ProcessNode {
  if (isStepClass(node)) {
    try {
      return new (node as new () => Step<Any, Any>)();
    } catch (e) {
      c.error(
        path,
        `step ${node.name}: cannot construct it without arguments (${
          (e as Error).message
        }); pass an instance or use ${node.name}.fromConfig(path)`,
      );
      return node;
    }
  }
  if (node instanceof ConfigBinding) return resolveBinding(c, node, path) as ProcessNode ?? node;
  return node;
}

/** Builds the target of a config binding from its validated section, or null (error recorded). */
export function resolveBinding(c: Compiler, b: ConfigBinding<unknown>, path: string): unknown {
  const label = b.configPath || b.target.name;
  c.bindingPaths.add(b.configPath);
  const schema = b.target.configSchema;
  if (!schema) {
    c.error(
      path,
      `binding ${label}: ${b.target.name} has no static configSchema; declare \`static configSchema = v.object({...})\``,
    );
    return null;
  }
  try {
    const cfg = bindConfig(c.ctx, b.configPath, schema as Any, b.overrides as Record<string, unknown>);
    const obj = new b.target(cfg);
    return obj;
  } catch (e) {
    c.error(path, `binding ${label}: ${(e as Error).message}`);
    return null;
  }
}

/** Compiles a step by its kind. */
export function compileStep(
  c: Compiler,
  node: Step<Any, Any>,
  path: string,
  shape: StreamShape,
  mode: Mode,
): NodeResult {
  const name = node.stepName();
  switch (node.stepKind) {
    case "record":
      if (!c.expect(path, node, "record", shape)) return null;
      return {
        node: {
          op: "step",
          path,
          step: node,
          name,
          stepKind: "record",
          batchOverRecords: false,
          inputShape: shape,
        },
        out: "record",
      };
    case "batch": {
      if (mode === "router") {
        // In a Router branch a BatchStep runs over the branch's records as one batch.
        if (!c.expect(path, node, "record", shape)) return null;
        return {
          node: {
            op: "step",
            path,
            step: node,
            name,
            stepKind: "batch",
            batchOverRecords: true,
            inputShape: shape,
          },
          out: "record",
        };
      }
      if (!c.expect(path, node, "batch", shape)) return null;
      return {
        node: {
          op: "step",
          path,
          step: node,
          name,
          stepKind: "batch",
          batchOverRecords: false,
          inputShape: shape,
        },
        out: "batch",
      };
    }
    case "expand":
    case "batch_expand": {
      if (
        c.notInRouter(
          mode,
          path,
          `${name} (${
            node.stepKind === "expand" ? "ExpandStep" : "BatchExpandStep"
          }) is not supported in Router branches — Router is 1-to-1; use Fork for fan-out.`,
        )
      ) return null;
      const exp = node.stepKind === "expand" ? "record" : "batch";
      if (!c.expect(path, node, exp, shape)) return null;
      return {
        node: {
          op: "step",
          path,
          step: node,
          name,
          stepKind: node.stepKind,
          batchOverRecords: false,
          inputShape: shape,
        },
        out: "record",
      };
    }
  }
  return null;
}
