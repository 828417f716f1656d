/**
 * `compileFlow`: resolves bindings and configuration, validates the whole flow, and returns an
 * immutable {@link CompiledPlan}. Every problem is gathered into one {@link CompilationError}.
 *
 * @module
 */
import {
  bindConfig,
  ConfigContext,
  ConfigError,
  consumerFor,
  producerFor,
  readKafkaSettings,
  readRuntimeSettings,
} from "./_config.ts";
import type { ErrorKind } from "./_message.ts";
import { DECODE_ERROR_MESSAGE_TYPE } from "./_message.ts";
import { isMessageType, type MessageType } from "./_type.ts";
import {
  Broadcast,
  CollectBatch,
  ConfigBinding,
  ContextFactory,
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
  type Step,
  type StreamFlow,
  type StreamShape,
  With,
  WithAsync,
} from "./_nodes.ts";
import type {
  CompiledDeps,
  CompiledNode,
  CompiledPlan,
  CompiledProcess,
  CompiledSource,
  CompiledStorageSink,
  CompiledTopicSink,
  DispatchTable,
} from "./_plan.ts";
import type { KafkaSettings } from "./_settings.ts";

// deno-lint-ignore no-explicit-any
type Any = any;

/**
 * One compilation problem: where (node path) and what (with how to fix it).
 *
 * @example
 * ```ts
 * import type { CompilationIssue } from "@loom/streaming";
 * const issue: CompilationIssue = { path: "process[0]", message: "a Process must not be empty" };
 * ```
 */
export interface CompilationIssue {
  /** Node path of the problem, e.g. `process[2].routes[0]` (empty for the whole flow). */
  readonly path: string;
  /** What is wrong and how to fix it. */
  readonly message: string;
}

/**
 * All problems found while compiling a flow.
 *
 * @example
 * ```ts
 * import { CompilationError } from "@loom/streaming";
 * const e = new CompilationError([{ path: "process[0]", message: "boom" }]);
 * e.errors; // ["process[0]: boom"]
 * ```
 */
export class CompilationError extends Error {
  /** Issues with their paths. */
  readonly issues: readonly CompilationIssue[];
  /** Issues rendered as `"<path>: <message>"`. */
  readonly errors: readonly string[];
  /**
   * Creates a {@link CompilationError}.
   *
   * @param issues the problems found
   */
  constructor(issues: readonly CompilationIssue[]) {
    const errors = issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message));
    super(
      `Compilation failed with ${errors.length} error(s):\n${errors.map((e) => `  - ${e}`).join("\n")}`,
    );
    this.name = "CompilationError";
    this.issues = issues;
    this.errors = errors;
  }
}

function nodeName(node: unknown): string {
  if (isStep(node)) return node.stepName();
  if (typeof node === "function") return node.name || "<anonymous>";
  if (node && typeof node === "object") {
    if (isIntoSink(node)) {
      return (node as object).constructor?.name === "Object" ? "IntoSink" : (node as object).constructor.name;
    }
    return (node as object).constructor?.name ?? "object";
  }
  return String(node);
}

function isTerminalLeaf(node: unknown): boolean {
  return node instanceof IntoTopic || node instanceof Drain || isIntoSink(node) || node instanceof With ||
    node instanceof Fork || node instanceof Broadcast || node instanceof ExpandRoutes;
}

class Compiler {
  readonly issues: CompilationIssue[] = [];
  readonly topicSinks = new Map<string, CompiledTopicSink>();
  readonly storageSinks = new Map<string, CompiledStorageSink>();
  kafka: KafkaSettings | null = null;

  constructor(readonly ctx: ConfigContext) {}

  error(path: string, message: string): void {
    this.issues.push({ path, message });
  }

  // -------------------------------------------------------------------------------------------------------------
  // bindings

  resolveNode(node: ProcessNode, path: string): ProcessNode {
    if (isStepClass(node)) {
      try {
        return new (node as new () => Step<Any, Any>)();
      } catch (e) {
        this.error(
          path,
          `step ${node.name}: cannot construct it without arguments (${
            (e as Error).message
          }); pass an instance or use ${node.name}.fromConfig(path)`,
        );
        return node;
      }
    }
    if (node instanceof ConfigBinding) return this.resolveBinding(node, path) as ProcessNode ?? node;
    return node;
  }

  resolveBinding(b: ConfigBinding<unknown>, path: string): unknown {
    const label = b.configPath || b.target.name;
    const schema = b.target.configSchema;
    if (!schema) {
      this.error(
        path,
        `binding ${label}: ${b.target.name} has no static configSchema; declare \`static configSchema = v.object({...})\``,
      );
      return null;
    }
    try {
      // deno-lint-ignore no-explicit-any
      const cfg = bindConfig(this.ctx, b.configPath, schema as any, b.overrides as Record<string, unknown>);
      const obj = new b.target(cfg);
      return obj;
    } catch (e) {
      this.error(path, `binding ${label}: ${(e as Error).message}`);
      return null;
    }
  }

  // -------------------------------------------------------------------------------------------------------------
  // sinks

  topicSink(node: IntoTopic, path: string): CompiledTopicSink | null {
    if (!this.kafka) return null;
    try {
      const settings = producerFor(this.kafka, node.name);
      const sink: CompiledTopicSink = {
        logical: node.name,
        topic: settings.topic ?? node.name,
        settings,
        partitioning: node.partitioning ?? null,
        dlq: node.dlq ?? null,
        payloadType: node.payload ?? null,
        path,
      };
      this.topicSinks.set(path, sink);
      return sink;
    } catch (e) {
      this.error(path, (e as Error).message);
      return null;
    }
  }

  storageSink(node: ProcessNode, path: string): CompiledStorageSink | null {
    const sink = node as unknown as { name: string; createWriter?: unknown };
    if (!sink.name) {
      this.error(
        path,
        `storage sink '${
          nodeName(node)
        }': missing name; give it the name of its streaming.sinks.<name> section`,
      );
      return null;
    }
    const key = `streaming.sinks.${sink.name}`;
    const section = this.ctx.has(key) ? this.ctx.get(key) as Record<string, unknown> : null;
    if (!section && typeof sink.createWriter !== "function") {
      this.error(
        path,
        `storage sink '${sink.name}': no config section found at ${key}; add it to the YAML (e.g. ${key}: {table: ...})`,
      );
      return null;
    }
    if (section !== null && (typeof section !== "object" || Array.isArray(section))) {
      this.error(path, `storage sink '${sink.name}': ${key} must be a mapping`);
      return null;
    }
    const compiled: CompiledStorageSink = { sink: sink as Any, name: sink.name, section, path };
    this.storageSinks.set(path, compiled);
    return compiled;
  }

  // -------------------------------------------------------------------------------------------------------------
  // deps

  deps(node: With, path: string): CompiledDeps {
    const c = node.classified;
    const factories: Record<string, { create(): unknown }> = { ...c.contextFactories };
    const contexts: Record<string, unknown> = { ...c.syncContexts, ...c.asyncContexts };
    const plain: Record<string, unknown> = { ...c.plainDeps };
    for (const [k, b] of Object.entries(c.bindings)) {
      const r = this.resolveBinding(b, `${path}.deps.${k}`);
      if (r instanceof ContextFactory) factories[k] = r;
      else if (r !== null && typeof r === "object" && (Symbol.dispose in r || Symbol.asyncDispose in r)) {
        contexts[k] = r;
      } else if (r !== null) plain[k] = r;
    }
    const label = node instanceof WithAsync ? "WithAsync" : "With";
    if (node.scope === "batch" && Object.keys(contexts).length > 0) {
      this.error(
        path,
        `${label} with scope=BATCH cannot use direct context manager instances: ${
          Object.keys(contexts).join(", ")
        }. Use ContextFactory for batch-scoped resources.`,
      );
    }
    return { factories, contexts, plain };
  }

  // -------------------------------------------------------------------------------------------------------------
  // processes

  /**
   * Compiles a process starting from `shape`. `mode` selects branch rules.
   * Returns null when the process is unusable (errors already recorded).
   */
  process(
    proc: Process,
    path: string,
    shape: StreamShape,
    mode: "top" | "router" | "branch",
  ): CompiledProcess {
    const nodes: CompiledNode[] = [];
    let current: StreamShape = shape;
    const list = proc.nodes;
    for (let i = 0; i < list.length; i++) {
      const p = `${path}[${i}]`;
      const node = this.resolveNode(list[i], p);
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
      const compiled = this.node(node, p, current, mode, list[i + 1]);
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

  node(
    node: ProcessNode,
    path: string,
    shape: StreamShape,
    mode: "top" | "router" | "branch",
    next: ProcessNode | undefined,
  ): { node: CompiledNode; out: StreamShape } | null {
    if (isStepClass(node) || node instanceof ConfigBinding) return null; // resolution failed (already reported)
    if (isStep(node)) {
      const name = node.stepName();
      switch (node.stepKind) {
        case "record":
          if (!this.expect(path, node, "record", shape)) return null;
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
            if (!this.expect(path, node, "record", shape)) return null;
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
          if (!this.expect(path, node, "batch", shape)) return null;
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
          if (mode === "router") {
            this.error(
              path,
              `${name} (${
                node.stepKind === "expand" ? "ExpandStep" : "BatchExpandStep"
              }) is not supported in Router branches — Router is 1-to-1; use Fork for fan-out.`,
            );
            return null;
          }
          const exp = node.stepKind === "expand" ? "record" : "batch";
          if (!this.expect(path, node, exp, shape)) return null;
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
    }
    if (node instanceof CollectBatch) {
      if (mode === "router") {
        this.error(
          path,
          "CollectBatch is not supported in Router branches (a Router is 1-to-1 in place); use Fork",
        );
        return null;
      }
      if (node.window !== "collect") {
        this.error(
          path,
          `CollectBatch.window=${node.window} is not yet supported. Only WindowStrategy.COLLECT is available.`,
        );
      }
      if (!this.expect(path, node, "record", shape)) return null;
      return { node: { op: "collect", path, node }, out: "batch" };
    }
    if (node instanceof ForEach) {
      if (!this.expect(path, node, "batch", shape)) return null;
      return { node: { op: "for_each", path }, out: "record" };
    }
    if (node instanceof Drain) return { node: { op: "drain", path }, out: "none" };
    if (node instanceof IntoTopic) {
      if (!this.expect(path, node, ["record", "batch"], shape)) return null;
      const sink = this.topicSink(node, path);
      return sink ? { node: { op: "topic", path, sink, inputShape: shape }, out: "none" } : null;
    }
    if (isIntoSink(node)) {
      if (!this.expect(path, node, ["record", "batch"], shape)) return null;
      const sink = this.storageSink(node, path);
      return sink ? { node: { op: "table", path, sink, inputShape: shape }, out: "none" } : null;
    }
    if (node instanceof With) return this.withNode(node, path, shape);
    if (node instanceof Router) return this.router(node, path, shape);
    if (node instanceof Fork) {
      if (mode === "router") {
        this.error(
          path,
          "node Fork is not router-branch safe (a Router is 1-to-1); put the Fork after the Router",
        );
        return null;
      }
      return this.fork(node, path, shape);
    }
    if (node instanceof Broadcast) {
      if (mode === "router") {
        this.error(
          path,
          "node Broadcast is not router-branch safe (a Router is 1-to-1); put it after the Router",
        );
        return null;
      }
      const routes = node.routes.map((r, b) => {
        const rp = `${path}.routes[${b}]`;
        const proc = this.process(r.process, `${rp}.process`, shape, "branch");
        let output: CompiledTopicSink | null = null;
        if (r.output) {
          if (proc.outputShape === "none") {
            this.error(
              `${rp}.output`,
              "this output is never reached: the route's process ends with a terminal node",
            );
          } else output = this.topicSink(r.output, `${rp}.output`);
        }
        return { process: proc, output };
      });
      return { node: { op: "broadcast", path, routes }, out: "none" };
    }
    if (node instanceof Explode) {
      if (mode === "router") {
        this.error(
          path,
          "Explode is not supported in Router branches — Router is 1-to-1; use Fork for fan-out.",
        );
        return null;
      }
      if (!this.expect(path, node, "record", shape)) return null;
      if (!(next instanceof Router)) {
        this.error(
          path,
          `Explode must be immediately followed by a Router; got ${next ? nodeName(next) : "nothing"}`,
        );
      }
      return { node: { op: "explode", path, expander: node.expander }, out: "record" };
    }
    if (node instanceof ExpandRoutes) {
      if (mode === "router") {
        this.error(
          path,
          "ExpandRoutes is not supported in Router branches — Router is 1-to-1; use Fork for fan-out.",
        );
        return null;
      }
      if (!this.expect(path, node, "record", shape)) return null;
      const seen = new Set<string>();
      const routes = node.routes.map(([k, proc], b) => {
        const name = isMessageType(k) ? k.name : String(k);
        if (seen.has(name)) this.error(`${path}.routes[${b}]`, `type '${name}' has more than one route`);
        seen.add(name);
        const cp = this.process(proc, `${path}.routes[${b}].process`, "record", "branch");
        if (cp.outputShape !== "none") {
          this.error(
            `${path}.routes[${b}]`,
            `expand route '${name}': no terminal output found; end it with IntoTopic, Drain or a storage sink`,
          );
        }
        return [name, isMessageType(k) ? k : null, cp] as const;
      });
      let def: CompiledProcess | null = null;
      if (node.default) {
        def = this.process(node.default, `${path}.default.process`, "record", "branch");
        if (def.outputShape !== "none") {
          this.error(
            `${path}.default`,
            "expand default route: no terminal output found; end it with IntoTopic, Drain or a storage sink",
          );
        }
      }
      return {
        node: { op: "expand_routes", path, expander: node.expander, routes, default: def },
        out: "none",
      };
    }
    this.error(
      path,
      `unsupported process node ${
        nodeName(node)
      }; expected a step, CollectBatch, ForEach, Drain, IntoTopic, a storage sink, With, WithAsync, Router, Fork, Broadcast, Explode or ExpandRoutes`,
    );
    return null;
  }

  withNode(node: With, path: string, shape: StreamShape): { node: CompiledNode; out: StreamShape } | null {
    const isAsync = node instanceof WithAsync;
    const label = isAsync ? "WithAsync" : "With";
    if (!this.expect(path, node, ["record", "batch"], shape)) return null;
    const steps: { step: Step<Any, Any>; name: string; path: string }[] = [];
    let sink: CompiledTopicSink | null = null;
    const inner = node.process.nodes;
    for (let k = 0; k < inner.length; k++) {
      const p = `${path}.process[${k}]`;
      const n = this.resolveNode(inner[k], p);
      if (isStep(n) && n.stepKind === "record") {
        steps.push({ step: n, name: n.stepName(), path: p });
      } else if (n instanceof IntoTopic) {
        if (k !== inner.length - 1) {
          this.error(
            p,
            `${label}(process=...) requires IntoTopic to be last; found ${nodeName(inner[k + 1])} after it.`,
          );
        } else sink = this.topicSink(n, p);
      } else if (!isStepClass(n) && !(n instanceof ConfigBinding)) {
        this.error(
          p,
          `${label}(process=...) only supports RecordStep nodes and an optional terminal IntoTopic; found ${
            nodeName(n)
          }.`,
        );
      }
    }
    const deps = this.deps(node, path);
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

  router(node: Router, path: string, shape: StreamShape): { node: CompiledNode; out: StreamShape } | null {
    if (!this.expect(path, node, "record", shape)) return null;
    const keyed = node.routes.map(([k, proc], b) =>
      [k, this.process(proc, `${path}.routes[${b}].process`, "record", "router")] as const
    );
    const predicates = node.predicateRoutes.map((r, b) =>
      [r.when, this.process(r.process, `${path}.predicate_routes[${b}].process`, "record", "router")] as const
    );
    const def = node.default
      ? this.process(node.default, `${path}.default.process`, "record", "router")
      : null;
    const shapes = new Map<StreamShape, string[]>();
    const add = (s: StreamShape, label: string) => shapes.set(s, [...(shapes.get(s) ?? []), label]);
    keyed.forEach(([k, p]) => add(p.outputShape, `route ${JSON.stringify(k)}`));
    predicates.forEach(([_, p], i) => add(p.outputShape, `predicate_routes[${i}]`));
    if (def) add(def.outputShape, "default");
    else add("record", "unmatched messages (no default: they pass through unchanged)");
    if (shapes.size > 1) {
      this.error(
        path,
        `router branches produce different shapes: ${
          [...shapes.entries()].map(([s, ls]) => `${s} (${ls.join(", ")})`).join("; ")
        }. Make every branch end the same way${
          shapes.has("none") ? "; a Router whose branches end in terminals needs a terminal default" : ""
        }`,
      );
    }
    const out: StreamShape = def ? def.outputShape : "record";
    return {
      node: {
        op: "router",
        path,
        selector: node.selector,
        keyed,
        predicates,
        default: def,
        outputShape: out,
      },
      out,
    };
  }

  fork(node: Fork, path: string, shape: StreamShape): { node: CompiledNode; out: StreamShape } | null {
    if (node.forkKind === "keyed" && !node.selector) this.error(path, "fork selector missing for keyed fork");
    const check = (p: CompiledProcess, label: string) => {
      if (p.outputShape !== "none") {
        this.error(
          path,
          `fork branch ${label}: no terminal output found; end the branch with IntoTopic, Drain, a storage sink, With or WithAsync`,
        );
      }
    };
    const keyed = node.routes.map(([k, proc], b) => {
      const cp = this.process(proc, `${path}.routes[${b}].process`, shape, "branch");
      check(cp, JSON.stringify(k));
      return [k, cp] as const;
    });
    const predicates = node.predicateRoutes.map((r, b) => {
      const cp = this.process(r.process, `${path}.predicate_routes[${b}].process`, shape, "branch");
      check(cp, `predicate[${b}]`);
      return [r.when, cp] as const;
    });
    let def: CompiledProcess | null = null;
    if (node.default) {
      // QUIRK fixed: the original skipped the default branch in every validation.
      def = this.process(node.default, `${path}.default.process`, shape, "branch");
      check(def, "default");
    }
    return {
      node: { op: "fork", path, selector: node.selector, keyed, predicates, default: def },
      out: "none",
    };
  }

  // -------------------------------------------------------------------------------------------------------------
  // source

  source(flow: StreamFlow<Any>): CompiledSource | null {
    const src = flow.source;
    if (!this.kafka) return null;
    let logical: string;
    try {
      logical = src.logicalRef;
    } catch (e) {
      this.error("source", (e as Error).message);
      return null;
    }
    let settings;
    try {
      settings = consumerFor(this.kafka, logical);
    } catch (e) {
      this.error("source", (e as Error).message);
      return null;
    }
    // The original subscribes to nothing when `topics` is empty; we fall back to the logical name.
    const topics = settings.topics.length > 0 ? [...settings.topics] : [logical];
    if (src.kind === "from_topic") {
      if (!isMessageType(src.payload)) {
        this.error("source", "FromTopic payload must be a MessageType (messageType(name, schema))");
        return null;
      }
      return {
        kind: "single",
        logical,
        settings,
        topics,
        shape: src.shape,
        payloadType: src.payload,
        dispatch: null,
      };
    }
    const plain = new Map<string, MessageType>();
    const error = new Map<string, MessageType>();
    let wire = false;
    src.payloads.forEach((p, i) => {
      const where = `source.payloads[${i}]`;
      if (isMessageType(p)) {
        if (plain.has(p.name) || p.name === DECODE_ERROR_MESSAGE_TYPE) {
          this.error(
            where,
            `duplicate message type '${p.name}' in FromMultiTypeTopic; each type may appear once`,
          );
        }
        plain.set(p.name, p);
      } else if (p && p.kind === "error_envelope_of") {
        if (error.has(p.original.name)) {
          this.error(where, `duplicate error envelope type '${p.original.name}' in FromMultiTypeTopic`);
        }
        error.set(p.original.name, p.original);
      } else if (p && p.kind === "decode_errors") {
        if (wire) this.error(where, "DecodeErrors declared more than once in FromMultiTypeTopic");
        wire = true;
      } else {
        this.error(where, "expected a MessageType, errorEnvelopeOf(T) or DecodeErrors");
      }
    });
    const dispatch: DispatchTable = { plain, error, wire };
    return { kind: "multi", logical, settings, topics, shape: src.shape, payloadType: null, dispatch };
  }
}

/**
 * Compiles a flow against a configuration (a {@link ConfigContext} from YAML, or a plain object).
 * Throws {@link CompilationError} listing every problem, each with its node path.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { compileFlow, FromTopic, IntoTopic, Process, RecordStep, StreamFlow, messageType } from "@loom/streaming";
 * const Order = messageType("order.created", v.object({ order_id: v.string() }));
 * const flow = new StreamFlow({
 *   name: "orders",
 *   source: new FromTopic("orders.raw", Order),
 *   process: new Process(RecordStep.of((m) => m.payload)),
 *   output: new IntoTopic("orders.out"),
 * });
 * const plan = compileFlow(flow, {
 *   kafka: {
 *     consumer: { brokers: ["127.0.0.1:9092"], group_id: "g", topics: ["orders.raw"] },
 *     producer: { brokers: ["127.0.0.1:9092"] },
 *   },
 * });
 * ```
 */
export function compileFlow(
  // deno-lint-ignore no-explicit-any
  flow: StreamFlow<any>,
  config: ConfigContext | Record<string, unknown>,
): CompiledPlan {
  const ctx = config instanceof ConfigContext ? config : ConfigContext.fromObject(config);
  const c = new Compiler(ctx);
  try {
    c.kafka = readKafkaSettings(ctx);
  } catch (e) {
    c.error("", `kafka: ${(e as Error).message}`);
  }
  let runtime;
  try {
    runtime = readRuntimeSettings(ctx);
  } catch (e) {
    c.error("", `streaming.runtime: ${(e as Error).message}`);
  }
  const source = c.source(flow);
  const shape = flow.source.shape;
  const proc = c.process(flow.process, "process", shape, "top");
  let output: CompiledTopicSink | null = null;
  if (flow.output) {
    const last = flow.process.nodes[flow.process.nodes.length - 1];
    if (last instanceof Fork) {
      c.error("output", "flow.output cannot be combined with Fork: branches must be terminal");
    } else if (last instanceof Broadcast) {
      c.error("output", "flow.output cannot be combined with Broadcast: branches must be terminal");
    } else if (proc.outputShape === "none") {
      c.error(
        "output",
        `flow.output is never reached: the process ends with ${nodeName(last)}, which is terminal`,
      );
    }
    output = c.topicSink(flow.output, "output");
  } else if (proc.outputShape !== "none") {
    const hasTerminal = c.topicSinks.size > 0 || c.storageSinks.size > 0 || hasAnyTerminal(proc);
    c.error(
      "output",
      hasTerminal
        ? `the process ends with a ${proc.outputShape} stream that goes nowhere; add flow.output or end the process with a terminal node (IntoTopic, Drain, a storage sink)`
        : "no terminal output found: add IntoTopic, a storage sink node, or flow.output",
    );
  }
  const errorRoutes = new Map<ErrorKind, CompiledTopicSink>();
  for (const [kind, topic] of flow.errors) {
    const s = c.topicSink(topic, `errors.${kind}`);
    if (s) errorRoutes.set(kind, s);
  }
  if (c.issues.length > 0 || !source || !runtime || !c.kafka) throw new CompilationError(c.issues);
  const plan: CompiledPlan = {
    name: flow.name,
    flow,
    source,
    process: proc,
    output,
    errorRoutes,
    topicSinks: c.topicSinks,
    storageSinks: c.storageSinks,
    kafka: c.kafka,
    runtime,
    config: ctx.raw,
  };
  return Object.freeze(plan);
}

function hasAnyTerminal(p: CompiledProcess): boolean {
  return p.nodes.some((n) =>
    n.op === "drain" || n.op === "topic" || n.op === "table" || n.op === "with" || n.op === "fork" ||
    n.op === "broadcast" || n.op === "expand_routes" ||
    (n.op === "router" &&
      [...n.keyed.map((k) => k[1]), ...n.predicates.map((k) => k[1]), ...(n.default ? [n.default] : [])]
        .some(hasAnyTerminal))
  );
}

export { ConfigError };
