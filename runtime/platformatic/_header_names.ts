/**
 * Header names of fetched records as strings, decoded once: a flow's records carry the same few header
 * names in the same order (the four trace headers a loom producer writes), and decoding each name of
 * each record (`Buffer.toString`, a call into the runtime on Deno) cost about 1.7 % of a flow's CPU
 * there; queueing a fetched record with four headers went from 1.93 to 1.51 µs on Deno and from 2.66 to
 * 1.38 µs on Bun with this (one interleaved micro-run each, 2026-12-03).
 * The name at each header position is remembered (as a copy: the fetched bytes are a view into the fetch
 * response, which a remembered view would keep alive) and reused while the bytes match.
 * The other way, {@link headerName} gives the UTF-8 bytes of the names the adapter writes.
 *
 * @module
 */

import { Buffer } from "node:buffer";

const utf8 = new TextDecoder();

/** Header positions remembered per queue set (a record's later headers are decoded each time). */
const POSITIONS = 16;
/** Longest name remembered (longer ones are decoded each time). */
const MAX_NAME = 64;

/** The header-name decoder of one consumer's queues. */
export class HeaderNames {
  readonly #bytes: (Uint8Array | undefined)[] = new Array(POSITIONS);
  readonly #names: string[] = new Array(POSITIONS);

  /**
   * The name `k` (UTF-8 bytes) at header position `at` of a record.
   *
   * @param k the name's bytes
   * @param at the header's position in its record
   * @returns the decoded name
   * @example
   * ```ts ignore
   * new HeaderNames().name(Buffer.from("x-trace-id"), 0); // "x-trace-id"
   * ```
   */
  name(k: Uint8Array, at: number): string {
    return this.nameAt(k, 0, k.length, at);
  }

  /**
   * The name in `b[start, start + n)` at header position `at` of a record, read without a view of it
   * while it matches the remembered name (the adapter's fetch parser reads names this way).
   *
   * @param b the bytes holding the name
   * @param start where the name starts in `b`
   * @param n the name's length in bytes
   * @param at the header's position in its record
   * @returns the decoded name
   * @example
   * ```ts ignore
   * new HeaderNames().nameAt(Buffer.from("..x-trace-id"), 2, 10, 0); // "x-trace-id"
   * ```
   */
  nameAt(b: Uint8Array, start: number, n: number, at: number): string {
    if (at < POSITIONS) {
      const known = this.#bytes[at];
      if (known !== undefined && known.length === n) {
        let i = 0;
        while (i < n && known[i] === b[start + i]) i++;
        if (i === n) return this.#names[at];
      }
    }
    const k = b.subarray(start, start + n);
    const name = utf8.decode(k); // (a Buffer's toString would do, but the adapter's parser makes plain views)
    if (at < POSITIONS && n <= MAX_NAME) {
      this.#bytes[at] = Uint8Array.prototype.slice.call(k);
      this.#names[at] = name;
    }
    return name;
  }
}

/** The headers of a record that has none (shared, frozen). */
export const EMPTY_HEADERS: Readonly<Record<string, Uint8Array>> = Object.freeze({});

/**
 * UTF-8 bytes of header names, cached: a flow writes the same few names on every record. The first 16 names
 * are looked up in an array (the same string objects come back, so `===` is a pointer compare); a Map lookup
 * hashed the name each time and took 4 % of a Kafka flow's CPU on Bun.
 */
const recentNames: string[] = [];
const recentBytes: Buffer[] = [];
const headerNames = new Map<string, Buffer>();
/**
 * The UTF-8 bytes of a header name, from the cache above (the produce encoder's and the producer's).
 *
 * @param name the header name
 * @returns its bytes (shared: not to be written to)
 * @example
 * ```ts ignore
 * headerName("x-trace-id").length; // 10
 * ```
 */
export function headerName(name: string): Buffer {
  for (let i = 0; i < recentNames.length; i++) if (recentNames[i] === name) return recentBytes[i];
  let b = headerNames.get(name);
  if (b === undefined) {
    b = Buffer.from(name, "utf8");
    if (recentNames.length < 16) {
      recentNames.push(name);
      recentBytes.push(b);
    } else if (headerNames.size < 4096) headerNames.set(name, b);
  }
  return b;
}
