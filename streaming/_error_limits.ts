/**
 * Size limits of error records ({@link ERROR_RECORD_LIMITS}) and the helpers that apply them: bounded
 * reasons and `x-error-reason` headers, oversized input headers kept once.
 *
 * @module
 */
import type { ErrorEnvelope } from "./_message.ts";

const utf8e = new TextEncoder();

/**
 * Size limits of error records, so that one oversized or strange input cannot make an error record that no
 * topic accepts:
 * - `reasonChars`: an error reason (in the envelope) keeps at most this many characters (the rest is cut,
 *   with a marker saying how long it was);
 * - `headerReasonChars`: the `x-error-reason` header keeps at most this many (the full bounded reason is in
 *   the envelope);
 * - `forwardedHeaderBytes`: an input header whose value is longer is not copied onto the error record (it
 *   is kept once, in the envelope's original message); the names left out are listed in
 *   `x-error-headers-omitted`.
 *
 * @example
 * ```ts
 * import { ERROR_RECORD_LIMITS } from "@loom/streaming";
 * ERROR_RECORD_LIMITS.reasonChars; // 4096
 * ```
 */
export const ERROR_RECORD_LIMITS: {
  readonly reasonChars: number;
  readonly headerReasonChars: number;
  readonly forwardedHeaderBytes: number;
} = Object.freeze({ reasonChars: 4096, headerReasonChars: 512, forwardedHeaderBytes: 1024 });

/** Header listing the input headers not copied onto an error record (see {@link ERROR_RECORD_LIMITS}). */
const HEADERS_OMITTED = "x-error-headers-omitted";

/** `text` cut to `max` characters with a marker saying how long it was. */
export function cut(text: string, max: number): string {
  if (text.length <= max) return text;
  const marker = ` … [cut: ${text.length} characters in all]`;
  let end = Math.max(0, max - marker.length);
  // never split a surrogate pair
  if (end > 0 && text.charCodeAt(end - 1) >= 0xd800 && text.charCodeAt(end - 1) <= 0xdbff) end--;
  return text.slice(0, end) + marker;
}

export function boundReason(reason: string): string {
  return cut(reason, ERROR_RECORD_LIMITS.reasonChars);
}

export function headerReason(reason: string): string {
  return cut(reason, ERROR_RECORD_LIMITS.headerReasonChars);
}

export function boundedEnvelope(e: ErrorEnvelope): ErrorEnvelope {
  const reason = boundReason(e.reason);
  return reason === e.reason ? e : { ...e, reason };
}

/** The input headers copied onto an error record: all but the oversized ones (named in a header). */
export function forwardedErrorHeaders(
  input: Readonly<Record<string, Uint8Array>>,
): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  let omitted: string[] | null = null;
  for (const name in input) {
    const v = input[name];
    if (v.length > ERROR_RECORD_LIMITS.forwardedHeaderBytes) (omitted ??= []).push(name);
    else out[name] = v;
  }
  if (omitted) {
    out[HEADERS_OMITTED] = utf8e.encode(cut(omitted.join(","), ERROR_RECORD_LIMITS.headerReasonChars));
  }
  return out;
}

/** The headers no longer than `ERROR_RECORD_LIMITS.forwardedHeaderBytes` (reduced error records). */
export function smallHeaders(input: Readonly<Record<string, Uint8Array>>): Record<string, Uint8Array> {
  const out: Record<string, Uint8Array> = {};
  for (const name in input) {
    if (input[name].length <= ERROR_RECORD_LIMITS.forwardedHeaderBytes) out[name] = input[name];
  }
  return out;
}
