import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import {
  bindConfig,
  ConfigContext,
  ConfigError,
  consumerFor,
  DEFAULT_BUFFER_SETTINGS,
  DEFAULT_RUNTIME_SETTINGS,
  parseConfig,
  producerFor,
  producerTopic,
  readKafkaSettings,
  readRuntimeSettings,
  readSinkSection,
} from "./_config.ts";

/** Runs `fn`, expects a ConfigError and returns it. */
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
      processId: 0,
      addresses: ["127.0.0.1:2101", "127.0.0.1:2102"],
      epochIntervalMs: 5000,
      forceShutdownTimeoutMs: 5000,
      unroutedErrors: "fail",
      maxInFlight: 500,
      transport: "memory",
      deliveryRetries: 3,
      retryBackoffMs: 100,
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

describe("includes", () => {
  test("deep merge; the declaring file wins; lists are replaced; paths are relative", () => {
    const read = files({
      "conf/shared/kafka.yaml": [
        "includes: [../defaults.yaml]",
        "kafka:",
        "  producer: {brokers: [a:9092, b:9092], client_id: shared}",
        "  consumer: {brokers: [a:9092], group_id: shared, topics: [t1, t2]}",
      ].join("\n"),
      "conf/defaults.yaml": "streaming:\n  runtime: {workers_per_process: 4, max_in_flight: 7}\n",
    });
    const ctx = parseConfig(
      [
        "includes:",
        "  - shared/kafka.yaml",
        "kafka:",
        "  producer: {client_id: mine}",
        "  consumer: {topics: [t3]}",
        "streaming:",
        "  runtime: {max_in_flight: 9}",
      ].join("\n"),
      { file: "conf/app.yaml", readFile: read },
    );
    const kafka = readKafkaSettings(ctx);
    assert.deepEqual(kafka.producer?.brokers, ["a:9092", "b:9092"]);
    assert.equal(kafka.producer?.clientId, "mine");
    assert.equal(kafka.consumer?.groupId, "shared");
    assert.deepEqual(kafka.consumer?.topics, ["t3"]);
    const runtime = readRuntimeSettings(ctx);
    assert.equal(runtime.workersPerProcess, 4);
    assert.equal(runtime.maxInFlight, 9);
  });

  test("later includes override earlier ones", () => {
    const ctx = parseConfig("includes: [a.yaml, b.yaml]\n", {
      readFile: files({ "a.yaml": "x: {p: 1, q: 1}\n", "b.yaml": "x: {q: 2}\n" }),
    });
    assert.deepEqual(ctx.get("x"), { p: 1, q: 2 });
  });

  test("errors in an included file name that file and its line", () => {
    const ctx = parseConfig("includes: [kafka.yaml]\n", {
      file: "app.yaml",
      readFile: files({
        "kafka.yaml": "kafka:\n  consumer:\n    brokers: [a]\n    group_id: g\n    topics: x\n",
      }),
    });
    const err = configError(() => readKafkaSettings(ctx));
    assert.equal(err.message, 'kafka.yaml:5: kafka.consumer.topics: expected a list, got a string ("x")');
    assert.equal(err.file, "kafka.yaml");
  });

  test("a cycle is an error", () => {
    const read = files({
      "conf/a.yaml": "includes: [b.yaml]\na: 1\n",
      "conf/b.yaml": "includes: [./a.yaml]\nb: 1\n",
    });
    const err = configError(() =>
      parseConfig("includes: [a.yaml]\n", { file: "conf/root.yaml", readFile: read })
    );
    assert.equal(
      err.message,
      "conf/b.yaml:1: includes[0]: include cycle: conf/a.yaml -> conf/b.yaml -> conf/a.yaml; remove one of these includes",
    );
  });

  test("including the declaring file itself is a cycle", () => {
    const err = configError(() =>
      parseConfig("includes: [config.yaml]\n", { file: "config.yaml", readFile: files({}) })
    );
    assert.match(err.message, /include cycle: config\.yaml -> config\.yaml/);
  });

  test("unreadable, remote, or callback-less includes", () => {
    assert.equal(
      configError(() => parseConfig("includes: [nope.yaml]\n", { file: "c.yaml", readFile: files({}) }))
        .message,
      "c.yaml:1: includes[0]: cannot read included file 'nope.yaml': no such file: nope.yaml",
    );
    assert.match(
      configError(() => parseConfig("includes: [s3://b/x.yaml]\n", { readFile: files({}) })).message,
      /includes must be local files, got 's3:\/\/b\/x\.yaml'/,
    );
    assert.match(
      configError(() => parseConfig("includes: [x.yaml]\n")).message,
      /cannot include 'x\.yaml': parseConfig was given no readFile callback/,
    );
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

describe("kafka section", () => {
  const consumer = (extra: string) =>
    `kafka:\n  consumer:\n    brokers: [a:9092]\n    group_id: g\n    topics: [t]\n${extra}`;

  test("a missing section", () => {
    const err = configError(() => readKafkaSettings(parseConfig("streaming: {}\n", { file: "c.yaml" })));
    assert.equal(err.message, "c.yaml: Config section not found: 'kafka'");
    assert.equal(err.path, "kafka");
  });

  test("defaults", () => {
    const c = readKafkaSettings(parseConfig(consumer(""))).consumer;
    assert.equal(c?.autoOffsetReset, "earliest");
    assert.equal(c?.pollTimeoutMs, 100);
    assert.equal(c?.enableAutoCommit, true);
    assert.deepEqual(c?.extra, {});
    assert.equal(c?.security, null);
  });

  test("wrong type: line, path and a fix", () => {
    const err = configError(() =>
      readKafkaSettings(
        parseConfig(consumer("").replace("group_id: g", "group_id: 42"), { file: "config.yaml" }),
      )
    );
    assert.equal(
      err.message,
      'config.yaml:4: kafka.consumer.group_id: expected a string, got a number (42); quote the value if it is meant as text: "42"',
    );
    assert.equal(err.line, 4);
    assert.equal(err.path, "kafka.consumer.group_id");
  });

  test("a number is never turned into a string (named consumer)", () => {
    const err = configError(() =>
      readKafkaSettings(
        parseConfig(
          "kafka:\n  consumers:\n    orders:\n      brokers: [a]\n      group_id: 7\n      topics: []\n",
          {
            file: "c.yaml",
          },
        ),
      )
    );
    assert.match(
      err.message,
      /^c\.yaml:5: kafka\.consumers\.orders\.group_id: expected a string, got a number \(7\)/,
    );
  });

  test("unknown keys with a suggestion", () => {
    const err = configError(() =>
      readKafkaSettings(parseConfig(consumer("").replace("group_id", "group_idd"), { file: "config.yaml" }))
    );
    assert.equal(
      err.message,
      "config.yaml:4: kafka.consumer.group_idd: unknown key 'group_idd'; did you mean 'group_id'?",
    );
    assert.equal(err.path, "kafka.consumer.group_idd");
    assert.equal(
      configError(() =>
        readKafkaSettings(parseConfig(consumer("    pollTimeoutMs: 5\n"), { file: "c.yaml" }))
      ).message,
      "c.yaml:6: kafka.consumer.pollTimeoutMs: unknown key 'pollTimeoutMs'; did you mean 'poll_timeout_ms'?",
    );
    assert.equal(
      configError(() => readKafkaSettings(parseConfig("kafka:\n  wat: {}\n", { file: "c.yaml" }))).message,
      "c.yaml:2: kafka.wat: unknown key 'wat'; allowed keys: producer, consumer, producers, consumers",
    );
  });

  test("missing required keys", () => {
    assert.equal(
      configError(() =>
        readKafkaSettings(parseConfig("kafka:\n  consumer: {brokers: [a], topics: []}\n", { file: "c.yaml" }))
      )
        .message,
      "c.yaml:2: kafka.consumer.group_id: missing required key 'group_id'; add 'group_id: ...' under kafka.consumer",
    );
    assert.equal(
      configError(() =>
        readKafkaSettings(parseConfig("kafka:\n  producer: {brokers: []}\n", { file: "c.yaml" }))
      ).message,
      'c.yaml:2: kafka.producer.brokers: brokers must list at least one broker, e.g. brokers: ["localhost:9092"]',
    );
    assert.match(
      configError(() => readKafkaSettings(parseConfig("kafka:\n  consumer: {brokers: [a], group_id: g}\n")))
        .message,
      /kafka\.consumer\.topics: missing required key 'topics'/,
    );
  });

  test("lax conversion: strings to numbers and booleans", () => {
    const c = readKafkaSettings(
      parseConfig(consumer('    poll_timeout_ms: "5"\n    enable_auto_commit: "false"\n')),
    ).consumer;
    assert.equal(c?.pollTimeoutMs, 5);
    assert.equal(c?.enableAutoCommit, false);
  });

  test("integers must be integers", () => {
    assert.equal(
      configError(() =>
        readKafkaSettings(parseConfig(consumer("    poll_timeout_ms: 1.5\n"), { file: "c.yaml" }))
      ).message,
      "c.yaml:6: kafka.consumer.poll_timeout_ms: expected an integer, got a number (1.5)",
    );
    assert.equal(
      configError(() =>
        readKafkaSettings(parseConfig(consumer("    poll_timeout_ms: abc\n"), { file: "c.yaml" }))
      ).message,
      'c.yaml:6: kafka.consumer.poll_timeout_ms: expected a number, got a string ("abc")',
    );
  });

  test("enumerations", () => {
    assert.equal(
      configError(() =>
        readKafkaSettings(parseConfig(consumer("    auto_offset_reset: newest\n"), { file: "c.yaml" }))
      )
        .message,
      'c.yaml:6: kafka.consumer.auto_offset_reset: expected one of "earliest", "latest", got a string ("newest")',
    );
  });

  test("brokers as a comma-separated string (e.g. from one environment variable)", () => {
    const ctx = parseConfig("kafka:\n  producer: {brokers: '${BROKERS}'}\n", {
      env: { BROKERS: "a:1, b:2" },
    });
    assert.deepEqual(readKafkaSettings(ctx).producer?.brokers, ["a:1", "b:2"]);
  });

  test("named override beats the default", () => {
    const settings = readKafkaSettings(
      ConfigContext.fromObject({
        kafka: {
          producer: { brokers: ["default:9092"] },
          producers: { orders: { brokers: ["named:9092"], topic: "orders.v2" } },
          consumer: { brokers: ["default:9092"], group_id: "default", topics: [] },
          consumers: { orders: { brokers: ["named:9092"], group_id: "named", topics: ["orders"] } },
        },
      }),
    );
    assert.deepEqual(producerFor(settings, "orders").brokers, ["named:9092"]);
    assert.deepEqual(producerFor(settings, "other").brokers, ["default:9092"]);
    assert.equal(producerTopic(settings, "orders"), "orders.v2");
    assert.equal(consumerFor(settings, "orders").groupId, "named");
    assert.equal(consumerFor(settings, "other").groupId, "default");
  });

  test("missing routes", () => {
    const settings = readKafkaSettings(ConfigContext.fromObject({ kafka: {} }));
    assert.throws(() => producerFor(settings, "orders.validated"), {
      message: "Kafka producer config route not found for logical reference 'orders.validated'. " +
        "Add kafka.producers.orders.validated or a default kafka.producer.",
    });
    assert.throws(() => consumerFor(settings, "orders.raw"), {
      message: "Kafka consumer config route not found for logical reference 'orders.raw'. " +
        "Add kafka.consumers.orders.raw or a default kafka.consumer.",
    });
    assert.throws(() => producerTopic(settings, "x"), /Kafka producer config route not found/);
  });

  test("extra repeating a managed key", () => {
    const err = configError(() =>
      readKafkaSettings(
        parseConfig(
          "kafka:\n  producer:\n    brokers: [a]\n    extra:\n      linger.ms: 5\n      bootstrap.servers: b\n",
          {
            file: "c.yaml",
          },
        ),
      )
    );
    assert.equal(
      err.message,
      "c.yaml:6: kafka.producer.extra.bootstrap.servers: extra contains 'bootstrap.servers', which is managed by " +
        "typed settings; set 'brokers' instead and remove 'bootstrap.servers' from extra",
    );
    assert.match(
      configError(() => readKafkaSettings(parseConfig(consumer("    extra: {sasl.password: x}\n")))).message,
      /extra contains 'sasl\.password', which is managed by typed settings; set 'security\.sasl_password' instead/,
    );
    assert.match(
      configError(() => readKafkaSettings(parseConfig(consumer("    extra: {fetch.min.bytes: null}\n"))))
        .message,
      /kafka\.consumer\.extra\.fetch\.min\.bytes: extra values must be a string, number or boolean, got null/,
    );
  });

  test("security", () => {
    const ctx = parseConfig(consumer("    security: {protocol: SSL, ssl_ca_location: /ca.pem}\n"));
    assert.deepEqual(readKafkaSettings(ctx).consumer?.security, {
      protocol: "SSL",
      saslMechanism: null,
      saslUsername: null,
      saslPassword: null,
      sslCaLocation: "/ca.pem",
    });
    assert.match(
      configError(() => readKafkaSettings(parseConfig(consumer("    security: {protocol: TLS}\n")))).message,
      /kafka\.consumer\.security\.protocol: expected one of "PLAINTEXT", "SSL", "SASL_SSL", "SASL_PLAINTEXT"/,
    );
  });
});

describe("streaming.runtime", () => {
  test("defaults when absent", () => {
    assert.deepEqual(readRuntimeSettings(ConfigContext.fromObject({})), {
      workersPerProcess: 1,
      processId: null,
      addresses: null,
      epochIntervalMs: null,
      forceShutdownTimeoutMs: null,
      unroutedErrors: "fail",
      maxInFlight: 10000,
      transport: "memory",
      deliveryRetries: 3,
      retryBackoffMs: 100,
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
