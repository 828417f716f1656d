// @platformatic/kafka's option validators, loaded through the adapter, compile on first use and validate
// as ajv's do; ajv's own compile is back in place for everyone else.
// Run: deno test -A runtime/platformatic/_lazy_validators_test.ts
// The adapter's import first: it must be what loads @platformatic/kafka (the import below gets the same module)
import { Producer } from "./_kafka.ts";
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Ajv2020 } from "ajv/dist/2020.js";
import { createTopicsOptionsValidator, producerOptionsValidator } from "@platformatic/kafka";
import { compilationRestored, type DeferredValidator } from "./_lazy_validators.ts";

describe("platformatic's validators, loaded through the adapter", () => {
  test("are not compiled at import, compile on the first call and report ajv's errors", () => {
    const v = createTopicsOptionsValidator as unknown as DeferredValidator;
    assert.equal(v.compiled, false, "compiled at import");
    assert.equal(v({ topics: "not-an-array" }), false);
    assert.equal(v.compiled, true);
    assert.ok(Array.isArray(v.errors) && v.errors.length > 0, "ajv's errors are forwarded");
    assert.equal(v({ topics: ["t"], partitions: 3, replicas: 1 }), true);
    assert.equal(v.errors, null);
  });

  test("a strict platformatic client validates its options with them (a bad one is refused by name)", () => {
    // the adapter's clients are not strict (platformatic's default): they never call the validators
    const bad = {
      clientId: "x",
      bootstrapBrokers: ["127.0.0.1:1"],
      acks: "nope" as unknown as 1,
      strict: true,
    };
    assert.throws(
      () => new Producer(bad),
      (e: Error & { code?: string }) =>
        e.code === "PLT_KFK_USER" && /options\/acks must be number/.test(e.message),
    );
    assert.equal((producerOptionsValidator as unknown as DeferredValidator).compiled, true);
    const p = new Producer({ clientId: "x", bootstrapBrokers: ["127.0.0.1:1"], strict: true });
    void p.close();
  });

  test("ajv's own compile is back for every other user", () => {
    assert.equal(compilationRestored(), true);
    const validate = new Ajv2020().compile({ type: "integer" });
    assert.equal("compiled" in validate, false);
    assert.equal(validate(3), true);
    assert.equal(validate("x"), false);
  });
});
