/**
 * Free-form bindings: `bindConfig` reads a section into a step's config schema.
 *
 * @module
 */
import type * as v from "valibot";
import type { AnySchema, SchemaOutput } from "../_type.ts";
import { type ConfigContext, errorAt, notFound, resolvePath, validateAt } from "./_context.ts";
import { type ConfigPath, describeValue } from "./_errors.ts";
import { isPlainObject } from "./_tree.ts";

/**
 * Reads a free-form binding section (§3.5), merges `overrides` over it (overrides win, shallowly) and
 * validates the result with `schema` (lax). A missing required field →
 * `<path> requires config field '<name>'`; a wrong type → `<path>.<field>: expected ..., got ...`.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { bindConfig, ConfigContext } from "@loom/streaming";
 * const ctx = ConfigContext.fromObject({ streaming: { bindings: { fetch: { timeout_s: "30" } } } });
 * const fetch = bindConfig(ctx, "streaming.bindings.fetch", v.object({
 *   api_base: v.string(),
 *   timeout_s: v.number(),
 * }), { api_base: "https://example.test" });
 * fetch.timeout_s; // 30
 * ```
 */
export function bindConfig<TSchema extends AnySchema>(
  ctx: ConfigContext,
  path: ConfigPath,
  schema: TSchema,
  overrides: Readonly<Record<string, unknown>> = {},
): SchemaOutput<TSchema> {
  const r = resolvePath(ctx.raw, path);
  if (!r.found) throw notFound(ctx, path, r);
  const section = r.value === null || r.value === undefined ? {} : r.value;
  if (!isPlainObject(section)) {
    throw errorAt(ctx, r.segs, `expected a map of fields, got ${describeValue(section)}`);
  }
  const keys = Object.keys(overrides);
  const merged = keys.length === 0 ? section : { ...section, ...overrides };
  return validateAt(
    ctx,
    r.segs,
    merged,
    schema as unknown as v.GenericSchema,
    "bind",
    new Set(keys),
  ) as SchemaOutput<
    TSchema
  >;
}
