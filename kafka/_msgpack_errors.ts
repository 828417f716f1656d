/**
 * msgpack errors: {@link WireEncodeError} and {@link WireDecodeError} (both {@link WireError}s with a
 * JSON-path-like location), whose messages follow msgspec's wording.
 *
 * @module
 */

/**
 * msgspec's reason for truncated input.
 *
 * @example
 * ```ts
 * import { decodeAny, TRUNCATED_REASON, WireDecodeError } from "@loom/streaming/kafka";
 * try {
 *   decodeAny(new Uint8Array([0x92, 0x01]));
 * } catch (e) {
 *   if (e instanceof WireDecodeError) e.message.startsWith(TRUNCATED_REASON); // true
 * }
 * ```
 */
export const TRUNCATED_REASON = "Input data was truncated";
/**
 * Prefix of msgspec's reasons for malformed input.
 *
 * @example
 * ```ts
 * import { decodeAny, MALFORMED_PREFIX, WireDecodeError } from "@loom/streaming/kafka";
 * try {
 *   decodeAny(new Uint8Array([0xc1]));
 * } catch (e) {
 *   if (e instanceof WireDecodeError) e.message.startsWith(MALFORMED_PREFIX); // true
 * }
 * ```
 */
export const MALFORMED_PREFIX = "MessagePack data is malformed";

/**
 * The deepest nesting of arrays and maps the codec reads or writes (512 levels). Deeper input is a wire error
 * (`WireDecodeError`, so a record becomes a `DecodeError` with its raw bytes) and a deeper value a
 * `WireEncodeError`, identically on every runtime, instead of exhausting the call stack at a depth that
 * differs between Deno, Bun and Node. The limit counts arrays and maps read or written without a schema
 * (`unknown`/`any` fields, the dynamic codec) and levels of recursive (`v.lazy`) schemas; a schema that is
 * not recursive bounds its own depth.
 *
 * @example
 * ```ts
 * import { decodeAny, MAX_NESTING_DEPTH, WireDecodeError } from "@loom/streaming/kafka";
 * const deep = new Uint8Array(MAX_NESTING_DEPTH + 2).fill(0x91); // [[[...]]] one level too deep
 * deep[deep.length - 1] = 0xc0;
 * try {
 *   decodeAny(deep);
 * } catch (e) {
 *   (e as WireDecodeError).reason; // "MessagePack data is nested deeper than 512 levels (MAX_NESTING_DEPTH)"
 * }
 * ```
 */
export const MAX_NESTING_DEPTH = 512;

/**
 * The reason of a wire error for input or values nested deeper than {@link MAX_NESTING_DEPTH}.
 *
 * @example
 * ```ts
 * import { TOO_DEEP_REASON } from "@loom/streaming/kafka";
 * TOO_DEEP_REASON.includes("512"); // true
 * ```
 */
export const TOO_DEEP_REASON: string =
  `MessagePack data is nested deeper than ${MAX_NESTING_DEPTH} levels (MAX_NESTING_DEPTH)`;

function formatWireMessage(reason: string, path: string, inKey: boolean): string {
  if (inKey) return `${reason} - at \`key\` in \`${path}\``;
  if (path === "$") return reason;
  return `${reason} - at \`${path}\``;
}

/**
 * Base class of the wire codec errors. `reason` is the bare reason (e.g. ``Expected `int`, got `str` ``), `path`
 * the msgspec-style location (`$`, `$.payload.amount`, `$.items[1]`, `$.headers[...]`), and `message` the
 * msgspec-style text ``<reason> - at `<path>` `` (no suffix at the root).
 *
 * @example
 * ```ts
 * import { WireDecodeError, WireError } from "@loom/streaming/kafka";
 * const e = new WireDecodeError("Expected `int`, got `str`", "$.amount");
 * e instanceof WireError; // true
 * e.message; // "Expected `int`, got `str` - at `$.amount`"
 * ```
 */
export class WireError extends Error {
  /** The reason without the location suffix. */
  readonly reason: string;
  /** msgspec-style path of the offending value, `$` for the root. */
  path: string;
  /** True when the error is about a map key (msgspec says ``- at `key` in `$.x` ``). */
  readonly inKey: boolean;

  /**
   * Creates the error; `message` is derived from `reason`, `path` and `inKey`.
   *
   * @param reason what is wrong (without location)
   * @param path msgspec-style path, `$` for the root
   * @param inKey whether the offending value is a map key
   */
  constructor(reason: string, path: string = "$", inKey: boolean = false) {
    super(formatWireMessage(reason, path, inKey));
    this.name = "WireError";
    this.reason = reason;
    this.path = path;
    this.inKey = inKey;
  }

  /**
   * Prepends a path segment (`.field`, `[3]` or `[...]`) as the error propagates outwards; used by the codecs.
   *
   * @example
   * ```ts
   * import { WireDecodeError } from "@loom/streaming/kafka";
   * const e = new WireDecodeError("Expected `int`, got `str`", "$.amount");
   * e.prependPath(".payload");
   * e.path; // "$.payload.amount"
   * ```
   */
  prependPath(segment: string): void {
    // msgspec reports malformed/truncated input without a location.
    if (this.reason.startsWith(TRUNCATED_REASON) || this.reason.startsWith(MALFORMED_PREFIX)) return;
    this.path = "$" + segment + this.path.slice(1);
    this.message = formatWireMessage(this.reason, this.path, this.inKey);
  }
}

/**
 * A value could not be encoded by a schema codec (wrong JS type, out-of-range integer, invalid date, ...).
 *
 * @example
 * ```ts
 * import { WireEncodeError, Writer } from "@loom/streaming/kafka";
 * try {
 *   new Writer().bigint(2n ** 70n);
 * } catch (e) {
 *   e instanceof WireEncodeError; // true
 * }
 * ```
 */
export class WireEncodeError extends WireError {
  /**
   * Creates the error; `message` is derived from `reason`, `path` and `inKey`.
   *
   * @param reason what is wrong (without location)
   * @param path msgspec-style path, `$` for the root
   * @param inKey whether the offending value is a map key
   */
  constructor(reason: string, path: string = "$", inKey: boolean = false) {
    super(reason, path, inKey);
    this.name = "WireEncodeError";
  }
}

/**
 * Bytes could not be decoded: malformed or truncated msgpack, or a value of the wrong type for the schema. The
 * message matches msgspec's (`Input data was truncated`, ``Expected `int`, got `str` - at `$.payload.amount` ``,
 * ``Object missing required field `payload` ``, ...).
 *
 * @example
 * ```ts
 * import { Reader, WireDecodeError } from "@loom/streaming/kafka";
 * try {
 *   new Reader(new Uint8Array([0xa3, 0x61])).readStr();
 * } catch (e) {
 *   (e as WireDecodeError).message; // "Input data was truncated"
 * }
 * ```
 */
export class WireDecodeError extends WireError {
  /**
   * Creates the error; `message` is derived from `reason`, `path` and `inKey`.
   *
   * @param reason what is wrong (without location)
   * @param path msgspec-style path, `$` for the root
   * @param inKey whether the offending value is a map key
   */
  constructor(reason: string, path: string = "$", inKey: boolean = false) {
    super(reason, path, inKey);
    this.name = "WireDecodeError";
  }
}
