import { describe, test } from "node:test";
import assert from "node:assert/strict";
import type { SourceRecord } from "../streaming/_transport.ts";
import {
  base64ToBytes,
  bytesToBase64,
  FixtureError,
  type FixtureRecord,
  fixtureRecordFromSource,
  formatFixture,
  parseFixture,
} from "./_fixture.ts";

const utf8 = new TextEncoder();
const bytes = (...b: number[]): Uint8Array => new Uint8Array(b);

/** Asserts that `fn` throws a FixtureError with exactly this message (and optionally line/field). */
function throwsFixture(fn: () => unknown, message: string, line?: number, field?: string | null): void {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof FixtureError, `expected a FixtureError, got ${String(caught)}`);
  assert.equal(caught.message, message);
  if (line !== undefined) assert.equal(caught.line, line);
  if (field !== undefined) assert.equal(caught.field, field);
}

describe("base64", () => {
  test("encodes and decodes every padding case", () => {
    const cases: [number[], string][] = [
      [[], ""],
      [[0x66], "Zg=="],
      [[0x66, 0x6f], "Zm8="],
      [[0x66, 0x6f, 0x6f], "Zm9v"],
      [[0x66, 0x6f, 0x6f, 0x62], "Zm9vYg=="],
      [[0xde, 0xad, 0xbe, 0xef], "3q2+7w=="],
      [[0xff, 0xff, 0xfe], "///+"],
    ];
    for (const [raw, b64] of cases) {
      assert.equal(bytesToBase64(new Uint8Array(raw)), b64);
      assert.deepEqual(base64ToBytes(b64), new Uint8Array(raw));
    }
    assert.deepEqual(base64ToBytes("Zg"), bytes(0x66), "padding is optional");
    assert.deepEqual(base64ToBytes("Zm8"), bytes(0x66, 0x6f));
  });

  test("round-trips all byte values", () => {
    const all = new Uint8Array(256).map((_, i) => i);
    for (let n = 0; n <= 256; n += 17) {
      assert.deepEqual(base64ToBytes(bytesToBase64(all.subarray(0, n))), all.slice(0, n));
    }
  });

  test("rejects non-base64 input", () => {
    for (const bad of ["Z", "Zg=", "Zg===", "Z===", "Zm9v\n", "Zm 9v", "-_-_", "Zm9v=Zg=", "é123"]) {
      assert.equal(base64ToBytes(bad), null, JSON.stringify(bad));
    }
  });
});

describe("parseFixture", () => {
  test("parses every field form and skips blank and comment lines", () => {
    const text = [
      "# orders fixture",
      "",
      "  // indented comment",
      `{"topic": "orders", "partition": 0, "offset": 12, "timestamp": 1700000000000, "key": "k1", ` +
      `"headers": {"x-tenant": "acme", "bin": {"base64": "AAH/"}, "t": {"text": "hé"}}, ` +
      `"value": {"json": {"order_id": "o-1", "amount": 5}}, "message_type": "order.created", ` +
      `"message_version": 1, "trace_id": "trace-1", "parent_trace_id": null, "correlation_id": "corr-1", ` +
      `"causation_id": "cause-1"}`,
      "   ",
      `{"topic": "orders", "key": {"base64": "AAE="}, "value": {"base64": "3q2+7w=="}}\r`,
      `{"topic": "orders", "key": null, "value": {"text": "not msgpack"}, "headers": null}`,
      `{"topic": "payments", "partition": 2, "key": {"text": "k2"}, "value": null}`,
    ].join("\n");
    const records = parseFixture(text, "orders.jsonl");
    assert.equal(records.length, 4);
    assert.deepEqual(records[0], {
      topic: "orders",
      partition: 0,
      offset: 12,
      timestampMs: 1700000000000,
      key: utf8.encode("k1"),
      headers: { "x-tenant": utf8.encode("acme"), bin: bytes(0, 1, 255), t: utf8.encode("hé") },
      value: { json: { order_id: "o-1", amount: 5 } },
      messageType: "order.created",
      messageVersion: 1,
      traceId: "trace-1",
      correlationId: "corr-1",
      causationId: "cause-1",
    });
    assert.deepEqual(records[1], {
      topic: "orders",
      partition: null,
      offset: null,
      timestampMs: null,
      key: bytes(0, 1),
      headers: {},
      value: { raw: bytes(0xde, 0xad, 0xbe, 0xef) },
    });
    assert.deepEqual(records[2].value, { raw: utf8.encode("not msgpack") });
    assert.equal(records[2].key, null);
    assert.deepEqual(records[2].headers, {});
    assert.deepEqual(records[3], {
      topic: "payments",
      partition: 2,
      offset: null,
      timestampMs: null,
      key: utf8.encode("k2"),
      headers: {},
      value: null,
    });
  });

  test("accepts an empty or comment-only fixture and a leading BOM", () => {
    assert.deepEqual(parseFixture(""), []);
    assert.deepEqual(parseFixture("# nothing\n// here\n\n"), []);
    assert.equal(parseFixture('\uFEFF{"topic": "t", "value": null}').length, 1);
  });

  test("keeps a __proto__ header as an ordinary header", () => {
    const [r] = parseFixture('{"topic": "t", "headers": {"__proto__": "x"}, "value": null}');
    assert.deepEqual(Object.keys(r.headers), ["__proto__"]);
    assert.deepEqual(Object.getOwnPropertyDescriptor(r.headers, "__proto__")?.value, utf8.encode("x"));
    assert.equal(Object.getPrototypeOf(r.headers), Object.prototype);
  });

  test("reports the source, the line (counting comments and blanks) and the field", () => {
    const text = [
      "# header",
      '{"topic": "orders", "value": null}',
      "",
      "// another",
      '{"topic": "orders", "partition": 0, "value": null}',
      "",
      '{"topic": "orders", "partition": -1, "value": null}',
    ].join("\n");
    throwsFixture(
      () => parseFixture(text, "orders.jsonl"),
      'orders.jsonl:7: "partition" must be a non-negative integer (or null/absent), got number -1',
      7,
      "partition",
    );
    try {
      parseFixture(text, "orders.jsonl");
    } catch (e) {
      assert.ok(e instanceof FixtureError);
      assert.equal(e.source, "orders.jsonl");
      assert.equal(e.name, "FixtureError");
    }
  });

  test("rejects every malformed field with a precise message", () => {
    const cases: [string, string, string | null][] = [
      ['{"topic": "t", "value": null', `invalid JSON`, null],
      ["[1, 2]", "a record must be a JSON object, got an array", null],
      ['"just a string"', 'a record must be a JSON object, got the string "just a string"', null],
      [
        '{"topic": "t", "partiton": 1, "value": null}',
        'unknown field "partiton" (allowed: topic, partition, offset, timestamp, key, headers, value, ' +
        "message_type, message_version, trace_id, parent_trace_id, correlation_id, causation_id)",
        null,
      ],
      ['{"value": null}', '"topic" is required (the topic this record belongs to)', "topic"],
      ['{"topic": "", "value": null}', '"topic" must be a non-empty string, got the string ""', "topic"],
      [
        '{"topic": "t", "offset": 1.5, "value": null}',
        '"offset" must be a non-negative integer (or null/absent), got number 1.5',
        "offset",
      ],
      [
        '{"topic": "t", "timestamp": "1700000000000", "value": null}',
        '"timestamp" must be a non-negative integer (or null/absent), got the string "1700000000000"',
        "timestamp",
      ],
      [
        '{"topic": "t", "key": 42, "value": null}',
        '"key" must be a string, {"text": "..."} or {"base64": "..."}, got number 42',
        "key",
      ],
      [
        '{"topic": "t", "key": {"hex": "00"}, "value": null}',
        '"key" must be a string, {"text": "..."} or {"base64": "..."}, got an object with keys ["hex"]',
        "key",
      ],
      [
        '{"topic": "t", "key": {"base64": "A-B_"}, "value": null}',
        '"key.base64" is not valid base64 (standard alphabet A-Z a-z 0-9 + /, optional "=" padding, ' +
        "no whitespace)",
        "key.base64",
      ],
      [
        '{"topic": "t", "headers": ["h"], "value": null}',
        '"headers" must be an object of header name → value, got an array',
        "headers",
      ],
      [
        '{"topic": "t", "headers": {"x-retry": 3}, "value": null}',
        '"headers.x-retry" must be a string, {"text": "..."} or {"base64": "..."}, got number 3',
        "headers.x-retry",
      ],
      [
        '{"topic": "t", "headers": {"h": {"base64": 1}}, "value": null}',
        '"headers.h.base64" must be a string, got number 1',
        "headers.h.base64",
      ],
      [
        '{"topic": "t"}',
        '"value" is required: {"json": <payload>}, {"text": "..."}, {"base64": "..."} or null (tombstone)',
        "value",
      ],
      [
        '{"topic": "t", "value": "hello"}',
        '"value" must be {"json": <payload>}, {"text": "..."}, {"base64": "..."} or null (tombstone), ' +
        'got the string "hello" (write {"text": ...} for its UTF-8 bytes, or {"json": ...} for a JSON ' +
        "string payload)",
        "value",
      ],
      [
        '{"topic": "t", "value": {"json": 1, "base64": "AA=="}}',
        '"value" must be {"json": <payload>}, {"text": "..."}, {"base64": "..."} or null (tombstone), ' +
        'got an object with keys ["json","base64"]',
        "value",
      ],
      [
        '{"topic": "t", "value": {"base64": "!!"}}',
        '"value.base64" is not valid base64 (standard alphabet A-Z a-z 0-9 + /, optional "=" padding, ' +
        "no whitespace)",
        "value.base64",
      ],
      [
        '{"topic": "t", "value": {"base64": "AA=="}, "message_type": "x"}',
        '"message_type" is only allowed with a {"json": ...} value (raw bytes and tombstones are replayed ' +
        "exactly, without an envelope)",
        "message_type",
      ],
      [
        '{"topic": "t", "value": null, "message_version": 1}',
        '"message_version" is only allowed with a {"json": ...} value (raw bytes and tombstones are ' +
        "replayed exactly, without an envelope)",
        "message_version",
      ],
      [
        '{"topic": "t", "value": {"json": {}}, "message_version": -2}',
        '"message_version" must be a non-negative integer (or null/absent), got number -2',
        "message_version",
      ],
      [
        '{"topic": "t", "value": {"json": {}}, "trace_id": 7}',
        '"trace_id" must be a string (or null/absent), got number 7',
        "trace_id",
      ],
    ];
    for (const [line, message, field] of cases) {
      const text = `# first line is a comment\n${line}\n`;
      let caught: unknown;
      try {
        parseFixture(text, "f.jsonl");
      } catch (e) {
        caught = e;
      }
      assert.ok(caught instanceof FixtureError, `no FixtureError for ${line}`);
      assert.equal(caught.line, 2, line);
      assert.equal(caught.field, field, line);
      if (message === "invalid JSON") {
        assert.match(caught.message, /^f\.jsonl:2: invalid JSON \(.+\); each record must be one JSON object/);
      } else {
        assert.equal(caught.message, `f.jsonl:2: ${message}`);
      }
    }
  });

  test("uses <fixture> as the default source", () => {
    assert.throws(
      () => parseFixture("\nnope"),
      (e: unknown) =>
        e instanceof FixtureError && e.source === "<fixture>" && e.line === 2 &&
        /^<fixture>:2: invalid JSON \(/.test(e.message),
    );
  });
});

describe("formatFixture", () => {
  const records: FixtureRecord[] = [
    {
      topic: "orders",
      partition: 0,
      offset: 12,
      timestampMs: 1700000000000,
      key: utf8.encode("k1"),
      headers: { "x-tenant": utf8.encode("acme"), bin: bytes(0xff, 0) },
      value: { json: { order_id: "o-1", amount: 5, tags: ["a"], nested: { ok: true, n: null } } },
      messageType: "order.created",
      messageVersion: 1,
      traceId: "trace-1",
      correlationId: "corr-1",
    },
    {
      topic: "orders",
      partition: null,
      offset: null,
      timestampMs: null,
      key: bytes(0x80, 0x81),
      headers: {},
      value: { raw: bytes(0x82, 0xa1, 0x61, 0x01) },
    },
    {
      topic: "orders",
      partition: 1,
      offset: 0,
      timestampMs: 0,
      key: null,
      headers: { ["__proto__"]: utf8.encode("p") },
      value: { raw: utf8.encode("plain text\nwith newline") },
    },
    {
      topic: "orders",
      partition: 1,
      offset: 7,
      timestampMs: 5,
      key: utf8.encode(""),
      headers: {},
      value: null,
    },
    {
      topic: "orders",
      partition: null,
      offset: null,
      timestampMs: null,
      key: null,
      headers: {},
      value: { json: "a JSON string payload" },
    },
  ];

  test("writes one line per record in a fixed field order", () => {
    const text = formatFixture(records);
    const lines = text.split("\n");
    assert.equal(lines.length, 6);
    assert.equal(lines[5], "");
    assert.equal(
      lines[0],
      '{"topic":"orders","partition":0,"offset":12,"timestamp":1700000000000,"key":"k1",' +
        '"headers":{"x-tenant":"acme","bin":{"base64":"/wA="}},' +
        '"value":{"json":{"order_id":"o-1","amount":5,"tags":["a"],"nested":{"ok":true,"n":null}}},' +
        '"message_type":"order.created","message_version":1,"trace_id":"trace-1","correlation_id":"corr-1"}',
    );
    assert.equal(lines[1], '{"topic":"orders","key":{"base64":"gIE="},"value":{"base64":"gqFhAQ=="}}');
    assert.equal(
      lines[2],
      '{"topic":"orders","partition":1,"offset":0,"timestamp":0,"key":null,"headers":{"__proto__":"p"},' +
        '"value":{"text":"plain text\\nwith newline"}}',
    );
    assert.equal(lines[3], '{"topic":"orders","partition":1,"offset":7,"timestamp":5,"key":"","value":null}');
  });

  test("round-trips through parseFixture", () => {
    assert.deepEqual(parseFixture(formatFixture(records)), records);
    assert.equal(formatFixture(parseFixture(formatFixture(records))), formatFixture(records));
    assert.equal(formatFixture([]), "");
  });

  test("refuses values that would not round-trip, naming the record", () => {
    const base = records[4];
    const bad: unknown[] = [
      { n: 10n },
      { b: new Uint8Array(1) },
      [Number.NaN],
      { d: new Date(0) },
      -0,
      { u: undefined },
    ];
    for (const json of bad) {
      throwsFixture(
        () => formatFixture([base, { ...base, value: { json } }]),
        '<formatFixture>:2: "value.json" is not plain JSON (only null, booleans, strings, finite numbers, ' +
          "arrays and plain objects round-trip); store the encoded bytes as {raw: Uint8Array} instead",
        2,
        "value.json",
      );
    }
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.throws(() => formatFixture([{ ...base, value: { json: cyclic } }]), FixtureError);
  });

  test("refuses invalid coordinates and metadata on raw values", () => {
    const base = records[1];
    throwsFixture(
      () => formatFixture([{ ...base, partition: -1 }]),
      '<formatFixture>:1: "partition" must be a non-negative integer or null, got number -1',
    );
    throwsFixture(
      () => formatFixture([{ ...base, topic: "" }]),
      '<formatFixture>:1: "topic" must be a non-empty string, got the string ""',
    );
    throwsFixture(
      () => formatFixture([{ ...base, traceId: "t-1" }]),
      '<formatFixture>:1: "trace_id" is only allowed with a {"json": ...} value (raw bytes and tombstones ' +
        "are replayed exactly, without an envelope)",
    );
  });
});

describe("fixtureRecordFromSource", () => {
  const source: SourceRecord = {
    topic: "orders",
    partition: 3,
    offset: 41,
    key: utf8.encode("k9"),
    value: bytes(0x82, 0x00, 0xff),
    headers: { "x-trace-id": utf8.encode("tr") },
    timestampMs: 1234,
  };

  test("keeps the raw bytes and the record coordinates by default", () => {
    const r = fixtureRecordFromSource(source);
    assert.deepEqual(r, {
      topic: "orders",
      partition: 3,
      offset: 41,
      timestampMs: 1234,
      key: utf8.encode("k9"),
      headers: { "x-trace-id": utf8.encode("tr") },
      value: { raw: bytes(0x82, 0x00, 0xff) },
    });
    assert.equal(
      formatFixture([r]),
      '{"topic":"orders","partition":3,"offset":41,"timestamp":1234,"key":"k9","headers":{"x-trace-id":"tr"},' +
        '"value":{"base64":"ggD/"}}\n',
    );
  });

  test("uses a JSON view when decodeJson gives plain JSON, raw bytes otherwise", () => {
    const seen: Uint8Array[] = [];
    const r = fixtureRecordFromSource(source, {
      decodeJson: (b) => {
        seen.push(b);
        return { id: b[2] };
      },
    });
    assert.deepEqual(r.value, { json: { id: 255 } });
    assert.deepEqual(seen, [source.value]);
    assert.deepEqual(fixtureRecordFromSource(source, { decodeJson: () => undefined }).value, {
      raw: source.value,
    });
    assert.deepEqual(fixtureRecordFromSource(source, { decodeJson: () => ({ big: 1n }) }).value, {
      raw: source.value,
    });
    assert.deepEqual(fixtureRecordFromSource(source, { decodeJson: () => null }).value, { json: null });
  });

  test("keeps envelope metadata from decodeMessage (which wins over decodeJson)", () => {
    const r = fixtureRecordFromSource(source, {
      decodeJson: () => "ignored",
      decodeMessage: () => ({
        json: { order_id: "o-1" },
        messageType: "order.created",
        messageVersion: 2,
        traceId: "trace-1",
        correlationId: "corr-1",
      }),
    });
    assert.deepEqual(r, {
      topic: "orders",
      partition: 3,
      offset: 41,
      timestampMs: 1234,
      key: utf8.encode("k9"),
      headers: { "x-trace-id": utf8.encode("tr") },
      value: { json: { order_id: "o-1" } },
      messageType: "order.created",
      messageVersion: 2,
      traceId: "trace-1",
      correlationId: "corr-1",
    });
    assert.deepEqual(parseFixture(formatFixture([r])), [r]);
  });

  test("records tombstones and null timestamps", () => {
    const r = fixtureRecordFromSource({ ...source, value: null, timestampMs: null, key: null }, {
      decodeJson: () => {
        throw new Error("must not be called for a tombstone");
      },
    });
    assert.equal(r.value, null);
    assert.equal(r.timestampMs, null);
    assert.deepEqual(parseFixture(formatFixture([r])), [r]);
  });
});
