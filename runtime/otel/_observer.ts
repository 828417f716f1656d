/**
 * The OpenTelemetry lifecycle observer (`observability.otel.enabled`): lifecycle events become spans
 * through `@opentelemetry/api`, so whatever tracer provider is registered exports them — Deno's built-in
 * one with `OTEL_DENO=true`, or one the flow module registers (Bun, or a custom SDK setup).
 *
 * Spans (named `<scope>:<name>` as in the original):
 * - `flow:<flow>` — the run of one flow instance (one per worker), from `running` to `stopped`/`failed`;
 * - `poll_cycle:<flow>:<topic>` — one fetched batch. Each starts its own trace (a flow runs for days: one
 *   trace per batch keeps traces small and lets samplers decide per batch) with a link to the flow span;
 * - `node:<flow>:<path>` — the invocations of one step in one poll cycle (child of the cycle of its input's
 *   source partition): start of the first to end of the last, `loom.node.invocations`, `loom.node.errors`,
 *   the summed duration, and one exception event per failed invocation (the first ten). One span per node
 *   and batch, not per record, so tracing stays affordable at full throughput;
 * - `write:<flow>:<target>` — one delivery (topic send, dead-letter send, table write), child of the poll
 *   cycle of its first record's source partition.
 * Node and write events written outside a poll cycle (a CollectBatch timeout, a flush) become spans of
 * their own, linked to the flow span. Node and write events come after the fact with their duration, so
 * those spans are back-dated.
 *
 * This module loads `@opentelemetry/api`: the runtime imports it only when otel is enabled.
 *
 * @module
 */
import {
  type Attributes,
  isSpanContextValid,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
  type Tracer,
  type TracerProvider,
} from "@opentelemetry/api";
import type { Logger } from "../../streaming/_logger.ts";
import type { LifecycleEvent, LifecycleObserver } from "../../streaming/observe/_events.ts";

/**
 * Options of {@link otelObserver}.
 *
 * @example
 * ```ts ignore
 * const options: OtelObserverOptions = { tracerName: "orders", spanAttributes: { "deployment.environment": "prod" } };
 * ```
 */
export interface OtelObserverOptions {
  /** Tracer provider (default: the global one of `@opentelemetry/api`, looked up when the flow starts). */
  readonly tracerProvider?: TracerProvider;
  /** Tracer name (`otel.config.tracer_name`, default `loom`). */
  readonly tracerName?: string;
  /** Tracer version (`otel.config.tracer_version`, default none). */
  readonly tracerVersion?: string;
  /** Attributes added to every span (`otel.config.span_attributes`). */
  readonly spanAttributes?: Readonly<Record<string, string | number | boolean>>;
  /** Told once when spans go nowhere (no tracer provider is registered). */
  readonly logger?: Logger;
}

/** Lifecycle meta keys and the span attributes they become (others become `loom.<key>`). */
const ATTRIBUTE: Readonly<Record<string, string>> = {
  flow: "loom.flow",
  node_count: "loom.flow.node_count",
  node_idx: "loom.node.path",
  node_type: "loom.node.type",
  sink: "loom.sink",
  batch_size: "messaging.batch.message_count",
  topic: "messaging.destination.name",
  source_topic: "loom.source.topic",
  source_partition: "loom.source.partition",
  error_type: "error.type",
};

const now = (): number => performance.timeOrigin + performance.now();

/** Step invocations of one node within one poll cycle, reported as one span when the cycle ends. */
interface NodeRun {
  readonly first: LifecycleEvent;
  start: number;
  end: number;
  invocations: number;
  totalMs: number;
  errors: LifecycleEvent[];
  errorAt: number[];
  errorCount: number;
}

/** An open poll cycle: its span and the node invocations seen in it. */
interface Poll {
  readonly span: Span;
  readonly nodes: Map<string, NodeRun>;
}

/** Failed invocations recorded as exception events on a node span (the count is always complete). */
const MAX_EXCEPTIONS = 10;

/**
 * A {@link LifecycleObserver} turning lifecycle events into OpenTelemetry spans (see the module
 * documentation for the span tree).
 *
 * @example
 * ```ts ignore
 * const events = new ObservabilityRuntime([otelObserver({ tracerProvider: provider })]);
 * ```
 */
export function otelObserver(options: OtelObserverOptions = {}): LifecycleObserver {
  let tracer: Tracer | null = null;
  const getTracer = (): Tracer =>
    tracer ??= (options.tracerProvider ?? trace.getTracerProvider()).getTracer(
      options.tracerName ?? "loom",
      options.tracerVersion || undefined,
    );
  const common: Attributes = { ...options.spanAttributes };
  let flowSpan: Span | null = null;
  let runId: string | null = null;
  let warned = false;
  /** Open poll cycles by topic and partition (a partition's batches run one at a time). */
  const polls = new Map<unknown, Map<unknown, Poll>>();
  let open = 0;
  const pollOf = (topic: unknown, partition: unknown): Poll | undefined =>
    open === 0 ? undefined : polls.get(topic)?.get(partition);
  const setPoll = (topic: unknown, partition: unknown, poll: Poll | null) => {
    let byPartition = polls.get(topic);
    if (!byPartition) polls.set(topic, byPartition = new Map());
    if (poll) {
      if (!byPartition.has(partition)) open++;
      byPartition.set(partition, poll);
    } else if (byPartition.delete(partition)) open--;
  };

  const attributes = (e: LifecycleEvent): Attributes => {
    const a: Attributes = { ...common, "loom.scope": e.scope, "loom.name": e.name };
    if (e.scope === "flow") a["loom.flow"] = e.name;
    if (e.id !== null) a["loom.id"] = e.id;
    if (runId !== null) a["loom.run_id"] = runId;
    if (e.traceId !== null) a["loom.trace_id"] = e.traceId;
    if (e.correlationId !== null) a["loom.correlation_id"] = e.correlationId;
    for (const [k, v] of Object.entries(e.meta)) {
      if (v === null || v === undefined || (k === "error_type" && e.kind !== "ERROR")) continue;
      if (k === "partition") {
        a["messaging.destination.partition.id"] = String(v);
        continue;
      }
      a[ATTRIBUTE[k] ?? `loom.${k}`] = typeof v === "number" || typeof v === "boolean" ? v : String(v);
    }
    if (e.scope === "poll_cycle" || (e.scope === "write" && !e.name.includes(":table:"))) {
      a["messaging.system"] = "kafka";
    }
    return a;
  };
  const fail = (span: Span, e: LifecycleEvent, at: number) => {
    const message = e.error ?? "failed";
    const type = String(e.meta.error_type ?? "Error");
    span.setAttribute("error.type", type);
    span.recordException({ name: type, message }, at);
    span.setStatus({ code: SpanStatusCode.ERROR, message });
  };
  // success leaves the status unset (the OpenTelemetry guidance for instrumentation libraries)
  const finish = (span: Span, e: LifecycleEvent, at: number = now()) => {
    if (e.kind === "ERROR") fail(span, e, at);
    if (e.durationMs !== null) span.setAttribute("loom.duration_ms", e.durationMs);
    span.end(at);
  };
  /** Poll cycles start their own trace (one per batch, so samplers decide per batch), linked to the run. */
  const rootOptions = () =>
    flowSpan && isSpanContextValid(flowSpan.spanContext())
      ? { links: [{ context: flowSpan.spanContext() }] }
      : {};
  const kindOf = (e: LifecycleEvent): SpanKind =>
    e.scope === "write"
      ? (e.name.includes(":table:") ? SpanKind.CLIENT : SpanKind.PRODUCER)
      : SpanKind.INTERNAL;
  /** A span for an event reported after the fact (END or ERROR with its duration). */
  const afterTheFact = (e: LifecycleEvent, poll: Poll | undefined) => {
    const end = now();
    const span = getTracer().startSpan(`${e.scope}:${e.name}`, {
      kind: kindOf(e),
      startTime: end - (e.durationMs ?? 0),
      attributes: attributes(e),
      ...(poll ? {} : rootOptions()),
    }, poll ? trace.setSpan(ROOT_CONTEXT, poll.span) : ROOT_CONTEXT);
    finish(span, e, end);
  };
  const onNode = (e: LifecycleEvent) => {
    const poll = pollOf(e.meta.source_topic, e.meta.source_partition);
    if (poll === undefined) return afterTheFact(e, undefined); // a CollectBatch timeout or a flush
    const end = now();
    const ms = e.durationMs ?? 0;
    let run = poll.nodes.get(e.name);
    if (run === undefined) {
      run = {
        first: e,
        start: end - ms,
        end,
        invocations: 0,
        totalMs: 0,
        errors: [],
        errorAt: [],
        errorCount: 0,
      };
      poll.nodes.set(e.name, run);
    }
    run.invocations++;
    run.totalMs += ms;
    run.end = end;
    if (e.kind === "ERROR") {
      run.errorCount++;
      if (run.errors.length < MAX_EXCEPTIONS) {
        run.errors.push(e);
        run.errorAt.push(end);
      }
    }
  };
  /** Ends a poll cycle: one span per node that ran in it, then the cycle's own span. */
  const endPoll = (poll: Poll, e: LifecycleEvent | null) => {
    const parent = trace.setSpan(ROOT_CONTEXT, poll.span);
    for (const run of poll.nodes.values()) {
      const span = getTracer().startSpan(`node:${run.first.name}`, {
        startTime: run.start,
        attributes: {
          ...attributes(run.first),
          "loom.node.invocations": run.invocations,
          "loom.node.errors": run.errorCount,
          "loom.duration_ms": run.totalMs,
        },
      }, parent);
      run.errors.forEach((err, i) => {
        span.recordException(
          { name: String(err.meta.error_type ?? "Error"), message: err.error ?? "failed" },
          run.errorAt[i],
        );
        if (i === 0) {
          span.setAttribute("error.type", String(err.meta.error_type ?? "Error"));
          span.setStatus({ code: SpanStatusCode.ERROR, message: err.error ?? "failed" });
        }
      });
      span.end(run.end);
    }
    if (e) finish(poll.span, e);
    else poll.span.end();
  };

  return {
    wantsDetail: true,
    onEvent(e) {
      switch (e.scope) {
        case "flow":
          if (e.kind === "START") {
            flowSpan?.end();
            runId = e.id;
            flowSpan = getTracer().startSpan(`flow:${e.name}`, { attributes: attributes(e) }, ROOT_CONTEXT);
            if (!warned && !isSpanContextValid(flowSpan.spanContext())) {
              warned = true;
              options.logger?.warn("otel_no_tracer_provider", {
                reason:
                  "observability.otel is enabled but no OpenTelemetry tracer provider is registered: spans go nowhere",
                fix:
                  "on Deno run with OTEL_DENO=true; on Bun register a provider (trace.setGlobalTracerProvider) in the flow module",
              });
            }
          } else if (flowSpan) {
            for (const byPartition of polls.values()) {
              for (const poll of byPartition.values()) endPoll(poll, null);
            }
            polls.clear();
            open = 0;
            finish(flowSpan, e);
            flowSpan = null;
          }
          return;
        case "poll_cycle": {
          const { topic, partition } = e.meta;
          if (e.kind === "START") {
            const span = getTracer().startSpan(`poll_cycle:${e.name}`, {
              kind: SpanKind.CONSUMER,
              attributes: attributes(e),
              ...rootOptions(),
            }, ROOT_CONTEXT);
            setPoll(topic, partition, { span, nodes: new Map() });
          } else {
            const poll = pollOf(topic, partition);
            if (poll === undefined) return;
            setPoll(topic, partition, null);
            endPoll(poll, e);
          }
          return;
        }
        case "node":
          if (e.kind !== "START") onNode(e);
          return;
        case "write":
          if (e.kind !== "START") {
            afterTheFact(e, pollOf(e.meta.source_topic, e.meta.source_partition));
          }
          return;
        default:
          return;
      }
    },
  };
}

/**
 * {@link OtelObserverOptions} from `observability.otel.config` (`tracer_name`, `tracer_version`,
 * `span_attributes`, checked by `readObservabilityConfig`). The exporter keys of the original (`endpoint`, `protocol`, `headers`, `insecure`,
 * `exporter_kwargs`, `span_processor_kwargs`, `service_name`, `resource_attributes`) belong to the
 * registered provider here (Deno reads `OTEL_EXPORTER_OTLP_*` and `OTEL_SERVICE_NAME`): when set, they are
 * reported once as `otel_exporter_keys_ignored`.
 *
 * @example
 * ```ts ignore
 * const options = otelOptionsFromConfig({ tracer_name: "orders", span_attributes: { team: "payments" } }, logger);
 * ```
 */
export function otelOptionsFromConfig(
  config: Readonly<Record<string, unknown>> | null,
  logger?: Logger,
): OtelObserverOptions {
  const c = config ?? {};
  const str = (k: string): string | undefined => (typeof c[k] === "string" ? c[k] as string : undefined);
  const attrs: Record<string, string | number | boolean> = {};
  const raw = c.span_attributes;
  if (raw !== null && typeof raw === "object" && !Array.isArray(raw)) {
    for (const [k, v] of Object.entries(raw)) {
      attrs[k] = typeof v === "number" || typeof v === "boolean" ? v : String(v);
    }
  }
  const ignored = [
    "endpoint",
    "protocol",
    "headers",
    "insecure",
    "exporter_kwargs",
    "span_processor_kwargs",
    "service_name",
    "resource_attributes",
  ].filter((k) => c[k] !== undefined && c[k] !== null && c[k] !== "");
  if (ignored.length) {
    logger?.warn("otel_exporter_keys_ignored", {
      keys: ignored,
      reason:
        "spans go to the registered OpenTelemetry provider, which owns export (Deno: OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_SERVICE_NAME…)",
    });
  }
  return {
    tracerName: str("tracer_name"),
    tracerVersion: str("tracer_version"),
    spanAttributes: attrs,
    logger,
  };
}
