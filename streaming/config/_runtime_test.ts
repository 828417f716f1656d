import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  ConfigContext,
  ConfigError,
  DEFAULT_RUNTIME_SETTINGS,
  parseConfig,
  readRuntimeSettings,
} from "./mod.ts";

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  assert.fail("expected a ConfigError");
}

describe("streaming.runtime", () => {
  test("defaults when absent", () => {
    assert.deepEqual(readRuntimeSettings(ConfigContext.fromObject({})), {
      workersPerProcess: 1,
      partitionConcurrency: 1,
      processId: null,
      addresses: null,
      epochIntervalMs: null,
      forceShutdownTimeoutMs: null,
      unroutedErrors: "fail",
      maxInFlight: 10000,
      transport: "memory",
      deliveryRetries: 3,
      retryBackoffMs: 100,
      kafkaClient: "platformatic",
    });
    assert.deepEqual(readRuntimeSettings(parseConfig("streaming:\n  runtime:\n")), DEFAULT_RUNTIME_SETTINGS);
  });

  test("Python-only keys are ignored; unrouted_errors and max_in_flight", () => {
    const ctx = parseConfig(
      "streaming:\n  runtime:\n    recovery: {db_dir: /x}\n    async_backend: trio\n    use_uvloop: true\n" +
        "    unrouted_errors: log\n    max_in_flight: '64'\n",
    );
    const runtime = readRuntimeSettings(ctx);
    assert.equal(runtime.unroutedErrors, "log");
    assert.equal(runtime.maxInFlight, 64);
  });

  test("unknown keys and bad values", () => {
    assert.equal(
      configError(() =>
        readRuntimeSettings(parseConfig("streaming:\n  runtime:\n    max_inflight: 3\n", { file: "c.yaml" }))
      )
        .message,
      "c.yaml:3: streaming.runtime.max_inflight: unknown key 'max_inflight'; did you mean 'max_in_flight'?",
    );
    assert.equal(
      configError(() =>
        readRuntimeSettings(parseConfig("streaming:\n  runtime:\n    max_in_flight: 0\n", { file: "c.yaml" }))
      )
        .message,
      "c.yaml:3: streaming.runtime.max_in_flight: expected an integer >= 1, got 0",
    );
    assert.match(
      configError(() =>
        readRuntimeSettings(parseConfig("streaming:\n  runtime:\n    unrouted_errors: drop\n"))
      ).message,
      /streaming\.runtime\.unrouted_errors: expected one of "fail", "log", got a string \("drop"\)/,
    );
  });
});

describe("streaming.runtime transport and delivery keys", () => {
  test("transport, delivery_retries and retry_backoff_ms are read; a bad transport names the line", () => {
    const rt = readRuntimeSettings(
      parseConfig(
        "streaming:\n  runtime:\n    transport: kafka\n    delivery_retries: 0\n    retry_backoff_ms: 5\n",
      ),
    );
    assert.equal(rt.transport, "kafka");
    assert.equal(rt.deliveryRetries, 0);
    assert.equal(rt.retryBackoffMs, 5);
    assert.throws(
      () =>
        readRuntimeSettings(
          parseConfig("streaming:\n  runtime:\n    transport: rabbit\n", { file: "c.yaml" }),
        ),
      (e: unknown) => e instanceof ConfigError && e.line === 3 && e.path === "streaming.runtime.transport",
    );
  });
});

describe("streaming.runtime.kafka_client", () => {
  test("selects the Kafka adapter; an unknown one is a config error naming the choices", () => {
    assert.equal(readRuntimeSettings(parseConfig("streaming:\n  runtime: {}\n")).kafkaClient, "platformatic");
    const ctx = parseConfig("streaming:\n  runtime:\n    kafka_client: kafkajs\n");
    assert.equal(readRuntimeSettings(ctx).kafkaClient, "kafkajs");
    assert.throws(
      () => readRuntimeSettings(parseConfig("streaming:\n  runtime:\n    kafka_client: rdkafka\n")),
      /kafka_client.*(platformatic|kafkajs)/s,
    );
  });
});
