import { test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { FETCH_VERSIONS, FetchParseTap, parseFetchResponse, readBatches } from "./_fetch_records.ts";
import { HeaderNames } from "./_header_names.ts";
import { PartitionQueues } from "./_partition_queues.ts";
import type { FetchedBatch } from "./_fetch_tap.ts";
import type { SourceRecord } from "../../streaming/_transport.ts";
import * as platformatic from "@platformatic/kafka";

type Parse = (correlationId: number, apiKey: number, version: number, reader: unknown) => unknown;
const theirs = (version: number): Parse =>
  (platformatic as unknown as Record<string, { parseResponse: Parse }>)[`fetchV${version}`].parseResponse;
type W = InstanceType<typeof platformatic.Writer>;

const b = (s: string): Buffer => Buffer.from(s, "utf8");

/** Record batches as a producer writes them (platformatic's own encoder), optionally compressed. */
function batch(first: number, n: number, compression?: string): Buffer {
  const messages = Array.from({ length: n }, (_, i) => {
    const j = first + i;
    const headers = new Map<Buffer, Buffer>();
    if (j % 3 !== 0) headers.set(b("x-trace-id"), b(`t${j}`)).set(b("x-é"), Buffer.alloc(0));
    return {
      topic: "t",
      partition: 0,
      key: j % 4 === 0 ? undefined : b(`k${j}`),
      value: j % 5 === 0 ? Buffer.alloc(0) : b(`v${j}-${"x".repeat(j % 300)}`),
      headers,
      timestamp: BigInt(1_700_000_000_000 + ((j * 7919) % 10_000) - 5_000),
    };
  });
  const w = platformatic.createRecordsBatch(messages as never, { compression } as never) as unknown as W;
  return w.buffer;
}

/** A fetch v13+ response body: 2 topics; partitions with data, none (null), empty, aborted transactions. */
function response(version: number, partitionError = 0): Buffer {
  const w = platformatic.Writer.create();
  w.appendInt32(7).appendInt16(0).appendInt32(42);
  const topics: [
    string,
    { records: Buffer | null | "empty"; aborted?: [bigint, bigint][]; error?: number }[],
  ][] = [
    ["0b2f7a4e-8c1d-4e5f-9a6b-1c2d3e4f5a6b", [
      { records: Buffer.concat([batch(0, 40), batch(40, 25), batch(65, 30, "gzip")]) },
      { records: null, aborted: [[5n, 100n], [6n, 200n]] },
      { records: "empty", error: partitionError },
    ]],
    ["9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a", [{ records: batch(1000, 200) }]],
  ];
  w.appendUnsignedVarInt(topics.length + 1);
  for (const [id, partitions] of topics) {
    w.appendUUID(id);
    w.appendUnsignedVarInt(partitions.length + 1);
    partitions.forEach((p, i) => {
      w.appendInt32(i).appendInt16(p.error ?? 0).appendInt64(1234n).appendInt64(1200n).appendInt64(3n);
      if (p.aborted === undefined) w.appendUnsignedVarInt(0);
      else {
        w.appendUnsignedVarInt(p.aborted.length + 1);
        for (const [pid, off] of p.aborted) w.appendInt64(pid).appendInt64(off).appendTaggedFields();
      }
      w.appendInt32(-1);
      if (p.records === null) w.appendUnsignedVarInt(0);
      else if (p.records === "empty") w.appendUnsignedVarInt(1);
      else w.appendUnsignedVarInt(p.records.length + 1).append(p.records);
      w.appendTaggedFields();
    });
    w.appendTaggedFields();
  }
  w.appendTaggedFields();
  void version;
  return w.buffer;
}

/** The records in one shape: their Buffers and bigint deltas, our views and number deltas. */
// deno-lint-ignore no-explicit-any
const normalise = (x: any): unknown =>
  JSON.parse(
    JSON.stringify(x, (_k, v) => {
      if (typeof v === "bigint") return `${v}n`;
      if (v instanceof Uint8Array) return `bytes:${Buffer.from(v).toString("hex")}`;
      if (v && typeof v === "object" && v.type === "Buffer" && Array.isArray(v.data)) {
        return `bytes:${Buffer.from(v.data).toString("hex")}`;
      }
      return v;
    }),
    (k, v) => (k === "timestampDelta" ? Number(String(v).replace(/n$/, "")) : v),
  );

/** What partition queues hold after each data batch of a response was pushed to fresh ones (in order). */
async function queued(response: unknown): Promise<SourceRecord[]> {
  const out: SourceRecord[] = [];
  // deno-lint-ignore no-explicit-any
  const topics = (response as any).responses as { topicId: string; partitions: any[] }[];
  for (const t of topics) {
    for (const p of t.partitions) {
      for (const b of (p.records ?? []) as FetchedBatch[]) {
        if ((b.attributes & (1 << 5)) !== 0) continue;
        // fresh queues per batch: the test batches all start at offset 0 (a producer's batches do)
        const queues = new PartitionQueues(1e12, 1e12, () => {}, (_tp, records) => {
          out.push(...records);
          return Promise.resolve();
        }, () => true);
        queues.assign([{ topic: t.topicId, partition: p.partitionIndex }]);
        queues.pushBatch(t.topicId, p.partitionIndex, b);
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
    }
  }
  return out;
}

/** The response without its records (the structure around them). */
// deno-lint-ignore no-explicit-any
const structure = (x: any): unknown =>
  normalise({
    ...x,
    // deno-lint-ignore no-explicit-any
    responses: x.responses.map((t: any) => ({
      ...t,
      // deno-lint-ignore no-explicit-any
      partitions: t.partitions.map((p: any) => ({
        ...p,
        // deno-lint-ignore no-explicit-any
        records: p.records?.map((b: any) => ({ ...b, records: undefined, ready: undefined })) ?? p.records,
      })),
    })),
  });

test("fetch responses v13–v17: the same structure as platformatic's parser, the same records queued", async () => {
  for (let version = FETCH_VERSIONS.min; version <= FETCH_VERSIONS.max; version++) {
    const body = response(version);
    const expected = theirs(version)(1, 1, version, platformatic.Reader.from(body));
    const ours = parseFetchResponse(1, version, platformatic.Reader.from(body));
    assert.deepEqual(structure(ours), structure(expected), `v${version}`);
    const mine = await queued(ours);
    assert.equal(mine.length, 40 + 25 + 30 + 200);
    assert.deepEqual(normalise(mine), normalise(await queued(expected)), `v${version}: queued records`);
    // deno-lint-ignore no-explicit-any
    const p0 = (ours as any).responses[0].partitions[0];
    assert.equal(p0.records.length, 3);
    assert.equal(p0.records[0].ready.length, 40);
    assert.equal(p0.records[0].records.length, 0, "ready for the queues: no intermediate records");
    assert.equal(p0.records[2].records.length, 30, "the gzip batch, read by platformatic");
    assert.equal(p0.records[0].ready[1].key.constructor, Uint8Array, "plain views");
    assert.equal(mine[1].headers["x-trace-id"].constructor, Uint8Array);
    assert.deepEqual(Object.keys(mine[1].headers), ["x-trace-id", "x-é"]);
    assert.deepEqual(Object.keys(mine[0].headers), []);
    assert.equal(mine[294].topic, "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a");
  }
});

test("fetch responses: a partition error throws platformatic's ResponseError, with the same paths", () => {
  for (const version of [13, 17]) {
    const body = response(version, 6);
    const errorOf = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e as platformatic.ResponseError;
      }
      assert.fail("no error");
    };
    const expected = errorOf(() => theirs(version)(1, 1, version, platformatic.Reader.from(body)));
    const ours = errorOf(() => parseFetchResponse(1, version, platformatic.Reader.from(body)));
    assert.ok(ours instanceof platformatic.ResponseError);
    assert.equal(ours.message, expected.message);
    assert.deepEqual(Object.keys(ours.errors ?? {}), Object.keys(expected.errors ?? {}));
  }
});

test("fetch responses: a record batch that overruns its length is an error, not a silent misread", () => {
  const good = batch(0, 3);
  const bad = Buffer.from(good);
  bad.writeInt32BE(good.readInt32BE(8) - 20, 8); // the batch claims 20 bytes fewer than its records take
  const w = platformatic.Writer.create();
  w.appendInt32(0).appendInt16(0).appendInt32(0).appendUnsignedVarInt(2).appendUUID(
    "0b2f7a4e-8c1d-4e5f-9a6b-1c2d3e4f5a6b",
  );
  w.appendUnsignedVarInt(2).appendInt32(0).appendInt16(0).appendInt64(0n).appendInt64(0n).appendInt64(0n);
  w.appendUnsignedVarInt(0).appendInt32(-1).appendUnsignedVarInt(bad.length + 1).append(bad)
    .appendTaggedFields();
  w.appendTaggedFields().appendTaggedFields();
  assert.throws(() => parseFetchResponse(1, 17, platformatic.Reader.from(w.buffer)), /overran/);
});

test("fetch responses: a header name or a value cut short by the batch's own length is an error", () => {
  // the batch's length field is made to end inside a record field, as a corrupt response would: the
  // parser must throw, not read past the batch into whatever follows
  const whole = batch(1, 1); // record 1 carries the header x-trace-id
  for (
    const [field, at] of [["header name", whole.indexOf("x-trace-id") + 3], [
      "value",
      whole.indexOf("v1-") + 2,
    ]]
  ) {
    const cut = Buffer.from(whole.subarray(0, at as number));
    cut.writeInt32BE(cut.length - 12, 8);
    assert.throws(
      () => readBatches(cut, 0, new HeaderNames()),
      /a record field runs past the response/,
      `${field} cut short`,
    );
  }
  assert.equal(readBatches(whole, 0, new HeaderNames())[0].ready?.length, 1); // the whole batch reads
});

test("FetchParseTap: this consumer's Fetch v13–v17 responses go to the adapter's parser, others to platformatic's", async () => {
  const parsers: unknown[] = [];
  const connection = {
    send(
      _k: number,
      _v: number,
      _c: () => unknown,
      parser: unknown,
      _a: boolean,
      _b: boolean,
      cb: () => void,
    ) {
      parsers.push(parser);
      cb();
    },
  };
  const theirsParser = () => "platformatic's response";
  const fetchApi = (version: number) =>
    Object.assign((conn: typeof connection, ...args: unknown[]) => {
      conn.send(1, version, () => "payload", theirsParser, true, true, args.pop() as () => void);
    }, { key: 1, version });
  let version = 17;
  const consumer = {
    [platformatic.kGetApi](name: string, cb: (e: unknown, api?: unknown) => void) {
      cb(null, name === "Fetch" ? fetchApi(version) : "other");
    },
  };
  const tap = new FetchParseTap(consumer);
  const call = () => {
    let api: (...a: unknown[]) => void = () => {};
    consumer[platformatic.kGetApi]("Fetch", (_e, a) => (api = a as typeof api));
    let done = 0;
    api(connection, { topics: [] }, () => done++);
    assert.equal(done, 1);
    return parsers.at(-1) as (...a: unknown[]) => unknown;
  };
  const ours = call();
  assert.notEqual(ours, theirsParser);
  const body = response(17);
  const mine = ours(1, 1, 17, platformatic.Reader.from(body));
  const expected = theirs(17)(1, 1, 17, platformatic.Reader.from(body));
  assert.deepEqual(structure(mine), structure(expected));
  assert.deepEqual(normalise(await queued(mine)), normalise(await queued(expected)));
  assert.deepEqual(tap.counts, { parsed: 1, fallback: 0 });
  version = 12;
  assert.equal(call(), theirsParser, "fetch v12 (topic names) keeps platformatic's parser");
  let other: unknown;
  consumer[platformatic.kGetApi]("Metadata", (_e, a) => (other = a));
  assert.equal(other, "other");
});
