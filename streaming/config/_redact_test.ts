import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, parseConfig, readKafkaSettings, readRuntimeSettings } from "./mod.ts";
import { isSecretKey, redactConfig } from "./_redact.ts";

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  assert.fail("expected a ConfigError");
}

const SECRET = "918273645";
const consumer = (security: string) =>
  `kafka:\n  consumer:\n    brokers: [a:9092]\n    group_id: g\n    topics: [t]\n    security:\n${security}`;

describe("secrets in config errors", () => {
  test("an unquoted numeric password is not echoed in the type error", () => {
    const err = configError(() =>
      readKafkaSettings(parseConfig(
        consumer(
          `      protocol: SASL_SSL\n      sasl_mechanism: PLAIN\n      sasl_username: u\n      sasl_password: ${SECRET}\n`,
        ),
        { file: "c.yaml" },
      ))
    );
    assert.equal(
      err.message,
      "c.yaml:10: kafka.consumer.security.sasl_password: expected a string, got a number " +
        "(value hidden: the key holds a secret); quote the value if it is meant as text",
    );
    assert.ok(!err.message.includes(SECRET));
  });

  test("a YAML syntax error on the password line does not print the password", () => {
    for (const line of [`      sasl_password: ${SECRET}: x\n`, `      sasl_password: [${SECRET}\n`]) {
      const err = configError(() => parseConfig(consumer(line), { file: "c.yaml" }));
      assert.match(err.message, /^c\.yaml:\d+: invalid YAML/);
      assert.ok(!err.message.includes(SECRET), err.message);
    }
    const flow = configError(() => parseConfig(`kafka: {security: {sasl_password: ${SECRET}, }: }\n`));
    assert.ok(!flow.message.includes(SECRET), flow.message);
  });

  test("a custom schema message under a secret key does not quote the value", () => {
    const err = configError(() =>
      readKafkaSettings(parseConfig(consumer(`      protocol: SASL_SSL\n      sasl_password: [${SECRET}]\n`)))
    );
    assert.ok(!err.message.includes(SECRET), err.message);
    assert.match(err.message, /kafka\.consumer\.security\.sasl_password/);
  });

  test("a broken interpolation in a secret value is masked", () => {
    const err = configError(() =>
      parseConfig(`kafka:\n  consumer:\n    extra:\n      sasl.jaas.config: "x${SECRET}\${UNCLOSED"\n`, {
        env: {},
      })
    );
    assert.ok(!err.message.includes(SECRET), err.message);
  });

  test("URL credentials are masked in a type error", () => {
    const err = configError(() =>
      readRuntimeSettings(parseConfig(`streaming:\n  runtime:\n    transport: "kafka://u:${SECRET}@h"\n`))
    );
    assert.ok(!err.message.includes(SECRET), err.message);
    assert.match(err.message, /kafka:\/\/u:\*\*\*@h/);
  });
});

describe("redactConfig", () => {
  test("masks secret keys and URL passwords, keeps the rest", () => {
    const input = {
      kafka: {
        consumer: {
          group_id: "g",
          security: { protocol: "SASL_SSL", sasl_mechanism: "PLAIN", sasl_username: "u", sasl_password: "p" },
          extra: {
            "sasl.jaas.config": "x",
            "ssl.key.password": "k",
            "ssl.keystore.location": "/k",
            "fetch.min.bytes": 1,
          },
        },
      },
      database: { wh: { url: "postgresql://app:hunter2@db/wh", api_token: 42, client_secret: ["a", "b"] } },
    };
    const out = redactConfig(input);
    assert.deepEqual(out, {
      kafka: {
        consumer: {
          group_id: "g",
          security: {
            protocol: "SASL_SSL",
            sasl_mechanism: "PLAIN",
            sasl_username: "***",
            sasl_password: "***",
          },
          extra: {
            "sasl.jaas.config": "***",
            "ssl.key.password": "***",
            "ssl.keystore.location": "***",
            "fetch.min.bytes": 1,
          },
        },
      },
      database: {
        wh: { url: "postgresql://app:***@db/wh", api_token: "***", client_secret: ["***", "***"] },
      },
    });
    assert.equal(input.kafka.consumer.security.sasl_password, "p", "the input is not changed");
  });

  test("which keys are secret", () => {
    for (
      const k of ["password", "sasl_password", "sasl.username", "ssl.key.location", "auth_token", "SECRET_ID"]
    ) {
      assert.ok(isSecretKey(k), k);
    }
    for (const k of ["sasl_mechanism", "sasl.mechanisms", "group_id", "brokers", "ssl.ca.location", 0]) {
      assert.ok(!isSecretKey(k), String(k));
    }
  });
});

describe("sections that must be a map", () => {
  test("a list says 'expected a map', not 'unknown key 0'", () => {
    const cases: [string, () => unknown, RegExp][] = [
      [
        "kafka: [a, b]\n",
        () => readKafkaSettings(parseConfig("kafka: [a, b]\n", { file: "c.yaml" })),
        /^c\.yaml:1: kafka: expected a map, got a list; write it as 'key: value' lines \(keys: producer, consumer, producers, consumers\)/,
      ],
      [
        "consumer list",
        () => readKafkaSettings(parseConfig("kafka:\n  consumer:\n    - brokers: [a]\n", { file: "c.yaml" })),
        /^c\.yaml:2: kafka\.consumer: expected a map, got a list/,
      ],
      [
        "producers list",
        () => readKafkaSettings(parseConfig("kafka:\n  producers:\n    - a\n", { file: "c.yaml" })),
        /^c\.yaml:2: kafka\.producers: expected a map, got a list/,
      ],
      [
        "runtime list",
        () => readRuntimeSettings(parseConfig("streaming:\n  runtime: [1]\n", { file: "c.yaml" })),
        /^c\.yaml:2: streaming\.runtime: expected a map, got a list/,
      ],
    ];
    for (const [name, fn, re] of cases) {
      const err = configError(fn);
      assert.match(err.message, re, name);
      assert.ok(!err.message.includes("unknown key '0'"), name);
    }
  });
});
