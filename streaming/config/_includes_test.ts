import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, parseConfig, readKafkaSettings, readRuntimeSettings } from "./mod.ts";

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
