/**
 * Lifecycle events (§5.19 of the original): START / END / ERROR of a scope (the flow run, a poll cycle
 * = one fetched batch, a write = one delivery to a topic or table) with duration, status, trace and
 * correlation ids, sent to pluggable observers: a JSON-lines logger (the default) and Prometheus
 * (`lifecycle_duration_seconds{scope,name}`, `lifecycle_errors_total{scope,name}`, as in the original).
 *
 * @module
 */
import type { CompiledPlan } from "../_plan.ts";
import type { RecordBatch } from "../_transport.ts";
import type { Message } from "../_message.ts";
import type { LoopState } from "../_loop.ts";
import { HEADERS } from "../_wire_headers.ts";
import { DURATION_BUCKETS, type MetricsRegistry } from "./_metrics.ts";
import type { FlowObserver } from "./_observer.ts";
import type { NodeTimer } from "./_node_timing.ts";

/**
 * Scope of a lifecycle event (the original's `Scope` names).
 *
 * @example
 * ```ts
 * import type { LifecycleScope } from "@loom/streaming/engine";
 * const scope: LifecycleScope = "poll_cycle";
 * ```
 */
export type LifecycleScope = "flow" | "poll_cycle" | "node" | "write" | "transport";

/**
 * A lifecycle event.
 *
 * @example
 * ```ts
 * import type { LifecycleEvent } from "@loom/streaming/engine";
 * const e: LifecycleEvent = {
 *   scope: "write", name: "orders:orders.out", kind: "END", traceId: null, correlationId: null, id: null,
 *   durationMs: 3.2, status: "success", error: null, meta: { batch_size: 10 },
 * };
 * ```
 */
export interface LifecycleEvent {
  /** Scope. */
  readonly scope: LifecycleScope;
  /** Name (`<flow>` for the flow, `<flow>:<topic>` for writes and poll cycles). */
  readonly name: string;
  /** START, END or ERROR. */
  readonly kind: "START" | "END" | "ERROR";
  /** Trace id of the (first) message, when known. */
  readonly traceId: string | null;
  /** Correlation id of the (first) message, when known. */
  readonly correlationId: string | null;
  /** Event id (run id of the flow, `topic[partition]@offset` of a poll cycle). */
  readonly id: string | null;
  /** Duration in ms (END and ERROR). */
  readonly durationMs: number | null;
  /** `success` (END) or `failure` (ERROR); null on START. */
  readonly status: "success" | "failure" | null;
  /** Error text (ERROR). */
  readonly error: string | null;
  /** Extra fields (`error_type` on ERROR). */
  readonly meta: Readonly<Record<string, unknown>>;
}

/**
 * Receives lifecycle events. An observer that throws is reported once as `observer_error` and ignored.
 *
 * @example
 * ```ts
 * import type { LifecycleObserver } from "@loom/streaming/engine";
 * const errors: string[] = [];
 * const observer: LifecycleObserver = { onEvent: (e) => void (e.kind === "ERROR" && errors.push(e.name)) };
 * ```
 */
export interface LifecycleObserver {
  /** Called for every event. */
  onEvent(event: LifecycleEvent): void;
  /** True when the observer wants per-batch events (poll cycles, writes); default true. */
  readonly wantsDetail?: boolean;
}

/**
 * Sends events to every observer (the original's `ObservabilityRuntime`).
 *
 * @example
 * ```ts
 * import { ObservabilityRuntime } from "@loom/streaming/engine";
 * const seen: string[] = [];
 * const obs = new ObservabilityRuntime([{ onEvent: (e) => void seen.push(`${e.scope}:${e.kind}`) }]);
 * obs.emit({ scope: "flow", name: "orders", kind: "START" });
 * seen; // ["flow:START"]
 * ```
 */
export class ObservabilityRuntime {
  /** The observers. */
  readonly observers: readonly LifecycleObserver[];
  /** True when some observer wants per-batch events. */
  readonly detailed: boolean;
  #failed = new Set<LifecycleObserver>();

  /**
   * Creates the runtime.
   *
   * @param observers observers (none: a no-op runtime)
   * @param onObserverError called once per observer that throws
   */
  constructor(
    observers: readonly LifecycleObserver[] = [],
    readonly onObserverError: (error: unknown) => void = () => {},
  ) {
    this.observers = observers;
    this.detailed = observers.some((o) => o.wantsDetail !== false);
  }

  /** Emits an event (missing fields default to null / `{}`). */
  emit(e: Partial<LifecycleEvent> & Pick<LifecycleEvent, "scope" | "name" | "kind">): void {
    const event: LifecycleEvent = {
      scope: e.scope,
      name: e.name,
      kind: e.kind,
      traceId: e.traceId ?? null,
      correlationId: e.correlationId ?? null,
      id: e.id ?? null,
      durationMs: e.durationMs ?? null,
      status: e.status ?? (e.kind === "START" ? null : e.kind === "END" ? "success" : "failure"),
      error: e.error ?? null,
      meta: e.meta ?? {},
    };
    for (const o of this.observers) {
      try {
        o.onEvent(event);
      } catch (err) {
        if (!this.#failed.has(o)) {
          this.#failed.add(o);
          this.onObserverError(err);
        }
      }
    }
  }

  /** Runs `fn` inside START … END/ERROR events of `scope:name`. */
  async span<T>(
    scope: LifecycleScope,
    name: string,
    fn: () => Promise<T> | T,
    fields: Partial<Pick<LifecycleEvent, "traceId" | "correlationId" | "id" | "meta">> = {},
  ): Promise<T> {
    this.emit({ scope, name, kind: "START", ...fields });
    const t0 = performance.now();
    try {
      const r = await fn();
      this.emit({ scope, name, kind: "END", durationMs: performance.now() - t0, ...fields });
      return r;
    } catch (e) {
      this.emit({
        scope,
        name,
        kind: "ERROR",
        durationMs: performance.now() - t0,
        error: e instanceof Error ? e.message : String(e),
        ...fields,
        meta: { ...fields.meta, error_type: e instanceof Error ? e.name : typeof e },
      });
      throw e;
    }
  }
}

/**
 * Level names of {@link jsonLinesObserver} (the original's `log.config.level`).
 *
 * @example
 * ```ts
 * import type { EventLogLevel } from "@loom/streaming/engine";
 * const level: EventLogLevel = "debug";
 * ```
 */
export type EventLogLevel = "debug" | "info" | "warning" | "error";

const RANK: Record<EventLogLevel, number> = { debug: 0, info: 1, warning: 2, error: 3 };

/**
 * The JSON-lines lifecycle logger (the default observer): flow START and END at info, poll cycles and
 * writes at debug (so per-batch lines appear only at `debug`), every ERROR at error.
 *
 * @example
 * ```ts
 * import { jsonLinesObserver, ObservabilityRuntime } from "@loom/streaming/engine";
 * const lines: string[] = [];
 * const obs = new ObservabilityRuntime([jsonLinesObserver("info", (l) => void lines.push(l))]);
 * obs.emit({ scope: "flow", name: "orders", kind: "END", durationMs: 12 });
 * JSON.parse(lines[0]).event; // "lifecycle"
 * ```
 */
export function jsonLinesObserver(
  level: EventLogLevel = "info",
  write: (line: string) => void = (l) => console.error(l),
): LifecycleObserver {
  const min = RANK[level];
  return {
    wantsDetail: min === 0,
    onEvent(e) {
      const lv: EventLogLevel = e.kind === "ERROR" ? "error" : e.scope === "flow" ? "info" : "debug";
      if (RANK[lv] < min) return;
      write(JSON.stringify({
        ts: new Date().toISOString(),
        level: lv,
        event: "lifecycle",
        scope: e.scope,
        name: e.name,
        kind: e.kind,
        status: e.status,
        duration_ms: e.durationMs === null ? null : Math.round(e.durationMs * 1000) / 1000,
        trace_id: e.traceId,
        correlation_id: e.correlationId,
        id: e.id,
        ...(e.error !== null ? { error: e.error } : {}),
        ...e.meta,
      }));
    },
  };
}

/**
 * The Prometheus lifecycle observer: `lifecycle_duration_seconds{scope,name}` observed on events with a
 * duration (END and ERROR), `lifecycle_errors_total{scope,name}` on ERROR.
 *
 * @example
 * ```ts
 * import { MetricsRegistry, ObservabilityRuntime, prometheusObserver } from "@loom/streaming/engine";
 * const registry = new MetricsRegistry();
 * new ObservabilityRuntime([prometheusObserver(registry)]).emit({ scope: "flow", name: "f", kind: "ERROR", durationMs: 5 });
 * registry.collect().find((f) => f.name === "lifecycle_errors_total")?.samples.length; // 1
 * ```
 */
export function prometheusObserver(registry: MetricsRegistry): LifecycleObserver {
  const duration = registry.histogram(
    "lifecycle_duration_seconds",
    "Duration of lifecycle scopes (flow run, poll cycle, write).",
    ["scope", "name"],
    DURATION_BUCKETS,
  );
  const errors = registry.counter("lifecycle_errors_total", "Lifecycle scopes that ended in an error.", [
    "scope",
    "name",
  ]);
  return {
    onEvent(e) {
      if (e.kind !== "START" && e.durationMs !== null) {
        duration.labels(e.scope, e.name).observe(e.durationMs / 1000);
      }
      if (e.kind === "ERROR") errors.labels(e.scope, e.name).inc();
    },
  };
}

const utf8 = new TextDecoder();
const errorType = (e: unknown): { error_type?: string } =>
  e === null || e === undefined ? {} : { error_type: e instanceof Error ? e.name : typeof e };
const text = (h: Readonly<Record<string, Uint8Array>> | null | undefined, k: string): string | null => {
  const v = h?.[k];
  return v === undefined ? null : utf8.decode(v);
};

/**
 * Turns the run loop's observation port into lifecycle events of `plan`: the flow run (START when
 * running, END when stopped, ERROR when failed), one poll cycle per fetched batch and one write per
 * delivery (only when some observer wants per-batch events).
 *
 * @example
 * ```ts ignore
 * const observer = lifecycleFlowObserver(plan, new ObservabilityRuntime([jsonLinesObserver()]));
 * const runner = new KafkaFlowRunner(plan, { observer });
 * ```
 */
export function lifecycleFlowObserver(
  plan: CompiledPlan,
  runtime: ObservabilityRuntime,
  runId: string = crypto.randomUUID(),
): FlowObserver {
  const flow = plan.name;
  const nodeCount = plan.process.nodes.length;
  let startedAt = 0;
  const batchFields = (b: RecordBatch) => {
    const first = b.records[0];
    return {
      traceId: text(first?.headers, HEADERS.traceId),
      correlationId: text(first?.headers, HEADERS.correlationId),
      id: `${b.topic}[${b.partition}]@${first?.offset ?? "?"}`,
    };
  };
  const observer: FlowObserver = {
    stateChanged(state: LoopState, failure: unknown) {
      if (state === "running") {
        startedAt = performance.now();
        runtime.emit({
          scope: "flow",
          name: flow,
          kind: "START",
          id: runId,
          meta: { node_count: nodeCount },
        });
      } else if (state === "stopped" || state === "failed") {
        const failed = state === "failed";
        runtime.emit({
          scope: "flow",
          name: flow,
          kind: failed ? "ERROR" : "END",
          id: runId,
          durationMs: startedAt ? performance.now() - startedAt : 0,
          error: failed ? (failure instanceof Error ? failure.message : String(failure)) : null,
          meta: failed
            ? { node_count: nodeCount, error_type: failure instanceof Error ? failure.name : typeof failure }
            : { node_count: nodeCount },
        });
      }
    },
  };
  if (!runtime.detailed) return observer;
  observer.batchStarted = (b) => {
    runtime.emit({
      scope: "poll_cycle",
      name: `${flow}:${b.topic}`,
      kind: "START",
      ...batchFields(b),
      meta: { flow, topic: b.topic, partition: b.partition, batch_size: b.records.length },
    });
  };
  observer.batchHandled = (b, ms, error) => {
    runtime.emit({
      scope: "poll_cycle",
      name: `${flow}:${b.topic}`,
      kind: error ? "ERROR" : "END",
      durationMs: ms,
      error: error ? (error instanceof Error ? error.message : String(error)) : null,
      ...batchFields(b),
      meta: {
        flow,
        topic: b.topic,
        partition: b.partition,
        batch_size: b.records.length,
        ...errorType(error),
      },
    });
  };
  observer.delivered = (target, records, ms, error, headers, source) => {
    runtime.emit({
      scope: "write",
      name: `${flow}:${target}`,
      kind: error ? "ERROR" : "END",
      durationMs: ms,
      traceId: text(headers, HEADERS.traceId),
      correlationId: text(headers, HEADERS.correlationId),
      error: error ? (error instanceof Error ? error.message : String(error)) : null,
      meta: source
        ? {
          flow,
          sink: target,
          batch_size: records,
          source_topic: source.topic,
          source_partition: source.partition,
          ...errorType(error),
        }
        : { flow, sink: target, batch_size: records, ...errorType(error) },
    });
  };
  return observer;
}

/** The first message of a step input (a message, or the messages of a batch step), else null. */
function firstMessage(input: unknown): Message | null {
  const m = Array.isArray(input) ? input[0] : input;
  return m !== null && typeof m === "object" && "meta" in m && m.meta !== null && typeof m.meta === "object"
    ? m as Message
    : null;
}

/**
 * NODE lifecycle events (END or ERROR with the duration, `flow`, `node_idx` = path, `node_type` = name,
 * the trace and correlation ids of the (first) input message and its source partition as `source_topic`
 * and `source_partition`) of every step invocation, or null when no observer wants per-invocation detail
 * (debug level, Prometheus lifecycle histograms, OpenTelemetry spans).
 *
 * @example
 * ```ts ignore
 * const timer = lifecycleNodeTimer(plan, events);
 * if (timer) plan = instrumentPlan(plan, timer);
 * ```
 */
export function lifecycleNodeTimer(plan: CompiledPlan, runtime: ObservabilityRuntime): NodeTimer | null {
  if (!runtime.detailed) return null;
  const flow = plan.name;
  // called once per step invocation (per record for record steps): one event object, its meta, no spreads
  const names = new Map<string, string>();
  return (path, name, ms, error, input) => {
    const meta = firstMessage(input)?.meta;
    let eventName = names.get(path);
    if (eventName === undefined) names.set(path, eventName = `${flow}:${path}`);
    const fields: Record<string, unknown> = { flow, node_idx: path, node_type: name };
    if (meta && meta.topic !== null && meta.partition !== null) {
      fields.source_topic = meta.topic;
      fields.source_partition = meta.partition;
    }
    const failed = error !== null && error !== undefined;
    if (failed) fields.error_type = error instanceof Error ? error.name : typeof error;
    runtime.emit({
      scope: "node",
      name: eventName,
      kind: failed ? "ERROR" : "END",
      durationMs: ms,
      traceId: meta?.traceId ?? null,
      correlationId: meta?.correlationId ?? null,
      error: failed ? (error instanceof Error ? error.message : String(error)) : null,
      meta: fields,
    });
  };
}
