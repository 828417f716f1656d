// The envelope's decoding rules (msgspec typed decode, reference §4.1) on documents built with the dynamic
// encoder: defaults of missing optional fields, unknown and reordered keys, missing required fields, strict
// types with msgspec's messages and paths. The byte-level rules (truncation, trailing bytes, another payload
// type) are tested against the msgspec vectors in kafka/_envelope_test.ts.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { compileSchema, WireDecodeError } from "./_schema_codec.ts";
import { decodeEnvelope, DEFAULT_CONTENT_TYPE, encodeEnvelope } from "./_envelope.ts";
import { doc, goldenDoc, header, OrderCodec } from "./_test_support.ts";

describe("envelope: decoding rules (msgspec typed decode)", () => {
  test("a missing produced_at_ms is filled with the caller's clock", () => {
    const d = goldenDoc();
    delete (d.meta as Record<string, unknown>).produced_at_ms;
    assert.equal(decodeEnvelope(doc(d), OrderCodec, 123456).header.producedAtMs, 123456);
  });

  test("many message types in turn (the message_type cache is exact)", () => {
    const empty = compileSchema(v.object({}));
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 20; i++) {
        const type = i % 2 ? `type.${i}` : `t${"y".repeat(i * 10)}`;
        const bytes = encodeEnvelope(header(type), {}, empty);
        assert.equal(decodeEnvelope(bytes, empty, 0).header.messageType, type);
      }
    }
  });

  test("missing optional meta fields default to null / the loom content type", () => {
    const bytes = doc({
      meta: { descriptor: { message_type: "t", message_version: 2 } },
      payload: { order_id: "a", amount: 1 },
    });
    const { header } = decodeEnvelope(bytes, OrderCodec, 7);
    assert.deepEqual(header, {
      messageType: "t",
      messageVersion: 2,
      contentType: DEFAULT_CONTENT_TYPE,
      schemaRef: null,
      traceId: null,
      parentTraceId: null,
      correlationId: null,
      causationId: null,
      producedAtMs: 7,
    });
  });

  test("unknown keys are ignored at every level and key order does not matter", () => {
    const bytes = doc({
      extra: [1, 2, { z: null }],
      payload: { amount: 5, junk: new Uint8Array(3), order_id: "o-1" },
      meta: {
        produced_at_ms: 1000,
        x: 1,
        descriptor: {
          schema_ref: { namespace: "n", name: "o", version: 1, format: "avro" },
          content_type: { encoding: "gzip", media_type: "application/avro", other: 1 },
          message_version: 1,
          message_type: "order.created",
          future: true,
        },
        trace_id: "trace-1",
      },
    });
    const { header, payload } = decodeEnvelope(bytes, OrderCodec, 0);
    assert.deepEqual(payload, { order_id: "o-1", amount: 5 });
    assert.equal(header.messageType, "order.created");
    assert.equal(header.traceId, "trace-1");
    assert.deepEqual(header.contentType, { mediaType: "application/avro", encoding: "gzip" });
    assert.deepEqual(header.schemaRef, { namespace: "n", name: "o", version: 1, format: "avro" });
  });

  test("missing required fields", () => {
    const cases: [unknown, string][] = [
      [{ meta: goldenDoc().meta }, "Object missing required field `payload`"],
      [{ payload: { order_id: "a", amount: 1 } }, "Object missing required field `meta`"],
      [{ meta: {}, payload: {} }, "Object missing required field `descriptor` - at `$.meta`"],
      [
        { meta: { descriptor: { message_type: "t" } }, payload: {} },
        "Object missing required field `message_version` - at `$.meta.descriptor`",
      ],
      [
        { meta: { descriptor: { message_type: "t", message_version: 1 } }, payload: { order_id: "x" } },
        "Object missing required field `amount` - at `$.payload`",
      ],
    ];
    for (const [value, message] of cases) {
      assert.throws(() => decodeEnvelope(doc(value), OrderCodec, 0), { name: "WireDecodeError", message });
    }
  });

  test("strict types with msgspec paths", () => {
    const withPayload = (payload: unknown) => ({ ...goldenDoc(), payload });
    const withMeta = (patch: Record<string, unknown>) => ({
      ...goldenDoc(),
      meta: { ...(goldenDoc().meta as Record<string, unknown>), ...patch },
    });
    const cases: [unknown, string, string][] = [
      [
        withPayload({ order_id: "o", amount: "5" }),
        "Expected `int`, got `str` - at `$.payload.amount`",
        "$.payload.amount",
      ],
      [
        withPayload({ order_id: "o", amount: 5.5 }),
        "Expected `int`, got `float` - at `$.payload.amount`",
        "$.payload.amount",
      ],
      [withPayload([1]), "Expected `object`, got `array` - at `$.payload`", "$.payload"],
      [
        withMeta({ trace_id: 5 }),
        "Expected `str | null`, got `int` - at `$.meta.trace_id`",
        "$.meta.trace_id",
      ],
      [
        withMeta({ produced_at_ms: "x" }),
        "Expected `int`, got `str` - at `$.meta.produced_at_ms`",
        "$.meta.produced_at_ms",
      ],
      [
        withMeta({ produced_at_ms: null }),
        "Expected `int`, got `None` - at `$.meta.produced_at_ms`",
        "$.meta.produced_at_ms",
      ],
      [
        withMeta({ descriptor: { message_type: 1, message_version: 1 } }),
        "Expected `str`, got `int` - at `$.meta.descriptor.message_type`",
        "$.meta.descriptor.message_type",
      ],
      [
        withMeta({ descriptor: { message_type: "t", message_version: 1.5 } }),
        "Expected `int`, got `float` - at `$.meta.descriptor.message_version`",
        "$.meta.descriptor.message_version",
      ],
      [
        withMeta({ descriptor: { message_type: "t", message_version: 1, schema_ref: "x" } }),
        "Expected `object | null`, got `str` - at `$.meta.descriptor.schema_ref`",
        "$.meta.descriptor.schema_ref",
      ],
      [new Map([[1, 2]]), "Expected `str`, got `int` - at `key` in `$`", "$"],
      [[1, 2], "Expected `object`, got `array`", "$"],
    ];
    for (const [value, message, path] of cases) {
      assert.throws(() => decodeEnvelope(doc(value), OrderCodec, 0), (e: unknown) => {
        assert.ok(e instanceof WireDecodeError);
        assert.equal(e.message, message);
        assert.equal(e.path, path);
        return true;
      });
    }
  });
});
