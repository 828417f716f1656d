import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { encodeEnvelope } from "../kafka/mod.ts";
import { compileSchema } from "../kafka/_schema_codec.ts";
import { EncodedRecord } from "./_encoded_record.ts";
import { HEADERS } from "./_wire_headers.ts";

const te = new TextEncoder();
const td = new TextDecoder();
const codec = compileSchema(v.object({ n: v.number() }));

/** An envelope with these trace fields and the spans encodeEnvelope reported for it. */
function encoded(
  trace: {
    traceId: string | null;
    parentTraceId: string | null;
    correlationId: string | null;
    causationId: string | null;
  },
): { value: Uint8Array; spans: Int32Array } {
  const spans = new Int32Array(8);
  const value = encodeEnvelope(
    { messageType: "t", messageVersion: 1, producedAtMs: 5, ...trace },
    { n: 1 },
    codec,
    spans,
  );
  return { value: value.slice(), spans };
}

/** An envelope with only a trace id ("t"). */
const traceOnly = (): { value: Uint8Array; spans: Int32Array } =>
  encoded({ traceId: "t", parentTraceId: null, correlationId: null, causationId: null });

/** Every header of `r` as text, in the order of `headers`. */
const texts = (h: Readonly<Record<string, Uint8Array>>): [string, string][] =>
  Object.entries(h).map(([k, b]) => [k, td.decode(b)]);

/** What eachHeader hands out, as text. */
function each(r: EncodedRecord): [string, string][] {
  const out: [string, string][] = [];
  r.eachHeader((name, bytes, start, end) => out.push([name, td.decode(bytes.subarray(start, end))]));
  return out;
}

describe("EncodedRecord", () => {
  test("trace headers are the envelope's trace fields; nil fields set none", () => {
    const { value, spans } = encoded({
      traceId: "t-new",
      parentTraceId: "t-old",
      correlationId: "c-1",
      causationId: null,
    });
    const r = new EncodedRecord(null, value, {}, spans, 5);
    const expected: [string, string][] = [
      [HEADERS.correlationId, "c-1"],
      [HEADERS.parentTraceId, "t-old"],
      [HEADERS.traceId, "t-new"],
    ];
    assert.deepEqual(texts(r.headers), expected);
    assert.deepEqual(each(r), expected);
    // views of the envelope itself, no copies
    for (const b of Object.values(r.headers)) assert.equal(b.buffer, value.buffer);
    assert.equal(r.headers, r.headers, "built once");
  });

  test("forwarded headers: kept when equal (same bytes object), replaced in place when not, others kept", () => {
    const { value, spans } = encoded({
      traceId: "t-new",
      parentTraceId: "t-old",
      correlationId: "c-é",
      causationId: "m-1",
    });
    const sameCorrelation = te.encode("c-é"); // non-ASCII: compared as bytes
    const forwarded = {
      "x-app": te.encode("a"),
      [HEADERS.traceId]: te.encode("t-old"),
      [HEADERS.correlationId]: sameCorrelation,
      "x-other": te.encode("b"),
    };
    const r = new EncodedRecord(te.encode("k"), value, forwarded, spans, 5);
    const expected: [string, string][] = [
      ["x-app", "a"],
      [HEADERS.traceId, "t-new"],
      [HEADERS.correlationId, "c-é"],
      ["x-other", "b"],
      [HEADERS.parentTraceId, "t-old"],
      [HEADERS.causationId, "m-1"],
    ];
    assert.deepEqual(texts(r.headers), expected);
    assert.deepEqual(each(r), expected);
    assert.equal(r.headers[HEADERS.correlationId], sameCorrelation);
    assert.equal(td.decode(forwarded[HEADERS.traceId]), "t-old", "the forwarded object is not modified");
    assert.equal(Object.keys(forwarded).length, 4);
  });

  test("a nil envelope field keeps the forwarded header", () => {
    const { value, spans } = traceOnly();
    const r = new EncodedRecord(null, value, { [HEADERS.correlationId]: te.encode("c-in") }, spans, 5);
    assert.deepEqual(texts(r.headers), [[HEADERS.correlationId, "c-in"], [HEADERS.traceId, "t"]]);
    assert.deepEqual(each(r), texts(r.headers));
  });

  test("spreads need headers given explicitly (a getter, not an own property)", () => {
    const { value, spans } = traceOnly();
    const r = new EncodedRecord(null, value, {}, spans, 5);
    assert.equal("headers" in { ...r }, false);
    const copy = { ...r, headers: { ...r.headers, "x-dlq-error": te.encode("why") } };
    assert.deepEqual(Object.keys(copy.headers), [HEADERS.traceId, "x-dlq-error"]);
    assert.equal(copy.value, value);
    assert.equal(copy.timestampMs, 5);
  });

  test("traceSpan rejects an index that is not a field's", () => {
    const { value, spans } = traceOnly();
    const r = new EncodedRecord(null, value, {}, spans, 5);
    assert.equal(td.decode(value.subarray(r.traceSpan(0, false), r.traceSpan(0, true))), "t");
    assert.equal(r.traceSpan(2, false), -1);
    assert.throws(() => r.traceSpan(1, false), /0, 2, 4 or 6/);
  });
});
