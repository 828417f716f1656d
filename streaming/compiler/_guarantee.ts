/**
 * Compile-time checks of `streaming.runtime.processing_guarantee: exactly_once`: what a Kafka transaction
 * cannot cover is rejected (table sinks, outputs on several Kafka clusters) or reported as a warning the
 * runner logs at start (WithAsync side effects, CollectBatch windows cut at each transaction commit).
 *
 * @module
 */
import type { CompiledPlan, CompiledProcess, CompiledTopicSink } from "../_plan.ts";
import type { Compiler } from "./_compiler.ts";

type PlanParts = Pick<
  CompiledPlan,
  "process" | "output" | "errorRoutes" | "topicSinks" | "storageSinks" | "runtime"
>;

/** Calls `visit` for every compiled process of the tree (the root first). */
function walk(p: CompiledProcess, visit: (p: CompiledProcess) => void): void {
  visit(p);
  for (const n of p.nodes) {
    if (n.op === "router" || n.op === "fork") {
      for (const [, b] of n.keyed) walk(b, visit);
      for (const [, b] of n.predicates) walk(b, visit);
      if (n.default) walk(n.default, visit);
    } else if (n.op === "broadcast") {
      for (const r of n.routes) walk(r.process, visit);
    } else if (n.op === "expand_routes") {
      for (const [, , b] of n.routes) walk(b, visit);
      if (n.default) walk(n.default, visit);
    }
  }
}

/** The settings of a producer without its topic: equal strings mean one client can write both. */
const producerKey = (s: CompiledTopicSink): string => JSON.stringify({ ...s.settings, topic: null });

/**
 * Errors (through `c.error`) and warnings of an exactly-once plan; no-op under at-least-once.
 *
 * @returns The warnings, for {@link CompiledPlan.warnings}.
 */
export function checkGuarantee(c: Compiler, plan: PlanParts): string[] {
  if (plan.runtime.processingGuarantee !== "exactly_once") return [];
  const why = "processing_guarantee: exactly_once";
  for (const [path, s] of plan.storageSinks) {
    c.error(
      path,
      `storage sink '${s.name}' is not transactional with Kafka (${why}): its rows would be written ` +
        "again after an aborted transaction; write to a topic and load the table from it with a " +
        "read_committed consumer, or use processing_guarantee: at_least_once",
    );
  }
  const sinks = [
    ...(plan.output ? [plan.output] : []),
    ...plan.topicSinks.values(),
    ...plan.errorRoutes.values(),
  ];
  const keys = new Set(sinks.map(producerKey));
  if (keys.size > 1) {
    c.error(
      "",
      `${why}: the flow writes through ${keys.size} different producer configurations, and one ` +
        "transaction spans one producer; give every output (and error route) the same kafka.producer settings",
    );
  }
  const warnings: string[] = [];
  walk(plan.process, (p) => {
    for (const n of p.nodes) {
      if (n.op === "with" && n.async) {
        warnings.push(
          `${n.path}: WithAsync side effects are not exactly-once (${why}): calls made for a batch ` +
            "whose transaction aborts are made again when the batch is processed again; keep them idempotent",
        );
      } else if (n.op === "collect") {
        warnings.push(
          `${n.path}: CollectBatch windows cannot span transactions (${why}): each window is flushed ` +
            "before its transaction commits (every transaction_batches fetched batches), so windows may be " +
            "smaller than CollectBatch's size",
        );
      }
    }
  });
  return warnings;
}
