/**
 * Compiling the source: the consumer settings of its logical name, its topics, and the dispatch table
 * of a FromMultiTypeTopic (plain types, error envelopes, decode errors).
 *
 * @module
 */
import { consumerFor } from "../config/mod.ts";
import type { StreamFlow } from "../dsl/mod.ts";
import { DECODE_ERROR_MESSAGE_TYPE } from "../_message.ts";
import type { CompiledSource, DispatchTable } from "../_plan.ts";
import { isMessageType, type MessageType } from "../_type.ts";
import type { Compiler } from "./_compiler.ts";

/** Compiles the source of `flow`, or returns null (errors recorded). */
// deno-lint-ignore no-explicit-any
export function compileSource(c: Compiler, flow: StreamFlow<any>): CompiledSource | null {
  const src = flow.source;
  let logical: string;
  try {
    logical = src.logicalRef;
  } catch (e) {
    c.error("source", (e as Error).message);
    return null;
  }
  c.consumerRefs.add(logical);
  if (!c.kafka) return null;
  let settings;
  try {
    settings = consumerFor(c.kafka, logical);
  } catch (e) {
    c.error("source", (e as Error).message);
    return null;
  }
  // The original subscribes to nothing when `topics` is empty; we fall back to the logical name.
  const topics = settings.topics.length > 0 ? [...settings.topics] : [logical];
  if (src.kind === "from_topic") {
    if (!isMessageType(src.payload)) {
      c.error("source", "FromTopic payload must be a MessageType (messageType(name, schema))");
      return null;
    }
    return {
      kind: "single",
      logical,
      settings,
      topics,
      shape: src.shape,
      payloadType: src.payload,
      dispatch: null,
    };
  }
  const plain = new Map<string, MessageType>();
  const error = new Map<string, MessageType>();
  let wire = false;
  src.payloads.forEach((p, i) => {
    const where = `source.payloads[${i}]`;
    if (isMessageType(p)) {
      if (plain.has(p.name) || p.name === DECODE_ERROR_MESSAGE_TYPE) {
        c.error(where, `duplicate message type '${p.name}' in FromMultiTypeTopic; each type may appear once`);
      }
      plain.set(p.name, p);
    } else if (p && p.kind === "error_envelope_of") {
      if (error.has(p.original.name)) {
        c.error(where, `duplicate error envelope type '${p.original.name}' in FromMultiTypeTopic`);
      }
      error.set(p.original.name, p.original);
    } else if (p && p.kind === "decode_errors") {
      if (wire) c.error(where, "DecodeErrors declared more than once in FromMultiTypeTopic");
      wire = true;
    } else {
      c.error(where, "expected a MessageType, errorEnvelopeOf(T) or DecodeErrors");
    }
  });
  const dispatch: DispatchTable = { plain, error, wire };
  return { kind: "multi", logical, settings, topics, shape: src.shape, payloadType: null, dispatch };
}
