// deno-lint-ignore-file no-explicit-any -- type-erased positions (node lists, policies, selectors) accept any payload type
/**
 * Flow nodes: boundaries, steps, shape adapters, scoped dependency wrappers and routing nodes.
 *
 * @module
 */
import type { Message } from "./_message.ts";
import { ERROR_KINDS, type ErrorKind } from "./_message.ts";
import type { AnySchema, MessageType } from "./_type.ts";
import type { PredicateLike, SelectorLike } from "./_expr.ts";

/**
 * Logical shape of a stream edge (checked by the compiler).
 *
 * @example
 * ```ts
 * import { StreamShape } from "@loom/streaming";
 * StreamShape.BATCH; // "batch" (what a CollectBatch produces)
 * ```
 */
export const StreamShape = { RECORD: "record", MANY: "many", BATCH: "batch", NONE: "none" } as const;
/**
 * One of `"record" | "many" | "batch" | "none"`.
 *
 * @example
 * ```ts
 * import type { StreamShape } from "@loom/streaming";
 * const shape: StreamShape = "record";
 * ```
 */
export type StreamShape = typeof StreamShape[keyof typeof StreamShape];

/**
 * Windowing strategy of {@link CollectBatch}. Only `collect` is implemented.
 *
 * @example
 * ```ts
 * import { CollectBatch, WindowStrategy } from "@loom/streaming";
 * new CollectBatch({ maxRecords: 100, timeoutMs: 500, window: WindowStrategy.COLLECT });
 * ```
 */
export const WindowStrategy = { COLLECT: "collect", TUMBLING: "tumbling", SESSION: "session" } as const;
/**
 * One of `"collect" | "tumbling" | "session"`.
 *
 * @example
 * ```ts
 * import type { WindowStrategy } from "@loom/streaming";
 * const window: WindowStrategy = "collect";
 * ```
 */
export type WindowStrategy = typeof WindowStrategy[keyof typeof WindowStrategy];

/**
 * When scoped resources of {@link With}/{@link WithAsync} are opened and disposed.
 *
 * @example
 * ```ts
 * import { Drain, Process, ResourceScope, With } from "@loom/streaming";
 * new With({ scope: ResourceScope.BATCH, process: new Process(new Drain()) });
 * ```
 */
export const ResourceScope = { WORKER: "worker", BATCH: "batch" } as const;
/**
 * One of `"worker" | "batch"`.
 *
 * @example
 * ```ts
 * import type { ResourceScope } from "@loom/streaming";
 * const scope: ResourceScope = "worker";
 * ```
 */
export type ResourceScope = typeof ResourceScope[keyof typeof ResourceScope];

/**
 * Declarative partitioning guarantee (documentation only, as in the original).
 *
 * @example
 * ```ts
 * import { PartitionGuarantee, PartitionPolicy } from "@loom/streaming";
 * new PartitionPolicy((m) => m.meta.key, PartitionGuarantee.ENTITY_STABLE);
 * ```
 */
export const PartitionGuarantee = {
  NONE: "none",
  BEST_EFFORT: "best_effort",
  ENTITY_STABLE: "entity_stable",
} as const;
/**
 * One of `"none" | "best_effort" | "entity_stable"`.
 *
 * @example
 * ```ts
 * import type { PartitionGuarantee } from "@loom/streaming";
 * const guarantee: PartitionGuarantee = "best_effort";
 * ```
 */
export type PartitionGuarantee = typeof PartitionGuarantee[keyof typeof PartitionGuarantee];

/**
 * A value that is either a `T` or a promise of one.
 *
 * @example
 * ```ts
 * import type { MaybePromise } from "@loom/streaming";
 * const lookup = (id: string): MaybePromise<string> => id.length > 3 ? id : Promise.resolve(id);
 * ```
 */
export type MaybePromise<T> = T | Promise<T>;

/**
 * What a record step may return: a payload (meta kept) or a whole replacement message.
 *
 * @example
 * ```ts
 * import type { Message, StepResult } from "@loom/streaming";
 * const keepMeta = (m: Message<number>): StepResult<number> => m.payload + 1;
 * const replace = (m: Message<number>): StepResult<number> => ({ payload: m.payload, meta: { ...m.meta, key: "k" } });
 * ```
 */
export type StepResult<Out> = Out | Message<Out>;

/**
 * Dependencies injected into steps running inside {@link With}/{@link WithAsync}.
 *
 * @example
 * ```ts
 * import { type Deps, type Message, RecordStep } from "@loom/streaming";
 * const tag = RecordStep.of((m: Message<{ id: string }>, deps: Deps) => ({ ...m.payload, env: deps.env }));
 * ```
 */
export type Deps = Record<string, unknown>;

/**
 * Options shared by every step.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { messageType, RecordStep, type StepOptions } from "@loom/streaming";
 * const Scored = messageType("order.scored", v.object({ id: v.string(), score: v.number() }));
 * const options: StepOptions = { name: "score", output: Scored };
 * const score = RecordStep.of((m: { payload: { id: string } }) => ({ id: m.payload.id, score: 1 }), options);
 * ```
 */
export interface StepOptions {
  /** Name used in errors, events and fault injection; defaults to the class or function name. */
  readonly name?: string;
  /** Declared output payload type: gives outputs its wire `message_type` and a schema-exact encoding. */
  readonly output?: MessageType;
}

const STEP = Symbol.for("loom.step");

/**
 * Base class of all steps.
 *
 * @example
 * ```ts
 * import { RecordStep, type Message } from "@loom/streaming";
 * class Upper extends RecordStep<{ s: string }, { s: string }> {
 *   execute(m: Message<{ s: string }>) {
 *     return { s: m.payload.s.toUpperCase() };
 *   }
 * }
 * new Upper().stepName(); // "Upper"
 * ```
 */
export abstract class Step<in In = unknown, out Out = unknown> {
  /** Marker used by the compiler. */
  readonly [STEP]: true = true;
  /** Phantom input type (contravariant: a step accepting a wider input fits a narrower stream). */
  declare readonly __in?: (input: In) => void;
  /** Phantom output type. */
  declare readonly __out?: Out;
  /** Explicit step name (else the class name). */
  readonly name?: string;
  /** Declared output type (else the output keeps the input's type). */
  readonly output?: MessageType;
  /** Shape family of the step. */
  abstract readonly stepKind: "record" | "batch" | "expand" | "batch_expand";

  /** The step's name: `name` if set, else the class name. */
  stepName(): string {
    return this.name || this.constructor.name || "Step";
  }

  /**
   * A deferred construction from a configuration section (the original's `X.from_config(path)`).
   * The class must declare `static configSchema` (a valibot schema); the constructor receives the
   * validated section merged with `overrides`.
   */
  static fromConfig<T>(
    this: (new (config: any) => T) & { configSchema?: unknown },
    path: string,
    overrides: Record<string, unknown> = {},
  ): ConfigBinding<T> {
    if (!path || !path.trim()) throw new Error("config_path must not be empty.");
    return new ConfigBinding(this, path, overrides);
  }
}

/**
 * True when `value` is a step instance.
 *
 * @example
 * ```ts
 * import { isStep, RecordStep } from "@loom/streaming";
 * isStep(RecordStep.of((m) => m.payload)); // true
 * ```
 */
export function isStep(value: unknown): value is Step<any, any> {
  return typeof value === "object" && value !== null && (value as { [STEP]?: unknown })[STEP] === true;
}

/**
 * True when `value` is a step class (constructor).
 *
 * @example
 * ```ts
 * import { isStepClass, RecordStep, type Message } from "@loom/streaming";
 * class Echo extends RecordStep {
 *   execute(m: Message) {
 *     return m.payload;
 *   }
 * }
 * isStepClass(Echo); // true
 * ```
 */
export function isStepClass(value: unknown): value is new () => Step<any, any> {
  return typeof value === "function" && value.prototype instanceof Step;
}

/**
 * record → record. `execute(message, deps)` returns a payload (meta kept) or a replacement message;
 * it may be async.
 *
 * @example
 * ```ts
 * import { RecordStep, type Message } from "@loom/streaming";
 * class Double extends RecordStep<{ n: number }, { n: number }> {
 *   execute(m: Message<{ n: number }>) { return { n: m.payload.n * 2 }; }
 * }
 * const inline = RecordStep.of((m: Message<{ n: number }>) => ({ n: m.payload.n + 1 }), { name: "inc" });
 * ```
 */
export abstract class RecordStep<in In = unknown, out Out = unknown, D extends Deps = Deps>
  extends Step<In, Out> {
  /** Shape family. */
  readonly stepKind = "record" as const;
  /** Transforms one message. */
  abstract execute(message: Message<In>, deps: D): MaybePromise<StepResult<Out>>;

  /** A record step from a plain function. */
  static of<In, Out, D extends Deps = Deps>(
    fn: (message: Message<In>, deps: D) => MaybePromise<StepResult<Out>>,
    options: StepOptions = {},
  ): RecordStep<In, Out, D> {
    return new FnRecordStep(fn, options);
  }
}

class FnRecordStep<In, Out, D extends Deps> extends RecordStep<In, Out, D> {
  override readonly name: string;
  override readonly output?: MessageType;
  readonly #fn: (message: Message<In>, deps: D) => MaybePromise<StepResult<Out>>;
  constructor(fn: (message: Message<In>, deps: D) => MaybePromise<StepResult<Out>>, options: StepOptions) {
    super();
    this.#fn = fn;
    this.name = options.name ?? (fn.name || "RecordStep");
    this.output = options.output;
  }
  execute(message: Message<In>, deps: D): MaybePromise<StepResult<Out>> {
    return this.#fn(message, deps);
  }
}

/**
 * batch → batch. `execute(messages)` returns one result per input, in order.
 *
 * @example
 * ```ts
 * import { BatchStep, type Message } from "@loom/streaming";
 * const upper = BatchStep.of((ms: readonly Message<{ s: string }>[]) => ms.map((m) => ({ s: m.payload.s.toUpperCase() })));
 * ```
 */
export abstract class BatchStep<in In = unknown, out Out = unknown, D extends Deps = Deps>
  extends Step<In, Out> {
  /** Shape family. */
  readonly stepKind = "batch" as const;
  /** Transforms a batch; the result must have the same length as the input. */
  abstract execute(messages: readonly Message<In>[], deps: D): MaybePromise<readonly StepResult<Out>[]>;

  /** A batch step from a plain function. */
  static of<In, Out, D extends Deps = Deps>(
    fn: (messages: readonly Message<In>[], deps: D) => MaybePromise<readonly StepResult<Out>[]>,
    options: StepOptions = {},
  ): BatchStep<In, Out, D> {
    return new FnBatchStep(fn, options);
  }
}

class FnBatchStep<In, Out, D extends Deps> extends BatchStep<In, Out, D> {
  override readonly name: string;
  override readonly output?: MessageType;
  readonly #fn: (messages: readonly Message<In>[], deps: D) => MaybePromise<readonly StepResult<Out>[]>;
  constructor(
    fn: (messages: readonly Message<In>[], deps: D) => MaybePromise<readonly StepResult<Out>[]>,
    options: StepOptions,
  ) {
    super();
    this.#fn = fn;
    this.name = options.name ?? (fn.name || "BatchStep");
    this.output = options.output;
  }
  execute(messages: readonly Message<In>[], deps: D): MaybePromise<readonly StepResult<Out>[]> {
    return this.#fn(messages, deps);
  }
}

/**
 * record → 0..N records.
 *
 * @example
 * ```ts
 * import { ExpandStep, type Message } from "@loom/streaming";
 * const split = ExpandStep.of((m: Message<{ words: string[] }>) => m.payload.words.map((w) => ({ w })));
 * ```
 */
export abstract class ExpandStep<in In = unknown, out Out = unknown, D extends Deps = Deps>
  extends Step<In, Out> {
  /** Shape family. */
  readonly stepKind = "expand" as const;
  /** Expands one message into any number of outputs. */
  abstract execute(message: Message<In>, deps: D): MaybePromise<Iterable<StepResult<Out>>>;

  /** An expand step from a plain function. */
  static of<In, Out, D extends Deps = Deps>(
    fn: (message: Message<In>, deps: D) => MaybePromise<Iterable<StepResult<Out>>>,
    options: StepOptions = {},
  ): ExpandStep<In, Out, D> {
    return new FnExpandStep(fn, options);
  }
}

class FnExpandStep<In, Out, D extends Deps> extends ExpandStep<In, Out, D> {
  override readonly name: string;
  override readonly output?: MessageType;
  readonly #fn: (message: Message<In>, deps: D) => MaybePromise<Iterable<StepResult<Out>>>;
  constructor(
    fn: (message: Message<In>, deps: D) => MaybePromise<Iterable<StepResult<Out>>>,
    options: StepOptions,
  ) {
    super();
    this.#fn = fn;
    this.name = options.name ?? (fn.name || "ExpandStep");
    this.output = options.output;
  }
  execute(message: Message<In>, deps: D): MaybePromise<Iterable<StepResult<Out>>> {
    return this.#fn(message, deps);
  }
}

/**
 * batch → records. `execute(messages)` returns, for each input in order, the outputs it expands to.
 * (QUIRK fixed: the original required exactly one output per input, so it could not expand.)
 *
 * @example
 * ```ts
 * import { BatchExpandStep, type Message } from "@loom/streaming";
 * const pairs = BatchExpandStep.of((ms: readonly Message<{ n: number }>[]) => ms.map((m) => [m.payload, m.payload]));
 * ```
 */
export abstract class BatchExpandStep<In = unknown, Out = unknown, D extends Deps = Deps>
  extends Step<In, Out> {
  /** Shape family. */
  readonly stepKind = "batch_expand" as const;
  /** Expands a batch: one iterable of outputs per input message. */
  abstract execute(
    messages: readonly Message<In>[],
    deps: D,
  ): MaybePromise<Iterable<Iterable<StepResult<Out>>>>;

  /** A batch-expand step from a plain function. */
  static of<In, Out, D extends Deps = Deps>(
    fn: (messages: readonly Message<In>[], deps: D) => MaybePromise<Iterable<Iterable<StepResult<Out>>>>,
    options: StepOptions = {},
  ): BatchExpandStep<In, Out, D> {
    return new FnBatchExpandStep(fn, options);
  }
}

class FnBatchExpandStep<In, Out, D extends Deps> extends BatchExpandStep<In, Out, D> {
  override readonly name: string;
  override readonly output?: MessageType;
  readonly #fn: (
    messages: readonly Message<In>[],
    deps: D,
  ) => MaybePromise<Iterable<Iterable<StepResult<Out>>>>;
  constructor(
    fn: (messages: readonly Message<In>[], deps: D) => MaybePromise<Iterable<Iterable<StepResult<Out>>>>,
    options: StepOptions,
  ) {
    super();
    this.#fn = fn;
    this.name = options.name ?? (fn.name || "BatchExpandStep");
    this.output = options.output;
  }
  execute(messages: readonly Message<In>[], deps: D): MaybePromise<Iterable<Iterable<StepResult<Out>>>> {
    return this.#fn(messages, deps);
  }
}

/**
 * A deferred step construction from configuration (built by `Step.fromConfig`).
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { RecordStep, type Message } from "@loom/streaming";
 * class Prefix extends RecordStep<{ s: string }, { s: string }> {
 *   static configSchema = v.object({ prefix: v.string() });
 *   constructor(readonly cfg: { prefix: string }) { super(); }
 *   execute(m: Message<{ s: string }>) { return { s: this.cfg.prefix + m.payload.s }; }
 * }
 * const binding = Prefix.fromConfig("streaming.bindings.prefix");
 * ```
 */
export class ConfigBinding<T = unknown> {
  /** Marker. */
  readonly kind = "config_binding" as const;
  /**
   * Creates a {@link ConfigBinding}.
   *
   * @param target class to construct
   * @param configPath dotted section path
   * @param overrides values that win over YAML
   */
  constructor(
    readonly target: (new (config: any) => T) & { configSchema?: unknown },
    readonly configPath: string,
    readonly overrides: Readonly<Record<string, unknown>> = {},
  ) {}
}

// ---------------------------------------------------------------------------------------------------------------
// Boundaries

/**
 * Kafka input of one payload type. `name` is a logical reference selecting `kafka.consumers.<name>`
 * (else `kafka.consumer`).
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { FromTopic, messageType } from "@loom/streaming";
 * const Order = messageType("order.created", v.object({ order_id: v.string() }));
 * const source = new FromTopic("orders.raw", Order);
 * ```
 */
export class FromTopic<P = unknown> {
  /** Marker. */
  readonly kind = "from_topic" as const;
  /** Phantom payload type. */
  declare readonly __payload?: P;
  /**
   * Creates a {@link FromTopic}.
   *
   * @param name logical ref
   * @param payload payload type
   * @param options shape (record by default)
   */
  constructor(
    readonly name: string,
    readonly payload: MessageType<AnySchema<P>>,
    readonly options: { readonly shape?: StreamShape } = {},
  ) {}
  /** Declared shape. */
  get shape(): StreamShape {
    return this.options.shape ?? "record";
  }
  /** Logical reference (validated non-empty). */
  get logicalRef(): string {
    if (!this.name.trim()) throw new Error("LogicalRef.value must be a non-empty string.");
    return this.name;
  }
}

/**
 * The payload types a {@link FromMultiTypeTopic} may declare: plain types, error envelopes of a type, or decode errors.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { DecodeErrors, errorEnvelopeOf, messageType, type MultiPayload } from "@loom/streaming";
 * const Order = messageType("order.created", v.object({ order_id: v.string() }));
 * const accepted: MultiPayload[] = [Order, errorEnvelopeOf(Order), DecodeErrors];
 * ```
 */
export type MultiPayload = MessageType | ErrorEnvelopeOf | typeof DecodeErrors;

/**
 * Marks "error envelopes whose original payload has type T" in a {@link FromMultiTypeTopic}.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { type ErrorEnvelopeOf, errorEnvelopeOf, messageType } from "@loom/streaming";
 * const Order = messageType("order.created", v.object({ order_id: v.string() }));
 * const failedOrders: ErrorEnvelopeOf = errorEnvelopeOf(Order);
 * ```
 */
export interface ErrorEnvelopeOf {
  /** Discriminant. */
  readonly kind: "error_envelope_of";
  /** Payload type of the original messages. */
  readonly original: MessageType;
}

/**
 * Declares error envelopes of a payload type as an accepted input of a {@link FromMultiTypeTopic}.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { errorEnvelopeOf, messageType } from "@loom/streaming";
 * const Order = messageType("order.created", v.object({ order_id: v.string() }));
 * const accepted = errorEnvelopeOf(Order);
 * ```
 */
export function errorEnvelopeOf(original: MessageType): ErrorEnvelopeOf {
  return { kind: "error_envelope_of", original };
}

/**
 * Declares decode errors (`loom.streaming.error.wire`) as an accepted input of a {@link FromMultiTypeTopic}.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { DecodeErrors, FromMultiTypeTopic, messageType } from "@loom/streaming";
 * const Order = messageType("order.created", v.object({ order_id: v.string() }));
 * const source = new FromMultiTypeTopic("orders.errors", [Order, DecodeErrors]);
 * ```
 */
export const DecodeErrors: { readonly kind: "decode_errors" } = { kind: "decode_errors" };

/**
 * Kafka input carrying several payload types, dispatched by `descriptor.message_type`.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { FromMultiTypeTopic, messageType } from "@loom/streaming";
 * const A = messageType("a", v.object({ a: v.string() }));
 * const B = messageType("b", v.object({ b: v.string() }));
 * const source = new FromMultiTypeTopic("events", [A, B]);
 * ```
 */
export class FromMultiTypeTopic {
  /** Marker. */
  readonly kind = "from_multi_type_topic" as const;
  /**
   * Creates a {@link FromMultiTypeTopic}.
   *
   * @param name logical ref
   * @param payloads at least two payload declarations
   * @param options shape
   */
  constructor(
    readonly name: string,
    readonly payloads: readonly MultiPayload[],
    readonly options: { readonly shape?: StreamShape } = {},
  ) {
    if (!Array.isArray(payloads) || payloads.length < 2) {
      throw new Error(
        "FromMultiTypeTopic requires at least two payload types. Use FromTopic for a single-type source.",
      );
    }
  }
  /** Declared shape. */
  get shape(): StreamShape {
    return this.options.shape ?? "record";
  }
  /** Logical reference. */
  get logicalRef(): string {
    if (!this.name.trim()) throw new Error("LogicalRef.value must be a non-empty string.");
    return this.name;
  }
}

/**
 * A source declaration.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { FromTopic, messageType, type Source } from "@loom/streaming";
 * const source: Source = new FromTopic("orders.raw", messageType("order", v.object({ id: v.string() })));
 * ```
 */
export type Source = FromTopic<any> | FromMultiTypeTopic;

/**
 * A user strategy for the outgoing Kafka key.
 *
 * @example
 * ```ts
 * import { PartitionPolicy, type PartitionStrategy } from "@loom/streaming";
 * const byCustomer: PartitionStrategy<{ customer: string }> = (m) => m.payload.customer;
 * new PartitionPolicy(byCustomer);
 * ```
 */
export type PartitionStrategy<P = unknown> =
  | { partitionKey(message: Message<P>): Uint8Array | string | null }
  | ((message: Message<P>) => Uint8Array | string | null);

/**
 * Key rules for an {@link IntoTopic}: the strategy supplies the key when the message has none, or
 * replaces it when `allowRepartition` is true.
 *
 * @example
 * ```ts
 * import { PartitionPolicy } from "@loom/streaming";
 * const byCustomer = new PartitionPolicy((m) => (m.payload as { customer: string }).customer);
 * ```
 */
export class PartitionPolicy<P = unknown> {
  /** Marker. */
  readonly kind = "partition_policy" as const;
  /**
   * Creates a {@link PartitionPolicy}.
   *
   * @param strategy key strategy
   * @param guarantee documentation only
   * @param allowRepartition replace existing keys
   */
  constructor(
    readonly strategy: PartitionStrategy<P>,
    readonly guarantee: PartitionGuarantee = "best_effort",
    readonly allowRepartition: boolean = false,
  ) {}
}

/**
 * Options of {@link IntoTopic}.
 *
 * @example
 * ```ts
 * import { IntoTopic, type IntoTopicOptions, PartitionPolicy } from "@loom/streaming";
 * const options: IntoTopicOptions = { dlq: "orders.dlq", partitioning: new PartitionPolicy((m) => m.meta.key) };
 * new IntoTopic("orders.out", options);
 * ```
 */
export interface IntoTopicOptions {
  /** Payload type: gives the schema-exact encoding and checks outputs against it. */
  readonly payload?: MessageType;
  /** Declared shape (record by default). */
  readonly shape?: StreamShape;
  /** Key rules of the outgoing records. */
  readonly partitioning?: PartitionPolicy<any>;
  /** Dead-letter topic used when delivery to this topic fails. */
  readonly dlq?: string;
}

/**
 * Kafka output. `name` selects `kafka.producers.<name>` (else `kafka.producer`); the physical topic is
 * the producer's `topic`, else `name`.
 *
 * @example
 * ```ts
 * import { IntoTopic } from "@loom/streaming";
 * const out = new IntoTopic("orders.validated", { dlq: "orders.dlq" });
 * ```
 */
export class IntoTopic {
  /** Marker. */
  readonly kind = "into_topic" as const;
  /**
   * Creates a {@link IntoTopic}.
   *
   * @param name logical ref
   * @param options payload, shape, partitioning, dlq
   */
  constructor(readonly name: string, readonly options: IntoTopicOptions = {}) {}
  /** Declared payload type. */
  get payload(): MessageType | undefined {
    return this.options.payload;
  }
  /** Declared shape. */
  get shape(): StreamShape {
    return this.options.shape ?? "record";
  }
  /** Partition policy. */
  get partitioning(): PartitionPolicy<any> | undefined {
    return this.options.partitioning;
  }
  /** Dead-letter topic. */
  get dlq(): string | undefined {
    return this.options.dlq;
  }
}

/**
 * A writer built by a storage sink for one worker.
 *
 * @example
 * ```ts
 * import type { SinkWriter } from "@loom/streaming";
 * const rows: unknown[] = [];
 * const writer: SinkWriter = { write: (items) => void rows.push(...items), close: () => {} };
 * ```
 */
export interface SinkWriter<E = unknown> {
  /** Writes a batch of payloads; resolves once they are durable (offsets are committed after). */
  write(items: readonly E[]): MaybePromise<void>;
  /** Flushes and releases resources; must be idempotent. */
  close?(): MaybePromise<void>;
}

/**
 * Context given to {@link IntoSink.createWriter}.
 *
 * @example
 * ```ts
 * import type { IntoSink, SinkContext } from "@loom/streaming";
 * const sink: IntoSink = {
 *   kind: "sink",
 *   name: "audit",
 *   createWriter: (ctx: SinkContext) => ({ write: (rows) => console.log(ctx.workerIndex, rows.length) }),
 * };
 * ```
 */
export interface SinkContext {
  /** The raw `streaming.sinks.<name>` section, when present. */
  readonly section: Readonly<Record<string, unknown>> | null;
  /** Whole configuration object. */
  readonly config: Readonly<Record<string, unknown>>;
  /** Index of the worker the writer is for (0-based). */
  readonly workerIndex: number;
  /** Number of workers. */
  readonly workerCount: number;
}

/**
 * Structural protocol of a terminal storage sink: any object with `kind: "sink"`, a `name` and a
 * `createWriter` is accepted by the compiler.
 *
 * @example
 * ```ts
 * import { type IntoSink, Process } from "@loom/streaming";
 * const audit: IntoSink = { kind: "sink", name: "audit", createWriter: () => ({ write: () => {} }) };
 * const process = new Process(audit);
 * ```
 */
export interface IntoSink<E = unknown> {
  /** Discriminant. */
  readonly kind: "sink";
  /** Sink name (selects `streaming.sinks.<name>`). */
  readonly name: string;
  /** Payload (row) type. */
  readonly payload?: MessageType;
  /** Creates the writer; when absent the runtime looks the sink up by name in its sink registry. */
  createWriter?(context: SinkContext): MaybePromise<SinkWriter<E>>;
}

/**
 * Table backends of {@link IntoTable}.
 *
 * @example
 * ```ts
 * import { Backend, IntoTable } from "@loom/streaming";
 * new IntoTable({ name: "orders_sink", backend: Backend.CLICKHOUSE });
 * ```
 */
export const Backend = {
  SQLALCHEMY: "sqlalchemy",
  POSTGRES: "postgres",
  DELTA: "delta",
  CLICKHOUSE: "clickhouse",
} as const;
/**
 * A table backend name.
 *
 * @example
 * ```ts
 * import type { Backend } from "@loom/streaming";
 * const backend: Backend = "postgres";
 * ```
 */
export type Backend = typeof Backend[keyof typeof Backend];

/**
 * Terminal storage sink writing payloads as rows of a table configured at `streaming.sinks.<name>`.
 * (Backends are provided by `@loom/streaming/sinks`; the simulator has in-memory twins.)
 *
 * @example
 * ```ts
 * import { IntoTable } from "@loom/streaming";
 * const sink = new IntoTable({ name: "orders_sink", table: "orders", backend: "postgres" });
 * ```
 */
export class IntoTable<E = unknown> implements IntoSink<E> {
  /** Marker. */
  readonly kind = "sink" as const;
  /** Sink name (config key). */
  readonly name: string;
  /** Table override (wins over the section's `table`). */
  readonly table: string;
  /** Backend. */
  readonly backend: Backend;
  /** Payload (row) type. */
  readonly payload?: MessageType;
  /**
   * Creates a {@link IntoTable}.
   *
   * @param options name (required for compiling), table, backend, payload
   */
  constructor(options: { name: string; table?: string; backend?: Backend; payload?: MessageType }) {
    this.name = options.name ?? "";
    this.table = options.table ?? "";
    this.backend = options.backend ?? "sqlalchemy";
    this.payload = options.payload;
  }
}

/**
 * True when `value` satisfies the {@link IntoSink} protocol.
 *
 * @example
 * ```ts
 * import { IntoTable, isIntoSink } from "@loom/streaming";
 * isIntoSink(new IntoTable({ name: "orders_sink" })); // true
 * ```
 */
export function isIntoSink(value: unknown): value is IntoSink {
  return typeof value === "object" && value !== null && (value as { kind?: unknown }).kind === "sink" &&
    typeof (value as { name?: unknown }).name === "string";
}

// ---------------------------------------------------------------------------------------------------------------
// Shape adapters and terminals

/**
 * record → batch: groups records per partition (else per key) and emits a batch when `maxRecords`
 * arrived, after `timeoutMs` without a new record, or at end of input / shutdown.
 *
 * @example
 * ```ts
 * import { CollectBatch } from "@loom/streaming";
 * const batch = new CollectBatch({ maxRecords: 100, timeoutMs: 500 });
 * ```
 */
export class CollectBatch {
  /** Marker. */
  readonly kind = "collect_batch" as const;
  /** Records per batch (> 0). */
  readonly maxRecords: number;
  /** Time in ms without a new record after which a partial batch is emitted. */
  readonly timeoutMs: number;
  /** Windowing strategy (only `collect` is implemented). */
  readonly window: WindowStrategy;
  /** Window by event time instead of arrival (needs a strategy other than `collect`). */
  readonly eventTime: boolean;
  /**
   * Creates a {@link CollectBatch}.
   *
   * @param options maxRecords > 0, timeoutMs > 0, window (collect), eventTime
   */
  constructor(
    options: { maxRecords: number; timeoutMs: number; window?: WindowStrategy; eventTime?: boolean },
  ) {
    if (!(options.maxRecords > 0) || !Number.isInteger(options.maxRecords)) {
      throw new Error("CollectBatch.max_records must be greater than zero.");
    }
    if (!(options.timeoutMs > 0)) throw new Error("CollectBatch.timeout_ms must be greater than zero.");
    const window = options.window ?? "collect";
    if (options.eventTime && window === "collect") {
      throw new Error("event_time=True requires a windowing strategy other than COLLECT.");
    }
    this.maxRecords = options.maxRecords;
    this.timeoutMs = options.timeoutMs;
    this.window = window;
    this.eventTime = options.eventTime ?? false;
    Object.freeze(this);
  }
}

/**
 * batch → record: flattens batches back into records.
 * (QUIRK fixed: the original required a `many` input that no node produces, so it was unusable.)
 *
 * @example
 * ```ts
 * import { ForEach } from "@loom/streaming";
 * const flatten = new ForEach();
 * ```
 */
export class ForEach {
  /** Marker. */
  readonly kind = "for_each" as const;
}

/**
 * Terminal: deliberately discards every message (their offsets complete).
 *
 * @example
 * ```ts
 * import { Drain } from "@loom/streaming";
 * const drop = new Drain();
 * ```
 */
export class Drain {
  /** Marker. */
  readonly kind = "drain" as const;
}

// ---------------------------------------------------------------------------------------------------------------
// Scoped dependencies

/**
 * Creates a fresh resource per scope (per worker, or per batch). The created value is injected into
 * steps; if it is `Disposable`/`AsyncDisposable` it is disposed when the scope closes.
 *
 * @example
 * ```ts
 * import { ContextFactory } from "@loom/streaming";
 * const clients = new ContextFactory(() => ({ id: 1, [Symbol.dispose]() {} }));
 * ```
 */
export class ContextFactory<R = unknown> {
  /** Marker. */
  readonly kind = "context_factory" as const;
  /**
   * Creates a {@link ContextFactory}.
   *
   * @param factory creates one resource
   * @param name name used in errors
   */
  constructor(
    readonly factory: () => MaybePromise<R>,
    readonly name: string = factory.name || "ContextFactory",
  ) {}
  /** Creates one resource. */
  create(): MaybePromise<R> {
    return this.factory();
  }

  /** A deferred construction from a configuration section (subclasses declare `static configSchema`). */
  static fromConfig<T>(
    this: (new (config: any) => T) & { configSchema?: unknown },
    path: string,
    overrides: Record<string, unknown> = {},
  ): ConfigBinding<T> {
    if (!path || !path.trim()) throw new Error("config_path must not be empty.");
    return new ConfigBinding(this, path, overrides);
  }
}

function isDisposable(v: unknown): boolean {
  return typeof v === "object" && v !== null && typeof (v as Disposable)[Symbol.dispose] === "function";
}
function isAsyncDisposable(v: unknown): boolean {
  return typeof v === "object" && v !== null &&
    typeof (v as AsyncDisposable)[Symbol.asyncDispose] === "function";
}

/**
 * Dependencies of a scoped wrapper, classified like the original (factories, sync/async contexts, plain values).
 *
 * @example
 * ```ts
 * import { ContextFactory, Drain, Process, With } from "@loom/streaming";
 * const node = new With({
 *   process: new Process(new Drain()),
 *   deps: { retries: 3, client: new ContextFactory(() => ({ [Symbol.dispose]() {} })) },
 * });
 * Object.keys(node.classified.contextFactories); // ["client"]
 * ```
 */
export interface ClassifiedDeps {
  /** Factories creating a resource per scope. */
  readonly contextFactories: Readonly<Record<string, ContextFactory>>;
  /** Synchronous disposable resources. */
  readonly syncContexts: Readonly<Record<string, Disposable>>;
  /** Asynchronous disposable resources. */
  readonly asyncContexts: Readonly<Record<string, AsyncDisposable>>;
  /** Plain values, injected as they are. */
  readonly plainDeps: Readonly<Record<string, unknown>>;
  /** Unresolved config bindings (resolved by the compiler). */
  readonly bindings: Readonly<Record<string, ConfigBinding>>;
}

function classify(deps: Record<string, unknown>): ClassifiedDeps {
  const contextFactories: Record<string, ContextFactory> = {};
  const syncContexts: Record<string, Disposable> = {};
  const asyncContexts: Record<string, AsyncDisposable> = {};
  const plainDeps: Record<string, unknown> = {};
  const bindings: Record<string, ConfigBinding> = {};
  for (const [k, v] of Object.entries(deps)) {
    if (v instanceof ContextFactory) contextFactories[k] = v;
    else if (v instanceof ConfigBinding) bindings[k] = v;
    else if (isDisposable(v)) syncContexts[k] = v as Disposable;
    else if (isAsyncDisposable(v)) asyncContexts[k] = v as AsyncDisposable;
    else plainDeps[k] = v;
  }
  return { contextFactories, syncContexts, asyncContexts, plainDeps, bindings };
}

/**
 * Options of {@link With}.
 *
 * @example
 * ```ts
 * import { IntoTopic, Process, RecordStep, With, type WithOptions } from "@loom/streaming";
 * const options: WithOptions = {
 *   process: new Process(RecordStep.of((m) => m.payload), new IntoTopic("out")),
 *   deps: { region: "eu" },
 * };
 * new With(options);
 * ```
 */
export interface WithOptions {
  /** When resources are opened and disposed (default `worker`). */
  readonly scope?: ResourceScope;
  /** Inner process: record steps plus an optional final {@link IntoTopic}. */
  readonly process: Process;
  /** Injected into every inner step as its second argument. */
  readonly deps?: Record<string, unknown>;
}

/**
 * Runs an inner process of record steps (plus an optional final {@link IntoTopic}) with injected
 * synchronous resources. Terminal.
 *
 * @example
 * ```ts
 * import { IntoTopic, Process, RecordStep, With } from "@loom/streaming";
 * const node = new With({
 *   scope: "worker",
 *   process: new Process(RecordStep.of((m) => m.payload), new IntoTopic("out")),
 *   deps: { retries: 3 },
 * });
 * ```
 */
export class With {
  /** Marker. */
  readonly kind: "with" | "with_async" = "with";
  /** When resources are opened and disposed. */
  readonly scope: ResourceScope;
  /** Inner process. */
  readonly process: Process;
  /** Dependencies as given. */
  readonly deps: Readonly<Record<string, unknown>>;
  /** Dependencies by category. */
  readonly classified: ClassifiedDeps;
  /**
   * Creates a {@link With}.
   *
   * @param options scope (worker), process, deps
   */
  constructor(options: WithOptions) {
    this.scope = options.scope ?? "worker";
    this.process = options.process;
    this.deps = { ...(options.deps ?? {}) };
    this.classified = classify(this.deps);
    if (this.kind === "with" && new.target === With) {
      const asyncNames = Object.keys(this.classified.asyncContexts).filter((k) =>
        !isDisposable(this.classified.asyncContexts[k])
      );
      if (asyncNames.length) {
        throw new TypeError(
          `With only accepts sync context managers. Async context manager(s) found: ${
            asyncNames.join(", ")
          }. Use WithAsync for async context managers.`,
        );
      }
    }
  }
}

/**
 * Options of {@link WithAsync}.
 *
 * @example
 * ```ts
 * import { IntoTopic, Process, RecordStep, WithAsync, type WithAsyncOptions } from "@loom/streaming";
 * const options: WithAsyncOptions = {
 *   maxConcurrency: 8,
 *   taskTimeoutMs: 2_000,
 *   process: new Process(RecordStep.of(async (m) => m.payload), new IntoTopic("out")),
 * };
 * new WithAsync(options);
 * ```
 */
export interface WithAsyncOptions extends WithOptions {
  /** Messages processed concurrently (default 10). */
  readonly maxConcurrency?: number;
  /** Per-message time limit in ms (the whole inner process of one message). */
  readonly taskTimeoutMs?: number;
}

/**
 * Like {@link With}, for async steps: messages run concurrently (at most `maxConcurrency`), each
 * bounded by `taskTimeoutMs`; results keep input order. Accepts sync and async disposables.
 *
 * @example
 * ```ts
 * import { IntoTopic, Process, RecordStep, WithAsync } from "@loom/streaming";
 * const node = new WithAsync({
 *   maxConcurrency: 4,
 *   taskTimeoutMs: 1_000,
 *   process: new Process(RecordStep.of(async (m) => m.payload), new IntoTopic("out")),
 * });
 * ```
 */
export class WithAsync extends With {
  /** Marker. */
  override readonly kind = "with_async" as const;
  /** Messages processed concurrently. */
  readonly maxConcurrency: number;
  /** Per-message time limit in ms, or null for none. */
  readonly taskTimeoutMs: number | null;
  /**
   * Creates a {@link WithAsync}.
   *
   * @param options scope, process, deps, maxConcurrency, taskTimeoutMs
   */
  constructor(options: WithAsyncOptions) {
    super(options);
    const mc = options.maxConcurrency ?? 10;
    if (!(mc > 0) || !Number.isInteger(mc)) throw new Error("max_concurrency must be greater than zero");
    if (
      options.taskTimeoutMs !== undefined && options.taskTimeoutMs !== null && !(options.taskTimeoutMs > 0)
    ) {
      throw new Error("task_timeout_ms must be greater than zero when provided");
    }
    this.maxConcurrency = mc;
    this.taskTimeoutMs = options.taskTimeoutMs ?? null;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Routing

/**
 * One predicate branch of a {@link Router}.
 *
 * @example
 * ```ts
 * import { Process, Route, RecordStep, payload } from "@loom/streaming";
 * const r = new Route(payload.field("amount").ge(100), new Process(RecordStep.of((m) => m.payload)));
 * ```
 */
export class Route {
  /** Marker. */
  readonly kind = "route" as const;
  /**
   * Creates a {@link Route}.
   *
   * @param when condition
   * @param process branch
   */
  constructor(readonly when: PredicateLike<any>, readonly process: Process) {}
}

/**
 * Keyed branches: an object (string keys), a Map, or `[key, process]` pairs.
 *
 * @example
 * ```ts
 * import { Drain, type KeyedRoutes, Process } from "@loom/streaming";
 * const byObject: KeyedRoutes = { vip: new Process(new Drain()) };
 * const byPairs: KeyedRoutes = [[1, new Process(new Drain())]];
 * ```
 */
export type KeyedRoutes =
  | Readonly<Record<string, Process>>
  | ReadonlyMap<unknown, Process>
  | readonly (readonly [
    unknown,
    Process,
  ])[];

function toEntries(routes: KeyedRoutes | undefined | null): [unknown, Process][] {
  if (!routes) return [];
  if (routes instanceof Map) return [...routes.entries()];
  if (Array.isArray(routes)) return routes.map(([k, p]) => [k, p]);
  return Object.entries(routes as Record<string, Process>);
}

/**
 * In-place 1→1 routing: each message runs through the branch picked by the selector key, else the first
 * matching predicate route, else `default`; with no match it passes through unchanged.
 *
 * @example
 * ```ts
 * import { Process, RecordStep, Router, msg } from "@loom/streaming";
 * const vip = RecordStep.of((m) => m.payload, { name: "vip" });
 * const router = Router.by(msg.payload.field("segment"), { vip: new Process(vip) });
 * ```
 */
export class Router {
  /** Marker. */
  readonly kind = "router" as const;
  /** Key selector of keyed routing, or null. */
  readonly selector: SelectorLike<any> | null;
  /** Keyed branches as `[key, process]` pairs. */
  readonly routes: readonly (readonly [unknown, Process])[];
  /** Predicate branches, in order. */
  readonly predicateRoutes: readonly Route[];
  /** Branch of unmatched messages, or null (they pass through). */
  readonly default: Process | null;
  /**
   * Creates a {@link Router}.
   *
   * @param options selector + keyed routes and/or predicate routes, default
   */
  constructor(
    options: {
      selector?: SelectorLike<any> | null;
      routes?: KeyedRoutes | null;
      predicateRoutes?: readonly Route[];
      default?: Process | null;
    },
  ) {
    this.selector = options.selector ?? null;
    this.routes = toEntries(options.routes);
    this.predicateRoutes = [...(options.predicateRoutes ?? [])];
    this.default = options.default ?? null;
    if (this.selector === null && this.predicateRoutes.length === 0) {
      throw new Error("Router requires a selector or at least one predicate route.");
    }
    if (this.selector !== null && this.routes.length === 0 && this.predicateRoutes.length === 0) {
      throw new Error("Router.by requires at least one keyed route.");
    }
  }
  /** Keyed routing. */
  static by(selector: SelectorLike<any>, routes: KeyedRoutes, options: { default?: Process } = {}): Router {
    if (toEntries(routes).length === 0) throw new Error("Router.by requires at least one keyed route.");
    return new Router({ selector, routes, default: options.default });
  }
  /** Ordered predicate routing (first match wins). */
  static when(routes: readonly Route[], options: { default?: Process } = {}): Router {
    return new Router({ predicateRoutes: routes, default: options.default });
  }
}

/**
 * One predicate branch of a {@link Fork}.
 *
 * @example
 * ```ts
 * import { Drain, ForkRoute, Process, payload } from "@loom/streaming";
 * const r = new ForkRoute(payload.field("amount").ge(100), new Process(new Drain()));
 * ```
 */
export class ForkRoute {
  /** Marker. */
  readonly kind = "fork_route" as const;
  /**
   * Creates a {@link ForkRoute}.
   *
   * @param when condition
   * @param process branch
   */
  constructor(readonly when: PredicateLike<any>, readonly process: Process) {}
}

/**
 * Kind of a {@link Fork}.
 *
 * @example
 * ```ts
 * import { Drain, Fork, Process, msg } from "@loom/streaming";
 * Fork.by(msg.payload.field("lane"), { a: new Process(new Drain()) }).forkKind; // "keyed"
 * ```
 */
export type ForkKind = "keyed" | "predicate";

/**
 * Terminal physical split: each message goes to the first matching branch (a full sub-graph), else to
 * `default`; unmatched messages without a default are deliberately discarded (their offsets complete).
 *
 * @example
 * ```ts
 * import { Drain, Fork, IntoTopic, Process, msg } from "@loom/streaming";
 * const fork = Fork.by(msg.payload.field("lane"), {
 *   vip: new Process(new IntoTopic("orders.vip")),
 * }, { default: new Process(new Drain()) });
 * ```
 */
export class Fork {
  /** Marker. */
  readonly kind = "fork" as const;
  /** Keyed or predicate. */
  readonly forkKind: ForkKind;
  /** Key selector of a keyed fork, or null. */
  readonly selector: SelectorLike<any> | null;
  /** Keyed branches as `[key, process]` pairs. */
  readonly routes: readonly (readonly [unknown, Process])[];
  /** Predicate branches, in order. */
  readonly predicateRoutes: readonly ForkRoute[];
  /** Branch of unmatched messages, or null (they are discarded). */
  readonly default: Process | null;
  /**
   * Creates a {@link Fork}.
   *
   * @param options kind, selector + routes or predicate routes, default
   */
  constructor(
    options: {
      kind: ForkKind;
      selector?: SelectorLike<any> | null;
      routes?: KeyedRoutes | null;
      predicateRoutes?: readonly ForkRoute[];
      default?: Process | null;
    },
  ) {
    this.forkKind = options.kind;
    this.selector = options.selector ?? null;
    this.routes = toEntries(options.routes);
    this.predicateRoutes = [...(options.predicateRoutes ?? [])];
    this.default = options.default ?? null;
  }
  /** Keyed fork. */
  static by(selector: SelectorLike<any>, branches: KeyedRoutes, options: { default?: Process } = {}): Fork {
    if (toEntries(branches).length === 0) throw new Error("Fork.by requires at least one keyed route.");
    return new Fork({ kind: "keyed", selector, routes: branches, default: options.default });
  }
  /** Predicate fork (first match wins). */
  static when(routes: readonly ForkRoute[], options: { default?: Process } = {}): Fork {
    if (routes.length === 0) throw new Error("Fork.when requires at least one predicate route.");
    return new Fork({ kind: "predicate", predicateRoutes: routes, default: options.default });
  }
}

/**
 * One branch of a {@link Broadcast}; `output` receives the stream left at the end of `process`.
 *
 * @example
 * ```ts
 * import { BroadcastRoute, IntoTopic, Process, RecordStep } from "@loom/streaming";
 * const r = new BroadcastRoute(new Process(RecordStep.of((m) => m.payload)), new IntoTopic("analytics"));
 * ```
 */
export class BroadcastRoute {
  /** Marker. */
  readonly kind = "broadcast_route" as const;
  /**
   * Creates a {@link BroadcastRoute}.
   *
   * @param process branch
   * @param output optional terminal topic
   */
  constructor(readonly process: Process, readonly output: IntoTopic | null = null) {}
}

/**
 * Terminal inclusive fan-out: every message goes to every route.
 *
 * @example
 * ```ts
 * import { Broadcast, BroadcastRoute, IntoTopic, Process, RecordStep } from "@loom/streaming";
 * const same = RecordStep.of((m) => m.payload);
 * const b = new Broadcast(
 *   new BroadcastRoute(new Process(same), new IntoTopic("a")),
 *   new BroadcastRoute(new Process(same), new IntoTopic("b")),
 * );
 * ```
 */
export class Broadcast {
  /** Marker. */
  readonly kind = "broadcast" as const;
  /** Routes, each receiving every message. */
  readonly routes: readonly BroadcastRoute[];
  /**
   * Creates a {@link Broadcast}.
   *
   * @param routes at least one route
   */
  constructor(...routes: BroadcastRoute[]) {
    if (routes.length === 0) throw new Error("Broadcast requires at least one route.");
    this.routes = routes;
  }
}

/**
 * Rows returned by a {@link PayloadExpander}: keyed by payload type (or its name).
 *
 * @example
 * ```ts
 * import type { ExpandedRows } from "@loom/streaming";
 * const rows: ExpandedRows = { "order.line": [{ sku: "a" }, { sku: "b" }] };
 * ```
 */
export type ExpandedRows =
  | ReadonlyMap<MessageType | string, Iterable<unknown>>
  | Readonly<Record<string, Iterable<unknown>>>;

/**
 * A pure expander: one event → rows of several payload types.
 *
 * @example
 * ```ts
 * import { Explode, type PayloadExpander } from "@loom/streaming";
 * const lines: PayloadExpander<{ lines: { sku: string }[] }> = {
 *   name: "lines",
 *   expand: (order) => ({ "order.line": order.lines }),
 * };
 * new Explode(lines);
 * ```
 */
export interface PayloadExpander<In = unknown> {
  /** Output types (documentation; used to type the rows). */
  readonly outputs?: readonly MessageType[];
  /** Name used in errors. */
  readonly name?: string;
  /** Expands one payload. */
  expand(event: In): ExpandedRows;
}

/**
 * record → records: every row of every type returned by the expander becomes a message with the same
 * meta (its `messageType` set to the row type's name when known). Must be followed by a {@link Router}.
 *
 * @example
 * ```ts
 * import { Explode } from "@loom/streaming";
 * const explode = new Explode({ expand: (e: { tags: string[] }) => ({ "tag.row": e.tags.map((t) => ({ t })) }) });
 * ```
 */
export class Explode {
  /** Marker. */
  readonly kind = "explode" as const;
  /**
   * Creates a {@link Explode}.
   *
   * @param expander the expander
   */
  constructor(readonly expander: PayloadExpander<any>) {}
}

/**
 * Terminal fan-out by expanded type: each declared type's rows go to that type's process, `default`
 * receives rows of undeclared types.
 *
 * @example
 * ```ts
 * import { Drain, ExpandRoutes, Process } from "@loom/streaming";
 * const node = new ExpandRoutes({
 *   expander: { expand: (e: { tags: string[] }) => ({ tag: e.tags.map((t) => ({ t })) }) },
 *   routes: { tag: new Process(new Drain()) },
 * });
 * ```
 */
export class ExpandRoutes {
  /** Marker. */
  readonly kind = "expand_routes" as const;
  /** The expander. */
  readonly expander: PayloadExpander<any>;
  /** Process per row type (or type name). */
  readonly routes: readonly (readonly [MessageType | string, Process])[];
  /** Process of rows of undeclared types, or null. */
  readonly default: Process | null;
  /**
   * Creates a {@link ExpandRoutes}.
   *
   * @param options expander, routes by type or type name, default
   */
  constructor(
    options: {
      expander: PayloadExpander<any>;
      routes?: ReadonlyMap<MessageType | string, Process> | Readonly<Record<string, Process>>;
      default?: Process;
    },
  ) {
    this.expander = options.expander;
    this.routes = options.routes instanceof Map
      ? [...options.routes.entries()]
      : Object.entries((options.routes ?? {}) as Record<string, Process>);
    this.default = options.default ?? null;
    if (this.routes.length === 0 && !this.default) {
      throw new Error("ExpandRoutes requires at least one route or a default Process.");
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Process and flow

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
    if (nodes.length === 0) throw new Error("Process must contain at least one node.");
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
