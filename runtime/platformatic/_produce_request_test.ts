import { test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import {
  encodeProduceRequest,
  PRODUCE_VERSIONS,
  type ProduceMessage,
  type ProduceOptions,
  ProduceTap,
} from "./_produce_request.ts";
import { RecordRun } from "./_record_run.ts";
import * as platformatic from "@platformatic/kafka";
import * as v from "valibot";
import { encodeEnvelope } from "../../kafka/mod.ts";
import { compileSchema } from "../../kafka/_schema_codec.ts";
import { EncodedRecord } from "../../streaming/_encoded_record.ts";

type CreateRequest = (
  acks: number,
  timeout: number,
  messages: ProduceMessage[],
  options: ProduceOptions,
) => { buffer: Buffer; context: { noResponse?: boolean } };

/** platformatic's own request encoder of produce `version`. */
const theirs = (version: number): CreateRequest =>
  (platformatic as unknown as Record<string, { createRequest: CreateRequest }>)[`produceV${version}`]
    .createRequest;

const b = (s: string): Buffer => Buffer.from(s, "utf8");

/** A deterministic mix: keyed and unkeyed, empty and long values, 0–5 headers, timestamps out of order. */
function messages(seed: number, n: number, topics: readonly string[], partitions: number): ProduceMessage[] {
  let x = seed;
  const rnd = (m: number) => {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    return x % m;
  };
  const out: ProduceMessage[] = [];
  for (let i = 0; i < n; i++) {
    const headerCount = rnd(6);
    const headers = headerCount === 0 && rnd(2) === 0 ? undefined : new Map<Buffer, Buffer>();
    for (let h = 0; h < headerCount; h++) {
      headers!.set(b(`x-h${h}-${"é".repeat(rnd(3))}`), b("v".repeat(rnd(200))));
    }
    const valueLength = [0, 1, 63, 64, 127, 128, 8191, 8192, 20000][rnd(9)];
    out.push({
      topic: topics[rnd(topics.length)],
      partition: rnd(partitions),
      key: rnd(3) === 0 ? null : rnd(5) === 0 ? undefined : b(`key-${rnd(1000)}`),
      value: rnd(20) === 0 ? null : Buffer.alloc(valueLength, i & 0xff),
      headers,
      timestamp: BigInt(1_700_000_000_000 + rnd(100_000) - 50_000),
    });
  }
  return out;
}

const copy = (ms: readonly ProduceMessage[]): ProduceMessage[] => ms.map((m) => ({ ...m }));

const sequences = (): ProduceOptions["sequences"] => {
  const m = new Map([["t-a:0", 17], ["t-b:2", 2 ** 31 - 5]]);
  return { getWithDefault: (k, d) => m.get(k) ?? d };
};

/** A ProduceTap on a stub producer whose every API is `api`, and the wrapped Produce API. */
function tapped(api: unknown): { tap: ProduceTap; produce: (...a: unknown[]) => void } {
  const producer = {
    [platformatic.kGetApi](_name: string, cb: (e: unknown, api?: unknown) => void) {
      cb(null, api);
    },
  };
  const tap = new ProduceTap(producer);
  let produce: (...a: unknown[]) => void = () => {};
  producer[platformatic.kGetApi]("Produce", (_e, a) => (produce = a as typeof produce));
  return { tap, produce };
}

const OPTIONS: readonly [string, ProduceOptions][] = [
  ["plain", {}],
  ["idempotent", { producerId: 4242n, producerEpoch: 3, sequences: sequences() }],
  ["transactional", { transactionalId: "txn-é-1", producerId: 7n, producerEpoch: 1, sequences: sequences() }],
  ["leader epoch", { partitionLeaderEpoch: 9, compression: "none" }],
];

test("produce requests: the same bytes as platformatic's encoder, v3–v11, every option set", () => {
  for (let version = PRODUCE_VERSIONS.min; version <= PRODUCE_VERSIONS.max; version++) {
    for (const [label, options] of OPTIONS) {
      for (
        const [seed, n, topics, partitions] of [
          [1, 1, ["t-a"], 1],
          [2, 40, ["t-a"], 3],
          [3, 300, ["t-a", "t-b", "17", "ünï"], 4],
        ] as const
      ) {
        const input = messages(seed, n, topics, partitions);
        const expected = theirs(version)(-1, 30_000, copy(input), options);
        const ours = encodeProduceRequest(version, -1, 30_000, copy(input), options);
        assert.ok(ours !== null, `v${version} ${label}: encoded`);
        assert.deepEqual(
          ours.buffer,
          expected.buffer,
          `v${version} ${label} seed ${seed}: ${ours.buffer.length} vs ${expected.buffer.length} bytes`,
        );
      }
    }
  }
});

test("produce requests: number timestamps (the adapter's) encode like bigints, and become bigints for platformatic", () => {
  const input = messages(5, 50, ["t-a", "t-b"], 3);
  const expected = theirs(11)(-1, 30_000, copy(input), {});
  const numbers = input.map((m) => ({ ...m, timestamp: Number(m.timestamp) }));
  assert.deepEqual(encodeProduceRequest(11, -1, 30_000, copy(numbers), {})!.buffer, expected.buffer);
  assert.equal(encodeProduceRequest(11, -1, 1, [{ ...numbers[0], timestamp: 2 ** 50 }], {}), null);
  assert.equal(encodeProduceRequest(11, -1, 1, [{ ...numbers[0], timestamp: 1.5 }], {}), null);
});

test("produce requests: normalises like platformatic (partition 0, timestamp now) and acks 0 expects no response", () => {
  const realNow = Date.now;
  Date.now = () => 1_750_000_000_123;
  try {
    const input: ProduceMessage[] = [{ topic: "t", value: b("a") }, {
      topic: "t",
      value: b("b"),
      key: b("k"),
    }];
    const a = copy(input);
    const c = copy(input);
    const expected = theirs(11)(0, 1000, a, {});
    const ours = encodeProduceRequest(11, 0, 1000, c, {})!;
    assert.deepEqual(ours.buffer, expected.buffer);
    assert.equal(ours.context.noResponse, true);
    assert.equal(expected.context.noResponse, true);
    assert.deepEqual(c.map((m) => [m.partition, m.timestamp]), [[0, 1_750_000_000_123n], [
      0,
      1_750_000_000_123n,
    ]]);
  } finally {
    Date.now = realNow;
  }
});

test("produce requests: compression, object headers, timestamps beyond ±2^50 and unknown versions go to platformatic", () => {
  const m: ProduceMessage = { topic: "t", partition: 0, value: b("v"), timestamp: 1n };
  assert.equal(encodeProduceRequest(11, -1, 1, [m], { compression: "gzip" }), null);
  assert.equal(encodeProduceRequest(11, -1, 1, [m], { compression: "lz4" }), null);
  const objectHeaders = { ...m, headers: { a: b("1") } as unknown as Map<Uint8Array, Uint8Array> };
  assert.equal(encodeProduceRequest(11, -1, 1, [objectHeaders], {}), null);
  assert.equal(encodeProduceRequest(11, -1, 1, [{ ...m, timestamp: 2n ** 50n }], {}), null);
  assert.equal(encodeProduceRequest(11, -1, 1, [{ ...m, timestamp: -(2n ** 50n) }], {}), null);
  assert.ok(encodeProduceRequest(11, -1, 1, [{ ...m, timestamp: 2n ** 50n - 1n }], {}) !== null);
  assert.equal(encodeProduceRequest(2, -1, 1, [m], {}), null);
  assert.equal(encodeProduceRequest(12, -1, 1, [m], {}), null);
  assert.ok(encodeProduceRequest(11, -1, 1, [m], {}) !== null);
});

test("ProduceTap: wraps this producer's Produce API only, swaps the payload, keeps the rest", () => {
  const sent: { key: number; version: number; payload: unknown; parser: unknown }[] = [];
  const connection = {
    send(
      key: number,
      version: number,
      create: () => unknown,
      parser: unknown,
      _a: boolean,
      _b: boolean,
      cb: () => void,
    ) {
      sent.push({ key, version, payload: create(), parser });
      cb();
    },
  };
  const produceV11 = Object.assign(
    (conn: typeof connection, ...args: unknown[]) => {
      const cb = args.pop() as () => void;
      conn.send(0, 11, () => "platformatic's payload", () => "parsed", true, true, cb);
    },
    { key: 0, version: 11 },
  );
  const other = Object.assign(() => {}, { key: 1, version: 17 });
  const producer = {
    [platformatic.kGetApi](name: string, cb: (e: unknown, api?: unknown) => void) {
      cb(null, name === "Produce" ? produceV11 : other);
    },
  };
  const untouched = { [platformatic.kGetApi]: producer[platformatic.kGetApi] };
  const tap = new ProduceTap(producer);
  let got: unknown;
  producer[platformatic.kGetApi]("Fetch", (_e, api) => (got = api));
  assert.equal(got, other);
  let produce: ((...a: unknown[]) => void) & { version?: number } = () => {};
  producer[platformatic.kGetApi]("Produce", (_e, api) => (produce = api as typeof produce));
  assert.notEqual(produce, produceV11);
  assert.equal(produce.version, 11);
  let again: unknown;
  producer[platformatic.kGetApi]("Produce", (_e, api) => (again = api));
  assert.equal(again, produce, "one wrapper per API");
  const m = (): ProduceMessage => ({ topic: "t", partition: 1, value: b("v"), timestamp: 5n });
  let done = 0;
  produce(connection, -1, 1000, [m()], {}, () => done++);
  const gzipped = [{ ...m(), timestamp: 5 }];
  produce(connection, -1, 1000, gzipped, { compression: "gzip" }, () => done++);
  assert.equal(done, 2);
  assert.equal(gzipped[0].timestamp, 5n, "a number timestamp is a bigint for platformatic's encoder");
  assert.equal(sent.length, 2);
  assert.ok(platformatic.Writer.isWriter(sent[0].payload));
  assert.deepEqual(
    (sent[0].payload as { buffer: Buffer }).buffer,
    theirs(11)(-1, 1000, [m()], {}).buffer,
  );
  assert.equal(sent[1].payload, "platformatic's payload");
  assert.equal((sent[0].parser as () => unknown)(), "parsed", "platformatic's parser parses");
  assert.deepEqual(tap.counts, { encoded: 1, fallback: 1, retries: 0 });
  let plain: unknown;
  untouched[platformatic.kGetApi]("Produce", (_e, api) => (plain = api));
  assert.equal(plain, produceV11, "another producer object is not wrapped");
});

test("ProduceTap: a retried request carries only the partitions the broker did not acknowledge", () => {
  type Parser = (...a: unknown[]) => unknown;
  const calls: { messages: ProduceMessage[]; payload: unknown; parser: Parser }[] = [];
  const produceV11 = Object.assign(
    (conn: { send: (...a: unknown[]) => void }, ...args: unknown[]) => {
      const cb = args.pop() as (e: unknown, r?: unknown) => void;
      const messages = args[2] as ProduceMessage[];
      // platformatic's parser: here it throws what it is given (a failed response's ResponseError)
      const parse = (e: unknown) => {
        throw e;
      };
      conn.send(0, 11, () => "theirs", parse, true, true, (e: unknown, r?: unknown) => cb(e, r));
      calls[calls.length - 1].messages = messages;
    },
    { key: 0, version: 11 },
  );
  const connection = {
    send(
      _k: number,
      _v: number,
      create: () => unknown,
      parser: Parser,
      _a: boolean,
      _b: boolean,
      cb: () => void,
    ) {
      calls.push({ messages: [], payload: create(), parser });
      cb();
    },
  };
  const { tap, produce } = tapped(produceV11);
  const m = (topic: string, partition: number, v: string): ProduceMessage => ({
    topic,
    partition,
    value: b(v),
    timestamp: 5n,
  });
  // one request to one leader: a[0], a[1] and b[0]; the broker writes a[0] and b[0], a[1] is not led here
  const all = [m("a", 0, "1"), m("a", 1, "2"), m("b", 0, "3"), m("a", 0, "4")];
  const response = (parts: [string, number, number][]) => ({
    responses: ["a", "b"].map((name) => ({
      name,
      partitionResponses: parts.filter(([t]) => t === name).map(([, index, errorCode]) => ({
        index,
        errorCode,
        recordErrors: [],
      })),
    })),
  });
  const failed = Object.assign(new Error("Received response with error while executing API Produce(v11)"), {
    response: response([["a", 0, 0], ["a", 1, 6], ["b", 0, 0]]),
  });
  produce(connection, -1, 1000, all, {}, () => {});
  assert.throws(() => calls[0].parser(failed), /Received response with error/);
  // platformatic's retry: the same array again; only a[1] goes out
  produce(connection, -1, 1000, all, {}, () => {});
  assert.deepEqual(
    calls[1].messages.map((x) =>
      `${x.topic}:${x.partition}:${new TextDecoder().decode(x.value as Uint8Array)}`
    ),
    [
      "a:1:2",
    ],
  );
  assert.deepEqual(
    (calls[1].payload as { buffer: Buffer }).buffer,
    theirs(11)(-1, 1000, [m("a", 1, "2")], {}).buffer,
    "the retried request's bytes hold a[1] only",
  );
  // a retry that fails as a whole (no response) keeps what was acknowledged before
  assert.throws(() => calls[1].parser(new Error("timeout")), /timeout/);
  produce(connection, -1, 1000, all, {}, () => {});
  assert.deepEqual(calls[2].messages.map((x) => `${x.topic}:${x.partition}`), ["a:1"]);
  // another request (another array) is sent whole
  const other = [m("a", 0, "5"), m("a", 1, "6")];
  produce(connection, -1, 1000, other, {}, () => {});
  assert.equal(calls[3].messages, other);
  assert.deepEqual(tap.counts, { encoded: 4, fallback: 0, retries: 2 });
});

/** Engine outputs: envelopes with trace fields, some with forwarded headers (kept, replaced, others). */
function engineOutputs(n: number): EncodedRecord[] {
  const codec = compileSchema(v.object({ n: v.number(), s: v.string() }));
  const out: EncodedRecord[] = [];
  for (let i = 0; i < n; i++) {
    const spans = new Int32Array(8);
    const value = encodeEnvelope(
      {
        messageType: "t",
        messageVersion: 1,
        traceId: `trace-${i}`,
        parentTraceId: i % 3 === 0 ? null : `parent-${i}`,
        correlationId: i % 4 === 0 ? null : `corr-é-${i % 5}`,
        causationId: `m-${i}`,
        producedAtMs: 1_700_000_000_000 + i,
      },
      { n: i, s: "x".repeat(i % 50) },
      codec,
      spans,
    ).slice();
    const forwarded: Record<string, Uint8Array> = i % 2 === 0 ? {} : {
      "x-app": b(`app-${i}`),
      "x-trace-id": b("trace-old"),
      "x-correlation-id": b(`corr-é-${i % 5}`),
    };
    out.push(
      new EncodedRecord(i % 3 === 0 ? null : b(`k-${i}`), value, forwarded, spans, 1_700_000_000_000 + i),
    );
  }
  return out;
}

/** The messages the adapter's producer hands platformatic for these outputs: the record as the value. */
const fast = (rs: readonly EncodedRecord[]): ProduceMessage[] =>
  rs.map((r, i) => ({ topic: "t", partition: i % 3, key: r.key, value: r, timestamp: r.timestampMs! }));
/** The same records as plain messages: the envelope as the value, `headers` as a Map of Buffers. */
const plain = (rs: readonly EncodedRecord[]): ProduceMessage[] =>
  rs.map((r, i) => ({
    topic: "t",
    partition: i % 3,
    key: r.key,
    value: r.value,
    headers: new Map(Object.entries(r.headers).map(([k, h]) => [b(k), h])),
    timestamp: BigInt(r.timestampMs!),
  }));

test("produce requests: engine outputs are written straight from their envelopes, the same bytes as with their headers", () => {
  const rs = engineOutputs(60);
  for (const version of [3, 8, 9, 11]) {
    const expected = theirs(version)(-1, 30_000, plain(rs), OPTIONS[1][1]);
    const ours = encodeProduceRequest(version, -1, 30_000, fast(rs), OPTIONS[1][1]);
    assert.ok(ours !== null);
    assert.deepEqual(ours.buffer, expected.buffer, `v${version}`);
  }
});

/**
 * Sends `messages` through a tapped produce v11 API with gzip (which the adapter's encoder leaves to
 * platformatic's): checks that platformatic's encoder built the request, and returns that request.
 */
function viaTheirEncoder(messages: ProduceMessage[]): unknown {
  let payload: unknown;
  const produceV11 = Object.assign(
    (conn: { send: (...a: unknown[]) => void }, ...args: unknown[]) => {
      const cb = args.pop() as () => void;
      conn.send(0, 11, () => "platformatic's payload", () => "parsed", true, true, cb);
    },
    { key: 0, version: 11 },
  );
  const { tap, produce } = tapped(produceV11);
  const connection = {
    send: (
      _k: number,
      _v: number,
      create: () => unknown,
      _p: unknown,
      _a: boolean,
      _b: boolean,
      cb: () => void,
    ) => {
      payload = create();
      cb();
    },
  };
  produce(connection, -1, 1000, messages, { compression: "gzip" }, () => {});
  assert.deepEqual(tap.counts, { encoded: 0, fallback: 1, retries: 0 });
  return payload;
}

/** The same outputs as the adapter's producer hands them over in runs: one message per partition. */
const runs = (rs: readonly EncodedRecord[]): ProduceMessage[] =>
  [0, 1, 2].map((p) => ({
    topic: "t",
    partition: p,
    value: new RecordRun(rs.filter((_, i) => i % 3 === p)),
  }));

test("produce requests: runs of engine outputs, one message per partition, write the same bytes", () => {
  const rs = engineOutputs(60);
  for (const version of [3, 8, 9, 11]) {
    const expected = theirs(version)(-1, 30_000, plain(rs), OPTIONS[1][1]);
    const ours = encodeProduceRequest(version, -1, 30_000, runs(rs), OPTIONS[1][1]);
    assert.ok(ours !== null);
    assert.deepEqual(ours.buffer, expected.buffer, `v${version}`);
  }
});

test("ProduceTap: runs become one plain message per record before a request goes to platformatic's encoder", () => {
  const rs = engineOutputs(7);
  const messages = runs(rs);
  assert.equal(viaTheirEncoder(messages), "platformatic's payload");
  // the same array, now record by record in partition order (0, 3, 6 | 1, 4 | 2, 5)
  const order = [0, 3, 6, 1, 4, 2, 5];
  assert.equal(messages.length, 7);
  for (let j = 0; j < order.length; j++) {
    const r = rs[order[j]];
    assert.equal(messages[j].partition, order[j] % 3);
    assert.equal(messages[j].value, r.value);
    assert.equal(messages[j].key, r.key ?? undefined);
    assert.equal(messages[j].timestamp, BigInt(r.timestampMs!));
    assert.deepEqual(
      [...messages[j].headers!].map(([k, h]) => [Buffer.from(k).toString(), Buffer.from(h).toString()]),
      Object.entries(r.headers).map(([k, h]) => [k, Buffer.from(h).toString()]),
    );
  }
});

test("ProduceTap: engine outputs become plain messages before a request goes to platformatic's encoder", () => {
  const rs = engineOutputs(7);
  const messages = fast(rs);
  assert.equal(viaTheirEncoder(messages), "platformatic's payload");
  const expected = plain(rs);
  for (let i = 0; i < rs.length; i++) {
    assert.equal(messages[i].value, rs[i].value);
    assert.deepEqual(
      [...messages[i].headers!].map(([k, h]) => [Buffer.from(k).toString(), Buffer.from(h).toString()]),
      [...expected[i].headers!].map(([k, h]) => [k.toString(), Buffer.from(h).toString()]),
    );
    assert.equal(messages[i].timestamp, expected[i].timestamp);
  }
});
