/**
 * Predicate and selector expressions over message paths (`msg.payload.x`, `payload.x`,
 * `msg.meta.headers.risk`). TypeScript cannot overload `==`, so comparisons are methods:
 * `payload.amount.ge(100)`, `payload.segment.eq("vip")`, `and(a, b)`, `or(a, b)`, `not(a)`.
 *
 * Expressions are compiled once into closures; evaluation does no parsing per message.
 *
 * @module
 */
import type { Message } from "./_message.ts";

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

const EXPR = Symbol.for("loom.expr");

/**
 * Comparison operators of an {@link Expr}.
 *
 * @example
 * ```ts
 * import type { CompareOp } from "@loom/streaming";
 * const op: CompareOp = "ge";
 * ```
 */
export type CompareOp = "eq" | "ne" | "gt" | "ge" | "lt" | "le" | "in" | "between";

/**
 * A boolean expression node (built by the path methods and {@link and}/{@link or}/{@link not}).
 *
 * @example
 * ```ts
 * import { payload } from "@loom/streaming";
 * const big = payload.field("amount").ge(100).and(payload.field("currency").eq("EUR"));
 * big.text; // human-readable form of the condition
 * ```
 */
export interface Expr {
  /**
   * Brand of expressions built by this module (checked by {@link isExpr}).
   *
   * @ignore
   */
  readonly [EXPR]: "expr";
  /** Human-readable form, e.g. `payload.amount >= 100`. */
  readonly text: string;
  /** Compiles the expression into an evaluator. */
  compile(): Evaluator;
  /** `this && other` */
  and(other: Expr): Expr;
  /** `this || other` */
  or(other: Expr): Expr;
  /** `!this` */
  not(): Expr;
}

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
  readonly meta: PathRef<import("./_message.ts").MessageMeta>;
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

const utf8 = new TextDecoder();

function equals(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a instanceof Uint8Array) {
    if (typeof b === "string") return utf8.decode(a) === b;
    if (!(b instanceof Uint8Array) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  if (b instanceof Uint8Array) return equals(b, a);
  if (
    (typeof a === "bigint" && (typeof b === "bigint" || typeof b === "number")) ||
    (typeof b === "bigint" && typeof a === "number")
  ) {
    return compareNumeric(a, b as number | bigint) === 0;
  }
  return false;
}

function order(a: unknown, b: unknown, text: string): number {
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0;
  if ((typeof a === "bigint" || typeof a === "number") && (typeof b === "bigint" || typeof b === "number")) {
    return compareNumeric(a, b);
  }
  throw new TypeError(`cannot order ${typeof a} and ${typeof b} in '${text}'`);
}

/** Exact comparison of a bigint with a number (or bigint) without losing precision. */
function compareNumeric(a: number | bigint, b: number | bigint): number {
  if (typeof a === "bigint" && typeof b === "bigint") return a < b ? -1 : a > b ? 1 : 0;
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "number" && Number.isNaN(a)) return NaN;
  if (typeof b === "number" && Number.isNaN(b)) return NaN;
  if (typeof a === "number") return -compareNumeric(b, a);
  // a is bigint, b is number
  const n = b as number;
  if (n === Infinity) return -1;
  if (n === -Infinity) return 1;
  const fl = Math.floor(n);
  const bi = BigInt(fl);
  if (a < bi) return -1;
  if (a > bi) return 1;
  return fl === n ? 0 : -1; // a == floor(n) < n when n has a fraction
}

function makeExpr(text: string, build: () => Evaluator): Expr {
  const e: Expr = {
    [EXPR]: "expr",
    text,
    compile: build,
    and: (o) => and(e, o),
    or: (o) => or(e, o),
    not: () => not(e),
  };
  return e;
}

function fmt(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (v instanceof Uint8Array) return `b${JSON.stringify(utf8.decode(v))}`;
  if (typeof v === "bigint") return `${v}n`;
  if (Array.isArray(v)) return `[${v.map(fmt).join(", ")}]`;
  return String(v);
}

function compare(ref: Evaluator, text: string, op: CompareOp, a: unknown, b?: unknown): Expr {
  switch (op) {
    case "eq":
      return makeExpr(`${text} == ${fmt(a)}`, () => (m) => equals(ref(m), a));
    case "ne":
      return makeExpr(`${text} != ${fmt(a)}`, () => (m) => !equals(ref(m), a));
    case "gt":
      return makeExpr(`${text} > ${fmt(a)}`, () => (m) => order(ref(m), a, text) > 0);
    case "ge":
      return makeExpr(`${text} >= ${fmt(a)}`, () => (m) => order(ref(m), a, text) >= 0);
    case "lt":
      return makeExpr(`${text} < ${fmt(a)}`, () => (m) => order(ref(m), a, text) < 0);
    case "le":
      return makeExpr(`${text} <= ${fmt(a)}`, () => (m) => order(ref(m), a, text) <= 0);
    case "in": {
      const values = [...(a as Iterable<unknown>)];
      const set = new Set(values.filter((x) => typeof x !== "object" || x === null));
      const other = values.filter((x) => typeof x === "object" && x !== null);
      const hasBigint = values.some((x) => typeof x === "bigint");
      return makeExpr(`${text} in ${fmt(values)}`, () => (m) => {
        const v = ref(m);
        if (set.has(v)) return true;
        for (const o of other) if (equals(v, o)) return true;
        if (v instanceof Uint8Array || typeof v === "bigint" || (typeof v === "number" && hasBigint)) {
          for (const s of set) if (equals(v, s)) return true;
        }
        return false;
      });
    }
    case "between":
      return makeExpr(
        `${fmt(a)} <= ${text} <= ${fmt(b)}`,
        () => (m) => {
          const v = ref(m);
          return order(v, a, text) >= 0 && order(v, b, text) <= 0;
        },
      );
  }
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
 * Logical AND of expressions.
 *
 * @example
 * ```ts
 * import { and, payload } from "@loom/streaming";
 * const e = and(payload.field("a").eq(1), payload.field("b").gt(2));
 * ```
 */
export function and(...exprs: Expr[]): Expr {
  return makeExpr(`(${exprs.map((e) => e.text).join(" and ")})`, () => {
    const evs = exprs.map((e) => e.compile());
    return (m) => {
      for (let i = 0; i < evs.length; i++) if (!evs[i](m)) return false;
      return true;
    };
  });
}

/**
 * Logical OR of expressions.
 *
 * @example
 * ```ts
 * import { or, payload } from "@loom/streaming";
 * const e = or(payload.field("a").eq(1), payload.field("b").gt(2));
 * ```
 */
export function or(...exprs: Expr[]): Expr {
  return makeExpr(`(${exprs.map((e) => e.text).join(" or ")})`, () => {
    const evs = exprs.map((e) => e.compile());
    return (m) => {
      for (let i = 0; i < evs.length; i++) if (evs[i](m)) return true;
      return false;
    };
  });
}

/**
 * Logical NOT of an expression.
 *
 * @example
 * ```ts
 * import { not, payload } from "@loom/streaming";
 * const e = not(payload.field("amount").gt(100));
 * ```
 */
export function not(expr: Expr): Expr {
  return makeExpr(`not ${expr.text}`, () => {
    const ev = expr.compile();
    return (m) => !ev(m);
  });
}

/**
 * True when `value` is an expression built by this module.
 *
 * @example
 * ```ts
 * import { isExpr, payload } from "@loom/streaming";
 * isExpr(payload.field("amount").gt(0)); // true
 * isExpr(payload.field("amount")); // false (a path, not an expression)
 * ```
 */
export function isExpr(value: unknown): value is Expr {
  return typeof value === "object" && value !== null && (value as { [EXPR]?: unknown })[EXPR] === "expr";
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

/**
 * A custom predicate object (the original's `Predicate` protocol).
 *
 * @example
 * ```ts
 * import type { Message, Predicate } from "@loom/streaming";
 * const isVip: Predicate<{ segment: string }> = {
 *   matches: (m: Message<{ segment: string }>) => m.payload.segment === "vip",
 * };
 * ```
 */
export interface Predicate<P = unknown> {
  /** True when the message matches. */
  matches(message: Message<P>): boolean;
}

/**
 * A custom selector object (the original's `Selector` protocol).
 *
 * @example
 * ```ts
 * import type { Message, Selector } from "@loom/streaming";
 * const bySegment: Selector<{ segment: string }> = {
 *   select: (m: Message<{ segment: string }>) => m.payload.segment,
 * };
 * ```
 */
export interface Selector<P = unknown> {
  /** The routing key of the message. */
  select(message: Message<P>): unknown;
}

/**
 * Anything usable as a route condition. A bare path counts as its truthiness (unlike the original).
 *
 * @example
 * ```ts
 * import { payload, type PredicateLike } from "@loom/streaming";
 * const conditions: PredicateLike[] = [payload.field("amount").ge(100), (m) => m.meta.key !== null];
 * ```
 */
export type PredicateLike<P = unknown> =
  | Expr
  | PathRef<unknown>
  | Predicate<P>
  | ((message: Message<P>) => boolean);

/**
 * Anything usable as a routing key selector.
 *
 * @example
 * ```ts
 * import { msg, type SelectorLike } from "@loom/streaming";
 * const selectors: SelectorLike[] = [msg.payload.field("segment"), (m) => m.meta.topic];
 * ```
 */
export type SelectorLike<P = unknown> = PathRef<unknown> | Selector<P> | ((message: Message<P>) => unknown);

/**
 * Compiles a predicate into a boolean function (done once, by the engine).
 *
 * @example
 * ```ts
 * import { compilePredicate, message, payload } from "@loom/streaming";
 * const f = compilePredicate(payload.field("amount").ge(100));
 * f(message({ amount: 150 }, { messageId: "m" })); // true
 * ```
 */
export function compilePredicate<P>(p: PredicateLike<P>): (message: Message<P>) => boolean {
  if (isExpr(p)) {
    const ev = p.compile();
    return (m) => Boolean(ev(m as Message));
  }
  if (isPathRef(p)) {
    // QUIRK fixed: the original raised TypeError for a bare path predicate; we use its truthiness.
    const ev = p.compile();
    return (m) => Boolean(ev(m as Message));
  }
  if (typeof p === "function") return (m) => Boolean((p as (m: Message<P>) => boolean)(m));
  if (p && typeof (p as Predicate<P>).matches === "function") {
    const obj = p as Predicate<P>;
    return (m) => Boolean(obj.matches(m));
  }
  throw new TypeError(
    "predicate must be an expression (payload.x.eq(…)), a path, an object with matches(message), or a function",
  );
}

/**
 * Compiles a selector into a key function (done once, by the engine).
 *
 * @example
 * ```ts
 * import { compileSelector, message, payload } from "@loom/streaming";
 * const f = compileSelector(payload.field("segment"));
 * f(message({ segment: "vip" }, { messageId: "m" })); // "vip"
 * ```
 */
export function compileSelector<P>(s: SelectorLike<P>): (message: Message<P>) => unknown {
  if (isPathRef(s)) {
    const ev = s.compile();
    return (m) => ev(m as Message);
  }
  if (typeof s === "function") return s as (m: Message<P>) => unknown;
  if (s && typeof (s as Selector<P>).select === "function") {
    const obj = s as Selector<P>;
    return (m) => obj.select(m);
  }
  throw new TypeError(
    "selector must be a path (msg.payload.x), an object with select(message), or a function",
  );
}

/**
 * Text of a predicate or selector, for error messages.
 *
 * @example
 * ```ts
 * import { describeCondition, payload } from "@loom/streaming";
 * describeCondition(payload.field("amount").ge(100)); // the expression's text
 * describeCondition(function isVip() {}); // "isVip()"
 * ```
 */
export function describeCondition(c: unknown): string {
  if (isExpr(c) || isPathRef(c)) return (c as { text: string }).text;
  if (typeof c === "function") return c.name ? `${c.name}()` : "<function>";
  return (c as { constructor?: { name?: string } })?.constructor?.name ?? String(c);
}
