import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { ConfigError, parseConfig } from "./mod.ts";

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  assert.fail("expected a ConfigError");
}

describe("environment interpolation", () => {
  test("set, default and embedded values", () => {
    const ctx = parseConfig(
      [
        "a:",
        "  set: ${HOST}",
        "  shell_default: ${MISSING:-fallback}",
        "  empty_default: ${EMPTY:-fallback}",
        "  omegaconf: ${oc.env:HOST,other}",
        "  omegaconf_default: ${oc.env:MISSING,'x,y'}",
        "  omegaconf_null: ${oc.env:MISSING,null}",
        "  embedded: http://${HOST}:${PORT:-8080}/x",
        "  nested_default: ${MISSING:-${HOST}}",
        "  escaped: \\${HOST}",
        "  port: ${PORT:-8080}",
      ].join("\n"),
      { file: "c.yaml", env: { HOST: "kafka", EMPTY: "" } },
    );
    assert.deepEqual(ctx.get("a"), {
      set: "kafka",
      shell_default: "fallback",
      empty_default: "fallback",
      omegaconf: "kafka",
      omegaconf_default: "x,y",
      omegaconf_null: null,
      embedded: "http://kafka:8080/x",
      nested_default: "kafka",
      escaped: "${HOST}",
      port: "8080",
    });
    // A whole-scalar interpolation yields a string, converted laxly where a number is expected.
    assert.deepEqual(ctx.section("a", v.object({ port: v.number() })), { port: 8080 });
  });

  test("an unset variable without default names the variable, key path and line", () => {
    const err = configError(() =>
      parseConfig("kafka:\n  consumer:\n    group_id: ${GROUP}\n", { file: "config.yaml", env: {} })
    );
    assert.equal(
      err.message,
      "config.yaml:3: kafka.consumer.group_id: environment variable 'GROUP' is not set (referenced as ${GROUP}); " +
        "set it, or give a default: ${GROUP:-value} or ${oc.env:GROUP,value}",
    );
    assert.equal(err.file, "config.yaml");
    assert.equal(err.line, 3);
    assert.equal(err.path, "kafka.consumer.group_id");
  });

  test("the missing-env hint mentions the env option when none was passed", () => {
    const err = configError(() => parseConfig("a: ${oc.env:X}\n"));
    assert.match(
      err.message,
      /^line 1: a: environment variable 'X' is not set \(referenced as \$\{oc\.env:X\}\)/,
    );
    assert.match(err.message, /parseConfig received no `env` option/);
  });

  test("unsupported resolvers and unclosed interpolations are errors", () => {
    assert.equal(
      configError(() => parseConfig("a:\n  b: ${ssm:/prod/password}\n", { file: "c.yaml", env: {} })).message,
      "c.yaml:2: a.b: unsupported resolver 'ssm' in ${ssm:/prod/password}; only ${VAR}, ${VAR:-default} and " +
        "${oc.env:VAR,default} are supported; resolve the value before loading",
    );
    assert.equal(
      configError(() => parseConfig("a: x${HOST\n", { file: "c.yaml", env: {} })).message,
      "c.yaml:1: a: unclosed interpolation '${HOST'; close it with '}'",
    );
  });
});
