import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import {
  bindConfig,
  ConfigContext,
  ConfigError,
  consumerFor,
  parseConfig,
  producerFor,
  producerTopic,
  readKafkaSettings,
  readRuntimeSettings,
  readSinkSection,
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

function files(map: Record<string, string>): (path: string) => string {
  return (path) => {
    const text = map[path];
    if (text === undefined) throw new Error(`no such file: ${path}`);
    return text;
  };
}

const FULL_EXAMPLE = `includes: [base.yaml]            # optional, local files only
kafka:
  consumer:
    brokers: ["kafka:29092"]
    group_id: \${oc.env:HOSTNAME,orders-consumer}
    topics: ["orders.raw"]
    auto_offset_reset: latest
    poll_timeout_ms: 100
    enable_auto_commit: false
    security: {protocol: SASL_SSL, sasl_mechanism: PLAIN, sasl_username: u, sasl_password: p}
    extra: {fetch.min.bytes: 1024}
  producer:
    brokers: ["kafka:29092"]
    client_id: orders-producer
    extra: {linger.ms: 5, compression.type: zstd}
  producers:
    orders.validated: {brokers: ["kafka:29092"], topic: orders.validated.v1}
    orders.errors:    {brokers: ["kafka:29092"], topic: orders.errors}
  consumers:
    orders.raw: {brokers: ["kafka:29092"], group_id: g1, topics: ["orders.raw.v1"]}
mongo:
  sources:
    domain_events: {uri: "mongodb://localhost:27017", database: app,
                    watch_options: {full_document: updateLookup}, on_oplog_expired: restart_from_now}
database:
  warehouse: {url: "postgresql+asyncpg://u:p@h/db", pool_size: 10}
  ch: {http_url: "clickhouse://default:@localhost:8123/default"}
streaming:
  runtime:
    workers_per_process: 2
    process_id: 0
    addresses: ["127.0.0.1:2101", "127.0.0.1:2102"]
    epoch_interval_ms: 5000
    recovery: {db_dir: /var/lib/loom/recovery, backup_interval_ms: 30000}
    async_backend: asyncio
    use_uvloop: false
    force_shutdown_timeout_ms: 5000
  sinks:
    orders_sink: {database: warehouse, table: orders, chunk_size: 500,
                  buffer_max_records: 10000, buffer_max_bytes: 10000000, buffer_max_age_s: 5}
    events_sink: {uri: "s3://lake/events", mode: append, partition_by: [year, month],
                  staging: {compression: zstd, mini_batch_size: 500},
                  writer_properties: {compression: SNAPPY}, target_file_size: 134217728}
    ch_sink: {database: ch, table: events, insert_timeout: 30}
    task_errors: {type: clickhouse_error_table, table: errors}
  bindings:
    fetch: {api_base: "https://dummyjson.com", timeout_s: 30.0}
observability:
  log: {enabled: true, config: {environment: prod, level: INFO}}
`;

const BASE_YAML = `observability:
  prometheus: {enabled: true, config: {port: 9100}}
streaming:
  runtime:
    workers_per_process: 8
    max_in_flight: 500
`;

describe("full example (§3.7)", () => {
  const ctx = parseConfig(FULL_EXAMPLE, {
    file: "conf/config.yaml",
    env: {},
    readFile: files({ "conf/base.yaml": BASE_YAML }),
  });

  test("kafka settings", () => {
    const kafka = readKafkaSettings(ctx);
    assert.deepEqual(kafka.consumer, {
      brokers: ["kafka:29092"],
      groupId: "orders-consumer",
      topics: ["orders.raw"],
      autoOffsetReset: "latest",
      pollTimeoutMs: 100,
      enableAutoCommit: false,
      security: {
        protocol: "SASL_SSL",
        saslMechanism: "PLAIN",
        saslUsername: "u",
        saslPassword: "p",
        sslCaLocation: null,
      },
      extra: { "fetch.min.bytes": 1024 },
    });
    assert.deepEqual(kafka.producer, {
      brokers: ["kafka:29092"],
      clientId: "orders-producer",
      topic: null,
      security: null,
      extra: { "linger.ms": 5, "compression.type": "zstd" },
    });
    assert.deepEqual(Object.keys(kafka.producers), ["orders.validated", "orders.errors"]);
    assert.equal(producerTopic(kafka, "orders.validated"), "orders.validated.v1");
    assert.equal(producerTopic(kafka, "orders.errors"), "orders.errors");
    assert.equal(producerTopic(kafka, "orders.audit"), "orders.audit");
    assert.equal(producerFor(kafka, "orders.audit").clientId, "orders-producer");
    assert.equal(consumerFor(kafka, "orders.raw").groupId, "g1");
    assert.deepEqual(consumerFor(kafka, "orders.raw").topics, ["orders.raw.v1"]);
    assert.equal(consumerFor(kafka, "orders.raw").enableAutoCommit, true);
    assert.equal(consumerFor(kafka, "other").groupId, "orders-consumer");
  });

  test("HOSTNAME from the environment wins over the default", () => {
    const withHost = parseConfig(FULL_EXAMPLE, {
      file: "conf/config.yaml",
      env: { HOSTNAME: "pod-7" },
      readFile: files({ "conf/base.yaml": BASE_YAML }),
    });
    assert.equal(readKafkaSettings(withHost).consumer?.groupId, "pod-7");
  });

  test("runtime settings (the declaring file wins over base.yaml)", () => {
    assert.deepEqual(readRuntimeSettings(ctx), {
      workersPerProcess: 2,
      partitionConcurrency: 1,
      processId: 0,
      addresses: ["127.0.0.1:2101", "127.0.0.1:2102"],
      epochIntervalMs: 5000,
      forceShutdownTimeoutMs: 5000,
      unroutedErrors: "fail",
      maxInFlight: 500,
      transport: "memory",
      deliveryRetries: 3,
      retryBackoffMs: 100,
      kafkaClient: "platformatic",
      heapLimitMb: 0,
    });
  });

  test("sink sections", () => {
    const orders = readSinkSection(ctx, "orders_sink");
    assert.equal(orders.name, "orders_sink");
    assert.equal(orders.database, "warehouse");
    assert.equal(orders.table, "orders");
    assert.equal(orders.url, null);
    assert.equal(orders.type, null);
    assert.equal(orders.bufferMaxRecords, 10000);
    assert.equal(orders.bufferMaxBytes, 10000000);
    assert.equal(orders.bufferMaxAgeS, 5);
    assert.equal(orders.flushOnShutdown, true);
    assert.equal(orders.options.chunk_size, 500);
    const errors = readSinkSection(ctx, "task_errors");
    assert.equal(errors.type, "clickhouse_error_table");
    assert.equal(errors.table, "errors");
    const events = readSinkSection(ctx, "events_sink");
    assert.deepEqual(events.options.partition_by, ["year", "month"]);
    assert.deepEqual(events.options.staging, { compression: "zstd", mini_batch_size: 500 });
  });

  test("binding section", () => {
    const fetch = bindConfig(
      ctx,
      "streaming.bindings.fetch",
      v.object({ api_base: v.string(), timeout_s: v.number() }),
    );
    assert.deepEqual(fetch, { api_base: "https://dummyjson.com", timeout_s: 30 });
  });

  test("included sections are merged and `includes` is removed", () => {
    assert.equal(ctx.get("observability.prometheus.config.port"), 9100);
    assert.equal(ctx.get("observability.log.config.level"), "INFO");
    assert.equal(ctx.has("includes"), false);
    assert.equal(ctx.get("kafka.producers.orders.validated.topic"), "orders.validated.v1");
    assert.deepEqual(ctx.locate("kafka.producers.orders.validated.topic"), {
      file: "conf/config.yaml",
      line: 17,
    });
    assert.deepEqual(ctx.locate("streaming.runtime.max_in_flight"), { file: "conf/base.yaml", line: 6 });
  });
});

describe("malformed YAML", () => {
  test("the message has the line and the parser's reason", () => {
    const err = configError(() =>
      parseConfig("kafka:\n  producer: {brokers: [a]\n  consumer: x: y\n", { file: "c.yaml" })
    );
    assert.equal(err.line, 3);
    assert.match(err.message, /^c\.yaml:3: invalid YAML: /);
  });

  test("duplicate keys", () => {
    const err = configError(() => parseConfig("a: 1\nb: 2\na: 3\n", { file: "c.yaml" }));
    assert.match(err.message, /^c\.yaml:3: invalid YAML: Map keys must be unique \(column 1\)/);
  });

  test("the top level must be a map; an empty file is an empty config", () => {
    assert.equal(
      configError(() => parseConfig("- a\n- b\n", { file: "c.yaml" })).message,
      "c.yaml:1: the top level of a config file must be a map of sections, got a list",
    );
    assert.deepEqual(parseConfig("# nothing\n").raw, {});
  });

  test("anchors, aliases and merge keys", () => {
    const ctx = parseConfig(
      "base: &b {brokers: [a:9092], client_id: x}\nkafka:\n  producer:\n    <<: *b\n    client_id: y\n",
    );
    assert.deepEqual(ctx.get("kafka.producer"), { client_id: "y", brokers: ["a:9092"] });
  });
});

describe("ConfigContext", () => {
  test("fromObject, get, has, raw", () => {
    const ctx = ConfigContext.fromObject({ a: { b: null, c: [1, 2], "d.e": { f: 1 } } });
    assert.equal(ctx.has("a"), true);
    assert.equal(ctx.has("a.b"), false);
    assert.equal(ctx.has("a.x"), false);
    assert.equal(ctx.get("a.c.1"), 2);
    assert.equal(ctx.get("a.d.e.f"), 1);
    assert.equal(ctx.get(["a", "d.e", "f"]), 1);
    assert.equal(ctx.get("a.x.y"), undefined);
    assert.deepEqual(ctx.raw, { a: { b: null, c: [1, 2], "d.e": { f: 1 } } });
    assert.deepEqual(ctx.locate("a.c"), { file: null, line: null });
  });

  test("section validates laxly and reports not-found sections", () => {
    const ctx = ConfigContext.fromObject({ app: { port: "8080", debug: "true", name: "x" } });
    assert.deepEqual(ctx.section("app", v.object({ port: v.number(), debug: v.boolean() })), {
      port: 8080,
      debug: true,
    });
    assert.equal(
      configError(() => ctx.section("app.db", v.object({}))).message,
      "Config section not found: 'app.db'  (failed at segment 'db')",
    );
    assert.equal(
      configError(() => ctx.section("app", v.object({ name: v.number() }))).message,
      'app.name: expected a number, got a string ("x")',
    );
  });

  test("raw is not modified by lax validation", () => {
    const ctx = ConfigContext.fromObject({ app: { port: "8080" } });
    ctx.section("app", v.object({ port: v.number() }));
    assert.deepEqual(ctx.raw, { app: { port: "8080" } });
  });

  test("ConfigError fields", () => {
    const err = new ConfigError("boom", { file: "f.yaml", path: "a.b", line: 3 });
    assert.equal(err.name, "ConfigError");
    assert.ok(err instanceof Error);
    assert.deepEqual([err.file, err.path, err.line], ["f.yaml", "a.b", 3]);
    assert.deepEqual([new ConfigError("x").file, new ConfigError("x").line], [null, null]);
  });
});
