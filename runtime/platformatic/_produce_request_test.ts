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
import * as platformatic from "@platformatic/kafka";

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
      conn.send(0, 11, () => "platformatic's payload", "parser", true, true, cb);
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
  assert.equal(sent[0].parser, "parser");
  assert.deepEqual(tap.counts, { encoded: 1, fallback: 1 });
  let plain: unknown;
  untouched[platformatic.kGetApi]("Produce", (_e, api) => (plain = api));
  assert.equal(plain, produceV11, "another producer object is not wrapped");
});
