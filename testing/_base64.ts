/**
 * Strict, web-standard base64 for fixture bytes (keys, headers and values that are not UTF-8 text).
 *
 * @module
 */

const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64_INDEX = /* @__PURE__ */ (() => {
  const t = new Int16Array(256).fill(-1);
  for (let i = 0; i < B64.length; i++) t[B64.charCodeAt(i)] = i;
  return t;
})();

/**
 * Encodes bytes as standard padded base64.
 *
 * @param bytes the bytes
 * @returns base64 text
 *
 * @example
 * ```ts
 * import { bytesToBase64 } from "@loom/streaming/testing";
 * bytesToBase64(new Uint8Array([0xde, 0xad, 0xbe, 0xef])); // "3q2+7w=="
 * ```
 */
export function bytesToBase64(bytes: Uint8Array): string {
  let out = "";
  const n = bytes.length;
  let i = 0;
  for (; i + 2 < n; i += 3) {
    const v = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += B64[v >>> 18] + B64[(v >>> 12) & 63] + B64[(v >>> 6) & 63] + B64[v & 63];
  }
  if (n - i === 1) {
    const v = bytes[i] << 16;
    out += B64[v >>> 18] + B64[(v >>> 12) & 63] + "==";
  } else if (n - i === 2) {
    const v = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += B64[v >>> 18] + B64[(v >>> 12) & 63] + B64[(v >>> 6) & 63] + "=";
  }
  return out;
}

/**
 * Decodes standard base64 (padding optional). Returns `null` for anything else (URL-safe alphabet,
 * whitespace, bad length or padding).
 *
 * @param text base64 text
 * @returns the bytes, or `null` when `text` is not valid base64
 *
 * @example
 * ```ts
 * import { base64ToBytes } from "@loom/streaming/testing";
 * base64ToBytes("3q2+7w=="); // Uint8Array [0xde, 0xad, 0xbe, 0xef]
 * base64ToBytes("not base64!"); // null
 * ```
 */
export function base64ToBytes(text: string): Uint8Array | null {
  let end = text.length;
  // "=" padding is only valid on a multiple-of-4 length, and at most two of it
  if (end % 4 === 0 && end > 0 && text.charCodeAt(end - 1) === 61) {
    end--;
    if (text.charCodeAt(end - 1) === 61) end--;
  }
  if (end % 4 === 1) return null;
  const out = new Uint8Array((end * 3) >>> 2);
  let o = 0, acc = 0, bits = 0;
  for (let i = 0; i < end; i++) {
    const c = text.charCodeAt(i);
    const v = c < 256 ? B64_INDEX[c] : -1;
    if (v < 0) return null;
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >>> bits) & 0xff;
    }
  }
  return out;
}
