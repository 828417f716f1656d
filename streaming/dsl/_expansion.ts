// deno-lint-ignore-file no-explicit-any -- type-erased positions (node lists, policies, selectors) accept any payload type
/**
 * DSL expansion: Explode and ExpandRoutes, driven by a PayloadExpander.
 *
 * @module
 */
import type { MessageType } from "../_type.ts";
import type { Process } from "./_flow.ts";
import { recordProblem } from "./_problems.ts";

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
      recordProblem(
        this,
        "ExpandRoutes requires at least one route or a default Process; pass routes or default",
      );
    }
  }
}
