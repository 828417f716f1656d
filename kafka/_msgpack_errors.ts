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
