/**
 * {@link EncodedRecord}: the outgoing record of an encoded message, whose trace headers are views of the
 * envelope's own trace fields, made when a transport first reads `headers` and not before.
 *
 * Why lazy: on JSC a typed-array view costs about as much as encoding a short string, and an output carries
 * four of them (`x-correlation-id`, `x-parent-trace-id`, `x-causation-id`, `x-trace-id`). Building them in the
 * engine took about a tenth of its time in memory (bench/engine_bench.ts) whether or not anything read them; a
 * transport that writes the bytes itself reads the spans instead ({@link EncodedRecord.traceSpan}) and makes
 * none.
 *
 * @module
 */
import type { OutgoingRecord } from "./_transport.ts";
import { HEADERS } from "./_wire_headers.ts";

/** Trace header names in the order they are added, and the index of each one's span in `encodeEnvelope`'s spans. */
const TRACE_NAMES: readonly string[] = [
  HEADERS.correlationId,
  HEADERS.parentTraceId,
  HEADERS.causationId,
  HEADERS.traceId,
];
const TRACE_SLOTS: readonly number[] = [4, 2, 6, 0];

/** True when `a` holds the bytes `b[start, end)`. */
function sameBytes(a: Uint8Array | undefined, b: Uint8Array, start: number, end: number): boolean {
  if (a === undefined || a.length !== end - start) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[start + i]) return false;
  return true;
}

/**
 * An {@link OutgoingRecord} whose headers are the forwarded ones plus the trace fields of its own envelope
 * (`value`), built on the first read of `headers` (then kept): a forwarded header holding the same bytes is
 * kept, a nil field sets none. Like any record it is immutable; spread it only with `headers` given
 * explicitly (`{ ...r, headers: { ...r.headers } }`): `headers` is a getter, not an own property.
 *
 * @example
 * ```ts
 * import { EncodedRecord } from "./_encoded_record.ts";
 * const value = new TextEncoder().encode("..trace-1..");
 * const spans = new Int32Array([2, 9, -1, -1, -1, -1, -1, -1]); // trace_id at [2, 9)
 * const r = new EncodedRecord(null, value, {}, spans, 1000);
 * new TextDecoder().decode(r.headers["x-trace-id"]); // "trace-1"
 * ```
 */
export class EncodedRecord implements OutgoingRecord {
  /** Kafka key, or null. */
  readonly key: Uint8Array | null;
  /** The encoded envelope. */
  readonly value: Uint8Array;
  /** Record timestamp in ms. */
  readonly timestampMs: number | null;
  /** The headers carried over from the input message (not copied: records and their headers are immutable). */
  readonly forwarded: Readonly<Record<string, Uint8Array>>;
  // [start, end) of trace_id, parent_trace_id, correlation_id, causation_id in `value` (-1: nil). TypeScript
  // `private`, not `#`: JSC's private fields made the engine about 5 % slower (bench/engine_bench.ts on Bun)
  private readonly s0: number;
  private readonly s1: number;
  private readonly s2: number;
  private readonly s3: number;
  private readonly s4: number;
  private readonly s5: number;
  private readonly s6: number;
  private readonly s7: number;
  private cache: Record<string, Uint8Array> | null = null;

  /**
   * Creates an {@link EncodedRecord}.
   *
   * @param key Kafka key, or null
   * @param value the envelope
   * @param forwarded the input message's headers
   * @param spans where `encodeEnvelope` wrote the four trace fields in `value` (8 slots; copied)
   * @param timestampMs record timestamp in ms
   */
  constructor(
    key: Uint8Array | null,
    value: Uint8Array,
    forwarded: Readonly<Record<string, Uint8Array>>,
    spans: Int32Array,
    timestampMs: number | null,
  ) {
    this.key = key;
    this.value = value;
    this.timestampMs = timestampMs;
    this.forwarded = forwarded;
    this.s0 = spans[0];
    this.s1 = spans[1];
    this.s2 = spans[2];
    this.s3 = spans[3];
    this.s4 = spans[4];
    this.s5 = spans[5];
    this.s6 = spans[6];
    this.s7 = spans[7];
  }

  /**
   * Start (`end` false) or end of the bytes in `value` of span `i` (0 trace_id, 2 parent_trace_id, 4
   * correlation_id, 6 causation_id); -1 for a nil field.
   */
  traceSpan(i: number, end: boolean): number {
    switch (i) {
      case 0:
        return end ? this.s1 : this.s0;
      case 2:
        return end ? this.s3 : this.s2;
      case 4:
        return end ? this.s5 : this.s4;
      case 6:
        return end ? this.s7 : this.s6;
      default:
        throw new RangeError(`trace span index must be 0, 2, 4 or 6, not ${i}`);
    }
  }

  /**
   * Calls `f` for each header of this record, in the order of `headers`, without building the trace
   * headers' views: a trace header comes as `(name, value, start, end)` (its bytes are `value[start, end)`),
   * any other as `(name, bytes, 0, bytes.length)`. The forwarded headers come first, in their order: a
   * forwarded trace header keeps its place, with the envelope's bytes when they differ and the field is not
   * nil; then the trace headers that were not forwarded.
   */
  eachHeader(f: (name: string, bytes: Uint8Array, start: number, end: number) => void): void {
    const fwd = this.forwarded;
    const value = this.value;
    for (const name in fwd) {
      const bytes = fwd[name];
      const k = TRACE_NAMES.indexOf(name);
      if (k >= 0) {
        const s = this.traceSpan(TRACE_SLOTS[k], false);
        const e = this.traceSpan(TRACE_SLOTS[k], true);
        if (s >= 0 && !sameBytes(bytes, value, s, e)) {
          f(name, value, s, e);
          continue;
        }
      }
      f(name, bytes, 0, bytes.length);
    }
    for (let k = 0; k < TRACE_NAMES.length; k++) {
      const name = TRACE_NAMES[k];
      const s = this.traceSpan(TRACE_SLOTS[k], false);
      if (s >= 0 && !(name in fwd)) f(name, value, s, this.traceSpan(TRACE_SLOTS[k], true));
    }
  }

  /** The record's headers: the forwarded ones with the trace headers set (built once, on first read). */
  get headers(): Readonly<Record<string, Uint8Array>> {
    if (this.cache === null) {
      collecting = {};
      collectingFrom = this.value;
      this.eachHeader(collect);
      this.cache = collecting;
      collecting = DONE;
      collectingFrom = EMPTY;
    }
    return this.cache;
  }
}

// `headers` is built by `eachHeader` into these (module-level: no closure per record).
const EMPTY = new Uint8Array(0);
/** What `collecting` holds between builds (frozen: nothing writes to it). */
const DONE: Record<string, Uint8Array> = Object.freeze({}) as Record<string, Uint8Array>;
let collecting: Record<string, Uint8Array> = DONE;
let collectingFrom: Uint8Array = EMPTY;
function collect(name: string, bytes: Uint8Array, start: number, end: number): void {
  // a trace field: a view of the envelope (the (buffer, offset, length) constructor: `subarray` looks up the
  // species constructor, slow on JSC); a forwarded header: its own bytes
  collecting[name] = bytes === collectingFrom
    ? new Uint8Array(bytes.buffer, bytes.byteOffset + start, end - start)
    : bytes;
}
