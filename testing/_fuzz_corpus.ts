/**
 * A seeded corpus of good and bad source records for the reliability fuzz tests (simulator and real
 * broker): random bytes, truncated envelopes, wrong types, integers beyond 2^53, deep nesting, huge strings
 * and headers, tombstones, invalid UTF-8, failing steps. Each record says which fate it must get.
 *
 * @module
 */
import * as v from "valibot";
import { encodeSourceValue } from "../streaming/engine.ts";
import {
  ErrorRoute,
  FromTopic,
  IntoTopic,
  type Message,
  messageType,
  Process,
  RecordStep,
  StreamFlow,
} from "../mod.ts";

/** Payload type of the fuzzed flow (`extra` is schema-less: anything goes there). */
export const FuzzItem = messageType("fuzz.Item", v.object({ s: v.string(), extra: v.optional(v.unknown()) }));
type FuzzT = { s: string; extra?: unknown };

/**
 * The fuzzed flow: `s` starting with "fail" is a task error, starting with "grow" doubles; everything is
 * written to `out`.
 * Task and wire errors go to `errors`.
 */
export function fuzzFlow(topics: { input: string; out: string; errors: string }): StreamFlow<FuzzT> {
  return new StreamFlow<FuzzT>({
    name: "fuzz",
    source: new FromTopic(topics.input, FuzzItem),
    process: new Process(RecordStep.of((m: Message<FuzzT>) => {
      if (m.payload.s.startsWith("fail")) throw new Error(`step failed on ${m.payload.s.slice(0, 20)}`);
      if (m.payload.s.startsWith("grow")) return { s: m.payload.s + m.payload.s }; // an output twice the input
      return m.payload;
    }, { name: "work" })),
    output: new IntoTopic(topics.out),
    errors: new ErrorRoute(["task", "wire"], new IntoTopic(topics.errors)),
  });
}

/** The fate a fuzzed record must get. */
export type FuzzFate = "out" | "wire" | "task" | "unwritable";

/** One fuzzed record. */
export interface FuzzRecord {
  /** What it is (for messages). */
  readonly label: string;
  /** Its key (`k<index>`: unique, so fates can be matched). */
  readonly key: string;
  /** Its raw value (null: tombstone). */
  readonly value: Uint8Array | null;
  /** Its headers. */
  readonly headers: Record<string, string>;
  /** The fate it must get. */
  readonly fate: FuzzFate;
  /** For wire errors: a pattern the reason must match. */
  readonly reason?: RegExp;
}

/** A small seeded PRNG (mulberry32). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const enc = new TextEncoder();
const MARK = enc.encode("MARK");

/** An envelope of `{ s, extra: "MARK" }` whose `"MARK"` str is replaced by `bytes` (any msgpack value). */
function withRawExtra(s: string, bytes: Uint8Array): Uint8Array {
  const base = encodeSourceValue({ s, extra: "MARK" }, null, { messageType: FuzzItem.name, producedAtMs: 1 });
  for (let i = 0; i + 5 <= base.length; i++) {
    if (base[i] === 0xa4 && MARK.every((b, j) => base[i + 1 + j] === b)) {
      const out = new Uint8Array(base.length - 5 + bytes.length);
      out.set(base.subarray(0, i));
      out.set(bytes, i);
      out.set(base.subarray(i + 5), i + bytes.length);
      return out;
    }
  }
  throw new Error("marker not found");
}

/** `levels` nested arrays around a nil. */
function deepArrays(levels: number): Uint8Array {
  const b = new Uint8Array(levels + 1).fill(0x91);
  b[levels] = 0xc0;
  return b;
}

/**
 * Builds a corpus of `n` records from `seed`. Every input stays under Kafka's default 1 MiB limit; with
 * `hugeOutputs` (default) some make an output over it (`unwritable`).
 */
export function fuzzCorpus(seed: number, n: number, options: { hugeOutputs?: boolean } = {}): FuzzRecord[] {
  const rnd = prng(seed);
  const int = (k: number) => Math.floor(rnd() * k);
  const good = (i: number, payload: FuzzT) =>
    encodeSourceValue(payload, FuzzItem, { producedAtMs: 1, traceId: `t-${i}` });
  const out: FuzzRecord[] = [];
  const kinds = 13;
  for (let i = 0; i < n; i++) {
    const key = `k${i}`;
    const rec = (label: string, value: Uint8Array | null, fate: FuzzFate, reason?: RegExp, headers = {}) =>
      out.push({ label, key, value, headers, fate, reason });
    switch (int(kinds)) {
      case 0:
      case 1:
        rec("good", good(i, { s: `v${i}`, extra: { n: int(1000), list: [1, "a", null] } }), "out");
        break;
      case 2: {
        const bytes = new Uint8Array(1 + int(64));
        for (let j = 0; j < bytes.length; j++) bytes[j] = int(256);
        bytes[0] = 0xc1; // never a valid msgpack start: random bytes are always a wire error
        rec("random bytes", bytes, "wire", /malformed|truncated|Expected/i);
        break;
      }
      case 3: {
        const full = good(i, { s: `trunc-${i}`, extra: [1, 2, 3] });
        rec(
          "truncated envelope",
          full.subarray(0, 1 + int(full.length - 1)),
          "wire",
          /truncated|Expected|missing/i,
        );
        break;
      }
      case 4:
        rec(
          "wrong type",
          encodeSourceValue({ s: int(100) }, null, { messageType: FuzzItem.name, producedAtMs: 1 }),
          "wire",
          /Expected `str`/,
        );
        break;
      case 5:
        rec(
          "int beyond 2^53 where a str is expected",
          encodeSourceValue({ s: 2n ** 60n + BigInt(i) }, null, {
            messageType: FuzzItem.name,
            producedAtMs: 1,
          }),
          "wire",
          /Expected `str`/,
        );
        break;
      case 6:
        rec(
          "int beyond 2^53 in a schema-less field",
          good(i, { s: `big-${i}`, extra: 2n ** 60n + BigInt(i) }),
          "out",
        );
        break;
      case 7:
        rec(
          "deep nesting",
          withRawExtra(`deep-${i}`, deepArrays(600 + int(6000))),
          "wire",
          /nested deeper than 512 levels/,
        );
        break;
      case 8: {
        const huge = options.hugeOutputs !== false && int(3) === 0;
        rec(
          huge ? "huge output (twice a 600 KB input: over the output topic's limit)" : "big string",
          good(i, { s: (huge ? "grow" : "") + "x".repeat(huge ? 600_000 : 100_000 + int(200_000)) }),
          huge ? "unwritable" : "out",
        );
        break;
      }
      case 9:
        rec("big header", good(i, { s: `h-${i}` }), "out", undefined, {
          blob: "y".repeat(50_000 + int(50_000)),
        });
        break;
      case 10:
        rec("tombstone", null, "wire", /tombstone/);
        break;
      case 11:
        rec(
          "invalid UTF-8",
          withRawExtra(`u-${i}`, new Uint8Array([0xa2, 0xff, 0xfe])),
          "wire",
          /UTF-8|utf-8|invalid/i,
        );
        break;
      case 12:
        rec("failing step", good(i, { s: `fail-${i}`, extra: "z".repeat(int(10_000)) }), "task");
        break;
    }
  }
  return out;
}
