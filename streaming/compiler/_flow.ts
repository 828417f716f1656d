/**
 * `compileFlow`: resolves bindings and configuration, validates the whole flow, and returns an
 * immutable {@link CompiledPlan}. Every problem is gathered into one {@link CompilationError}.
 *
 * @module
 */
import { ConfigContext, readKafkaSettings, readRuntimeSettings } from "../config/mod.ts";
import { Broadcast, Fork, type StreamFlow } from "../dsl/mod.ts";
import type { ErrorKind } from "../_message.ts";
import type { CompiledPlan, CompiledProcess, CompiledTopicSink } from "../_plan.ts";
import { Compiler } from "./_compiler.ts";
import { checkConfigAgainstFlow } from "./_config_checks.ts";
import { checkGuarantee } from "./_guarantee.ts";
import { nodeName } from "./_node_name.ts";
import { CompilationError } from "./_errors.ts";
import { compileSource } from "./_source.ts";
import { topicSink } from "./_terminals.ts";

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
  const source = compileSource(c, flow);
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
    output = topicSink(c, flow.output, "output");
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
    const s = topicSink(c, topic, `errors.${kind}`);
    if (s) errorRoutes.set(kind, s);
  }
  checkConfigAgainstFlow(c);
  const warnings = runtime
    ? checkGuarantee(c, {
      process: proc,
      output,
      errorRoutes,
      topicSinks: c.topicSinks,
      storageSinks: c.storageSinks,
      runtime,
    })
    : [];
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
    warnings,
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
