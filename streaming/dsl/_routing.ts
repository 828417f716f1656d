// deno-lint-ignore-file no-explicit-any -- type-erased positions (node lists, policies, selectors) accept any payload type
/**
 * DSL routing: Router (in place, 1→1), Fork (terminal split) and Broadcast (terminal fan-out).
 *
 * @module
 */
import type { PredicateLike, SelectorLike } from "../expr/mod.ts";
import type { Process } from "./_flow.ts";
import { recordProblem } from "./_problems.ts";
import type { IntoTopic } from "./_terminals.ts";

/**
 * One predicate branch of a route table: messages for which `when` holds run through `process`. Written
 * as a {@link Route} (Router) or a {@link ForkRoute} (Fork).
 *
 * @example
 * ```ts
 * import { Drain, PredicateRoute, Process, Route, payload } from "@loom/streaming";
 * const r: PredicateRoute = new Route(payload.field("amount").ge(100), new Process(new Drain()));
 * ```
 */
export class PredicateRoute {
  /**
   * Creates a predicate branch.
   *
   * @param when condition
   * @param process branch
   */
  constructor(readonly when: PredicateLike<any>, readonly process: Process) {}
}

/**
 * One predicate branch of a {@link Router}.
 *
 * @example
 * ```ts
 * import { Process, Route, RecordStep, payload } from "@loom/streaming";
 * const r = new Route(payload.field("amount").ge(100), new Process(RecordStep.of((m) => m.payload)));
 * ```
 */
export class Route extends PredicateRoute {
  /** Marker. */
  readonly kind = "route" as const;
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
export class ForkRoute extends PredicateRoute {
  /** Marker. */
  readonly kind = "fork_route" as const;
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
 * What a route table is built from: a selector with keyed routes and/or predicate routes, and a default.
 *
 * @example
 * ```ts
 * import { Drain, Process, type Route, type RouteTableOptions, Router, msg } from "@loom/streaming";
 * const options: RouteTableOptions<Route> = {
 *   selector: msg.payload.field("lane"),
 *   routes: { a: new Process(new Drain()) },
 * };
 * new Router(options);
 * ```
 */
export interface RouteTableOptions<R extends PredicateRoute = PredicateRoute> {
  /** Key selector of keyed routing. */
  readonly selector?: SelectorLike<any> | null;
  /** Keyed branches. */
  readonly routes?: KeyedRoutes | null;
  /** Predicate branches, in order (first match wins). */
  readonly predicateRoutes?: readonly R[];
  /** Branch of unmatched messages. */
  readonly default?: Process | null;
}

/**
 * The route model shared by {@link Router} and {@link Fork}: a message takes the branch of its selector
 * key, else the first predicate route that holds, else `default`.
 *
 * @example
 * ```ts
 * import { Drain, Fork, Process, type RouteTable, msg } from "@loom/streaming";
 * const table: RouteTable = Fork.by(msg.payload.field("lane"), { a: new Process(new Drain()) });
 * table.routes.length; // 1
 * ```
 */
export abstract class RouteTable<R extends PredicateRoute = PredicateRoute> {
  /** Key selector of keyed routing, or null. */
  readonly selector: SelectorLike<any> | null;
  /** Keyed branches as `[key, process]` pairs. */
  readonly routes: readonly (readonly [unknown, Process])[];
  /** Predicate branches, in order. */
  readonly predicateRoutes: readonly R[];
  /** Branch of unmatched messages, or null. */
  readonly default: Process | null;
  /**
   * Creates the route table.
   *
   * @param options selector + keyed routes and/or predicate routes, default
   */
  constructor(options: RouteTableOptions<R>) {
    this.selector = options.selector ?? null;
    this.routes = toEntries(options.routes);
    this.predicateRoutes = [...(options.predicateRoutes ?? [])];
    this.default = options.default ?? null;
  }
}

/** Records a problem on `node` unless `routes` holds at least one keyed route (`Router.by`, `Fork.by`). */
function requireKeyed<T extends object>(node: T, routes: KeyedRoutes, what: string): T {
  if (toEntries(routes).length === 0) {
    recordProblem(node, `${what} requires at least one keyed route; add a {key: new Process(...)} entry`);
  }
  return node;
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
export class Router extends RouteTable<Route> {
  /** Marker. */
  readonly kind = "router" as const;
  /**
   * Creates a {@link Router}.
   *
   * @param options selector + keyed routes and/or predicate routes, default
   */
  constructor(options: RouteTableOptions<Route>) {
    super(options);
    if (this.selector === null && this.predicateRoutes.length === 0) {
      recordProblem(
        this,
        "Router requires a selector or at least one predicate route; use Router.by(selector, {key: process}) " +
          "or Router.when([new Route(predicate, process)])",
      );
    } else if (this.selector !== null && this.routes.length === 0 && this.predicateRoutes.length === 0) {
      recordProblem(this, "Router.by requires at least one keyed route; add a {key: new Process(...)} entry");
    }
  }
  /** Keyed routing. */
  static by(selector: SelectorLike<any>, routes: KeyedRoutes, options: { default?: Process } = {}): Router {
    const router = new Router({ selector, routes, default: options.default });
    // The constructor already reports a Router.by without keyed routes.
    return router;
  }
  /** Ordered predicate routing (first match wins). */
  static when(routes: readonly Route[], options: { default?: Process } = {}): Router {
    return new Router({ predicateRoutes: routes, default: options.default });
  }
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
export class Fork extends RouteTable<ForkRoute> {
  /** Marker. */
  readonly kind = "fork" as const;
  /** Keyed or predicate. */
  readonly forkKind: ForkKind;
  /**
   * Creates a {@link Fork}.
   *
   * @param options kind, selector + routes or predicate routes, default
   */
  constructor(options: RouteTableOptions<ForkRoute> & { readonly kind: ForkKind }) {
    super(options);
    this.forkKind = options.kind;
  }
  /** Keyed fork. */
  static by(selector: SelectorLike<any>, branches: KeyedRoutes, options: { default?: Process } = {}): Fork {
    return requireKeyed(
      new Fork({ kind: "keyed", selector, routes: branches, default: options.default }),
      branches,
      "Fork.by",
    );
  }
  /** Predicate fork (first match wins). */
  static when(routes: readonly ForkRoute[], options: { default?: Process } = {}): Fork {
    const fork = new Fork({ kind: "predicate", predicateRoutes: routes, default: options.default });
    if (routes.length === 0) {
      recordProblem(
        fork,
        "Fork.when requires at least one predicate route; add a new ForkRoute(predicate, process)",
      );
    }
    return fork;
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
    if (routes.length === 0) {
      recordProblem(this, "Broadcast requires at least one route; pass new BroadcastRoute(process, output)");
    }
    this.routes = routes;
  }
}
