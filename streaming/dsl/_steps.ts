// deno-lint-ignore-file no-explicit-any -- type-erased positions (node lists, policies, selectors) accept any payload type
/**
 * DSL steps: the step base classes (RecordStep, BatchStep, ExpandStep, BatchExpandStep), their
 * function-backed forms (`.of`), and config bindings (`Step.fromConfig`).
 *
 * @module
 */
import type { Message } from "../_message.ts";
import type { MessageType } from "../_type.ts";

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
