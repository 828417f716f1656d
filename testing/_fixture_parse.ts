/**
 * Reading fixtures: {@link parseFixture} turns JSON Lines text (format in `_fixture.ts`) into
 * {@link FixtureRecord}s, validating one field at a time so that every problem names its line and field.
 *
 * @module
 */
import { base64ToBytes } from "./_base64.ts";
import {
  describeValue,
  FIELDS,
  type FixtureRecord,
  type FixtureValue,
  LineContext,
  metaOnlyWithJson,
  STRING_META,
} from "./_fixture_record.ts";

const FIELD_SET: ReadonlySet<string> = new Set(FIELDS);

const utf8Encoder = new TextEncoder();

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
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

function isCommentOrBlank(line: string): boolean {
  let i = 0;
  while (i < line.length && (line[i] === " " || line[i] === "\t" || line[i] === "\r")) {
    i++;
  }
  if (i === line.length) return true;
  return line[i] === "#" || (line[i] === "/" && line[i + 1] === "/");
}

/**
 * Parses a JSON Lines fixture (format in the module documentation of `_fixture.ts`). Strict: every problem throws a
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
