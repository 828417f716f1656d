/**
 * Conditions: comparison expressions built from paths (TypeScript cannot overload `==`, so comparisons
 * are methods) and their combinators `and`, `or`, `not`. Expressions compile once into closures;
 * evaluation does no parsing per message.
 *
 * @module
 */
import type { Evaluator } from "./_paths.ts";

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

export function makeExpr(text: string, build: () => Evaluator): Expr {
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

export function compare(ref: Evaluator, text: string, op: CompareOp, a: unknown, b?: unknown): Expr {
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
