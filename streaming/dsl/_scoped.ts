// deno-lint-ignore-file no-explicit-any -- type-erased positions (node lists, policies, selectors) accept any payload type
/**
 * DSL scoped resources: With / WithAsync and the ContextFactory of per-batch resources.
 *
 * @module
 */
import type { Process } from "./_flow.ts";
import { recordProblem, shown } from "./_problems.ts";
import { ConfigBinding, type MaybePromise } from "./_steps.ts";

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
        recordProblem(
          this,
          `With only accepts sync context managers. Async context manager(s) found in deps: ${
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
    if (!(mc > 0) || !Number.isInteger(mc)) {
      recordProblem(this, `WithAsync.maxConcurrency must be an integer greater than zero, got ${shown(mc)}`);
    }
    if (
      options.taskTimeoutMs !== undefined && options.taskTimeoutMs !== null && !(options.taskTimeoutMs > 0)
    ) {
      recordProblem(
        this,
        `WithAsync.taskTimeoutMs must be greater than zero when given, got ${shown(options.taskTimeoutMs)}`,
      );
    }
    this.maxConcurrency = mc;
    this.taskTimeoutMs = options.taskTimeoutMs ?? null;
  }
}
