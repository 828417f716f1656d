import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { VirtualClock } from "../streaming/_clock.ts";
import type { OutgoingRecord } from "../streaming/_transport.ts";
import { InMemoryBroker, InMemoryBrokerError, SimulatedBrokerError } from "./_broker.ts";

const utf8 = new TextEncoder();
const b = (...bytes: number[]): Uint8Array => new Uint8Array(bytes);

function rec(
  key: string | null,
  value: number[] | string,
  extra: Partial<OutgoingRecord> = {},
): OutgoingRecord {
  return {
    key: key === null ? null : utf8.encode(key),
    value: typeof value === "string" ? utf8.encode(value) : new Uint8Array(value),
    headers: {},
    timestampMs: null,
    ...extra,
  };
}

function brokerError(message: string | RegExp): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof InMemoryBrokerError, `expected InMemoryBrokerError, got ${String(e)}`);
    if (typeof message === "string") assert.equal(e.message, message);
    else assert.match(e.message, message);
    return true;
  };
}

describe("InMemoryBroker topics", () => {
  test("creates topics idempotently and lists them sorted", () => {
    const broker = new InMemoryBroker();
    broker.createTopic("orders", { partitions: 3 });
    broker.createTopic("audit");
    broker.createTopic("orders", { partitions: 3 });
    assert.deepEqual(broker.topics(), ["audit", "orders"]);
    assert.equal(broker.partitions("orders"), 3);
    assert.equal(broker.partitions("audit"), 1);
    assert.equal(broker.hasTopic("orders"), true);
    assert.equal(broker.hasTopic("nope"), false);
  });

  test("refuses to recreate a topic with another partition count", () => {
    const broker = new InMemoryBroker();
    broker.createTopic("orders", { partitions: 3 });
    assert.throws(
      () => broker.createTopic("orders", { partitions: 4 }),
      brokerError(
        'createTopic("orders"): the topic already exists with 3 partition(s), not 4; create it once, before ' +
          "producing to it",
      ),
    );
    assert.throws(
      () => broker.createTopic("orders"),
      brokerError(/already exists with 3 partition\(s\), not 1/),
    );
  });

  test("validates names and partition counts", () => {
    const broker = new InMemoryBroker();
    assert.throws(
      () => broker.createTopic("bad name"),
      brokerError(
        'createTopic: invalid topic name "bad name"; Kafka topic names are 1-249 characters of a-z A-Z 0-9 . _ - ' +
          '(and not "." or "..")',
      ),
    );
    assert.throws(() => broker.createTopic(""), brokerError(/invalid topic name ""/));
    assert.throws(() => broker.createTopic("x".repeat(250)), brokerError(/invalid topic name/));
    assert.throws(
      () => broker.createTopic("t", { partitions: 0 }),
      brokerError('createTopic("t"): partitions must be a positive integer, got 0'),
    );
    assert.throws(() => new InMemoryBroker({ defaultPartitions: 1.5 }), brokerError(/defaultPartitions/));
    assert.deepEqual(broker.topics(), []);
  });

  test("auto-creates on produce with the default partition count, unless disabled", () => {
    const broker = new InMemoryBroker({ defaultPartitions: 4 });
    broker.produce("events", []);
    assert.equal(broker.partitions("events"), 4);

    const strict = new InMemoryBroker({ autoCreateTopics: false });
    strict.createTopic("known");
    assert.throws(
      () => strict.produce("typo", [rec(null, [1])]),
      brokerError(
        'produce (autoCreateTopics is off): unknown topic "typo" (known: "known"); create it with ' +
          "createTopic(name, { partitions }) or produce to it first",
      ),
    );
    assert.throws(
      () => strict.append({ topic: "typo", key: null, value: null }),
      brokerError(/unknown topic/),
    );
    assert.deepEqual(strict.topics(), ["known"]);
  });

  test("reports unknown topics and partitions on reads", () => {
    const broker = new InMemoryBroker();
    assert.throws(
      () => broker.fetch("missing", 0, 0, 10),
      brokerError(
        'fetch: unknown topic "missing" (known: none); create it with createTopic(name, { partitions }) or ' +
          "produce to it first",
      ),
    );
    assert.throws(() => broker.partitions("missing"), brokerError(/^partitions: unknown topic "missing"/));
    assert.throws(() => broker.records("missing"), brokerError(/^records: unknown topic/));
    broker.createTopic("t", { partitions: 2 });
    assert.throws(
      () => broker.endOffset("t", 2),
      brokerError(
        'endOffset: partition 2 is out of range for topic "t" with 2 partition(s) (valid: 0..1); create the ' +
          "topic with more partitions via createTopic(name, { partitions }) before producing",
      ),
    );
  });
});

describe("InMemoryBroker.produce", () => {
  test("places keyed records like the Java partitioner and numbers offsets per partition", () => {
    const broker = new InMemoryBroker();
    broker.createTopic("orders", { partitions: 3 });
    // toPositive(murmur2) % 3 from Kafka's vectors: "foobar" -> 0, "a-little-bit-long-string" -> 2
    const stored = broker.produce("orders", [
      rec("foobar", [1]),
      rec("a-little-bit-long-string", [2]),
      rec("foobar", [3]),
      rec("k1", [4]),
      rec("k2", [5]),
      rec("k3", [6]),
    ]);
    assert.deepEqual(stored.map((r) => [r.partition, r.offset]), [[0, 0], [2, 0], [0, 1], [2, 1], [0, 2], [
      1,
      0,
    ]]);
    assert.equal(broker.endOffset("orders", 0), 3);
    assert.equal(broker.endOffset("orders", 1), 1);
    assert.equal(broker.endOffset("orders", 2), 2);
    // an empty key is a key (hashed), not a null key
    const [empty] = broker.produce("orders", [rec("", [9])]);
    assert.equal(empty.partition, 275646681 % 3);
  });

  test("spreads null keys round-robin per topic from partition 0, across calls", () => {
    const broker = new InMemoryBroker();
    broker.createTopic("a", { partitions: 3 });
    broker.createTopic("b", { partitions: 2 });
    const first = broker.produce("a", [rec(null, [1]), rec(null, [2])]);
    const other = broker.produce("b", [rec(null, [1])]);
    const second = broker.produce("a", [rec("k1", [3]), rec(null, [4]), rec(null, [5])]);
    assert.deepEqual(first.map((r) => r.partition), [0, 1]);
    assert.deepEqual(other.map((r) => r.partition), [0]);
    assert.deepEqual(second.map((r) => r.partition), [2, 2, 0]);
    assert.deepEqual(second.map((r) => r.offset), [0, 1, 1]);
  });

  test("lets an explicit partition win and range-checks it without appending anything", () => {
    const broker = new InMemoryBroker();
    broker.createTopic("orders", { partitions: 2 });
    const [r] = broker.produce("orders", [rec("foobar", [1], { partition: 1 })]);
    assert.equal(r.partition, 1);
    assert.throws(
      () => broker.produce("orders", [rec(null, [1]), rec(null, [2], { partition: 5 })]),
      brokerError(
        'produce("orders") record #1: partition 5 is out of range for topic "orders" with 2 partition(s) ' +
          "(valid: 0..1); create the topic with more partitions via createTopic(name, { partitions }) before " +
          "producing",
      ),
    );
    assert.equal(broker.records("orders").length, 1);
    // the failed call did not consume a round-robin slot
    assert.equal(broker.produce("orders", [rec(null, [3])])[0].partition, 0);
  });

  test("stamps records with the given timestamp or the clock's time", async () => {
    const clock = new VirtualClock(1_000);
    const broker = new InMemoryBroker({ clock });
    assert.equal(broker.clock, clock);
    const [a, b2] = broker.produce("t", [rec(null, [1]), rec(null, [2], { timestampMs: 42 })]);
    await clock.advance(250);
    const [c] = broker.produce("t", [rec(null, [3])]);
    assert.deepEqual([a.timestampMs, b2.timestampMs, c.timestampMs], [1_000, 42, 1_250]);
    assert.throws(
      () => broker.produce("t", [rec(null, [1], { timestampMs: 1.5 })]),
      brokerError(
        'produce("t") record #0: timestampMs must be a non-negative integer (ms since the epoch) or null, got 1.5',
      ),
    );
    assert.equal(new InMemoryBroker().produce("t", [rec(null, [1])])[0].timestampMs, 0);
  });

  test("stores copies of keys, values and headers", () => {
    const broker = new InMemoryBroker();
    const key = utf8.encode("k");
    const value = b(1, 2, 3);
    const header = utf8.encode("h");
    const [stored] = broker.produce("t", [{ key, value, headers: { h: header }, timestampMs: 1 }]);
    key[0] = 0;
    value[0] = 9;
    header[0] = 0;
    assert.deepEqual(stored.key, utf8.encode("k"));
    assert.deepEqual(stored.value, b(1, 2, 3));
    assert.deepEqual(stored.headers, { h: utf8.encode("h") });
    assert.ok(Object.isFrozen(stored));
    assert.deepEqual(broker.fetch("t", 0, 0, 1)[0], {
      topic: "t",
      partition: 0,
      offset: 0,
      key: utf8.encode("k"),
      value: b(1, 2, 3),
      headers: { h: utf8.encode("h") },
      timestampMs: 1,
    });
  });

  test("rejects non-byte values without appending", () => {
    const broker = new InMemoryBroker();
    const bad = { key: null, value: "text", headers: {}, timestampMs: null } as unknown as OutgoingRecord;
    assert.throws(
      () => broker.produce("t", [rec(null, [1]), bad]),
      brokerError('produce("t") record #1: value must be a Uint8Array (the encoded message)'),
    );
    const badHeader = { ...rec(null, [1]), headers: { h: "x" } } as unknown as OutgoingRecord;
    assert.throws(
      () => broker.produce("t", [rec(null, [1]), badHeader]),
      brokerError('produce("t") record #1: header "h" must be a Uint8Array'),
    );
    assert.equal(broker.records("t").length, 0);
  });

  test("producer() is a ProducerPort over produce", async () => {
    const broker = new InMemoryBroker();
    await broker.producer().send("out", [rec("k1", "v1"), rec("k2", "v2")]);
    assert.deepEqual(broker.records("out").map((r) => [r.offset, new TextDecoder().decode(r.value!)]), [
      [0, "v1"],
      [1, "v2"],
    ]);
    broker.failSends("out", 1);
    await assert.rejects(broker.producer().send("out", [rec(null, "v3")]), SimulatedBrokerError);
    assert.equal(broker.records("out").length, 2);
  });
});

describe("InMemoryBroker.append", () => {
  test("keeps given offsets (gaps allowed) and timestamps", () => {
    const clock = new VirtualClock(500);
    const broker = new InMemoryBroker({ clock });
    broker.createTopic("orders", { partitions: 2 });
    const a = broker.append({
      topic: "orders",
      partition: 1,
      offset: 10,
      key: null,
      value: b(1),
      timestampMs: 7,
    });
    const c = broker.append({ topic: "orders", partition: 1, offset: 15, key: null, value: null });
    const d = broker.append({
      topic: "orders",
      partition: 1,
      key: null,
      value: b(3),
      headers: { h: b(0xff) },
    });
    assert.deepEqual([a.offset, c.offset, d.offset], [10, 15, 16]);
    assert.deepEqual([a.timestampMs, c.timestampMs, d.timestampMs], [7, 500, 500]);
    assert.equal(c.value, null);
    assert.deepEqual(d.headers, { h: b(0xff) });
    assert.equal(broker.endOffset("orders", 1), 17);
    assert.equal(broker.endOffset("orders", 0), 0);
  });

  test("chooses the partition like produce when none is given", () => {
    const broker = new InMemoryBroker();
    broker.createTopic("orders", { partitions: 3 });
    const keyed = broker.append({
      topic: "orders",
      key: utf8.encode("a-little-bit-long-string"),
      value: b(1),
    });
    const rr = [1, 2, 3, 4].map((v) => broker.append({ topic: "orders", key: null, value: b(v) }).partition);
    assert.equal(keyed.partition, 2);
    assert.deepEqual(rr, [0, 1, 2, 0]);
  });

  test("refuses offsets going backwards, naming the partition and the fix", () => {
    const broker = new InMemoryBroker();
    broker.createTopic("orders", { partitions: 1 });
    broker.append({ topic: "orders", partition: 0, offset: 4, key: null, value: b(1) });
    assert.throws(
      () => broker.append({ topic: "orders", partition: 0, offset: 4, key: null, value: b(2) }),
      brokerError(
        'append("orders"): offset 4 of orders/0 is below the partition\'s next offset 5; offsets must ' +
          "increase within a partition (gaps are allowed) — sort the fixture by offset or drop the explicit " +
          "offsets",
      ),
    );
    assert.throws(
      () => broker.append({ topic: "orders", partition: 0, offset: -1, key: null, value: b(2) }),
      brokerError('append("orders"): offset must be a non-negative integer or null, got -1'),
    );
    assert.equal(broker.records("orders").length, 1);
  });

  test("auto-creates with the default partition count and range-checks the partition", () => {
    const broker = new InMemoryBroker();
    assert.throws(
      () => broker.append({ topic: "orders", partition: 3, key: null, value: b(1) }),
      brokerError(
        /^append\("orders"\): partition 3 is out of range for topic "orders" with 1 partition\(s\)/,
      ),
    );
  });
});

describe("InMemoryBroker.fetch", () => {
  test("reads from an offset, bounded by maxRecords, across gaps", () => {
    const broker = new InMemoryBroker();
    broker.createTopic("t", { partitions: 1 });
    for (const offset of [0, 1, 5, 6, 9]) {
      broker.append({ topic: "t", partition: 0, offset, key: null, value: b(offset), timestampMs: 0 });
    }
    const offsets = (from: number, max: number) => broker.fetch("t", 0, from, max).map((r) => r.offset);
    assert.deepEqual(offsets(0, 100), [0, 1, 5, 6, 9]);
    assert.deepEqual(offsets(2, 100), [5, 6, 9]);
    assert.deepEqual(offsets(5, 2), [5, 6]);
    assert.deepEqual(offsets(7, 100), [9]);
    assert.deepEqual(offsets(10, 100), []);
    assert.equal(broker.endOffset("t", 0), 10);
  });

  test("reads contiguous partitions by offset", () => {
    const broker = new InMemoryBroker();
    broker.produce("t", Array.from({ length: 10 }, (_, i) => rec(null, [i])));
    assert.deepEqual(broker.fetch("t", 0, 3, 4).map((r) => r.value![0]), [3, 4, 5, 6]);
    assert.deepEqual(broker.fetch("t", 0, 8, 4).map((r) => r.offset), [8, 9]);
    assert.deepEqual(broker.fetch("t", 0, 10, 4), []);
  });

  test("rejects offsets beyond the end and bad maxRecords", () => {
    const broker = new InMemoryBroker();
    broker.produce("t", [rec(null, [1])]);
    assert.throws(
      () => broker.fetch("t", 0, 2, 10),
      brokerError('fetch("t", 0): offset 2 is out of range (valid: 0..1, the end offset)'),
    );
    assert.throws(() => broker.fetch("t", 0, -1, 10), brokerError(/offset -1 is out of range/));
    assert.throws(
      () => broker.fetch("t", 0, 0, 0),
      brokerError('fetch("t", 0): maxRecords must be a positive integer, got 0'),
    );
  });

  test("records() lists all partitions in partition then offset order", () => {
    const broker = new InMemoryBroker();
    broker.createTopic("t", { partitions: 3 });
    broker.produce("t", [rec(null, [0]), rec(null, [1]), rec(null, [2]), rec(null, [3]), rec(null, [4])]);
    assert.deepEqual(broker.records("t").map((r) => [r.partition, r.offset, r.value![0]]), [
      [0, 0, 0],
      [0, 1, 3],
      [1, 0, 1],
      [1, 1, 4],
      [2, 0, 2],
    ]);
  });
});

describe("InMemoryBroker consumer groups", () => {
  test("records every commit with the clock time and allows rewinds", async () => {
    const clock = new VirtualClock(100);
    const broker = new InMemoryBroker({ clock });
    broker.createTopic("orders", { partitions: 2 });
    broker.commit("billing", [{ topic: "orders", partition: 0, offset: 3 }, {
      topic: "orders",
      partition: 1,
      offset: 1,
    }]);
    await clock.advance(50);
    broker.commit("billing", [{ topic: "orders", partition: 0, offset: 2 }]);
    assert.deepEqual(broker.commitLog("billing"), [
      { topic: "orders", partition: 0, offset: 3, atMs: 100 },
      { topic: "orders", partition: 1, offset: 1, atMs: 100 },
      { topic: "orders", partition: 0, offset: 2, atMs: 150 },
    ]);
    assert.equal(broker.committed("billing", "orders", 0), 2);
    assert.equal(broker.committed("billing", "orders", 1), 1);
    assert.equal(broker.committed("shipping", "orders", 0), null);
    assert.deepEqual(broker.commitLog("shipping"), []);
    assert.deepEqual(broker.groups(), ["billing"]);
  });

  test("commitLog returns a copy", () => {
    const broker = new InMemoryBroker();
    broker.createTopic("t");
    broker.commit("g", [{ topic: "t", partition: 0, offset: 1 }]);
    broker.commitLog("g").length = 0;
    assert.equal(broker.commitLog("g").length, 1);
  });

  test("validates every offset before committing any", () => {
    const broker = new InMemoryBroker();
    broker.createTopic("orders", { partitions: 1 });
    assert.throws(
      () =>
        broker.commit("g", [{ topic: "orders", partition: 0, offset: 1 }, {
          topic: "orders",
          partition: 1,
          offset: 1,
        }]),
      brokerError(/^commit\("g"\): partition 1 is out of range for topic "orders"/),
    );
    assert.throws(
      () => broker.commit("g", [{ topic: "orders", partition: 0, offset: -5 }]),
      brokerError('commit("g"): offset for orders/0 must be a non-negative integer, got -5'),
    );
    assert.throws(
      () => broker.commit("g", [{ topic: "nope", partition: 0, offset: 0 }]),
      brokerError(/unknown topic/),
    );
    assert.throws(() => broker.commit("", []), brokerError(/group must be a non-empty string/));
    assert.deepEqual(broker.commitLog("g"), []);
    assert.equal(broker.committed("g", "orders", 0), null);
  });
});

describe("InMemoryBroker fault injection", () => {
  test("failSends fails the next N produce calls without appending, then recovers", () => {
    const broker = new InMemoryBroker();
    broker.failSends("out", 2);
    assert.equal(broker.pendingFaults("send", "out"), 2);
    const messages: string[] = [];
    for (let i = 0; i < 2; i++) {
      assert.throws(() => broker.produce("out", [rec("k", [i])]), (e: unknown) => {
        assert.ok(e instanceof SimulatedBrokerError);
        assert.equal(e.operation, "send");
        assert.equal(e.target, "out");
        messages.push(e.message);
        return true;
      });
    }
    assert.deepEqual(messages, [
      'simulated send failure on topic "out" (injected by failSends; 1 more queued)',
      'simulated send failure on topic "out" (injected by failSends; 0 more queued)',
    ]);
    assert.equal(broker.pendingFaults("send", "out"), 0);
    assert.equal(broker.hasTopic("out"), false, "a failed send does not auto-create the topic");
    const [stored] = broker.produce("out", [rec("k", [7])]);
    assert.equal(stored.offset, 0);
    assert.equal(broker.records("out").length, 1);
  });

  test("faults are per topic and queue in order, with custom errors", () => {
    const broker = new InMemoryBroker();
    const boom = new Error("leader not available");
    broker.failSends("a", 1, boom);
    broker.failSends("a", 1);
    broker.failSends("a", 0);
    broker.produce("b", [rec(null, [1])]);
    assert.throws(() => broker.produce("a", [rec(null, [1])]), (e: unknown) => e === boom);
    assert.throws(() => broker.produce("a", [rec(null, [1])]), SimulatedBrokerError);
    broker.produce("a", [rec(null, [1])]);
    assert.equal(broker.records("a").length, 1);
    assert.throws(
      () => broker.failSends("a", -1),
      brokerError('failSends("a"): times must be a non-negative integer, got -1'),
    );
  });

  test("failFetches fails the next N fetches of a topic on any partition", () => {
    const broker = new InMemoryBroker();
    broker.createTopic("t", { partitions: 2 });
    broker.produce("t", [rec(null, [1]), rec(null, [2])]);
    broker.failFetches("t", 2);
    let failures = 0;
    for (const partition of [0, 1, 0]) {
      try {
        assert.equal(broker.fetch("t", partition, 0, 10).length, 1);
      } catch (e) {
        assert.ok(e instanceof SimulatedBrokerError);
        assert.equal(e.operation, "fetch");
        failures++;
      }
    }
    assert.equal(failures, 2);
    assert.equal(broker.pendingFaults("fetch", "t"), 0);
  });

  test("failCommits fails the next N commits of a group, committing nothing", () => {
    const broker = new InMemoryBroker();
    broker.createTopic("t");
    broker.failCommits("g", 1);
    assert.throws(
      () => broker.commit("g", [{ topic: "t", partition: 0, offset: 1 }]),
      (e: unknown) =>
        e instanceof SimulatedBrokerError && e.operation === "commit" &&
        e.message === 'simulated commit failure on group "g" (injected by failCommits; 0 more queued)',
    );
    assert.equal(broker.committed("g", "t", 0), null);
    broker.commit("other", [{ topic: "t", partition: 0, offset: 1 }]);
    broker.commit("g", [{ topic: "t", partition: 0, offset: 1 }]);
    assert.deepEqual(broker.commitLog("g"), [{ topic: "t", partition: 0, offset: 1, atMs: 0 }]);
  });
});

describe("InMemoryBroker.snapshot", () => {
  test("is a deterministic JSON-able view with base64 bytes and committed offsets", () => {
    const build = () => {
      const broker = new InMemoryBroker({ clock: new VirtualClock(10) });
      broker.createTopic("z", { partitions: 2 });
      broker.produce("z", [
        { key: utf8.encode("k1"), value: b(0xde, 0xad), headers: { h: utf8.encode("v") }, timestampMs: null },
      ]);
      broker.append({ topic: "a", key: null, value: null, timestampMs: 3 });
      broker.commit("g2", [{ topic: "z", partition: 1, offset: 1 }, { topic: "a", partition: 0, offset: 1 }]);
      broker.commit("g1", [{ topic: "z", partition: 0, offset: 0 }]);
      return broker.snapshot();
    };
    const snap = build();
    // "k1" over 2 partitions: toPositive(murmur2("k1")) % 2
    assert.deepEqual(snap, {
      topics: {
        a: [{
          partition: 0,
          endOffset: 1,
          records: [{ offset: 0, timestampMs: 3, key: null, headers: {}, value: null }],
        }],
        z: [
          { partition: 0, endOffset: 0, records: [] },
          {
            partition: 1,
            endOffset: 1,
            records: [{ offset: 0, timestampMs: 10, key: "azE=", headers: { h: "dg==" }, value: "3q0=" }],
          },
        ],
      },
      groups: {
        g1: [{ topic: "z", partition: 0, offset: 0 }],
        g2: [{ topic: "a", partition: 0, offset: 1 }, { topic: "z", partition: 1, offset: 1 }],
      },
    });
    assert.equal(JSON.stringify(build()), JSON.stringify(snap));
    assert.deepEqual(JSON.parse(JSON.stringify(snap)), snap);
  });
});
