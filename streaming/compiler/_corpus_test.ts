/**
 * A corpus of broken flows and configurations: each must fail at config or compile time with a message
 * that names the place (the node path, or file:line:key) and the fix, and never echoes a secret.
 */
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as v from "valibot";
import { CompilationError, compileFlow } from "./mod.ts";
import { ConfigError, parseConfig } from "../config/mod.ts";
import {
  BatchStep,
  Broadcast,
  CollectBatch,
  Drain,
  ExpandRoutes,
  Fork,
  FromTopic,
  IntoTable,
  IntoTopic,
  Process,
  type ProcessNode,
  RecordStep,
  Router,
  StreamFlow,
  WithAsync,
} from "../dsl/mod.ts";
import { msg } from "../expr/mod.ts";
import { type Order, OrderPlaced } from "../_test_support.ts";
import type { Message } from "../_message.ts";

const id = () => RecordStep.of((m: Message<Order>) => m.payload, { name: "Id" });
const batchStep = () =>
  BatchStep.of((ms: readonly Message<Order>[]) => ms.map((m) => m.payload), { name: "Price" });

class Prefix extends RecordStep<Order, Order> {
  static configSchema = v.object({ prefix: v.string() });
  constructor(readonly cfg: { prefix: string }) {
    super();
  }
  execute(m: Message<Order>) {
    return m.payload;
  }
}

const SECRET = "70451298";

const CONSUMER = "  consumer: {brokers: [a:9092], group_id: g, topics: [orders.raw]}\n";
const PRODUCER = "  producer: {brokers: [a:9092]}\n";
const KAFKA = `kafka:\n${CONSUMER}${PRODUCER}`;
const consumerWith = (lines: string) =>
  `kafka:\n  consumer:\n    brokers: [a:9092]\n    group_id: g\n    topics: [orders.raw]\n${lines}${PRODUCER}`;
const producerWith = (lines: string) => `kafka:\n${CONSUMER}  producer:\n    brokers: [a:9092]\n${lines}`;
const sasl = (password: string) =>
  consumerWith(
    `    security:\n      protocol: SASL_SSL\n      sasl_mechanism: PLAIN\n      sasl_username: u\n      sasl_password: ${password}\n`,
  );

interface Case {
  readonly name: string;
  readonly yaml: string;
  /** The top-level process (default: one record step, then flow.output `orders.out`). */
  readonly nodes?: () => ProcessNode[];
  readonly env?: Record<string, string>;
  /** Each must match the failure message (the place and the fix). */
  readonly expect: readonly RegExp[];
}

const CASES: readonly Case[] = [
  // --- typos in every owned section ---
  {
    name: "kafka key typo",
    yaml: `kafka:\n  consumr: {}\n${PRODUCER}`,
    expect: [/c\.yaml:2: kafka\.consumr: unknown key 'consumr'; did you mean 'consumer'\?/],
  },
  {
    name: "consumer key typo",
    yaml: `kafka:\n  consumer: {brokers: [a:9092], group_idd: g, topics: [t]}\n${PRODUCER}`,
    expect: [/c\.yaml:2: kafka\.consumer\.group_idd: unknown key 'group_idd'; did you mean 'group_id'\?/],
  },
  {
    name: "producer key typo",
    yaml: producerWith("    topci: x\n"),
    expect: [/c\.yaml:5: kafka\.producer\.topci: unknown key 'topci'; did you mean 'topic'\?/],
  },
  {
    name: "security key typo",
    yaml: consumerWith("    security: {protocl: SSL}\n"),
    expect: [
      /c\.yaml:6: kafka\.consumer\.security\.protocl: unknown key 'protocl'; did you mean 'protocol'\?/,
    ],
  },
  {
    name: "named consumer key typo",
    yaml: `${KAFKA}  consumers:\n    orders.raw: {brokers: [a:9092], group_id: g, topicss: [x]}\n`,
    expect: [
      /c\.yaml:5: kafka\.consumers\.orders\.raw\.topicss: unknown key 'topicss'; did you mean 'topics'\?/,
    ],
  },
  {
    name: "streaming key typo",
    yaml: `${KAFKA}streaming:\n  runtim: {transport: kafka}\n`,
    expect: [/c\.yaml:5: streaming\.runtim: unknown key 'runtim'; did you mean 'runtime'\?/],
  },
  {
    name: "streaming free-form key not read by the flow",
    yaml: `${KAFKA}streaming:\n  fetch: {a: 1}\n`,
    expect: [
      /c\.yaml:5: streaming\.fetch: unknown key 'fetch'; .*move free-form sections under streaming\.bindings/,
    ],
  },
  {
    name: "runtime key typo",
    yaml: `${KAFKA}streaming:\n  runtime: {max_in_fligth: 5}\n`,
    expect: [
      /c\.yaml:5: streaming\.runtime\.max_in_fligth: unknown key 'max_in_fligth'; did you mean 'max_in_flight'\?/,
    ],
  },
  {
    name: "top-level section typo",
    yaml: `${KAFKA}streming:\n  runtime: {}\n`,
    expect: [/c\.yaml:4: streming: unknown section 'streming'; did you mean 'streaming'\?/],
  },
  {
    name: "kafka section typo",
    yaml: `kafak:\n${CONSUMER}${PRODUCER}`,
    expect: [
      /Config section not found: 'kafka'/,
      /c\.yaml:1: kafak: unknown section 'kafak'; did you mean 'kafka'\?/,
    ],
  },
  // --- unused producers / consumers ---
  {
    name: "misspelt producers entry",
    yaml: `${KAFKA}  producers:\n    orders.oout: {brokers: [a:9092], topic: orders.v1}\n`,
    expect: [
      /c\.yaml:5: kafka\.producers\.orders\.oout: no node of this flow writes to 'orders\.oout'; did you mean 'orders\.out'\?/,
    ],
  },
  {
    name: "misspelt consumers entry",
    yaml: `${KAFKA}  consumers:\n    order.raw: {brokers: [a:9092], group_id: g2, topics: [x]}\n`,
    expect: [
      /c\.yaml:5: kafka\.consumers\.order\.raw: no node of this flow reads from 'order\.raw'; did you mean 'orders\.raw'\?/,
    ],
  },
  {
    name: "unused producers entry lists the used names",
    yaml: `${KAFKA}  producers:\n    audit: {brokers: [a:9092]}\n`,
    expect: [
      /kafka\.producers\.audit: no node of this flow writes to 'audit'; the flow writes to 'orders\.out'; rename the entry/,
    ],
  },
  {
    name: "unused consumers entry lists the used names",
    yaml: `${KAFKA}  consumers:\n    payments: {brokers: [a:9092], group_id: g, topics: [p]}\n`,
    expect: [
      /kafka\.consumers\.payments: no node of this flow reads from 'payments'; the flow reads from 'orders\.raw'/,
    ],
  },
  // --- extra keys ---
  {
    name: "extra key typo",
    yaml: consumerWith("    extra: {session.timeout.msec: 1}\n"),
    expect: [
      /c\.yaml:6: kafka\.consumer\.extra\.session\.timeout\.msec: unknown consumer option 'session\.timeout\.msec'; did you mean 'session\.timeout\.ms'\?/,
    ],
  },
  {
    name: "extra key unsupported by the transport",
    yaml: producerWith("    extra: {linger.ms: 5}\n"),
    expect: [
      /c\.yaml:5: kafka\.producer\.extra\.linger\.ms: 'linger\.ms' is not supported by the Kafka transport: .*; remove it/,
    ],
  },
  {
    name: "extra key of the other role",
    yaml: consumerWith("    extra: {acks: all}\n"),
    expect: [
      /kafka\.consumer\.extra\.acks: 'acks' only applies to a producer; remove it from this consumer's extra/,
    ],
  },
  {
    name: "extra key managed by typed settings",
    yaml: consumerWith("    extra: {bootstrap.servers: b}\n"),
    expect: [
      /c\.yaml:6: kafka\.consumer\.extra\.bootstrap\.servers: extra contains 'bootstrap\.servers', which is managed by typed settings; set 'brokers' instead/,
    ],
  },
  {
    name: "extra alias of a managed key",
    yaml: consumerWith("    extra: {sasl.mechanisms: PLAIN}\n"),
    expect: [
      /kafka\.consumer\.extra\.sasl\.mechanisms: 'sasl\.mechanisms' is managed by the typed settings \(like 'sasl\.mechanism'\); set the typed field instead/,
    ],
  },
  {
    name: "producer extra client.id",
    yaml: producerWith("    extra: {client.id: x}\n"),
    expect: [
      /kafka\.producer\.extra\.client\.id: extra contains 'client\.id', which is managed by typed settings; set 'client_id' instead/,
    ],
  },
  {
    name: "extra value of the wrong type",
    yaml: consumerWith("    extra: {fetch.min.bytes: [1]}\n"),
    expect: [
      /c\.yaml:6: kafka\.consumer\.extra\.fetch\.min\.bytes: extra values must be a string, number or boolean, got a list/,
    ],
  },
  {
    name: "unknown extra key in a named consumer",
    yaml:
      `${KAFKA}  consumers:\n    orders.raw:\n      brokers: [a:9092]\n      group_id: g\n      topics: [t]\n      extra: {fetch.max.wait: 1}\n`,
    expect: [
      /kafka\.consumers\.orders\.raw\.extra\.fetch\.max\.wait: unknown consumer option 'fetch\.max\.wait'; did you mean 'fetch\.max\.wait\.ms'\?/,
    ],
  },
  // --- wrong types and values ---
  {
    name: "protocol not one of the choices",
    yaml: consumerWith("    security: {protocol: SASL}\n"),
    expect: [
      /kafka\.consumer\.security\.protocol: expected one of "PLAINTEXT", "SSL", "SASL_SSL", "SASL_PLAINTEXT", got a string \("SASL"\)/,
    ],
  },
  {
    name: "transport not one of the choices",
    yaml: `${KAFKA}streaming:\n  runtime: {transport: kafak}\n`,
    expect: [
      /c\.yaml:5: streaming\.runtime\.transport: expected one of "memory", "kafka", got a string \("kafak"\)/,
    ],
  },
  {
    name: "workers_per_process below the minimum",
    yaml: `${KAFKA}streaming:\n  runtime: {workers_per_process: 0}\n`,
    expect: [/streaming\.runtime\.workers_per_process: expected an integer >= 1, got 0/],
  },
  {
    name: "max_in_flight not a number",
    yaml: `${KAFKA}streaming:\n  runtime: {max_in_flight: lots}\n`,
    expect: [/streaming\.runtime\.max_in_flight: expected a number, got a string \("lots"\)/],
  },
  {
    name: "poll_timeout_ms not a number",
    yaml: consumerWith("    poll_timeout_ms: fast\n"),
    expect: [/c\.yaml:6: kafka\.consumer\.poll_timeout_ms: expected a number, got a string \("fast"\)/],
  },
  {
    name: "enable_auto_commit not a boolean",
    yaml: consumerWith("    enable_auto_commit: maybe\n"),
    expect: [
      /kafka\.consumer\.enable_auto_commit: expected a boolean \(true or false\), got a string \("maybe"\)/,
    ],
  },
  {
    name: "auto_offset_reset not a choice",
    yaml: consumerWith("    auto_offset_reset: first\n"),
    expect: [/kafka\.consumer\.auto_offset_reset: expected one of "earliest", "latest"/],
  },
  {
    name: "group_id a number",
    yaml: `kafka:\n  consumer: {brokers: [a:9092], group_id: 7, topics: [t]}\n${PRODUCER}`,
    expect: [
      /kafka\.consumer\.group_id: expected a string, got a number \(7\); quote the value if it is meant as text: "7"/,
    ],
  },
  {
    name: "empty brokers",
    yaml: `kafka:\n  consumer: {brokers: [], group_id: g, topics: [t]}\n${PRODUCER}`,
    expect: [
      /kafka\.consumer\.brokers: brokers must list at least one broker, e\.g\. brokers: \["localhost:9092"\]/,
    ],
  },
  // --- missing required keys ---
  {
    name: "missing kafka section",
    yaml: "streaming:\n  runtime: {}\n",
    expect: [/kafka: .*Config section not found: 'kafka'/],
  },
  {
    name: "missing group_id",
    yaml: `kafka:\n  consumer: {brokers: [a:9092], topics: [t]}\n${PRODUCER}`,
    expect: [
      /kafka\.consumer\.group_id: missing required key 'group_id'; add 'group_id: \.\.\.' under kafka\.consumer/,
    ],
  },
  {
    name: "missing brokers",
    yaml: `kafka:\n${CONSUMER}  producer: {client_id: x}\n`,
    expect: [
      /kafka\.producer\.brokers: missing required key 'brokers'; add 'brokers: \.\.\.' under kafka\.producer/,
    ],
  },
  {
    name: "missing topics",
    yaml: `kafka:\n  consumer: {brokers: [a:9092], group_id: g}\n${PRODUCER}`,
    expect: [/kafka\.consumer\.topics: missing required key 'topics'/],
  },
  {
    name: "no producer for an output",
    yaml: `kafka:\n${CONSUMER}`,
    expect: [
      /output: Kafka producer config route not found for logical reference 'orders\.out'\. Add kafka\.producers\.orders\.out or a default kafka\.producer/,
    ],
  },
  {
    name: "missing storage sink section",
    yaml: KAFKA,
    nodes: () => [new IntoTable({ name: "wh" })],
    expect: [/process\[0\]: storage sink 'wh': no config section found at streaming\.sinks\.wh; add it/],
  },
  {
    name: "missing binding section",
    yaml: KAFKA,
    nodes: () => [Prefix.fromConfig("streaming.bindings.prefix"), new Drain()],
    expect: [/process\[0\]: binding streaming\.bindings\.prefix: .*Config section not found/],
  },
  {
    name: "binding field missing",
    yaml: `${KAFKA}streaming:\n  bindings:\n    prefix: {}\n`,
    nodes: () => [Prefix.fromConfig("streaming.bindings.prefix"), new Drain()],
    expect: [/process\[0\]: binding streaming\.bindings\.prefix: .*requires config field 'prefix'/],
  },
  // --- shapes: a section that must be a map ---
  {
    name: "kafka as a list",
    yaml: "kafka:\n  - consumer\n",
    expect: [/c\.yaml:1: kafka: expected a map, got a list; write it as 'key: value' lines/],
  },
  {
    name: "consumer as a list",
    yaml: `kafka:\n  consumer:\n    - brokers: [a]\n${PRODUCER}`,
    expect: [/c\.yaml:2: kafka\.consumer: expected a map, got a list/],
  },
  {
    name: "producers as a list",
    yaml: `${KAFKA}  producers:\n    - orders.out\n`,
    expect: [/c\.yaml:4: kafka\.producers: expected a map, got a list/],
  },
  {
    name: "streaming as a list",
    yaml: `${KAFKA}streaming:\n  - runtime\n`,
    expect: [/c\.yaml:4: streaming: expected a map, got a list/],
  },
  {
    name: "runtime as a list",
    yaml: `${KAFKA}streaming:\n  runtime: [transport]\n`,
    expect: [/c\.yaml:5: streaming\.runtime: expected a map, got a list/],
  },
  {
    name: "sinks as a list",
    yaml: `${KAFKA}streaming:\n  sinks: [wh]\n`,
    expect: [/c\.yaml:5: streaming\.sinks: expected a map, got a list/],
  },
  // --- secrets are never echoed ---
  {
    name: "numeric password",
    yaml: sasl(SECRET),
    expect: [
      /c\.yaml:10: kafka\.consumer\.security\.sasl_password: expected a string, got a number \(value hidden: the key holds a secret\); quote the value/,
    ],
  },
  {
    name: "password as a list",
    yaml: sasl(`[${SECRET}]`),
    expect: [/kafka\.consumer\.security\.sasl_password: expected a string/],
  },
  {
    name: "YAML error on the password line",
    yaml: sasl(`${SECRET}: x`),
    expect: [/c\.yaml:10: invalid YAML/],
  },
  {
    name: "YAML error in a flow map with a password",
    yaml: `kafka: {consumer: {security: {sasl_password: ${SECRET}, }: }\n`,
    expect: [/c\.yaml:1: invalid YAML/],
  },
  {
    name: "secret extra key",
    yaml: consumerWith(`    extra: {sasl.jaas.config: "${SECRET}"}\n`),
    expect: [/kafka\.consumer\.extra\.sasl\.jaas\.config: unknown consumer option 'sasl\.jaas\.config'/],
  },
  // --- constructor errors, with the node path and the TypeScript option name ---
  {
    name: "CollectBatch maxRecords NaN",
    yaml: KAFKA,
    nodes: () => [new CollectBatch({ maxRecords: NaN, timeoutMs: 10 }), new Drain()],
    expect: [/^process\[0\]: CollectBatch\.maxRecords must be an integer greater than zero, got NaN/m],
  },
  {
    name: "CollectBatch timeoutMs 0",
    yaml: KAFKA,
    nodes: () => [new CollectBatch({ maxRecords: 1, timeoutMs: 0 }), new Drain()],
    expect: [/^process\[0\]: CollectBatch\.timeoutMs must be greater than zero, got 0/m],
  },
  {
    name: "WithAsync maxConcurrency 0",
    yaml: KAFKA,
    nodes: () => [
      id(),
      new WithAsync({ maxConcurrency: 0, process: new Process(id(), new IntoTopic("orders.out")) }),
    ],
    expect: [/^process\[1\]: WithAsync\.maxConcurrency must be an integer greater than zero, got 0/m],
  },
  {
    name: "empty Process in a Router branch",
    yaml: KAFKA,
    nodes:
      () => [Router.by(msg.payload.field("segment"), { vip: new Process() }), new IntoTopic("orders.out")],
    expect: [/^process\[0\]\.routes\[0\]\.process: Process must contain at least one node/m],
  },
  {
    name: "empty top-level Process",
    yaml: KAFKA,
    nodes: () => [],
    expect: [/^process: Process must contain at least one node/m],
  },
  {
    name: "Router without routes",
    yaml: KAFKA,
    nodes: () => [new Router({}), new Drain()],
    expect: [/^process\[0\]: Router requires a selector or at least one predicate route; use Router\.by/m],
  },
  {
    name: "Fork.when without routes",
    yaml: KAFKA,
    nodes: () => [Fork.when([])],
    expect: [/^process\[0\]: Fork\.when requires at least one predicate route/m],
  },
  {
    name: "Broadcast without routes",
    yaml: KAFKA,
    nodes: () => [new Broadcast()],
    expect: [/^process\[0\]: Broadcast requires at least one route/m],
  },
  {
    name: "ExpandRoutes without routes",
    yaml: KAFKA,
    nodes: () => [new ExpandRoutes({ expander: { expand: () => ({}) } })],
    expect: [/^process\[0\]: ExpandRoutes requires at least one route or a default Process/m],
  },
  // --- flow shapes ---
  {
    name: "batch step on a record stream",
    yaml: KAFKA,
    nodes: () => [batchStep(), new Drain()],
    expect: [
      /^process\[0\]: shape mismatch: expected batch but got record before Price \(add a CollectBatch before it\)/m,
    ],
  },
  {
    name: "terminal not last",
    yaml: KAFKA,
    nodes: () => [new IntoTopic("orders.out"), id()],
    expect: [/^process\[0\]: IntoTopic must be the last node in a process; found Id after it/m],
  },
];

function failure(c: Case): string {
  const nodes = c.nodes ? c.nodes() : [id()];
  const terminal = c.nodes === undefined;
  try {
    const ctx = parseConfig(c.yaml, { file: "c.yaml", env: c.env ?? {} });
    compileFlow(
      new StreamFlow({
        name: "corpus",
        source: new FromTopic("orders.raw", OrderPlaced),
        process: new Process(...nodes),
        ...(terminal ? { output: new IntoTopic("orders.out") } : {}),
      }),
      ctx,
    );
  } catch (e) {
    if (e instanceof CompilationError) return e.errors.join("\n");
    if (e instanceof ConfigError) return e.message;
    throw e;
  }
  assert.fail(`${c.name}: expected a config or compilation error`);
}

describe("corpus of broken flows and configs", () => {
  test("has at least 40 cases", () => {
    assert.ok(CASES.length >= 40, String(CASES.length));
  });
  for (const c of CASES) {
    test(c.name, () => {
      const message = failure(c);
      for (const re of c.expect) assert.match(message, re, `${c.name}:\n${message}`);
      assert.ok(!message.includes(SECRET), `${c.name} echoes a secret:\n${message}`);
    });
  }
});
