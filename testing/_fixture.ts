/**
 * Recorded topic fixtures in JSON Lines: one Kafka record per line, replayed deterministically by the
 * simulator and written by the recorder that reads real topics.
 *
 * Longer than ~600 lines because its format reference (below) and its one-field-at-a-time validation
 * (every malformed field named with its line) belong together.
 *
 * ## Format
 *
 * Blank lines and lines whose first non-blank characters are `//` or `#` are ignored. Every other line is
 * one JSON object with these fields (unknown fields are rejected, so typos fail loudly):
 *
 * | field | required | type | meaning |
 * |---|---|---|---|
 * | `topic` | yes | non-empty string | topic name |
 * | `partition` | no | integer >= 0 | partition; absent/`null` = let the partitioner choose (key hash, or round-robin) |
 * | `offset` | no | integer >= 0 | offset; absent/`null` = next offset of the partition. Gaps are allowed (compacted topics) |
 * | `timestamp` | no | integer >= 0 | record timestamp in ms; absent/`null` = the loader's clock |
 * | `key` | no | bytes or `null` | absent = `null` |
 * | `headers` | no | object of name → bytes | absent = `{}` |
 * | `value` | yes | `{"json": <any JSON>}`, bytes, or `null` | `null` is a tombstone |
 * | `message_type` | no | string | envelope descriptor, only with a `{"json": ...}` value |
 * | `message_version` | no | integer >= 0 | envelope descriptor, only with a `{"json": ...}` value |
 * | `trace_id`, `parent_trace_id`, `correlation_id`, `causation_id` | no | string | envelope metadata, only with a `{"json": ...}` value |
 *
 * "Bytes" is one of:
 * - a JSON string: its UTF-8 encoding (`"k1"`); allowed for `key` and header values;
 * - `{"text": "..."}`: the UTF-8 encoding of the text; allowed everywhere, including `value`;
 * - `{"base64": "..."}`: exact bytes (standard alphabet, padding optional), e.g. garbage for poison tests.
 *
 * A `{"json": ...}` value is a payload the caller encodes with the real wire codec (together with the
 * optional envelope metadata); every other value is replayed byte for byte. Envelope metadata fields set
 * to `null` are treated as absent.
 *
 * ```text
 * # orders.jsonl
 * {"topic": "orders", "partition": 0, "offset": 12, "timestamp": 1700000000000, "key": "k1", "headers": {"x-tenant": "acme"}, "value": {"json": {"order_id": "o-1", "amount": 5}}, "message_type": "order.created", "message_version": 1}
 * {"topic": "orders", "key": {"base64": "AAE="}, "value": {"base64": "3q2+7w=="}}
 * {"topic": "orders", "key": "k1", "value": null}
 * ```
 *
 * {@link formatFixture} writes keys, header values and raw values as plain strings / `{"text"}` when the
 * bytes are valid UTF-8 and as `{"base64"}` otherwise, so `parseFixture(formatFixture(records))` deep-equals
 * `records`.
 *
 * @module
 */

import type { SourceRecord } from "../streaming/_transport.ts";

/**
 * Envelope metadata a fixture may attach to a JSON payload (camelCase forms of the wire names).
 *
 * @example
 * ```ts
 * import { parseFixture } from "@loom/streaming/testing";
 * const [record] = parseFixture('{"topic": "orders", "message_type": "order.created", "value": {"json": {}}}');
 * record.messageType; // "order.created"
 * ```
 */
export interface FixtureMessageMeta {
  /** `descriptor.message_type` of the envelope (wire `message_type`). */
  readonly messageType?: string;
  /** `descriptor.message_version` of the envelope (wire `message_version`). */
  readonly messageVersion?: number;
  /** Envelope `trace_id`. */
  readonly traceId?: string;
  /** Envelope `parent_trace_id`. */
  readonly parentTraceId?: string;
  /** Envelope `correlation_id`. */
  readonly correlationId?: string;
  /** Envelope `causation_id`. */
  readonly causationId?: string;
}

/**
 * A fixture value: a JSON payload to encode with the wire codec, or raw bytes replayed exactly.
 *
 * @example
 * ```ts
 * import type { FixtureValue } from "@loom/streaming/testing";
 * const json: FixtureValue = { json: { order_id: "o-1" } };
 * const raw: FixtureValue = { raw: new Uint8Array([0xc1]) };
 * ```
 */
export type FixtureValue = { readonly json: unknown } | { readonly raw: Uint8Array };

/**
 * One record of a fixture file.
 *
 * @example
 * ```ts
 * import { type FixtureRecord, formatFixture } from "@loom/streaming/testing";
 * const record: FixtureRecord = {
 *   topic: "orders",
 *   partition: null,
 *   offset: null,
 *   timestampMs: null,
 *   key: null,
 *   headers: {},
 *   value: { json: { order_id: "o-1" } },
 * };
 * formatFixture([record]);
 * ```
 */
export interface FixtureRecord extends FixtureMessageMeta {
  /** Topic name. */
  readonly topic: string;
  /** `null`: let the partitioner choose. */
  readonly partition: number | null;
  /** `null`: the next offset of the partition. */
  readonly offset: number | null;
  /** `null`: the loader's clock. */
  readonly timestampMs: number | null;
  /** Key bytes, or `null` for no key. */
  readonly key: Uint8Array | null;
  /** Header name → bytes (`{}` when none). */
  readonly headers: Readonly<Record<string, Uint8Array>>;
  /** `null` is a tombstone. */
  readonly value: FixtureValue | null;
}

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

/**
 * A problem in a fixture: names the source, the 1-based line and the field.
 *
 * @example
 * ```ts
 * import { FixtureError, parseFixture } from "@loom/streaming/testing";
 * try {
 *   parseFixture('{"topic": "orders", "partition": -1, "value": null}', "orders.jsonl");
 * } catch (e) {
 *   if (e instanceof FixtureError) console.log(e.message); // orders.jsonl:1: "partition" must be ...
 * }
 * ```
 */
export class FixtureError extends Error {
  /** The fixture's name (file name, or `<fixture>`). */
  readonly source: string;
  /** 1-based line number (for {@link formatFixture}: 1-based record index). */
  readonly line: number;
  /** The offending field path (e.g. `headers.x-trace-id`), or `null` for a whole-line problem. */
  readonly field: string | null;

  /**
   * Builds the error; the message is `<source>:<line>: <detail>`.
   *
   * @param source fixture name
   * @param line 1-based line number
   * @param field offending field path, or `null`
   * @param detail what is wrong and how to fix it
   */
  constructor(source: string, line: number, field: string | null, detail: string) {
    super(`${source}:${line}: ${detail}`);
    this.name = "FixtureError";
    this.source = source;
    this.line = line;
    this.field = field;
  }
}

// ---------------------------------------------------------------------------------------------------------
// base64 (web-standard, strict)

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_INDEX = /* @__PURE__ */ (() => {
  const t = new Int16Array(256).fill(-1);
  for (let i = 0; i < B64.length; i++) t[B64.charCodeAt(i)] = i;
  return t;
})();

/**
 * Encodes bytes as standard padded base64.
 *
 * @param bytes the bytes
 * @returns base64 text
 *
 * @example
 * ```ts
 * import { bytesToBase64 } from "@loom/streaming/testing";
 * bytesToBase64(new Uint8Array([0xde, 0xad, 0xbe, 0xef])); // "3q2+7w=="
 * ```
 */
export function bytesToBase64(bytes: Uint8Array): string {
  let out = "";
  const n = bytes.length;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += B64[v >>> 18] + B64[(v >>> 12) & 63] + B64[(v >>> 6) & 63] + B64[v & 63];
  }
  if (n - i === 1) {
    const v = bytes[i] << 16;
    out += B64[v >>> 18] + B64[(v >>> 12) & 63] + "==";
  } else if (n - i === 2) {
    const v = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += B64[v >>> 18] + B64[(v >>> 12) & 63] + B64[(v >>> 6) & 63] + "=";
  }
  return out;
}

/**
 * Decodes standard base64 (padding optional). Returns `null` for anything else (URL-safe alphabet,
 * whitespace, bad length or padding).
 *
 * @param text base64 text
 * @returns the bytes, or `null` when `text` is not valid base64
 *
 * @example
 * ```ts
 * import { base64ToBytes } from "@loom/streaming/testing";
 * base64ToBytes("3q2+7w=="); // Uint8Array [0xde, 0xad, 0xbe, 0xef]
 * base64ToBytes("not base64!"); // null
 * ```
 */
export function base64ToBytes(text: string): Uint8Array | null {
  let end = text.length;
  // "=" padding is only valid on a multiple-of-4 length, and at most two of it
  if (end % 4 === 0 && end > 0 && text.charCodeAt(end - 1) === 61) {
    end--;
    if (text.charCodeAt(end - 1) === 61) end--;
  }
  if (end % 4 === 1) return null;
  const out = new Uint8Array((end * 3) >>> 2);
  let o = 0, acc = 0, bits = 0;
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    const v = c < 256 ? B64_INDEX[c] : -1;
    if (v < 0) return null;
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >>> bits) & 0xff;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// parsing

const FIELDS = [
  "topic",
  "partition",
  "offset",
  "timestamp",
  "key",
  "headers",
  "value",
  "message_type",
  "message_version",
  "trace_id",
  "parent_trace_id",
  "correlation_id",
  "causation_id",
] as const;
const FIELD_SET: ReadonlySet<string> = new Set(FIELDS);

const STRING_META: readonly [wire: string, camel: keyof FixtureMessageMeta][] = [
  ["message_type", "messageType"],
  ["trace_id", "traceId"],
  ["parent_trace_id", "parentTraceId"],
  ["correlation_id", "correlationId"],
  ["causation_id", "causationId"],
];

const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function describeValue(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return "an object";
  if (typeof v === "string") return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v)}`;
  return `${typeof v} ${String(v)}`;
}

class LineContext {
  constructor(readonly source: string, readonly line: number) {}
  fail(field: string | null, detail: string): never {
    throw new FixtureError(this.source, this.line, field, field === null ? detail : `"${field}" ${detail}`);
  }
}

function nonNegativeInt(ctx: LineContext, field: string, v: unknown): number | null {
  if (v === undefined || v === null) return null;
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) {
    ctx.fail(field, `must be a non-negative integer (or null/absent), got ${describeValue(v)}`);
  }
  return v;
}

/** Parses `{"text"}` / `{"base64"}` (and a bare string when `allowString`). */
function parseBytes(ctx: LineContext, field: string, v: unknown, allowString: boolean): Uint8Array {
  if (typeof v === "string" && allowString) return utf8Encoder.encode(v);
  const forms = allowString
    ? `a string, {"text": "..."} or {"base64": "..."}`
    : `{"text": "..."} or {"base64": "..."}`;
  if (!isObject(v)) ctx.fail(field, `must be ${forms}, got ${describeValue(v)}`);
  const keys = Object.keys(v);
  if (keys.length !== 1 || (keys[0] !== "text" && keys[0] !== "base64")) {
    ctx.fail(field, `must be ${forms}, got an object with keys ${JSON.stringify(keys)}`);
  }
  const inner = v[keys[0]];
  if (typeof inner !== "string") {
    ctx.fail(`${field}.${keys[0]}`, `must be a string, got ${describeValue(inner)}`);
  }
  if (keys[0] === "text") return utf8Encoder.encode(inner);
  const bytes = base64ToBytes(inner);
  if (bytes === null) {
    ctx.fail(
      `${field}.base64`,
      `is not valid base64 (standard alphabet A-Z a-z 0-9 + /, optional "=" padding, no whitespace)`,
    );
  }
  return bytes;
}

function parseValue(ctx: LineContext, v: unknown): FixtureValue | null {
  if (v === null) return null;
  if (isObject(v) && Object.keys(v).length === 1 && "json" in v) {
    return { json: v.json };
  }
  if (isObject(v) && Object.keys(v).length === 1 && ("text" in v || "base64" in v)) {
    return { raw: parseBytes(ctx, "value", v, false) };
  }
  const got = isObject(v) ? `an object with keys ${JSON.stringify(Object.keys(v))}` : describeValue(v);
  const hint = typeof v === "string"
    ? ` (write {"text": ...} for its UTF-8 bytes, or {"json": ...} for a JSON string payload)`
    : "";
  return ctx.fail(
    "value",
    `must be {"json": <payload>}, {"text": "..."}, {"base64": "..."} or null (tombstone), got ${got}${hint}`,
  );
}

function parseRecord(ctx: LineContext, obj: Record<string, unknown>): FixtureRecord {
  for (const k of Object.keys(obj)) {
    if (!FIELD_SET.has(k)) {
      ctx.fail(null, `unknown field ${JSON.stringify(k)} (allowed: ${FIELDS.join(", ")})`);
    }
  }
  const topic = obj.topic;
  if (topic === undefined) ctx.fail("topic", `is required (the topic this record belongs to)`);
  if (typeof topic !== "string" || topic.length === 0) {
    ctx.fail("topic", `must be a non-empty string, got ${describeValue(topic)}`);
  }
  const partition = nonNegativeInt(ctx, "partition", obj.partition);
  const offset = nonNegativeInt(ctx, "offset", obj.offset);
  const timestampMs = nonNegativeInt(ctx, "timestamp", obj.timestamp);

  let key: Uint8Array | null = null;
  if (obj.key !== undefined && obj.key !== null) key = parseBytes(ctx, "key", obj.key, true);

  let headers: Record<string, Uint8Array> = {};
  if (obj.headers !== undefined && obj.headers !== null) {
    if (!isObject(obj.headers)) {
      ctx.fail("headers", `must be an object of header name → value, got ${describeValue(obj.headers)}`);
    }
    const entries: [string, Uint8Array][] = [];
    for (const [name, hv] of Object.entries(obj.headers)) {
      entries.push([name, parseBytes(ctx, `headers.${name}`, hv, true)]);
    }
    headers = Object.fromEntries(entries);
  }

  if (!("value" in obj)) {
    ctx.fail(
      "value",
      `is required: {"json": <payload>}, {"text": "..."}, {"base64": "..."} or null (tombstone)`,
    );
  }
  const value = parseValue(ctx, obj.value);

  const record: {
    -readonly [K in keyof FixtureRecord]: FixtureRecord[K];
  } = { topic, partition, offset, timestampMs, key, headers, value };

  const isJson = value !== null && "json" in value;
  for (const [wire, camel] of STRING_META) {
    const mv = obj[wire];
    if (mv === undefined || mv === null) continue;
    if (typeof mv !== "string") ctx.fail(wire, `must be a string (or null/absent), got ${describeValue(mv)}`);
    if (!isJson) ctx.fail(wire, metaOnlyWithJson);
    (record as Record<string, unknown>)[camel] = mv;
  }
  const version = nonNegativeInt(ctx, "message_version", obj.message_version);
  if (version !== null) {
    if (!isJson) ctx.fail("message_version", metaOnlyWithJson);
    record.messageVersion = version;
  }
  return record;
}

const metaOnlyWithJson =
  `is only allowed with a {"json": ...} value (raw bytes and tombstones are replayed exactly, without an envelope)`;

function isCommentOrBlank(line: string): boolean {
  let i = 0;
  while (i < line.length && (line[i] === " " || line[i] === "\t" || line[i] === "\r")) {
    i++;
  }
  if (i === line.length) return true;
  return line[i] === "#" || (line[i] === "/" && line[i + 1] === "/");
}

/**
 * Parses a JSON Lines fixture (format in the module documentation). Strict: every problem throws a
 * {@link FixtureError} naming the source, the line and the field.
 *
 * @param text the fixture text
 * @param source the name used in error messages (e.g. the file name); default `<fixture>`
 * @returns the records in file order
 * @throws {FixtureError} on invalid JSON, unknown fields or wrong field types
 *
 * @example
 * ```ts
 * import { parseFixture } from "@loom/streaming/testing";
 * const records = parseFixture(
 *   '# one order\n{"topic": "orders", "partition": 0, "key": "k1", "value": {"json": {"id": 1}}}\n',
 *   "orders.jsonl",
 * );
 * records[0].value; // { json: { id: 1 } }
 * ```
 */
export function parseFixture(text: string, source = "<fixture>"): FixtureRecord[] {
  const records: FixtureRecord[] = [];
  const lines = (text.charCodeAt(0) === 0xfeff ? text.slice(1) : text).split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (isCommentOrBlank(line)) continue;
    const ctx: LineContext = new LineContext(source, i + 1);
    let parsed: unknown;
    try {
      parsed = JSON.parse(line);
    } catch (e) {
      ctx.fail(
        null,
        `invalid JSON (${
          e instanceof Error ? e.message : String(e)
        }); each record must be one JSON object on one line`,
      );
    }
    if (!isObject(parsed)) ctx.fail(null, `a record must be a JSON object, got ${describeValue(parsed)}`);
    records.push(parseRecord(ctx, parsed));
  }
  return records;
}

// ---------------------------------------------------------------------------------------------------------
// formatting

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
