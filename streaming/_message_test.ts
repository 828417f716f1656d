// Node contracts (reference §7.4 and §7.7): construction, validation and stored fields of every node.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import {
  DECODE_ERROR_MESSAGE_TYPE,
  DEFAULT_MESSAGE_TYPE,
  DomainError,
  ERROR_KINDS,
  ErrorKind,
  errorMessageType,
  message,
  messageMeta,
  RuleViolation,
} from "./_message.ts";
import { isMessageType, messageType } from "./_type.ts";

function throwsWith(fn: () => unknown, type: new (...a: never[]) => Error, pattern: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(
      e instanceof type,
      `expected ${type.name}, got ${(e as Error)?.constructor?.name}: ${String(e)}`,
    );
    assert.match((e as Error).message, pattern);
    return true;
  });
}

describe("message model", () => {
  test("messageType validates its name and version and is frozen", () => {
    const T = messageType("order.created", v.object({ order_id: v.string() }));
    assert.equal(T.kind, "loom.message_type");
    assert.equal(T.name, "order.created");
    assert.equal(T.version, 1);
    assert.ok(Object.isFrozen(T));
    assert.equal(messageType("x", v.string(), { version: 0 }).version, 0);
    assert.equal(messageType("x", v.string(), { version: 3 }).version, 3);
    throwsWith(() => messageType("", v.string()), TypeError, /non-empty string/);
    throwsWith(() => messageType("   ", v.string()), TypeError, /non-empty string/);
    throwsWith(() => messageType(42 as unknown as string, v.string()), TypeError, /non-empty string/);
    throwsWith(
      () => messageType("x", v.string(), { version: -1 }),
      TypeError,
      /'x': version must be a non-negative integer, got -1/,
    );
    throwsWith(
      () => messageType("x", v.string(), { version: 1.5 }),
      TypeError,
      /version must be a non-negative integer/,
    );
    assert.equal(isMessageType(T), true);
    assert.equal(isMessageType({ name: "x" }), false);
    assert.equal(isMessageType(null), false);
  });

  test("messageMeta fills every missing field with null and headers with {}", () => {
    assert.deepEqual(messageMeta({ messageId: "m-1" }), {
      messageId: "m-1",
      correlationId: null,
      traceId: null,
      parentTraceId: null,
      causationId: null,
      producedAtMs: null,
      messageType: null,
      messageVersion: null,
      topic: null,
      partition: null,
      offset: null,
      key: null,
      headers: {},
    });
    const meta = messageMeta({
      messageId: "orders:0:7",
      topic: "orders",
      partition: 0,
      offset: 0,
      key: "k",
      producedAtMs: 0,
    });
    assert.deepEqual([meta.topic, meta.partition, meta.offset, meta.key, meta.producedAtMs], [
      "orders",
      0,
      0,
      "k",
      0,
    ]);
  });

  test("message() builds payload + meta", () => {
    const m = message({ order_id: "o-1" }, { messageId: "test-0", correlationId: "c" });
    assert.deepEqual(m.payload, { order_id: "o-1" });
    assert.equal(m.meta.messageId, "test-0");
    assert.equal(m.meta.correlationId, "c");
    assert.equal(m.meta.traceId, null);
  });

  test("RuleViolation is a DomainError whose reason is 'field: message'", () => {
    const e = new RuleViolation("amount", "must be positive");
    assert.ok(e instanceof DomainError);
    assert.ok(e instanceof Error);
    assert.equal(e.message, "amount: must be positive");
    assert.equal(e.field, "amount");
    assert.equal(e.name, "RuleViolation");
    assert.equal(new DomainError("nope").name, "DomainError");
  });

  test("error kinds and wire type names", () => {
    assert.deepEqual(ERROR_KINDS, ["wire", "routing", "task", "business"]);
    assert.deepEqual(Object.values(ErrorKind), ["wire", "routing", "task", "business"]);
    assert.equal(errorMessageType("task"), "loom.streaming.error.task");
    assert.equal(errorMessageType(ErrorKind.WIRE), DECODE_ERROR_MESSAGE_TYPE);
    assert.equal(DEFAULT_MESSAGE_TYPE, "loom.streaming.message");
  });
});
