/**
 * Message paths (`msg.payload.x`, `payload.x`, `msg.meta.headers.risk`): typed references into a
 * message that compile once into reading closures and build comparisons (`payload.amount.ge(100)`).
 *
 * @module
 */
import type { Message } from "../_message.ts";
import { compare, type Expr, makeExpr } from "./_conditions.ts";

/**
 * A compiled expression evaluator.
 *
 * @example
 * ```ts
 * import { type Evaluator, message, payload } from "@loom/streaming";
 * const read: Evaluator = payload.field("amount").compile();
 * read(message({ amount: 5 }, { messageId: "m" })); // 5
 * ```
 */
export type Evaluator = (message: Message) => unknown;

/**
 * Comparison methods available on every path reference.
 *
 * @example
 * ```ts
 * import { payload } from "@loom/streaming";
 * const inRange = payload.field("amount").between(10, 20);
 * ```
 */
export interface PathMethods<T> {
  /** Equality (bytes compare by content; bytes compare to a string by its UTF-8 text). */
  eq(value: T | unknown): Expr;
  /** Inequality. */
  ne(value: T | unknown): Expr;
  /** Greater than. */
  gt(value: T): Expr;
  /** Greater or equal. */
  ge(value: T): Expr;
  /** Less than. */
  lt(value: T): Expr;
  /** Less or equal. */
  le(value: T): Expr;
  /** Membership in a list or set. */
  in(values: Iterable<T>): Expr;
  /** Inclusive range check. */
  between(low: T, high: T): Expr;
  /** Truthiness of the value, as an expression (`when: payload.flag.truthy()`). */
  truthy(): Expr;
  /** Path to a child whose name collides with a method name (`eq`, `in`, …). */
  field(name: string | number): PathRef<unknown>;
  /** Evaluator reading this path. */
  compile(): Evaluator;
  /** Dotted form, e.g. `payload.amount`. */
  readonly text: string;
}

/**
 * A typed reference to a value inside a message. Property access extends the path.
 *
 * @example
 * ```ts
 * import { msg, type PathRef } from "@loom/streaming";
 * const risk: PathRef<unknown> = msg.meta.headers.field("x-risk");
 * ```
 */
export type PathRef<T> =
  & PathMethods<T>
  & (T extends Uint8Array ? unknown
    : T extends object ? { readonly [K in keyof T]-?: PathRef<T[K]> }
    : unknown);

/**
 * Root reference to a whole message: `msg.payload.…` and `msg.meta.…`.
 *
 * @example
 * ```ts
 * import { msg } from "@loom/streaming";
 * const fromOrders = msg.meta.topic.eq("orders");
 * ```
 */
export interface MessageRef<P = unknown> {
  /** Reference to the payload. */
  readonly payload: PathRef<P>;
  /** Reference to the metadata. */
  readonly meta: PathRef<import("../_message.ts").MessageMeta>;
}

const METHOD_NAMES = new Set([
  "eq",
  "ne",
  "gt",
  "ge",
  "lt",
  "le",
  "in",
  "between",
  "truthy",
  "field",
  "compile",
  "text",
  "then",
]);

const SNAKE_META: Record<string, string> = {
  message_id: "messageId",
  correlation_id: "correlationId",
  trace_id: "traceId",
  parent_trace_id: "parentTraceId",
  causation_id: "causationId",
  produced_at_ms: "producedAtMs",
  message_type: "messageType",
  message_version: "messageVersion",
};

/**
 * Error raised when a path cannot be resolved on a message (a missing attribute or key).
 *
 * @example
 * ```ts
 * import { message, msg, PathError } from "@loom/streaming";
 * try {
 *   msg.payload.field("missing").compile()(message({}, { messageId: "m" }));
 * } catch (e) {
 *   if (e instanceof PathError) console.log(e.segment); // "missing"
 * }
 * ```
 */
export class PathError extends Error {
  /**
   * Creates a {@link PathError}.
   *
   * @param path the path text
   * @param segment the segment that failed
   */
  constructor(readonly path: string, readonly segment: string) {
    super(`cannot resolve '${segment}' in path '${path}'`);
    this.name = "PathError";
  }
}

function step(value: unknown, seg: string | number, path: string): unknown {
  if (value === null || value === undefined) throw new PathError(path, String(seg));
  if (value instanceof Map) {
    if (!value.has(seg)) throw new PathError(path, String(seg));
    return value.get(seg);
  }
  if (typeof value !== "object") throw new PathError(path, String(seg));
  const obj = value as Record<string | number, unknown>;
  if (!(seg in obj)) throw new PathError(path, String(seg));
  return obj[seg];
}

function compilePath(root: "message" | "payload", segments: readonly (string | number)[]): Evaluator {
  const text = [root === "message" ? "msg" : "payload", ...segments].join(".");
  let segs = segments.slice();
  let base: Evaluator = root === "message" ? (m) => m : (m) => m.payload;
  if (root === "message" && segs[0] === "payload") {
    base = (m) => m.payload;
    segs = segs.slice(1);
  } else if (root === "message" && segs[0] === "meta") {
    base = (m) => m.meta;
    segs = segs.slice(1);
    if (typeof segs[0] === "string" && SNAKE_META[segs[0]]) segs[0] = SNAKE_META[segs[0]];
  }
  const n = segs.length;
  if (n === 0) return base;
  if (n === 1) {
    const s0 = segs[0];
    return (m) => step(base(m), s0, text);
  }
  return (m) => {
    let v = base(m);
    for (let i = 0; i < n; i++) v = step(v, segs[i], text);
    return v;
  };
}

function pathRef(root: "message" | "payload", segments: readonly (string | number)[]): PathRef<unknown> {
  const text = [root === "message" ? "msg" : "payload", ...segments].join(".");
  let cached: Evaluator | undefined;
  const ev = (): Evaluator => cached ??= compilePath(root, segments);
  const lazy: Evaluator = (m) => ev()(m);
  const methods: PathMethods<unknown> = {
    eq: (v) => compare(lazy, text, "eq", v),
    ne: (v) => compare(lazy, text, "ne", v),
    gt: (v) => compare(lazy, text, "gt", v),
    ge: (v) => compare(lazy, text, "ge", v),
    lt: (v) => compare(lazy, text, "lt", v),
    le: (v) => compare(lazy, text, "le", v),
    in: (vs) => compare(lazy, text, "in", vs),
    between: (lo, hi) => compare(lazy, text, "between", lo, hi),
    truthy: () => makeExpr(text, () => (m) => Boolean(lazy(m))),
    field: (name) => pathRef(root, [...segments, name]),
    compile: () => ev(),
    text,
  };
  return new Proxy(methods as object, {
    get(target, prop) {
      if (prop === PATH) return true;
      if (typeof prop === "symbol") return undefined;
      if (METHOD_NAMES.has(prop)) {
        if (prop === "then") return undefined;
        return (target as Record<string, unknown>)[prop];
      }
      return pathRef(root, [...segments, /^\d+$/.test(prop) ? Number(prop) : prop]);
    },
  }) as PathRef<unknown>;
}

const PATH = Symbol.for("loom.path");

/**
 * Root of message expressions: `msg.payload.x`, `msg.meta.headers.risk`, `msg.meta.messageType`
 * (snake_case meta names such as `message_type` are accepted too).
 *
 * @example
 * ```ts
 * import { msg } from "@loom/streaming";
 * const isVip = msg.payload.field("segment").eq("vip");
 * const risky = msg.meta.headers.field("risk").eq("high");
 * ```
 */
export const msg: MessageRef<Record<string, unknown>> = pathRef("message", []) as unknown as MessageRef<
  Record<string, unknown>
>;

/**
 * Root of payload expressions (same as `msg.payload`).
 *
 * @example
 * ```ts
 * import { payload } from "@loom/streaming";
 * const big = payload.field("amount").ge(100);
 * ```
 */
export const payload: PathRef<Record<string, unknown>> = pathRef("payload", []) as PathRef<
  Record<string, unknown>
>;

/**
 * A typed message root for payload type `P`, so paths are checked by the compiler.
 *
 * @example
 * ```ts
 * import { fieldsOf } from "@loom/streaming";
 * type Order = { order_id: string; amount: number };
 * const o = fieldsOf<Order>();
 * const big = o.payload.amount.ge(100);
 * ```
 */
export function fieldsOf<P>(): MessageRef<P> {
  return msg as unknown as MessageRef<P>;
}

/**
 * True when `value` is a path reference (`msg.payload.x`).
 *
 * @example
 * ```ts
 * import { isPathRef, payload } from "@loom/streaming";
 * isPathRef(payload.field("amount")); // true
 * ```
 */
export function isPathRef(value: unknown): value is PathRef<unknown> {
  return (typeof value === "object" || typeof value === "function") && value !== null &&
    (value as { [PATH]?: unknown })[PATH] === true;
}
