import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Partitioners } from "kafkajs";
import { murmur2, partitionForKey, toPositive } from "./_murmur2.ts";

const utf8 = new TextEncoder();

/** Small seeded PRNG (mulberry32) so the oracle comparison is reproducible. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random strings mixing ASCII, 2-, 3- and 4-byte UTF-8 characters (so bytes >= 0x80 are covered). */
function randomKeys(count: number, seed: number): string[] {
  const rnd = prng(seed);
  const pools: [number, number][] = [[0x20, 0x7e], [0x00, 0x7f], [0x80, 0x7ff], [0x800, 0xd7ff], [
    0x10000,
    0x10ffff,
  ]];
  const keys: string[] = [];
  for (let n = 0; n < count; n++) {
    const len = Math.floor(rnd() * 40);
    let s = "";
    for (let i = 0; i < len; i++) {
      const [lo, hi] = pools[rnd() < 0.6 ? 0 : Math.floor(rnd() * pools.length)];
      s += String.fromCodePoint(lo + Math.floor(rnd() * (hi - lo + 1)));
    }
    keys.push(s);
  }
  return keys;
}

describe("murmur2", () => {
  test("matches the Java client's golden vectors (Kafka UtilsTest.testMurmur2)", () => {
    const vectors: [string, number][] = [
      ["21", -973932308],
      ["foobar", -790332482],
      ["a-little-bit-long-string", -985981536],
      ["a-little-bit-longer-string", -1486304829],
      ["lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971],
      ["abc", 479470107],
    ];
    for (const [input, expected] of vectors) {
      assert.equal(murmur2(utf8.encode(input)), expected, `murmur2(${JSON.stringify(input)})`);
    }
  });

  test("matches librdkafka's murmur2 vectors, including every tail length", () => {
    const vectors: [string, number][] = [
      ["kafka", 0xd067cf64],
      ["giberish123456789", 0x8f552b0c],
      ["1234", 0x9fc97b14],
      ["234", 0xe7c009ca],
      ["34", 0x873930da],
      ["4", 0x5a4b5ca1],
      ["PreAmbleWillBeRemoved,ThePrePartThatIs", 0x78424f1c],
    ];
    for (const [input, expected] of vectors) {
      assert.equal(murmur2(utf8.encode(input)) >>> 0, expected, `murmur2(${JSON.stringify(input)})`);
    }
  });

  test("hashes the empty key and respects subarray views", () => {
    assert.equal(murmur2(new Uint8Array(0)), 275646681);
    const buf = utf8.encode("xx1234yy");
    assert.equal(murmur2(buf.subarray(2, 6)), murmur2(utf8.encode("1234")));
  });

  test("returns a signed 32-bit integer", () => {
    for (const key of randomKeys(200, 7)) {
      const h = murmur2(utf8.encode(key));
      assert.ok(Number.isInteger(h) && h >= -0x80000000 && h <= 0x7fffffff);
    }
  });
});

describe("toPositive", () => {
  test("clears the sign bit instead of negating", () => {
    assert.equal(toPositive(-1), 0x7fffffff);
    assert.equal(toPositive(-0x80000000), 0);
    assert.equal(toPositive(5), 5);
    assert.equal(toPositive(-973932308), 1173551340);
  });
});

describe("partitionForKey", () => {
  test("computes toPositive(murmur2(key)) % n", () => {
    // toPositive(-973932308) = 1173551340
    assert.equal(partitionForKey(utf8.encode("21"), 12), 1173551340 % 12);
    assert.equal(partitionForKey(utf8.encode("21"), 12), 0);
    assert.equal(partitionForKey(utf8.encode("foobar"), 7), (-790332482 & 0x7fffffff) % 7);
    assert.equal(partitionForKey(utf8.encode("abc"), 1), 0);
  });

  test("rejects invalid partition counts", () => {
    for (const n of [0, -1, 1.5, Number.NaN, Infinity]) {
      assert.throws(() => partitionForKey(utf8.encode("k"), n), {
        name: "RangeError",
        message: /numPartitions must be a positive integer/,
      });
    }
  });

  test("agrees with kafkajs Partitioners.DefaultPartitioner on 1000 seeded keys x 1..12 partitions", () => {
    const keys = randomKeys(1000, 20240601);
    let compared = 0;
    for (let n = 1; n <= 12; n++) {
      const partitioner = Partitioners.DefaultPartitioner();
      const partitionMetadata = Array.from({ length: n }, (_, id) => ({
        partitionErrorCode: 0,
        partitionId: id,
        leader: 0,
        replicas: [0],
        isr: [0],
      }));
      for (const key of keys) {
        const expected = partitioner({ topic: "t", partitionMetadata, message: { key, value: null } });
        const actual = partitionForKey(utf8.encode(key), n);
        if (actual !== expected) {
          assert.fail(`key ${JSON.stringify(key)} over ${n} partitions: ours ${actual}, kafkajs ${expected}`);
        }
        compared++;
      }
    }
    assert.equal(compared, 12_000);
  });
});
