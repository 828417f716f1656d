/**
 * The compiled plan as the admin API shows it: a JSON tree of nodes (op, path, name, sinks), the
 * resolved source and outputs, the runtime settings and the configuration (secrets redacted), and a
 * Mermaid `flowchart` of the graph.
 *
 * @module
 */
import type {
  CompiledNode,
  CompiledPlan,
  CompiledProcess,
  CompiledTopicSink,
} from "../../streaming/_plan.ts";
import { redactSecrets } from "./_redact.ts";

/**
 * One node of the plan view.
 *
 * @example
 * ```ts
 * import type { PlanNodeView } from "@loom/streaming/runtime";
 * const node: PlanNodeView = { id: "n1", op: "step", path: "process[0]", label: "validate", children: [] };
 * ```
 */
export interface PlanNodeView {
  /** Mermaid node id. */
  readonly id: string;
  /** Operation (`step`, `router`, `topic`, …). */
  readonly op: string;
  /** Node path in the plan. */
  readonly path: string;
  /** Display label. */
  readonly label: string;
  /** Branches (router routes, fork routes, broadcast routes), each a list of nodes. */
  readonly children: readonly { readonly label: string; readonly nodes: readonly PlanNodeView[] }[];
}

/**
 * The plan view returned by `GET /flows`.
 *
 * @example
 * ```ts ignore
 * const view: PlanView = planView(plan);
 * console.log(view.mermaid);
 * ```
 */
export interface PlanView {
  /** Flow name. */
  readonly name: string;
  /** Source topics, group and kind. */
  readonly source: {
    readonly kind: string;
    readonly logical: string;
    readonly topics: readonly string[];
    readonly group: string;
  };
  /** The node tree. */
  readonly nodes: readonly PlanNodeView[];
  /** Kafka outputs: path → topic (and dead-letter topic). */
  readonly outputs: readonly {
    readonly path: string;
    readonly logical: string;
    readonly topic: string;
    readonly dlq: string | null;
  }[];
  /** Error routes: kind → topic. */
  readonly errorRoutes: Readonly<Record<string, string>>;
  /** Storage sinks: path → name. */
  readonly tables: readonly { readonly path: string; readonly name: string }[];
  /** `streaming.runtime` with defaults. */
  readonly runtime: Readonly<Record<string, unknown>>;
  /** The configuration, secrets redacted. */
  readonly config: unknown;
  /** Mermaid flowchart source. */
  readonly mermaid: string;
  /** The same graph as node and edge lists (what the status page draws). */
  readonly graph: PlanGraph;
}

/**
 * The flow graph as plain lists.
 *
 * @example
 * ```ts
 * import type { PlanGraph } from "@loom/streaming/runtime";
 * const g: PlanGraph = { nodes: [{ id: "src", label: "source orders", kind: "topic" }], edges: [] };
 * ```
 */
export interface PlanGraph {
  /** Nodes (`kind`: box, round, diamond, topic). */
  readonly nodes: readonly { readonly id: string; readonly label: string; readonly kind: string }[];
  /** Edges (`dashed` for dead-letter links). */
  readonly edges: readonly {
    readonly from: string;
    readonly to: string;
    readonly label?: string;
    readonly dashed?: boolean;
  }[];
}

const q = (s: string): string => `"${s.replace(/"/g, "#quot;").replace(/[<>]/g, "")}"`;

/**
 * Builds the plan view of `plan` (secrets redacted).
 *
 * @example
 * ```ts ignore
 * import { planView } from "@loom/streaming/runtime";
 * planView(plan).mermaid.startsWith("flowchart LR"); // true
 * ```
 */
export function planView(plan: CompiledPlan): PlanView {
  let seq = 0;
  const lines: string[] = ["flowchart LR"];
  const gnodes: { id: string; label: string; kind: string }[] = [];
  const gedges: { from: string; to: string; label?: string; dashed?: boolean }[] = [];
  const edgeLine = (from: string, to: string, label = "", dashed = false) => {
    lines.push(`  ${from} ${dashed ? "-.->" : "-->"}${label ? `|${q(label)}|` : ""} ${to}`);
    gedges.push({ from, to, ...(label ? { label } : {}), ...(dashed ? { dashed } : {}) });
  };
  const nodeLine = (id: string, label: string, shape: "box" | "round" | "diamond" | "topic") => {
    gnodes.push({ id, label, kind: shape });
    const l = q(label);
    lines.push(
      shape === "diamond"
        ? `  ${id}{${l}}`
        : shape === "round"
        ? `  ${id}(${l})`
        : shape === "topic"
        ? `  ${id}[(${l})]`
        : `  ${id}[${l}]`,
    );
  };
  const sinkNode = (s: CompiledTopicSink): string => {
    const id = `t${++seq}`;
    nodeLine(id, `topic ${s.topic}`, "topic");
    if (s.dlq) {
      const d = `t${++seq}`;
      nodeLine(d, `dlq ${s.dlq}`, "topic");
      edgeLine(id, d, "", true);
    }
    return id;
  };
  /** Renders a process after `from`; returns the tail ids (null when the branch ended in a sink). */
  const walk = (
    p: CompiledProcess,
    from: string[],
    edge = "",
  ): { views: PlanNodeView[]; tails: string[] } => {
    const views: PlanNodeView[] = [];
    let tails = from;
    let first = true;
    const link = (id: string) => {
      for (const t of tails) edgeLine(t, id, first ? edge : "");
      first = false;
    };
    for (const n of p.nodes) {
      const id = `n${++seq}`;
      const children: { label: string; nodes: PlanNodeView[] }[] = [];
      const label = labelOf(n);
      nodeLine(
        id,
        label,
        n.op === "router" || n.op === "fork" || n.op === "expand_routes" ? "diamond" : "box",
      );
      link(id);
      tails = [id];
      if (n.op === "topic") {
        const s = sinkNode(n.sink);
        edgeLine(id, s);
      } else if (n.op === "with" && n.sink) {
        const s = sinkNode(n.sink);
        edgeLine(id, s);
      } else if (n.op === "router" || n.op === "fork") {
        const branches: [string, CompiledProcess][] = [
          ...n.keyed.map(([k, sub]) => [String(k), sub] as [string, CompiledProcess]),
          ...n.predicates.map(([, sub], i) => [`when ${i}`, sub] as [string, CompiledProcess]),
          ...(n.default ? [["default", n.default] as [string, CompiledProcess]] : []),
        ];
        const out: string[] = [];
        for (const [bl, sub] of branches) {
          const r = walk(sub, [id], bl);
          children.push({ label: bl, nodes: r.views });
          out.push(...r.tails);
        }
        tails = n.op === "router" ? (out.length ? out : [id]) : [];
      } else if (n.op === "broadcast") {
        n.routes.forEach((route, i) => {
          const r = walk(route.process, [id], `route ${i}`);
          children.push({ label: `route ${i}`, nodes: r.views });
          if (route.output) {
            const s = sinkNode(route.output);
            for (const t of r.tails) edgeLine(t, s);
          }
        });
        tails = [];
      } else if (n.op === "expand_routes") {
        const out: string[] = [];
        for (const [tn, , sub] of n.routes) {
          const r = walk(sub, [id], tn);
          children.push({ label: tn, nodes: r.views });
          out.push(...r.tails);
        }
        if (n.default) {
          const r = walk(n.default, [id], "default");
          children.push({ label: "default", nodes: r.views });
          out.push(...r.tails);
        }
        tails = out;
      } else if (n.op === "drain" || n.op === "table") tails = [];
      views.push({ id, op: n.op, path: n.path, label, children });
    }
    return { views, tails };
  };
  const src = `src`;
  nodeLine(src, `source ${plan.source.topics.join(", ")}`, "topic");
  const { views, tails } = walk(plan.process, [src]);
  if (plan.output) {
    const s = sinkNode(plan.output);
    for (const t of tails) edgeLine(t, s);
  }
  for (const [kind, route] of plan.errorRoutes) {
    const id = `e${++seq}`;
    nodeLine(id, `errors ${kind} → ${route.topic}`, "round");
  }
  const outputs = [...plan.topicSinks.values()].map((s) => ({
    path: s.path,
    logical: s.logical,
    topic: s.topic,
    dlq: s.dlq,
  }));
  return {
    name: plan.name,
    source: {
      kind: plan.source.kind,
      logical: plan.source.logical,
      topics: plan.source.topics,
      group: plan.source.settings.groupId,
    },
    nodes: views,
    outputs,
    errorRoutes: Object.fromEntries([...plan.errorRoutes].map(([k, s]) => [k, s.topic])),
    tables: [...plan.storageSinks.values()].map((s) => ({ path: s.path, name: s.name })),
    runtime: redactSecrets({ ...plan.runtime }) as Record<string, unknown>,
    config: redactSecrets(plan.config),
    mermaid: lines.join("\n"),
    graph: { nodes: gnodes, edges: gedges },
  };
}

function labelOf(n: CompiledNode): string {
  switch (n.op) {
    case "step":
      return `${n.name} (${n.stepKind})`;
    case "collect":
      return `CollectBatch`;
    case "topic":
      return `IntoTopic ${n.sink.logical}`;
    case "table":
      return `IntoTable ${n.sink.name}`;
    case "with":
      return `${n.async ? "WithAsync" : "With"} [${n.steps.map((s) => s.name).join(", ")}]`;
    case "router":
      return "Router";
    case "fork":
      return "Fork";
    case "broadcast":
      return "Broadcast";
    case "explode":
      return "Explode";
    case "expand_routes":
      return "ExpandRoutes";
    case "for_each":
      return "ForEach";
    case "drain":
      return "Drain";
  }
}
