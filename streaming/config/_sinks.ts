/**
 * The `streaming.sinks.<name>` sections of storage sinks.
 *
 * @module
 */
import * as v from "valibot";
import type { BufferSettings, SinkSection } from "../_settings.ts";
import { type ConfigContext, errorAt, resolvePath, validateAt } from "./_context.ts";
import { ConfigError, describeValue, where } from "./_errors.ts";
import { intAtLeast, optionalString, positiveNumber } from "./_schemas.ts";
import { isPlainObject } from "./_tree.ts";

/**
 * The shared buffer policy defaults of table sinks (§3.4).
 *
 * @example
 * ```ts
 * import { DEFAULT_BUFFER_SETTINGS } from "@loom/streaming";
 * DEFAULT_BUFFER_SETTINGS.bufferMaxRecords; // 50000
 * ```
 */
export const DEFAULT_BUFFER_SETTINGS: BufferSettings = Object.freeze({
  bufferMaxRecords: 50000,
  bufferMaxBytes: 134217728,
  bufferMaxAgeS: 60,
  flushOnShutdown: true,
});

const sinkSchema = v.looseObject({
  buffer_max_records: v.optional(intAtLeast(1), DEFAULT_BUFFER_SETTINGS.bufferMaxRecords),
  buffer_max_bytes: v.optional(intAtLeast(1), DEFAULT_BUFFER_SETTINGS.bufferMaxBytes),
  buffer_max_age_s: v.optional(positiveNumber, DEFAULT_BUFFER_SETTINGS.bufferMaxAgeS),
  flush_on_shutdown: v.optional(v.boolean(), DEFAULT_BUFFER_SETTINGS.flushOnShutdown),
  table: optionalString,
  database: optionalString,
  url: optionalString,
  type: optionalString,
});

/**
 * Reads `streaming.sinks.<name>` (§3.4): the buffer policy with defaults, the common `table`, `database`,
 * `url`, `type`, and the whole section as `options` (backend-specific keys are not checked here).
 *
 * @example
 * ```ts
 * import { ConfigContext, readSinkSection } from "@loom/streaming";
 * const ctx = ConfigContext.fromObject({
 *   streaming: { sinks: { orders: { database: "wh", table: "orders" } } },
 * });
 * readSinkSection(ctx, "orders").bufferMaxRecords; // 50000
 * ```
 */
export function readSinkSection(ctx: ConfigContext, name: string): SinkSection {
  const segs = ["streaming", "sinks", name];
  const r = resolvePath(ctx.raw, segs);
  if (!r.found || r.value === null || r.value === undefined) {
    const loc = ctx.locate(segs);
    throw new ConfigError(
      `${where(loc)}no config section found at streaming.sinks.${name}; ` +
        `add it, e.g. streaming.sinks.${name}: {database: <db>, table: <table>}`,
      { file: loc.file, line: loc.line, path: `streaming.sinks.${name}` },
    );
  }
  if (!isPlainObject(r.value)) {
    throw errorAt(ctx, segs, `expected a map, got ${describeValue(r.value)}`);
  }
  const raw = validateAt(ctx, segs, r.value, sinkSchema);
  return {
    name,
    table: raw.table ?? null,
    database: raw.database ?? null,
    url: raw.url ?? null,
    type: raw.type ?? null,
    bufferMaxRecords: raw.buffer_max_records,
    bufferMaxBytes: raw.buffer_max_bytes,
    bufferMaxAgeS: raw.buffer_max_age_s,
    flushOnShutdown: raw.flush_on_shutdown,
    options: r.value,
  };
}
