/**
 * What routing accepts as a predicate or a selector (an expression, a path, an object with
 * `test`/`select`, or a function), compiled to a plain function, and its text for error messages.
 *
 * @module
 */
import type { Message } from "../_message.ts";
import { type Expr, isExpr } from "./_conditions.ts";
import { isPathRef, type PathRef } from "./_paths.ts";

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
