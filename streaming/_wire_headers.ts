/**
 * Record headers and keys on the wire: the {@link HEADERS} names, the UTF-8 conversions of header values and
 * record keys, and the trace headers of an encoded record (views of the envelope's own trace fields when it
 * has just been encoded, else bytes of their own; a header already holding the value is kept).
 *
 * @module
 */
import type { EnvelopeHeader } from "../kafka/_envelope.ts";

/**
 * Header names (same as the original).
 *
 * @example
 * ```ts
 * import { HEADERS } from "@loom/streaming/engine";
 * HEADERS.traceId; // "x-trace-id"
 * ```
 */
export const HEADERS = {
  correlationId: "x-correlation-id",
  causationId: "x-causation-id",
  traceId: "x-trace-id",
  parentTraceId: "x-parent-trace-id",
  errorKind: "x-error-kind",
  errorReason: "x-error-reason",
  dlqError: "x-dlq-error",
  dlqSourceTopic: "x-dlq-source-topic",
  dlqSourcePartition: "x-dlq-source-partition",
  dlqSourceOffset: "x-dlq-source-offset",
} as const;

/** UTF-8 encoder of header values and record keys. */
export const utf8e: TextEncoder = new TextEncoder();
const utf8d = new TextDecoder();

/** The text of a header value (`null` when absent). */
export function str(v: Uint8Array | undefined): string | null {
  return v === undefined ? null : utf8d.decode(v);
}

/** The bytes of a record key (a string key as UTF-8). */
export function keyToBytes(key: Uint8Array | string | null): Uint8Array | null {
  if (key === null || key === undefined) return null;
  return typeof key === "string" ? utf8e.encode(key) : key;
}

/** True when `bytes` holds exactly the ASCII/UTF-8 text `text` (ASCII fast path). */
function sameText(bytes: Uint8Array | undefined, text: string): boolean {
  if (bytes === undefined || bytes.length !== text.length) return false;
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== text.charCodeAt(i)) return false;
  return true;
}

/** UTF-8 bytes of a header value (error records); short ASCII strings avoid a native call. */
function headerBytes(text: string): Uint8Array {
  const n = text.length;
  if (n <= 64) {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
      const c = text.charCodeAt(i);
      if (c > 127) return utf8e.encode(text);
      b[i] = c;
    }
    return b;
  }
  return utf8e.encode(text);
}

/**
 * Sets the trace headers (only for non-null values). A value equal to the header already present (e.g.
 * the forwarded `x-correlation-id`) reuses its bytes.
 */
export function traceHeaders(
  headers: Record<string, Uint8Array>,
  h: EnvelopeHeader,
): Record<string, Uint8Array> {
  set(headers, HEADERS.correlationId, h.correlationId);
  set(headers, HEADERS.parentTraceId, h.parentTraceId);
  set(headers, HEADERS.causationId, h.causationId);
  set(headers, HEADERS.traceId, h.traceId);
  return headers;
}

/** Where `encodeEnvelope` wrote the trace fields of the last envelope (reused: read right after each call). */
export const TRACE_SPANS: Int32Array = new Int32Array(8);

/** Sets a header to the UTF-8 bytes of `value` (non-null) unless the same value is present. */
function set(headers: Record<string, Uint8Array>, name: string, value: string | null): void {
  if (value === null) return;
  if (!sameText(headers[name], value)) headers[name] = headerBytes(value);
}
