/**
 * Writing fixtures: {@link formatFixture} turns {@link FixtureRecord}s into JSON Lines text that parses
 * back to the same records, and {@link fixtureRecordFromSource} turns a fetched record into a fixture
 * record (recording real topics).
 *
 * @module
 */
import type { SourceRecord } from "../streaming/_transport.ts";
import { bytesToBase64 } from "./_base64.ts";
import {
  describeValue,
  FIELDS,
  type FixtureMessageMeta,
  type FixtureRecord,
  LineContext,
  metaOnlyWithJson,
  STRING_META,
} from "./_fixture_record.ts";

/**
 * A decoded view of a record value: the JSON payload plus the envelope metadata to keep.
 *
 * @example
 * ```ts
 * import type { FixtureMessageView } from "@loom/streaming/testing";
 * const view: FixtureMessageView = { json: { order_id: "o-1" }, messageType: "order.created" };
 * ```
 */
export interface FixtureMessageView extends FixtureMessageMeta {
  /** The payload as plain JSON. */
  readonly json: unknown;
}

/**
 * Options of {@link fixtureRecordFromSource}.
 *
 * @example
 * ```ts
 * import { fixtureRecordFromSource } from "@loom/streaming/testing";
 * declare const fetched: import("@loom/streaming").SourceRecord;
 * const record = fixtureRecordFromSource(fetched, {
 *   decodeJson: (bytes) => JSON.parse(new TextDecoder().decode(bytes)),
 * });
 * ```
 */
export interface FixtureFromSourceOptions {
  /**
   * Returns a JSON view of a value (e.g. the decoded envelope payload), or `undefined` to keep the raw
   * bytes. A view that is not plain JSON (bigint, bytes, class instances, NaN, cycles...) is ignored.
   */
  readonly decodeJson?: (bytes: Uint8Array) => unknown | undefined;
  /**
   * Like `decodeJson` but also returns envelope metadata (`messageType`, `traceId`...). Takes precedence
   * over `decodeJson` when both are given.
   */
  readonly decodeMessage?: (bytes: Uint8Array) => FixtureMessageView | undefined;
}

const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function textOf(bytes: Uint8Array): string | null {
  try {
    return utf8Decoder.decode(bytes);
  } catch {
    return null;
  }
}

function bytesJson(bytes: Uint8Array, bareString: boolean): unknown {
  const text = textOf(bytes);
  if (text === null) return { base64: bytesToBase64(bytes) };
  return bareString ? text : { text };
}

/** True when `v` survives `JSON.parse(JSON.stringify(v))` deep-equal. */
function isPlainJson(v: unknown, depth = 0): boolean {
  if (depth > 512) return false; // cycles and absurd nesting
  if (v === null || typeof v === "string" || typeof v === "boolean") return true;
  if (typeof v === "number") return Number.isFinite(v) && !Object.is(v, -0);
  if (typeof v !== "object") return false;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) {
      if (!(i in v) || !isPlainJson(v[i], depth + 1)) return false;
    }
    return true;
  }
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return false;
  if (Object.getOwnPropertySymbols(v).length > 0) return false;
  for (const k of Object.keys(v)) {
    if (!isPlainJson((v as Record<string, unknown>)[k], depth + 1)) return false;
  }
  return true;
}

function checkInt(ctx: LineContext, field: string, v: unknown): void {
  if (v !== null && (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0)) {
    ctx.fail(field, `must be a non-negative integer or null, got ${describeValue(v)}`);
  }
}

function formatRecord(ctx: LineContext, r: FixtureRecord): string {
  if (typeof r.topic !== "string" || r.topic.length === 0) {
    ctx.fail("topic", `must be a non-empty string, got ${describeValue(r.topic)}`);
  }
  checkInt(ctx, "partition", r.partition);
  checkInt(ctx, "offset", r.offset);
  checkInt(ctx, "timestamp", r.timestampMs);
  const out: Record<string, unknown> = { topic: r.topic };
  if (r.partition !== null) out.partition = r.partition;
  if (r.offset !== null) out.offset = r.offset;
  if (r.timestampMs !== null) out.timestamp = r.timestampMs;
  if (r.key !== null && !(r.key instanceof Uint8Array)) ctx.fail("key", `must be a Uint8Array or null`);
  out.key = r.key === null ? null : bytesJson(r.key, true);
  const names = Object.keys(r.headers);
  if (names.length > 0) {
    const entries: [string, unknown][] = [];
    for (const name of names) {
      const hv = r.headers[name];
      if (!(hv instanceof Uint8Array)) {
        ctx.fail(`headers.${name}`, `must be a Uint8Array, got ${describeValue(hv)}`);
      }
      entries.push([name, bytesJson(hv, true)]);
    }
    out.headers = Object.fromEntries(entries);
  }
  const value = r.value;
  let isJson = false;
  if (value === null) {
    out.value = null;
  } else if ("raw" in value && value.raw instanceof Uint8Array) {
    out.value = bytesJson(value.raw, false);
  } else if ("json" in value) {
    if (!isPlainJson(value.json)) {
      ctx.fail(
        "value.json",
        `is not plain JSON (only null, booleans, strings, finite numbers, arrays and plain objects ` +
          `round-trip); store the encoded bytes as {raw: Uint8Array} instead`,
      );
    }
    out.value = { json: value.json };
    isJson = true;
  } else {
    ctx.fail("value", `must be {json: unknown}, {raw: Uint8Array} or null`);
  }
  for (const [wire, camel] of STRING_META) {
    const mv = r[camel];
    if (mv === undefined || mv === null) continue;
    if (typeof mv !== "string") ctx.fail(wire, `must be a string, got ${describeValue(mv)}`);
    if (!isJson) ctx.fail(wire, metaOnlyWithJson);
    out[wire] = mv;
  }
  if (r.messageVersion !== undefined && r.messageVersion !== null) {
    checkInt(ctx, "message_version", r.messageVersion);
    if (!isJson) ctx.fail("message_version", metaOnlyWithJson);
    out.message_version = r.messageVersion;
  }
  // Fixed field order, whatever order the metadata was set in.
  const ordered: Record<string, unknown> = {};
  for (const f of FIELDS) if (f in out) ordered[f] = out[f];
  return JSON.stringify(ordered);
}

/**
 * Formats records as a JSON Lines fixture (one line per record, each ending in `\n`), such that
 * `parseFixture(formatFixture(records))` deep-equals `records`.
 *
 * @param records the records
 * @returns the fixture text
 * @throws {FixtureError} (source `<formatFixture>`, line = 1-based record index) when a record cannot be
 *   represented, e.g. a `{json}` value that is not plain JSON
 *
 * @example
 * ```ts
 * import { formatFixture } from "@loom/streaming/testing";
 * formatFixture([{
 *   topic: "orders", partition: 0, offset: 0, timestampMs: 1000,
 *   key: new TextEncoder().encode("k1"), headers: {}, value: { json: { id: 1 } },
 * }]);
 * // '{"topic":"orders","partition":0,"offset":0,"timestamp":1000,"key":"k1","value":{"json":{"id":1}}}\n'
 * ```
 */
export function formatFixture(records: readonly FixtureRecord[]): string {
  let out = "";
  for (let i = 0; i < records.length; i++) {
    out += formatRecord(new LineContext("<formatFixture>", i + 1), records[i]) + "\n";
  }
  return out;
}

/**
 * Converts a fetched record into a fixture record (for recording real topics). The value stays raw bytes
 * unless a decoder returns a plain-JSON view of it.
 *
 * @param record the fetched record
 * @param opts optional decoders producing a JSON view (and envelope metadata) of the value
 * @returns the fixture record, with the record's partition, offset and timestamp
 *
 * @example
 * ```ts
 * import { fixtureRecordFromSource, formatFixture } from "@loom/streaming/testing";
 * declare const fetched: import("@loom/streaming").SourceRecord;
 * const line = formatFixture([fixtureRecordFromSource(fetched)]); // value as {"base64": ...}
 * ```
 */
export function fixtureRecordFromSource(
  record: SourceRecord,
  opts: FixtureFromSourceOptions = {},
): FixtureRecord {
  const base = {
    topic: record.topic,
    partition: record.partition,
    offset: record.offset,
    timestampMs: record.timestampMs,
    key: record.key,
    headers: record.headers,
  };
  const bytes = record.value;
  if (bytes === null) return { ...base, value: null };
  if (opts.decodeMessage) {
    const view = opts.decodeMessage(bytes);
    if (view !== undefined && isPlainJson(view.json)) {
      const meta: { -readonly [K in keyof FixtureMessageMeta]: FixtureMessageMeta[K] } = {};
      for (const [, camel] of STRING_META) {
        const mv = view[camel];
        if (typeof mv === "string") (meta as Record<string, unknown>)[camel] = mv;
      }
      const version = view.messageVersion;
      if (typeof version === "number" && Number.isSafeInteger(version) && version >= 0) {
        meta.messageVersion = version;
      }
      return { ...base, value: { json: view.json }, ...meta };
    }
  } else if (opts.decodeJson) {
    const json = opts.decodeJson(bytes);
    if (json !== undefined && isPlainJson(json)) return { ...base, value: { json } };
  }
  return { ...base, value: { raw: bytes } };
}
