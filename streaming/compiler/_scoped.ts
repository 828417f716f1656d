/**
 * Compiling With / WithAsync: the inner record steps, the optional terminal IntoTopic, and the
 * resolution of dependencies into factories, disposable contexts and plain values.
 *
 * @module
 */
import {
  ConfigBinding,
  ContextFactory,
  IntoTopic,
  isStep,
  isStepClass,
  type Step,
  type StreamShape,
  type With,
  WithAsync,
} from "../dsl/mod.ts";
import type { CompiledDeps, CompiledTopicSink } from "../_plan.ts";
import type { Compiler, NodeResult } from "./_compiler.ts";
import { nodeName } from "./_node_name.ts";
import { resolveBinding, resolveNode } from "./_steps.ts";
import { topicSink } from "./_terminals.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

/** Resolves the dependencies of a With/WithAsync. */
function compileDeps(c: Compiler, node: With, path: string): CompiledDeps {
  const cl = node.classified;
  const factories: Record<string, { create(): unknown }> = { ...cl.contextFactories };
  const contexts: Record<string, unknown> = { ...cl.syncContexts, ...cl.asyncContexts };
  const plain: Record<string, unknown> = { ...cl.plainDeps };
  for (const [k, b] of Object.entries(cl.bindings)) {
    const r = resolveBinding(c, b, `${path}.deps.${k}`);
    if (r instanceof ContextFactory) factories[k] = r;
    else if (r !== null && typeof r === "object" && (Symbol.dispose in r || Symbol.asyncDispose in r)) {
      contexts[k] = r;
    } else if (r !== null) plain[k] = r;
  }
  const label = node instanceof WithAsync ? "WithAsync" : "With";
  if (node.scope === "batch" && Object.keys(contexts).length > 0) {
    c.error(
      path,
      `${label} with scope=BATCH cannot use direct context manager instances: ${
        Object.keys(contexts).join(", ")
      }. Use ContextFactory for batch-scoped resources.`,
    );
  }
  return { factories, contexts, plain };
}

/** Compiles a With or WithAsync. */
export function compileWith(c: Compiler, node: With, path: string, shape: StreamShape): NodeResult {
  const isAsync = node instanceof WithAsync;
  const label = isAsync ? "WithAsync" : "With";
  if (!c.expect(path, node, ["record", "batch"], shape)) return null;
  const steps: { step: Step<Any, Any>; name: string; path: string }[] = [];
  let sink: CompiledTopicSink | null = null;
  const inner = node.process.nodes;
  for (let k = 0; k < inner.length; k++) {
    const p = `${path}.process[${k}]`;
    const n = resolveNode(c, inner[k], p);
    if (isStep(n) && n.stepKind === "record") {
      steps.push({ step: n, name: n.stepName(), path: p });
    } else if (n instanceof IntoTopic) {
      if (k !== inner.length - 1) {
        c.error(
          p,
          `${label}(process=...) requires IntoTopic to be last; found ${nodeName(inner[k + 1])} after it.`,
        );
      } else sink = topicSink(c, n, p);
    } else if (!isStepClass(n) && !(n instanceof ConfigBinding)) {
      c.error(
        p,
        `${label}(process=...) only supports RecordStep nodes and an optional terminal IntoTopic; found ${
          nodeName(n)
        }.`,
      );
    }
  }
  const deps = compileDeps(c, node, path);
  const a = node as WithAsync;
  return {
    node: {
      op: "with",
      path,
      async: isAsync,
      node,
      scope: node.scope,
      steps,
      sink,
      deps,
      maxConcurrency: isAsync ? a.maxConcurrency : 1,
      taskTimeoutMs: isAsync ? a.taskTimeoutMs : null,
      inputShape: shape,
    },
    out: "none",
  };
}
