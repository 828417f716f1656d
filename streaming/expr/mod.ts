/**
 * Predicate and selector expressions over message paths (`msg.payload.x`, `payload.x`,
 * `msg.meta.headers.risk`). TypeScript cannot overload `==`, so comparisons are methods:
 * `payload.amount.ge(100)`, `payload.segment.eq("vip")`, `and(a, b)`, `or(a, b)`, `not(a)`.
 *
 * Expressions are compiled once into closures; evaluation does no parsing per message.
 *
 * @module
 */
export {
  type Evaluator,
  fieldsOf,
  isPathRef,
  type MessageRef,
  msg,
  PathError,
  type PathMethods,
  type PathRef,
  payload,
} from "./_paths.ts";
export { and, type CompareOp, type Expr, isExpr, not, or } from "./_conditions.ts";
export {
  compilePredicate,
  compileSelector,
  describeCondition,
  type Predicate,
  type PredicateLike,
  type Selector,
  type SelectorLike,
} from "./_compile.ts";
