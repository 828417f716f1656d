import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ConfigContext, ConfigError, DEFAULT_BUFFER_SETTINGS, parseConfig, readSinkSection } from "./mod.ts";

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  assert.fail("expected a ConfigError");
}

describe("streaming.sinks", () => {
  test("buffer defaults", () => {
    const sink = readSinkSection(
      ConfigContext.fromObject({ streaming: { sinks: { lake: { uri: "s3://x", mode: "append" } } } }),
      "lake",
    );
    assert.deepEqual(sink, {
      name: "lake",
      table: null,
      database: null,
      url: null,
      type: null,
      ...DEFAULT_BUFFER_SETTINGS,
      options: { uri: "s3://x", mode: "append" },
    });
    assert.equal(sink.bufferMaxRecords, 50000);
    assert.equal(sink.bufferMaxBytes, 134217728);
    assert.equal(sink.bufferMaxAgeS, 60);
    assert.equal(sink.flushOnShutdown, true);
  });

  test("missing section and bad buffer values", () => {
    const ctx = parseConfig(
      "streaming:\n  sinks:\n    s: {table: t, buffer_max_age_s: 0, flush_on_shutdown: 'no'}\n",
      {
        file: "c.yaml",
      },
    );
    const err = configError(() => readSinkSection(ctx, "orders_sink"));
    assert.match(err.message, /^c\.yaml:2: no config section found at streaming\.sinks\.orders_sink/);
    assert.equal(err.path, "streaming.sinks.orders_sink");
    assert.equal(
      configError(() => readSinkSection(ctx, "s")).message,
      "c.yaml:3: streaming.sinks.s.buffer_max_age_s: expected a number > 0, got 0",
    );
  });
});
