/**
 * The compiler core: the issue list, the sinks found so far, and the walk over a process that checks
 * stream shapes node by node and dispatches each node to the compile function of its family (the file
 * of the same name as in the DSL and the engine: `_steps.ts`, `_batching.ts`, `_routing.ts`, ...).
 *
 * @module
 */
import type { ConfigContext } from "../config/mod.ts";
import {
  Broadcast,
  CollectBatch,
  ConfigBinding,
  definitionProblems,
  Drain,
  ExpandRoutes,
  Explode,
  ForEach,
  Fork,
  IntoTopic,
  isIntoSink,
  isStep,
  isStepClass,
  type Process,
  type ProcessNode,
  Router,
  type StreamShape,
  With,
  WithAsync,
} from "../dsl/mod.ts";
import type { CompiledNode, CompiledProcess, CompiledStorageSink, CompiledTopicSink } from "../_plan.ts";
import type { KafkaSettings } from "../_settings.ts";
import { compileCollect, compileForEach } from "./_batching.ts";
import type { CompilationIssue } from "./_errors.ts";
import { nodeName } from "./_node_name.ts";
import { compileExpandRoutes, compileExplode } from "./_expansion.ts";
import { compileBroadcast, compileFork, compileRouter } from "./_routing.ts";
import { compileWith } from "./_scoped.ts";
import { compileStep, resolveNode } from "./_steps.ts";
import { compileDrain, compileStorageSinkNode, compileTopicSinkNode } from "./_terminals.ts";

/** Where a process sits: the top-level process, a Router branch (1-to-1, in place) or another branch. */
export type Mode = "top" | "router" | "branch";

/** A compiled node and the shape of the stream it leaves, or null when it is unusable (errors recorded). */
export type NodeResult = { node: CompiledNode; out: StreamShape } | null;

function isTerminalLeaf(node: unknown): boolean {
  return node instanceof IntoTopic || node instanceof Drain || isIntoSink(node) || node instanceof With ||
    node instanceof Fork || node instanceof Broadcast || node instanceof ExpandRoutes;
}

/** The state of one compilation. */
export class Compiler {
  readonly issues: CompilationIssue[] = [];
  readonly topicSinks: Map<string, CompiledTopicSink> = new Map();
  readonly storageSinks: Map<string, CompiledStorageSink> = new Map();
  kafka: KafkaSettings | null = null;
  /** Logical names the flow writes to (every IntoTopic, output, error route), resolved or not. */
  readonly producerRefs: Set<string> = new Set();
  /** Logical names the flow reads from (its source). */
  readonly consumerRefs: Set<string> = new Set();
  /** Config paths read by the flow's bindings (`X.fromConfig(path)`). */
  readonly bindingPaths: Set<string> = new Set();

  constructor(readonly ctx: ConfigContext) {}

  /** Records a problem at `path`. */
  error(path: string, message: string): void {
    this.issues.push({ path, message });
  }

  /**
   * Compiles a process starting from `shape`. `mode` selects branch rules.
   * Returns the nodes that compiled (errors already recorded for the others).
   */
  process(proc: Process, path: string, shape: StreamShape, mode: Mode): CompiledProcess {
    const nodes: CompiledNode[] = [];
    let current: StreamShape = shape;
    for (const problem of definitionProblems(proc)) this.error(path, problem);
    const list = proc.nodes;
    for (let i = 0; i < list.length; i++) {
      const p = `${path}[${i}]`;
      const node = resolveNode(this, list[i], p);
      if (current === "none") {
        this.error(
          p,
          `${nodeName(node)} follows a terminal node; the previous node must be the last node in a process`,
        );
        break;
      }
      const isLast = i === list.length - 1;
      if (isTerminalLeaf(node) && !isLast) {
        const label = node instanceof With
          ? `${node instanceof WithAsync ? "WithAsync" : "With"}(process=...)`
          : nodeName(node);
        this.error(
          p,
          `${label} must be the last node in a process; found ${
            nodeName(list[i + 1])
          } after it (move it into a branch or remove it)`,
        );
      }
      const problems = definitionProblems(node);
      for (const problem of problems) this.error(p, problem);
      const compiled = problems.length > 0 ? null : this.node(node, p, current, mode, list[i + 1]);
      if (!compiled) {
        // keep the current shape so later nodes are still checked
        if (isTerminalLeaf(node)) {
          current = "none";
          break;
        }
        continue;
      }
      nodes.push(compiled.node);
      current = compiled.out;
      if (isTerminalLeaf(node)) break;
    }
    return { path, inputShape: shape, outputShape: current, nodes };
  }

  /** Checks the shape entering `node`; records a mismatch (with a hint) and returns false on one. */
  expect(path: string, node: unknown, expected: StreamShape | StreamShape[], got: StreamShape): boolean {
    const ok = Array.isArray(expected) ? expected.includes(got) : expected === got;
    if (!ok) {
      const exp = Array.isArray(expected) ? expected.join(" or ") : expected;
      const hint = exp === "batch" && got === "record"
        ? " (add a CollectBatch before it)"
        : exp === "record" && got === "batch"
        ? " (add a ForEach before it to flatten batches, or use a BatchStep)"
        : "";
      this.error(path, `shape mismatch: expected ${exp} but got ${got} before ${nodeName(node)}${hint}`);
    }
    return ok;
  }

  /** In a Router branch (`mode` "router"), records `message` and returns true: the node is skipped. */
  notInRouter(mode: Mode, path: string, message: string): boolean {
    if (mode !== "router") return false;
    this.error(path, message);
    return true;
  }

  /** Compiles one (resolved) node by its family. */
  node(
    node: ProcessNode,
    path: string,
    shape: StreamShape,
    mode: Mode,
    next: ProcessNode | undefined,
  ): NodeResult {
    if (isStepClass(node) || node instanceof ConfigBinding) return null; // resolution failed (already reported)
    if (isStep(node)) return compileStep(this, node, path, shape, mode);
    if (node instanceof CollectBatch) return compileCollect(this, node, path, shape, mode);
    if (node instanceof ForEach) return compileForEach(this, node, path, shape);
    if (node instanceof Drain) return compileDrain(path);
    if (node instanceof IntoTopic) return compileTopicSinkNode(this, node, path, shape);
    if (isIntoSink(node)) return compileStorageSinkNode(this, node, path, shape);
    if (node instanceof With) return compileWith(this, node, path, shape);
    if (node instanceof Router) return compileRouter(this, node, path, shape);
    if (node instanceof Fork) return compileFork(this, node, path, shape, mode);
    if (node instanceof Broadcast) return compileBroadcast(this, node, path, shape, mode);
    if (node instanceof Explode) return compileExplode(this, node, path, shape, mode, next);
    if (node instanceof ExpandRoutes) return compileExpandRoutes(this, node, path, shape, mode);
    this.error(
      path,
      `unsupported process node ${
        nodeName(node)
      }; expected a step, CollectBatch, ForEach, Drain, IntoTopic, a storage sink, With, WithAsync, Router, Fork, Broadcast, Explode or ExpandRoutes`,
    );
    return null;
  }
}
