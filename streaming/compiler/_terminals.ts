/**
 * Compiling terminals: IntoTopic (resolved against the `kafka.producer` settings of its logical name),
 * storage sinks (with their `streaming.sinks.<name>` section) and Drain.
 *
 * @module
 */
import { producerFor } from "../config/mod.ts";
import type { IntoTopic, ProcessNode, StreamShape } from "../dsl/mod.ts";
import type { CompiledStorageSink, CompiledTopicSink } from "../_plan.ts";
import type { Compiler, NodeResult } from "./_compiler.ts";
import { nodeName } from "./_node_name.ts";

/** Resolves a Kafka output and registers it under `path`, or returns null (error recorded). */
export function topicSink(c: Compiler, node: IntoTopic, path: string): CompiledTopicSink | null {
  c.producerRefs.add(node.name);
  if (!c.kafka) return null;
  try {
    const settings = producerFor(c.kafka, node.name);
    const sink: CompiledTopicSink = {
      logical: node.name,
      topic: settings.topic ?? node.name,
      settings,
      partitioning: node.partitioning ?? null,
      dlq: node.dlq ?? null,
      payloadType: node.payload ?? null,
      errorEnvelopeOf: node.errorEnvelopeOf ?? null,
      inheritMessageType: node.inheritsMessageType,
      path,
    };
    c.topicSinks.set(path, sink);
    return sink;
  } catch (e) {
    c.error(path, (e as Error).message);
    return null;
  }
}

/** Resolves a storage sink and registers it under `path`, or returns null (error recorded). */
function storageSink(c: Compiler, node: ProcessNode, path: string): CompiledStorageSink | null {
  const sink = node as unknown as { name: string; createWriter?: unknown };
  if (!sink.name) {
    c.error(
      path,
      `storage sink '${
        nodeName(node)
      }': missing name; give it the name of its streaming.sinks.<name> section`,
    );
    return null;
  }
  const key = `streaming.sinks.${sink.name}`;
  const section = c.ctx.has(key) ? c.ctx.get(key) as Record<string, unknown> : null;
  if (!section && typeof sink.createWriter !== "function") {
    c.error(
      path,
      `storage sink '${sink.name}': no config section found at ${key}; add it to the YAML (e.g. ${key}: {table: ...})`,
    );
    return null;
  }
  if (section !== null && (typeof section !== "object" || Array.isArray(section))) {
    c.error(path, `storage sink '${sink.name}': ${key} must be a mapping`);
    return null;
  }
  // deno-lint-ignore no-explicit-any
  const compiled: CompiledStorageSink = { sink: sink as any, name: sink.name, section, path };
  c.storageSinks.set(path, compiled);
  return compiled;
}

/** Compiles a Drain. */
export function compileDrain(path: string): NodeResult {
  return { node: { op: "drain", path }, out: "none" };
}

/** Compiles an IntoTopic node. */
export function compileTopicSinkNode(
  c: Compiler,
  node: IntoTopic,
  path: string,
  shape: StreamShape,
): NodeResult {
  if (!c.expect(path, node, ["record", "batch"], shape)) return null;
  const sink = topicSink(c, node, path);
  return sink ? { node: { op: "topic", path, sink, inputShape: shape }, out: "none" } : null;
}

/** Compiles a storage sink node (IntoTable or any IntoSink). */
export function compileStorageSinkNode(
  c: Compiler,
  node: ProcessNode,
  path: string,
  shape: StreamShape,
): NodeResult {
  if (!c.expect(path, node, ["record", "batch"], shape)) return null;
  const sink = storageSink(c, node, path);
  return sink ? { node: { op: "table", path, sink, inputShape: shape }, out: "none" } : null;
}
