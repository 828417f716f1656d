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
      heapLimitMb: 0,
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
    assert.equal(
      configError(() =>
        readRuntimeSettings(
          parseConfig("streaming:\n  runtime:\n    heap_limit_mb: -1\n", { file: "c.yaml" }),
        )
      )
        .message,
      "c.yaml:3: streaming.runtime.heap_limit_mb: expected an integer >= 0, got -1",
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

const runtime = (r: Record<string, unknown>) =>
  readRuntimeSettings(ConfigContext.fromObject({ streaming: { runtime: r } }));

describe("streaming.runtime.processing_guarantee", () => {
  test("absent means at-least-once; exactly_once runs on the platformatic client", () => {
    assert.equal(runtime({}).processingGuarantee, undefined);
    const rt = runtime({
      processing_guarantee: "exactly_once",
      transaction_batches: 4,
      transactional_id_prefix: "app",
    });
    assert.equal(rt.processingGuarantee, "exactly_once");
    assert.equal(rt.transactionBatches, 4);
    assert.equal(rt.transactionalIdPrefix, "app");
    assert.equal(rt.kafkaClient, "platformatic");
    assert.equal(runtime({ processing_guarantee: "at_least_once" }).kafkaClient, "platformatic");
    assert.equal(
      runtime({ processing_guarantee: "at_least_once", kafka_client: "kafkajs" }).kafkaClient,
      "kafkajs",
    );
  });

  test("kafkajs, transaction keys without exactly_once and typos are rejected with a fix", () => {
    assert.throws(
      () => runtime({ processing_guarantee: "exactly_once", kafka_client: "kafkajs" }),
      /kafka_client: processing_guarantee: exactly_once needs the platformatic client .*set streaming\.runtime\.kafka_client: platformatic/s,
    );
    assert.throws(
      () => runtime({ transaction_batches: 2 }),
      /transaction_batches: transaction_batches applies to exactly-once processing only.*processing_guarantee: exactly_once/s,
    );
    assert.throws(
      () => runtime({ processing_guarantee: "exactly-once" }),
      /expected one of "at_least_once", "exactly_once"/,
    );
    assert.throws(
      () => runtime({ processing_guarantees: "exactly_once" }),
      /did you mean 'processing_guarantee'\?/,
    );
    assert.throws(
      () => runtime({ processing_guarantee: "exactly_once", transaction_batches: 0 }),
      /expected an integer >= 1/,
    );
  });
});
