/**
 * The fixture record model: the {@link FixtureRecord} one fixture line stands for, its envelope metadata,
 * the {@link FixtureError} naming a bad line and field, and the wire field names shared by the parser
 * (`_fixture_parse.ts`) and the writer (`_fixture_format.ts`). The file format is described in
 * `_fixture.ts`.
 *
 * @module
 */

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
// wire fields and line context (shared by parsing and formatting; not public)

/** The fields of a fixture line, in the order {@link formatFixture} writes them. */
export const FIELDS = [
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

/** Envelope metadata carried as strings: wire field name and its camelCase record field. */
export const STRING_META: readonly [wire: string, camel: keyof FixtureMessageMeta][] = [
  ["message_type", "messageType"],
  ["trace_id", "traceId"],
  ["parent_trace_id", "parentTraceId"],
  ["correlation_id", "correlationId"],
  ["causation_id", "causationId"],
];

/** Why envelope metadata is refused on raw and tombstone values. */
export const metaOnlyWithJson: string =
  `is only allowed with a {"json": ...} value (raw bytes and tombstones are replayed exactly, without an envelope)`;

/** A short description of a bad value for error messages. */
export function describeValue(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return "an object";
  if (typeof v === "string") return `the string ${JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v)}`;
  return `${typeof v} ${String(v)}`;
}

/** The source and 1-based line (or record index) that errors are reported against. */
export class LineContext {
  constructor(readonly source: string, readonly line: number) {}
  /** Throws the {@link FixtureError} of this line for `field` (quoted before `detail`), or the whole line. */
  fail(field: string | null, detail: string): never {
    throw new FixtureError(this.source, this.line, field, field === null ? detail : `"${field}" ${detail}`);
  }
}
