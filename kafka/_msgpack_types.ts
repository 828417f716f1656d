/**
 * msgpack wire types: the `T_*` codes, their msgspec names, and the wire type of each first byte.
 *
 * @module
 */

/**
 * Wire type of a msgpack value: nil.
 *
 * @example
 * ```ts
 * import { T_NIL, wireTypeOfByte } from "@loom/streaming/kafka";
 * wireTypeOfByte(0xc0) === T_NIL; // true
 * ```
 */
export const T_NIL = 0;
/**
 * Wire type of a msgpack value: bool.
 *
 * @example
 * ```ts
 * import { T_BOOL, wireTypeOfByte } from "@loom/streaming/kafka";
 * wireTypeOfByte(0xc3) === T_BOOL; // true
 * ```
 */
export const T_BOOL = 1;
/**
 * Wire type of a msgpack value: integer (any width).
 *
 * @example
 * ```ts
 * import { T_INT, wireTypeOfByte } from "@loom/streaming/kafka";
 * wireTypeOfByte(0x05) === T_INT; // true (positive fixint)
 * ```
 */
export const T_INT = 2;
/**
 * Wire type of a msgpack value: float32 or float64.
 *
 * @example
 * ```ts
 * import { T_FLOAT, wireTypeOfByte } from "@loom/streaming/kafka";
 * wireTypeOfByte(0xcb) === T_FLOAT; // true (float64)
 * ```
 */
export const T_FLOAT = 3;
/**
 * Wire type of a msgpack value: str.
 *
 * @example
 * ```ts
 * import { T_STR, wireTypeOfByte } from "@loom/streaming/kafka";
 * wireTypeOfByte(0xa3) === T_STR; // true (fixstr)
 * ```
 */
export const T_STR = 4;
/**
 * Wire type of a msgpack value: bin.
 *
 * @example
 * ```ts
 * import { T_BIN, wireTypeOfByte } from "@loom/streaming/kafka";
 * wireTypeOfByte(0xc4) === T_BIN; // true (bin8)
 * ```
 */
export const T_BIN = 5;
/**
 * Wire type of a msgpack value: array.
 *
 * @example
 * ```ts
 * import { T_ARRAY, wireTypeOfByte } from "@loom/streaming/kafka";
 * wireTypeOfByte(0x92) === T_ARRAY; // true (fixarray)
 * ```
 */
export const T_ARRAY = 6;
/**
 * Wire type of a msgpack value: map.
 *
 * @example
 * ```ts
 * import { T_MAP, wireTypeOfByte } from "@loom/streaming/kafka";
 * wireTypeOfByte(0x81) === T_MAP; // true (fixmap)
 * ```
 */
export const T_MAP = 7;
/**
 * Wire type of a msgpack value: extension (including timestamps).
 *
 * @example
 * ```ts
 * import { T_EXT, wireTypeOfByte } from "@loom/streaming/kafka";
 * wireTypeOfByte(0xd6) === T_EXT; // true (fixext4, e.g. a timestamp)
 * ```
 */
export const T_EXT = 8;
/** Not a valid first byte (0xc1). */
export const T_INVALID = 9;

/**
 * msgspec's word for each wire type, indexed by `T_*` (used in ``got `...` `` of error messages).
 *
 * @example
 * ```ts
 * import { T_BIN, WIRE_TYPE_NAMES } from "@loom/streaming/kafka";
 * WIRE_TYPE_NAMES[T_BIN]; // "bytes"
 * ```
 */
export const WIRE_TYPE_NAMES: readonly string[] = [
  "None",
  "bool",
  "int",
  "float",
  "str",
  "bytes",
  "array",
  "object",
  "ext",
  "invalid",
];

/** The wire type (`T_*`) of each first byte. */
export const TYPE_OF_BYTE: Uint8Array = (() => {
  const t = new Uint8Array(256);
  for (let b = 0; b < 256; b++) {
    let k: number;
    if (b <= 0x7f || b >= 0xe0) k = T_INT;
    else if (b <= 0x8f) k = T_MAP;
    else if (b <= 0x9f) k = T_ARRAY;
    else if (b <= 0xbf) k = T_STR;
    else if (b === 0xc0) k = T_NIL;
    else if (b === 0xc1) k = T_INVALID;
    else if (b <= 0xc3) k = T_BOOL;
    else if (b <= 0xc6) k = T_BIN;
    else if (b <= 0xc9) k = T_EXT;
    else if (b <= 0xcb) k = T_FLOAT;
    else if (b <= 0xd3) k = T_INT;
    else if (b <= 0xd8) k = T_EXT;
    else if (b <= 0xdb) k = T_STR;
    else if (b <= 0xdd) k = T_ARRAY;
    else k = T_MAP;
    t[b] = k;
  }
  return t;
})();

/**
 * The wire type (`T_*`) announced by a first byte (9 for the invalid byte 0xc1).
 *
 * @example
 * ```ts
 * import { T_STR, wireTypeOfByte } from "@loom/streaming/kafka";
 * wireTypeOfByte(0xa3) === T_STR; // true
 * ```
 */
export function wireTypeOfByte(b: number): number {
  return TYPE_OF_BYTE[b];
}
