/**
 * Probes for multi-type sources (§4.6): the message type of an envelope, and the payload type of an error
 * envelope, read without decoding the payload.
 *
 * @module
 */
import { Reader } from "./_msgpack.ts";
import {
  DESCRIPTOR_KEY_BYTES,
  F_PAYLOAD,
  fieldIndex,
  K_META,
  keyBytes,
  META_KEY_BYTES,
} from "./_envelope_keys.ts";
import { readOptionalStr, readSafeInt } from "./_envelope_decode.ts";

const PROBE_META_KEYS = [K_META];
const PROBE_META_INDEX = new Map([["meta", 0]]);
const PROBE_DESCRIPTOR_KEYS = [META_KEY_BYTES[0]];
const PROBE_DESCRIPTOR_INDEX = new Map([["descriptor", 0]]);
const PROBE_TYPE_KEYS = [DESCRIPTOR_KEY_BYTES[0], DESCRIPTOR_KEY_BYTES[1]];
const PROBE_TYPE_INDEX = new Map([["message_type", 0], ["message_version", 1]]);
const PROBE_PAYLOAD_KEYS = [F_PAYLOAD];
const PROBE_PAYLOAD_INDEX = new Map([["payload", 0]]);
const ERROR_PROBE_NAMES = ["kind", "reason", "payload_type"];
const ERROR_PROBE_KEYS = ERROR_PROBE_NAMES.map(keyBytes);
const ERROR_PROBE_INDEX = new Map(ERROR_PROBE_NAMES.map((k, i) => [k, i]));

/**
 * Reads `meta.descriptor.message_type` and `message_version` without decoding the payload (§4.6 step 1). The
 * probe succeeds only for well-formed msgpack whose top level is a map with `meta.descriptor.message_type` (str)
 * and `meta.descriptor.message_version` (int); otherwise it returns `null` (the caller reports
 * `"failed to probe message_type from envelope"`).
 *
 * @example
 * ```ts
 * import { probeMessageType } from "@loom/streaming/kafka";
 * declare const bytes: Uint8Array;
 * const probe = probeMessageType(bytes); // e.g. { messageType: "order.created", messageVersion: 1 } or null
 * ```
 */
export function probeMessageType(bytes: Uint8Array): { messageType: string; messageVersion: number } | null {
  try {
    const r = new Reader(bytes);
    let messageType: string | null = null;
    let messageVersion: number | null = null;
    const n = r.readMapHeader();
    for (let i = 0; i < n; i++) {
      if (fieldIndex(r, PROBE_META_KEYS, 0, PROBE_META_INDEX) !== 0) {
        r.skip();
        continue;
      }
      messageType = null;
      messageVersion = null;
      const m = r.readMapHeader();
      for (let j = 0; j < m; j++) {
        if (fieldIndex(r, PROBE_DESCRIPTOR_KEYS, 0, PROBE_DESCRIPTOR_INDEX) !== 0) {
          r.skip();
          continue;
        }
        messageType = null;
        messageVersion = null;
        const d = r.readMapHeader();
        for (let k = 0; k < d; k++) {
          const fi = fieldIndex(r, PROBE_TYPE_KEYS, k === 0 ? 0 : 1, PROBE_TYPE_INDEX);
          if (fi === 0) messageType = r.readStr();
          else if (fi === 1) messageVersion = readSafeInt(r);
          else r.skip();
        }
      }
    }
    r.finish();
    if (messageType === null || messageVersion === null) return null;
    return { messageType, messageVersion };
  } catch {
    return null;
  }
}

/**
 * Reads `payload.payload_type` of an error envelope without decoding it (§4.6 step 3). The probe requires
 * well-formed msgpack with a top-level map whose `payload` map has `kind` and `reason` strings; it returns
 * `payload.payload_type` when it is a string, else `null` (probe failed, or the type is nil/missing: the caller
 * reports `"error envelope missing payload_type for '<outer>'"` in both cases).
 *
 * @example
 * ```ts
 * import { probeErrorPayloadType } from "@loom/streaming/kafka";
 * declare const bytes: Uint8Array;
 * const inner = probeErrorPayloadType(bytes); // e.g. "order.created" or null
 * ```
 */
export function probeErrorPayloadType(bytes: Uint8Array): string | null {
  try {
    const r = new Reader(bytes);
    let seenPayload = false;
    let kind: string | null = null;
    let reason: string | null = null;
    let payloadType: string | null = null;
    const n = r.readMapHeader();
    for (let i = 0; i < n; i++) {
      if (fieldIndex(r, PROBE_PAYLOAD_KEYS, 0, PROBE_PAYLOAD_INDEX) !== 0) {
        r.skip();
        continue;
      }
      seenPayload = true;
      kind = null;
      reason = null;
      payloadType = null;
      const m = r.readMapHeader();
      for (let j = 0; j < m; j++) {
        const fi = fieldIndex(r, ERROR_PROBE_KEYS, j < 3 ? j : 0, ERROR_PROBE_INDEX);
        if (fi === 0) kind = r.readStr();
        else if (fi === 1) reason = r.readStr();
        else if (fi === 2) payloadType = readOptionalStr(r);
        else r.skip();
      }
    }
    r.finish();
    if (!seenPayload || kind === null || reason === null) return null;
    return payloadType;
  } catch {
    return null;
  }
}
