import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { bindConfig, ConfigError, parseConfig } from "./mod.ts";

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  assert.fail("expected a ConfigError");
}

describe("bindConfig", () => {
  const schema = v.object({ api_base: v.string(), timeout_s: v.number() });
  const ctx = parseConfig("streaming:\n  bindings:\n    fetch:\n      timeout_s: abc\n", { file: "c.yaml" });

  test("overrides win", () => {
    assert.deepEqual(
      bindConfig(ctx, "streaming.bindings.fetch", schema, { api_base: "https://x", timeout_s: 5 }),
      { api_base: "https://x", timeout_s: 5 },
    );
  });

  test("a wrong type names the path", () => {
    const err = configError(() =>
      bindConfig(ctx, "streaming.bindings.fetch", schema, { api_base: "https://x" })
    );
    assert.equal(
      err.message,
      'c.yaml:4: streaming.bindings.fetch.timeout_s: expected a number, got a string ("abc")',
    );
  });

  test("a missing required field", () => {
    const err = configError(() => bindConfig(ctx, "streaming.bindings.fetch", schema, { timeout_s: 1 }));
    assert.equal(err.message, "c.yaml:3: streaming.bindings.fetch requires config field 'api_base'");
    assert.equal(err.path, "streaming.bindings.fetch.api_base");
  });

  test("a missing section", () => {
    assert.equal(
      configError(() => bindConfig(ctx, "streaming.bindings.other", schema)).message,
      "c.yaml:2: Config section not found: 'streaming.bindings.other'  (failed at segment 'other')",
    );
  });
});
