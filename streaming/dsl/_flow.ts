// deno-lint-ignore-file no-explicit-any -- type-erased positions (node lists, policies, selectors) accept any payload type
/**
 * DSL flow: Process (an ordered node list), ProcessBuilder, error routes and StreamFlow.
 *
 * @module
 */
import { ERROR_KINDS, type ErrorKind } from "../_message.ts";
import type { AnySchema, MessageType } from "../_type.ts";
import type { CollectBatch, ForEach } from "./_batching.ts";
import type { ExpandRoutes, Explode } from "./_expansion.ts";
import type { Broadcast, Fork, Router } from "./_routing.ts";
import type { With, WithAsync } from "./_scoped.ts";
import type { FromMultiTypeTopic, FromTopic } from "./_source.ts";
import type { ConfigBinding, Step } from "./_steps.ts";
import { recordProblem } from "./_problems.ts";
import { type Drain, type IntoSink, IntoTopic } from "./_terminals.ts";

/**
 * Any node allowed in a {@link Process}.
 *
 * @example
 * ```ts
 * import { CollectBatch, Drain, Process, type ProcessNode } from "@loom/streaming";
 * const nodes: ProcessNode[] = [new CollectBatch({ maxRecords: 10, timeoutMs: 100 }), new Drain()];
 * new Process(...nodes);
 * ```
 */
export type ProcessNode =
  | Step<any, any>
  | (new () => Step<any, any>)
  | ConfigBinding<any>
  | CollectBatch
  | ForEach
  | Drain
  | IntoTopic
  | IntoSink<any>
  | With
  | WithAsync
  | Router
  | Fork
  | Broadcast
  | Explode
  | ExpandRoutes;

/**
 * An ordered list of nodes.
 *
 * @example
 * ```ts
 * import { Drain, Process, RecordStep } from "@loom/streaming";
 * const p = new Process(RecordStep.of((m) => m.payload), new Drain());
 * p.length; // 2
 * ```
 */
export class Process<in In = any, out Out = any> implements Iterable<ProcessNode> {
  /** Marker. */
  readonly kind = "process" as const;
  /** Phantom output type (the input type is only checked through the variance annotation). */
  declare readonly __out?: Out;
  /** Phantom input type. */
  declare readonly __in?: (input: In) => void;
  /** The nodes, in order. */
  readonly nodes: readonly ProcessNode[];
  /**
   * Creates a {@link Process}.
   *
   * @param nodes at least one node
   */
  constructor(...nodes: ProcessNode[]) {
    if (nodes.length === 0) {
      recordProblem(this, "Process must contain at least one node (e.g. new Process(step, new Drain()))");
    }
    this.nodes = Object.freeze([...nodes]);
  }
  /** Number of nodes. */
  get length(): number {
    return this.nodes.length;
  }
  /** Iterates the nodes. */
  [Symbol.iterator](): Iterator<ProcessNode> {
    return this.nodes[Symbol.iterator]();
  }

  /**
   * Starts a typed process: each node added with {@link ProcessBuilder.then} is checked by the TypeScript
   * compiler against the payload type produced by the previous one.
   *
   * @example
   * ```ts
   * import * as v from "valibot";
   * import { Drain, messageType, Process, RecordStep, type Message } from "@loom/streaming";
   * const Order = messageType("order", v.object({ id: v.string(), amount: v.number() }));
   * const p = Process.from(Order)
   *   .then(RecordStep.of((m: Message<{ id: string; amount: number }>) => ({ id: m.payload.id, big: m.payload.amount > 100 })))
   *   .end(new Drain());
   * ```
   */
  static from<P>(_type?: MessageType<AnySchema<P>> | FromTopic<P>): ProcessBuilder<P, P> {
    return new ProcessBuilder<P, P>([]);
  }
}

/**
 * Nodes that keep the payload type of the stream (shape adapters and in-place routing).
 *
 * @example
 * ```ts
 * import { ForEach, type PassThroughNode } from "@loom/streaming";
 * const node: PassThroughNode = new ForEach();
 * ```
 */
export type PassThroughNode = CollectBatch | ForEach | Router | Explode;

/**
 * Nodes that end a process.
 *
 * @example
 * ```ts
 * import { IntoTopic, type TerminalNode } from "@loom/streaming";
 * const end: TerminalNode = new IntoTopic("orders.out");
 * ```
 */
export type TerminalNode =
  | IntoTopic
  | Drain
  | IntoSink<any>
  | With
  | WithAsync
  | Fork
  | Broadcast
  | ExpandRoutes;

/**
 * Builds a {@link Process} node by node with static type checks (see {@link Process.from}).
 *
 * @example
 * ```ts
 * import { Drain, Process, RecordStep, type Message } from "@loom/streaming";
 * const p = Process.from<{ n: number }>()
 *   .then(RecordStep.of((m: Message<{ n: number }>) => ({ n: m.payload.n + 1 })))
 *   .end(new Drain());
 * ```
 */
export class ProcessBuilder<In, Cur> {
  readonly #nodes: readonly ProcessNode[];
  /**
   * Creates a {@link ProcessBuilder}.
   *
   * @param nodes nodes so far
   */
  constructor(nodes: readonly ProcessNode[]) {
    this.#nodes = nodes;
  }
  /** Appends a step whose input accepts the current payload type; the stream then carries its output. */
  then<O>(step: Step<Cur, O>): ProcessBuilder<In, O>;
  /** Appends a node that keeps the payload type (CollectBatch, ForEach, Router, Explode). */
  then(node: PassThroughNode): ProcessBuilder<In, Cur>;
  then(node: Step<Cur, unknown> | PassThroughNode): ProcessBuilder<In, unknown> {
    return new ProcessBuilder([...this.#nodes, node]);
  }
  /** Ends the process with a terminal node. */
  end(node: TerminalNode): Process<In, never> {
    return new Process<In, never>(...this.#nodes, node);
  }
  /** Ends the process without a terminal (for `StreamFlow.output`, Router branches, Broadcast routes). */
  build(): Process<In, Cur> {
    return new Process<In, Cur>(...this.#nodes);
  }
}

/**
 * Routes several error kinds to one topic.
 *
 * @example
 * ```ts
 * import { ErrorRoute, IntoTopic } from "@loom/streaming";
 * const r = new ErrorRoute(["task", "business"], new IntoTopic("orders.errors"));
 * ```
 */
export class ErrorRoute {
  /** Marker. */
  readonly kind = "error_route" as const;
  /**
   * Creates a {@link ErrorRoute}.
   *
   * @param kinds non-empty list of kinds
   * @param output topic
   */
  constructor(readonly kinds: readonly ErrorKind[], readonly output: IntoTopic) {}
}

/**
 * Accepted forms of `StreamFlow.errors`.
 *
 * @example
 * ```ts
 * import { ErrorRoute, type ErrorsDeclaration, IntoTopic } from "@loom/streaming";
 * const everything: ErrorsDeclaration = new IntoTopic("orders.errors");
 * const byKind: ErrorsDeclaration = { wire: new IntoTopic("orders.poison"), task: new IntoTopic("orders.retry") };
 * const grouped: ErrorsDeclaration = [new ErrorRoute(["task", "business"], new IntoTopic("orders.errors"))];
 * ```
 */
export type ErrorsDeclaration =
  | null
  | undefined
  | IntoTopic
  | ErrorRoute
  | readonly ErrorRoute[]
  | Partial<Readonly<Record<ErrorKind, IntoTopic>>>
  | ReadonlyMap<ErrorKind, IntoTopic>;

function normalizeErrors(errors: ErrorsDeclaration): Map<ErrorKind, IntoTopic> {
  const out = new Map<ErrorKind, IntoTopic>();
  if (errors === null || errors === undefined) return out;
  if (typeof errors === "string") {
    throw new TypeError("StreamFlow.errors must be an error route declaration, not text.");
  }
  if (errors instanceof IntoTopic) {
    for (const k of ERROR_KINDS) out.set(k, errors);
    return out;
  }
  const routes: ErrorRoute[] | null = errors instanceof ErrorRoute
    ? [errors]
    : Array.isArray(errors)
    ? [...errors]
    : null;
  if (routes) {
    if (routes.length === 0) throw new Error("StreamFlow.errors must not be an empty sequence.");
    for (const r of routes) {
      if (!(r instanceof ErrorRoute)) {
        throw new TypeError("StreamFlow.errors sequence entries must be ErrorRoute declarations.");
      }
      if (r.kinds.length === 0) throw new Error("ErrorRoute.kinds must not be empty.");
      for (const k of r.kinds) {
        if (!ERROR_KINDS.includes(k)) {
          throw new Error(`unknown error kind '${k}'; expected one of ${ERROR_KINDS.join(", ")}`);
        }
        const prev = out.get(k);
        if (prev && prev !== r.output) throw new Error(`error kind ${k} is declared more than once`);
        out.set(k, r.output);
      }
    }
    return out;
  }
  const entries = errors instanceof Map
    ? [...errors.entries()]
    : Object.entries(errors as Record<string, IntoTopic>);
  for (const [k, v] of entries) {
    if (!ERROR_KINDS.includes(k as ErrorKind)) {
      throw new Error(`unknown error kind '${k}'; expected one of ${ERROR_KINDS.join(", ")}`);
    }
    if (!(v instanceof IntoTopic)) throw new TypeError(`StreamFlow.errors['${k}'] must be an IntoTopic.`);
    out.set(k as ErrorKind, v);
  }
  return out;
}

/**
 * Options of {@link StreamFlow}.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { FromTopic, Process, RecordStep, StreamFlow, type StreamFlowOptions, messageType } from "@loom/streaming";
 * const Order = messageType("order.created", v.object({ order_id: v.string() }));
 * const options: StreamFlowOptions<{ order_id: string }> = {
 *   name: "orders",
 *   source: new FromTopic("orders.raw", Order),
 *   process: new Process(RecordStep.of((m) => m.payload)),
 * };
 * new StreamFlow(options);
 * ```
 */
export interface StreamFlowOptions<P = unknown> {
  /** Flow name (non-empty). */
  readonly name: string;
  /** Kafka input. */
  readonly source: FromTopic<P> | FromMultiTypeTopic;
  /** Processing applied to every source message. */
  readonly process: Process<P, any>;
  /** Output of the stream left at the end of `process`, if any. */
  readonly output?: IntoTopic | null;
  /** Error routes (see {@link ErrorsDeclaration}). */
  readonly errors?: ErrorsDeclaration;
}

/**
 * A declared flow: source → process → output, with error routes.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { FromTopic, IntoTopic, Process, RecordStep, StreamFlow, messageType } from "@loom/streaming";
 * const Order = messageType("order.created", v.object({ order_id: v.string() }));
 * const flow = new StreamFlow({
 *   name: "orders",
 *   source: new FromTopic("orders.raw", Order),
 *   process: new Process(RecordStep.of((m) => m.payload)),
 *   output: new IntoTopic("orders.out"),
 *   errors: new IntoTopic("orders.errors"),
 * });
 * ```
 */
export class StreamFlow<P = unknown> {
  /** Marker. */
  readonly kind = "stream_flow" as const;
  /** Flow name. */
  readonly name: string;
  /** Kafka input. */
  readonly source: FromTopic<P> | FromMultiTypeTopic;
  /** Processing applied to every source message. */
  readonly process: Process<P, any>;
  /** Output of the stream left at the end of `process`, or null. */
  readonly output: IntoTopic | null;
  /** Error routes by kind. */
  readonly errors: ReadonlyMap<ErrorKind, IntoTopic>;
  /**
   * Creates a {@link StreamFlow}.
   *
   * @param options name, source, process, output, errors
   */
  constructor(options: StreamFlowOptions<P>) {
    if (!options.name || !options.name.trim()) throw new Error("StreamFlow.name must not be empty.");
    this.name = options.name;
    this.source = options.source;
    this.process = options.process;
    this.output = options.output ?? null;
    this.errors = normalizeErrors(options.errors);
  }
}
