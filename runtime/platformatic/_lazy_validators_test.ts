// @platformatic/kafka's option validators, loaded through the adapter, compile on first use and validate
// as ajv's do; ajv's own compile is back in place for everyone else.
// Run: deno test -A runtime/platformatic/_lazy_validators_test.ts
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { Ajv2020 } from "ajv/dist/2020.js";
import { Producer } from "./_kafka.ts";
import { producerOptionsValidator } from "@platformatic/kafka";
import { compilationRestored } from "./_lazy_validators.ts";

const probe = fileURLToPath(new URL("./_lazy_validators_probe.ts", import.meta.url));

describe("platformatic's validators, loaded through @loom/streaming/runtime", () => {
  test("are not compiled at import, compile on the first call and report ajv's errors", () => {
    // a process of its own: this runner may have loaded @platformatic/kafka through another test file
    const isBun = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";
    const r = spawnSync(process.execPath, isBun ? [probe] : ["run", "-A", probe], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split("\n").pop()!);
    assert.deepEqual(out, {
      before: { topics: false, producer: false },
      invalid: false,
      errors: out.errors,
      valid: true,
      errorsAfterValid: null,
      compiledAfter: true,
      restored: true,
    });
    assert.ok(out.errors > 0, "ajv's errors are forwarded");
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
    assert.equal(producerOptionsValidator({ clientId: "x", bootstrapBrokers: ["h:1"] }), true);
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
