/**
 * Per-node timing without touching the engine: {@link instrumentPlan} returns a copy of a compiled plan
 * whose steps report each invocation (a record for record steps, a batch for batch steps) to a
 * {@link NodeTimer}. A synchronous step costs two clock reads per invocation and no allocation; an
 * asynchronous one is timed when its promise settles.
 *
 * @module
 */
import type { CompiledNode, CompiledPlan, CompiledProcess } from "../_plan.ts";
import type { Step } from "../dsl/mod.ts";

/**
 * Receives the duration of each step invocation, and the step's input (a message for a record step, the
 * messages for a batch step) so a receiver can read the trace ids and the source partition of what ran.
 *
 * @example
 * ```ts
 * import type { NodeTimer } from "@loom/streaming/engine";
 * const timer: NodeTimer = (path, name, ms, error) => console.log(path, name, ms, error === null);
 * ```
 */
export type NodeTimer = (
  path: string,
  name: string,
  durationMs: number,
  error: unknown,
  input?: unknown,
) => void;

const isThenable = (v: unknown): v is PromiseLike<unknown> =>
  v !== null && (typeof v === "object" || typeof v === "function") &&
  typeof (v as PromiseLike<unknown>).then === "function";

// deno-lint-ignore no-explicit-any
type AnyStep = Step<any, any>;

function timed(step: AnyStep, path: string, name: string, timer: NodeTimer): AnyStep {
  // The copy inherits everything (kind, name, output type, instanceof) from the step; only execute differs,
  // and it calls the original with the original as `this` (steps may hold private fields).
  const original = step as unknown as { execute(input: unknown, deps: unknown): unknown };
  const copy = Object.create(step) as { execute(input: unknown, deps: unknown): unknown };
  copy.execute = (input: unknown, deps: unknown): unknown => {
    const t0 = performance.now();
    let r: unknown;
    try {
      r = original.execute(input, deps);
    } catch (e) {
      timer(path, name, performance.now() - t0, e, input);
      throw e;
    }
    if (!isThenable(r)) {
      timer(path, name, performance.now() - t0, null, input);
      return r;
    }
    return Promise.resolve(r).then((v) => {
      timer(path, name, performance.now() - t0, null, input);
      return v;
    }, (e) => {
      timer(path, name, performance.now() - t0, e, input);
      throw e;
    });
  };
  return copy as unknown as AnyStep;
}

function mapProcess(p: CompiledProcess, timer: NodeTimer): CompiledProcess {
  return { ...p, nodes: p.nodes.map((n) => mapNode(n, timer)) };
}

function mapNode(n: CompiledNode, timer: NodeTimer): CompiledNode {
  switch (n.op) {
    case "step":
      return { ...n, step: timed(n.step, n.path, n.name, timer) };
    case "with":
      return { ...n, steps: n.steps.map((s) => ({ ...s, step: timed(s.step, s.path, s.name, timer) })) };
    case "router":
    case "fork":
      return {
        ...n,
        keyed: n.keyed.map(([k, sub]) => [k, mapProcess(sub, timer)] as const),
        predicates: n.predicates.map(([pr, sub]) => [pr, mapProcess(sub, timer)] as const),
        default: n.default ? mapProcess(n.default, timer) : null,
      } as CompiledNode;
    case "broadcast":
      return { ...n, routes: n.routes.map((r) => ({ ...r, process: mapProcess(r.process, timer) })) };
    case "expand_routes":
      return {
        ...n,
        routes: n.routes.map(([name, t, sub]) => [name, t, mapProcess(sub, timer)] as const),
        default: n.default ? mapProcess(n.default, timer) : null,
      };
    default:
      return n;
  }
}

/**
 * A copy of `plan` whose steps (also inside routes and With nodes) report every invocation to `timer`.
 *
 * @example
 * ```ts ignore
 * const timedPlan = instrumentPlan(plan, (path, name, ms) => histogram.labels(path).observe(ms / 1000));
 * const runner = new KafkaFlowRunner(timedPlan);
 * ```
 */
export function instrumentPlan(plan: CompiledPlan, timer: NodeTimer): CompiledPlan {
  return { ...plan, process: mapProcess(plan.process, timer) };
}

/**
 * One {@link NodeTimer} calling both (the second skipped when null): e.g. the flow metrics' timer and the
 * lifecycle events' one, which is null unless some observer wants per-invocation events.
 *
 * @example
 * ```ts
 * import { bothNodeTimers, type NodeTimer } from "@loom/streaming/engine";
 * const seen: string[] = [];
 * const metrics: NodeTimer = (path) => void seen.push(`metrics ${path}`);
 * const events: NodeTimer | null = (path) => void seen.push(`events ${path}`);
 * bothNodeTimers(metrics, events)("process[0]", "enrich", 1.2, null);
 * seen; // ["metrics process[0]", "events process[0]"]
 * ```
 */
export function bothNodeTimers(first: NodeTimer, second: NodeTimer | null): NodeTimer {
  return second === null ? first : (path, name, ms, error, input) => {
    first(path, name, ms, error, input);
    second(path, name, ms, error, input);
  };
}
