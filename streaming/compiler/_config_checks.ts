/**
 * Checks of the configuration against the flow, run by `compileFlow` once the flow has been walked: every
 * `kafka.producers` / `kafka.consumers` entry is used by a node of the flow, every `extra` key is one the
 * Kafka transport supports, and the `streaming` section (and the names of the top-level sections) hold
 * no typo. Each problem names the file, the line and the key, and says how to fix it.
 *
 * @module
 */
import { extraKeyProblem, type KafkaRole } from "../config/mod.ts";
import { buildError, type Segments } from "../config/_errors.ts";
import { isPlainObject } from "../config/_tree.ts";
import { suggestKey } from "../config/_validation.ts";
import type { Compiler } from "./_compiler.ts";

/** The keys of `streaming` the library reads itself (`bindings` is the conventional binding root). */
const STREAMING_KEYS: readonly string[] = ["runtime", "sinks", "bindings"];
/** The top-level sections the library (or the Python original) reads. */
const TOP_LEVEL_SECTIONS: readonly string[] = ["kafka", "streaming", "mongo", "database", "observability"];

function located(c: Compiler, segs: Segments, detail: string, hint?: string): void {
  c.error("", buildError(c.ctx.locate(segs), segs, detail, hint).message);
}

function names(set: ReadonlySet<string>): string {
  return set.size === 0 ? "none" : [...set].sort().map((n) => `'${n}'`).join(", ");
}

/** A `kafka.producers` / `kafka.consumers` entry that no node of the flow uses is an error. */
function checkUnusedRoutes(c: Compiler): void {
  if (c.kafka === null) return;
  const groups: [string, Readonly<Record<string, unknown>>, ReadonlySet<string>, string][] = [
    ["producers", c.kafka.producers, c.producerRefs, "writes to"],
    ["consumers", c.kafka.consumers, c.consumerRefs, "reads from"],
  ];
  for (const [section, entries, used, verb] of groups) {
    for (const name of Object.keys(entries)) {
      if (used.has(name)) continue;
      const unusedNames = [...used].filter((u) => !Object.hasOwn(entries, u));
      const suggestion = suggestKey(name, unusedNames);
      const hint = suggestion !== null
        ? `did you mean '${suggestion}'? (the flow ${verb} ${names(used)})`
        : `the flow ${verb} ${names(used)}; rename the entry to one of them or remove it`;
      located(c, ["kafka", section, name], `no node of this flow ${verb} '${name}'`, hint);
    }
  }
}

/** Every `extra` key must be one the Kafka transport supports for the client's role. */
function checkExtraKeys(c: Compiler): void {
  if (c.kafka === null) return;
  const clients: [Segments, KafkaRole, Readonly<Record<string, unknown>>][] = [];
  if (c.kafka.producer) clients.push([["kafka", "producer"], "producer", c.kafka.producer.extra]);
  if (c.kafka.consumer) clients.push([["kafka", "consumer"], "consumer", c.kafka.consumer.extra]);
  for (const [name, p] of Object.entries(c.kafka.producers)) {
    clients.push([["kafka", "producers", name], "producer", p.extra]);
  }
  for (const [name, s] of Object.entries(c.kafka.consumers)) {
    clients.push([["kafka", "consumers", name], "consumer", s.extra]);
  }
  for (const [segs, role, extra] of clients) {
    for (const key of Object.keys(extra).sort()) {
      const problem = extraKeyProblem(role, key);
      if (problem !== null) located(c, [...segs, "extra", key], problem);
    }
  }
}

/** Whether a binding of the flow reads the section `segs` or something below it. */
function boundUnder(c: Compiler, prefix: string): boolean {
  for (const p of c.bindingPaths) if (p === prefix || p.startsWith(`${prefix}.`)) return true;
  return false;
}

/**
 * `streaming` holds `runtime`, `sinks`, `bindings` and the sections read by the flow's bindings: any other
 * key is a typo. At the top level, a key one typo away from a section the library reads is an error
 * (other top-level sections are free-form).
 */
function checkSections(c: Compiler): void {
  const raw = c.ctx.raw;
  for (const key of Object.keys(raw)) {
    if (TOP_LEVEL_SECTIONS.includes(key) || boundUnder(c, key)) continue;
    const suggestion = suggestKey(key, TOP_LEVEL_SECTIONS);
    if (suggestion !== null) located(c, [key], `unknown section '${key}'`, `did you mean '${suggestion}'?`);
  }
  if (!Object.hasOwn(raw, "streaming")) return;
  const streaming = raw.streaming;
  if (streaming === null || streaming === undefined) return;
  if (!isPlainObject(streaming)) {
    located(
      c,
      ["streaming"],
      `expected a map, got ${Array.isArray(streaming) ? "a list" : typeof streaming}`,
      "write it as 'key: value' lines (keys: runtime, sinks, bindings)",
    );
    return;
  }
  if (Object.hasOwn(streaming, "sinks")) {
    const sinks = streaming.sinks;
    if (sinks !== null && !isPlainObject(sinks)) {
      located(
        c,
        ["streaming", "sinks"],
        "expected a map, got a list",
        "write it as '<sink name>: {...}' lines",
      );
    }
  }
  for (const key of Object.keys(streaming)) {
    if (STREAMING_KEYS.includes(key) || boundUnder(c, `streaming.${key}`)) continue;
    const suggestion = suggestKey(key, STREAMING_KEYS);
    located(
      c,
      ["streaming", key],
      `unknown key '${key}'`,
      suggestion !== null
        ? `did you mean '${suggestion}'?`
        : "streaming holds runtime, sinks, bindings and the sections read by this flow's fromConfig " +
          "bindings; move free-form sections under streaming.bindings",
    );
  }
}

/** Runs every configuration check (problems recorded on `c`). */
export function checkConfigAgainstFlow(c: Compiler): void {
  checkUnusedRoutes(c);
  checkExtraKeys(c);
  checkSections(c);
}
