/**
 * Configuration loading and validation: YAML parsing with line tracking, environment interpolation,
 * local includes, lax (msgspec `strict=False`-like) conversion, and the typed section readers that
 * produce the interfaces of `_settings.ts`.
 *
 * Web-standard only: files are read through a `readFile` callback and the environment is passed in.
 *
 * @module
 */

import * as v from "valibot";
import {
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node as YamlNode,
  parseDocument,
  type YAMLError,
} from "yaml";
import type {
  BufferSettings,
  ConsumerSettings,
  KafkaConfigValue,
  KafkaSecuritySettings,
  KafkaSettings,
  ProducerSettings,
  RuntimeSettings,
  SinkSection,
} from "./_settings.ts";
import type { AnySchema, SchemaOutput } from "./_type.ts";

// ---------------------------------------------------------------------------------------------------------
// Errors and locations
// ---------------------------------------------------------------------------------------------------------

/**
 * Where the error was found.
 *
 * @example
 * ```ts
 * import { ConfigError } from "@loom/streaming";
 * const e = new ConfigError("config.yaml:3: kafka.consumer.group_id: expected a string", {
 *   file: "config.yaml",
 *   path: "kafka.consumer.group_id",
 *   line: 3,
 * });
 * ```
 */
export interface ConfigErrorOptions {
  /** The file that holds the offending key (null when unknown, e.g. a context built from an object). */
  readonly file?: string | null;
  /** Dotted key path, e.g. `kafka.consumers.orders.group_id` (empty for the whole document). */
  readonly path?: string;
  /** 1-based line in `file`, when known. */
  readonly line?: number | null;
  /** The underlying error, if any. */
  readonly cause?: unknown;
}

/**
 * A configuration problem: malformed YAML, a missing or unset value, a wrong type, an unknown key.
 * The message names the file, line and key path, and says how to fix it when it can.
 *
 * @example
 * ```ts
 * import { ConfigError, parseConfig } from "@loom/streaming";
 * try {
 *   parseConfig("kafka: [", { file: "config.yaml" });
 * } catch (err) {
 *   if (err instanceof ConfigError) console.log(err.file, err.line, err.message);
 * }
 * ```
 */
export class ConfigError extends Error {
  /** The file that holds the offending key, or null. */
  readonly file: string | null;
  /** Dotted key path of the offending key (empty for the whole document). */
  readonly path: string;
  /** 1-based line in `file`, or null when unknown. */
  readonly line: number | null;

  /**
   * Creates a {@link ConfigError}.
   *
   * @param message the full message (location, key path, problem and fix)
   * @param options file, key path, line and cause
   */
  constructor(message: string, options: ConfigErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "ConfigError";
    this.file = options.file ?? null;
    this.path = options.path ?? "";
    this.line = options.line ?? null;
  }
}

/**
 * A file and line of a configuration key.
 *
 * @example
 * ```ts
 * import type { ConfigLocation } from "@loom/streaming";
 * const where: ConfigLocation = { file: "config.yaml", line: 12 };
 * ```
 */
export interface ConfigLocation {
  /** The file name, or null when unknown. */
  readonly file: string | null;
  /** 1-based line, or null when unknown. */
  readonly line: number | null;
}

/**
 * A key path: a dotted string (`"kafka.producers.orders.validated"`; keys that themselves contain dots are
 * found too) or an explicit list of segments (`["streaming", "sinks", "my.sink"]`).
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { ConfigContext, type ConfigPath } from "@loom/streaming";
 * const ctx = ConfigContext.fromObject({ streaming: { sinks: { "my.sink": { table: "t" } } } });
 * const path: ConfigPath = ["streaming", "sinks", "my.sink"];
 * ctx.section(path, v.object({ table: v.string() })).table; // "t"
 * ```
 */
export type ConfigPath = string | readonly (string | number)[];

type Segment = string | number;
type Segments = readonly Segment[];

const SEP = "\u0000";

function segKey(segs: Segments): string {
  return segs.join(SEP);
}

/** Renders segments as a dotted path, with list indices as `[i]`. */
function pathText(segs: Segments): string {
  let out = "";
  for (const s of segs) {
    if (typeof s === "number") out += `[${s}]`;
    else out += out === "" ? s : `.${s}`;
  }
  return out;
}

function where(loc: ConfigLocation): string {
  if (loc.file !== null && loc.line !== null) return `${loc.file}:${loc.line}: `;
  if (loc.file !== null) return `${loc.file}: `;
  if (loc.line !== null) return `line ${loc.line}: `;
  return "";
}

function buildError(
  loc: ConfigLocation,
  segs: Segments,
  detail: string,
  hint?: string,
  omitPath = false,
): ConfigError {
  const path = pathText(segs);
  const head = omitPath || path === "" ? "" : `${path}: `;
  const tail = hint === undefined ? "" : `; ${hint}`;
  return new ConfigError(`${where(loc)}${head}${detail}${tail}`, { file: loc.file, line: loc.line, path });
}

function describeValue(value: unknown): string {
  if (value === null) return "null";
  if (value === undefined) return "nothing";
  if (typeof value === "string") {
    const shown = value.length > 60 ? `${value.slice(0, 57)}...` : value;
    return `a string (${JSON.stringify(shown)})`;
  }
  if (typeof value === "number") return `a number (${value})`;
  if (typeof value === "boolean") return `a boolean (${value})`;
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a map";
  return typeof value;
}

// ---------------------------------------------------------------------------------------------------------
// Located tree (built from the YAML AST, merged across includes, then flattened)
// ---------------------------------------------------------------------------------------------------------

interface Loc {
  readonly file: string | null;
  readonly line: number;
}

type CNode = MapNode | SeqNode | LeafNode;
interface MapNode {
  readonly kind: "map";
  readonly entries: Map<string, CNode>;
  readonly loc: Loc | null;
}
interface SeqNode {
  readonly kind: "seq";
  readonly items: CNode[];
  readonly loc: Loc | null;
}
interface LeafNode {
  readonly kind: "leaf";
  value: unknown;
  readonly loc: Loc | null;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") {
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

function flatten(node: CNode, segs: Segment[], locs: Map<string, ConfigLocation>): unknown {
  if (node.loc !== null) locs.set(segKey(segs), node.loc);
  if (node.kind === "leaf") return node.value;
  if (node.kind === "seq") {
    const out: unknown[] = new Array(node.items.length);
    for (let i = 0; i < node.items.length; i++) {
      segs.push(i);
      out[i] = flatten(node.items[i], segs, locs);
      segs.pop();
    }
    return out;
  }
  const out: Record<string, unknown> = {};
  for (const [k, child] of node.entries) {
    segs.push(k);
    setOwn(out, k, flatten(child, segs, locs));
    segs.pop();
  }
  return out;
}

/** Deep merge: maps merge key by key, anything else is replaced by `over`. */
function mergeNodes(base: CNode, over: CNode): CNode {
  if (base.kind !== "map" || over.kind !== "map") return over;
  const entries = new Map(base.entries);
  for (const [k, n] of over.entries) {
    const b = entries.get(k);
    entries.set(k, b === undefined ? n : mergeNodes(b, n));
  }
  return { kind: "map", entries, loc: over.loc ?? base.loc };
}

const MAX_DEPTH = 256;

class YamlConverter {
  constructor(
    private readonly doc: Document,
    private readonly lines: LineCounter,
    private readonly file: string | null,
  ) {}

  locOf(node: YamlNode | null | undefined, fallback: Loc | null): Loc | null {
    const range = node?.range;
    if (range === undefined || range === null) return fallback;
    return { file: this.file, line: this.lines.linePos(range[0]).line };
  }

  fail(loc: Loc | null, segs: Segments, detail: string, hint?: string): never {
    throw buildError(loc ?? { file: this.file, line: null }, segs, detail, hint);
  }

  convert(node: unknown, loc: Loc | null, segs: Segment[], depth: number): CNode {
    if (depth > MAX_DEPTH) this.fail(loc, segs, `nesting deeper than ${MAX_DEPTH} levels (recursive alias?)`);
    if (node === null || node === undefined) return { kind: "leaf", value: null, loc };
    if (isAlias(node)) {
      const target = node.resolve(this.doc);
      if (target === undefined) this.fail(loc, segs, `unresolved alias *${node.source}`);
      return this.convert(target, loc, segs, depth + 1);
    }
    if (isScalar(node)) return { kind: "leaf", value: node.value, loc };
    if (isSeq(node)) {
      const items: CNode[] = [];
      node.items.forEach((item, i) => {
        segs.push(i);
        items.push(this.convert(item, this.locOf(item as YamlNode, loc), segs, depth + 1));
        segs.pop();
      });
      return { kind: "seq", items, loc };
    }
    if (isMap(node)) {
      const entries = new Map<string, CNode>();
      const merged: MapNode[] = [];
      for (const pair of node.items) {
        const keyNode = pair.key as YamlNode | null;
        const keyLoc = this.locOf(keyNode, loc);
        if (isScalar(keyNode) && typeof keyNode.value === "symbol") {
          // YAML merge key `<<: *anchor` (or a list of anchors); explicit keys win.
          const src = this.convert(pair.value, keyLoc, segs, depth + 1);
          const sources = src.kind === "seq" ? src.items : [src];
          for (const s of sources) {
            if (s.kind !== "map") this.fail(keyLoc, segs, "the merge key '<<' needs a map or a list of maps");
            merged.push(s);
          }
          continue;
        }
        const key = this.keyText(keyNode, keyLoc, segs);
        segs.push(key);
        entries.set(key, this.convert(pair.value, keyLoc, segs, depth + 1));
        segs.pop();
      }
      for (const src of merged) {
        for (const [k, n] of src.entries) if (!entries.has(k)) entries.set(k, n);
      }
      return { kind: "map", entries, loc };
    }
    return this.fail(loc, segs, "unsupported YAML node");
  }

  keyText(keyNode: unknown, loc: Loc | null, segs: Segments): string {
    const resolved = isAlias(keyNode) ? keyNode.resolve(this.doc) : keyNode;
    if (isScalar(resolved)) {
      const value = resolved.value;
      if (typeof value === "string") return value;
      if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint") {
        return String(value);
      }
      if (value === null || value === undefined) this.fail(loc, segs, "empty map key", "give the key a name");
    }
    return this.fail(loc, segs, "map keys must be plain scalars (strings or numbers)");
  }
}

function yamlError(err: YAMLError, file: string | null): ConfigError {
  const pos = err.linePos?.[0];
  const [first, ...rest] = err.message.split("\n");
  const reason = first.replace(/ at line \d+, column \d+:?$/, "");
  const snippet = rest.join("\n").trim();
  const col = pos === undefined ? "" : ` (column ${pos.col})`;
  const loc = { file, line: pos?.line ?? null };
  const message = `${where(loc)}invalid YAML: ${reason}${col}${snippet === "" ? "" : `\n${snippet}`}`;
  return new ConfigError(message, { file, line: loc.line, path: "", cause: err });
}

function parseYamlFile(text: string, file: string | null): MapNode {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, merge: true, uniqueKeys: true, prettyErrors: true });
  if (doc.errors.length > 0) throw yamlError(doc.errors[0], file);
  const converter = new YamlConverter(doc, lines, file);
  const root = converter.convert(doc.contents, null, [], 0);
  if (root.kind === "leaf" && root.value === null) return { kind: "map", entries: new Map(), loc: null };
  if (root.kind !== "map") {
    throw buildError(
      { file, line: converter.locOf(doc.contents as YamlNode, null)?.line ?? null },
      [],
      `the top level of a config file must be a map of sections, got ${
        root.kind === "seq" ? "a list" : describeValue((root as LeafNode).value)
      }`,
    );
  }
  return root;
}

// ---------------------------------------------------------------------------------------------------------
// Environment interpolation
// ---------------------------------------------------------------------------------------------------------

interface InterpolationEnv {
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly envGiven: boolean;
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SHELL_FORM = /^([A-Za-z_][A-Za-z0-9_]*)(?:(:?-)([\s\S]*))?$/;
const RESOLVER_FORM = /^([A-Za-z_][\w.-]*):/;

/** Index of the `}` closing an interpolation whose body starts at `from`, or -1. */
function findClose(s: string, from: number): number {
  let depth = 1;
  for (let k = from; k < s.length; k++) {
    if (s.charCodeAt(k) === 36 /* $ */ && s.charCodeAt(k + 1) === 123 /* { */) {
      depth++;
      k++;
    } else if (s.charCodeAt(k) === 125 /* } */ && --depth === 0) {
      return k;
    }
  }
  return -1;
}

function topLevelComma(s: string): number {
  let depth = 0;
  for (let k = 0; k < s.length; k++) {
    const c = s[k];
    if (c === "$" && s[k + 1] === "{") {
      depth++;
      k++;
    } else if (c === "}") depth--;
    else if (c === "," && depth === 0) return k;
  }
  return -1;
}

function unquote(s: string): string {
  if (s.length >= 2 && (s[0] === "'" || s[0] === '"') && s[s.length - 1] === s[0]) return s.slice(1, -1);
  return s;
}

type Fail = (detail: string, hint?: string) => never;

function missingVar(name: string, form: string, ienv: InterpolationEnv, fail: Fail): never {
  const noEnv = ienv.envGiven
    ? ""
    : "; parseConfig received no `env` option: pass the environment, e.g. { env: process.env }";
  return fail(
    `environment variable '${name}' is not set (referenced as ${form})`,
    `set it, or give a default: \${${name}:-value} or \${oc.env:${name},value}${noEnv}`,
  );
}

function resolveExpr(expr: string, ienv: InterpolationEnv, fail: Fail): string | null {
  if (expr.startsWith("oc.env:")) {
    const rest = expr.slice(7);
    const comma = topLevelComma(rest);
    const name = (comma < 0 ? rest : rest.slice(0, comma)).trim();
    if (!ENV_NAME.test(name)) fail(`invalid environment variable name in \${${expr}}`);
    const value = ienv.env[name];
    if (value !== undefined) return value;
    if (comma < 0) missingVar(name, `\${${expr}}`, ienv, fail);
    const def = rest.slice(comma + 1).trim();
    if (def === "null") return null;
    const resolved = interpolateString(unquote(def), ienv, fail);
    return resolved === null ? "null" : String(resolved);
  }
  const shell = SHELL_FORM.exec(expr);
  if (shell !== null) {
    const [, name, op, def] = shell;
    const value = ienv.env[name];
    const useDefault = op === ":-" ? value === undefined || value === "" : value === undefined;
    if (!useDefault) return value as string;
    if (op === undefined) missingVar(name, `\${${expr}}`, ienv, fail);
    const resolved = interpolateString(def, ienv, fail);
    return resolved === null ? "null" : String(resolved);
  }
  const resolver = RESOLVER_FORM.exec(expr);
  if (resolver !== null) {
    return fail(
      `unsupported resolver '${resolver[1]}' in \${${expr}}`,
      "only ${VAR}, ${VAR:-default} and ${oc.env:VAR,default} are supported; resolve the value before loading",
    );
  }
  if (/^[\w.[\]]+$/.test(expr)) {
    return fail(
      `\${${expr}} looks like a reference to another config key, which is not supported`,
      "repeat the value, or use an environment variable",
    );
  }
  return fail(`invalid interpolation \${${expr}}`, "use ${VAR}, ${VAR:-default} or ${oc.env:VAR,default}");
}

/**
 * Applies `${VAR}`, `${VAR:-default}`, `${VAR-default}` and `${oc.env:VAR[,default]}`;
 * `\${` is a literal `${`.
 * A string that is exactly one interpolation returns its value unchanged (possibly null).
 */
function interpolateString(s: string, ienv: InterpolationEnv, fail: Fail): string | null {
  if (!s.includes("${")) return s;
  let out = "";
  let i = 0;
  while (i < s.length) {
    const j = s.indexOf("${", i);
    if (j < 0) {
      out += s.slice(i);
      break;
    }
    if (j > 0 && s[j - 1] === "\\") {
      out += `${s.slice(i, j - 1)}\${`;
      i = j + 2;
      continue;
    }
    const end = findClose(s, j + 2);
    if (end < 0) fail(`unclosed interpolation '${s.slice(j)}'`, "close it with '}'");
    const value = resolveExpr(s.slice(j + 2, end), ienv, fail);
    if (j === 0 && end === s.length - 1) return value;
    out += s.slice(i, j) + (value === null ? "null" : value);
    i = end + 1;
  }
  return out;
}

function interpolateTree(node: CNode, segs: Segment[], ienv: InterpolationEnv, file: string | null): void {
  if (node.kind === "leaf") {
    if (typeof node.value === "string" && node.value.includes("${")) {
      const fail: Fail = (detail, hint) => {
        throw buildError(node.loc ?? { file, line: null }, segs, detail, hint);
      };
      node.value = interpolateString(node.value, ienv, fail);
    }
    return;
  }
  if (node.kind === "seq") {
    for (let i = 0; i < node.items.length; i++) {
      segs.push(i);
      interpolateTree(node.items[i], segs, ienv, file);
      segs.pop();
    }
    return;
  }
  for (const [k, child] of node.entries) {
    segs.push(k);
    interpolateTree(child, segs, ienv, file);
    segs.pop();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Includes
// ---------------------------------------------------------------------------------------------------------

function dirname(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "" : path.slice(0, i + 1);
}

function normalizePath(path: string): string {
  const absolute = path.startsWith("/");
  const out: string[] = [];
  for (const part of path.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === ".." && out.length > 0 && out[out.length - 1] !== "..") out.pop();
    else if (part === ".." && absolute) continue;
    else out.push(part);
  }
  const joined = out.join("/");
  return absolute ? `/${joined}` : joined === "" ? "." : joined;
}

function resolveInclude(from: string | null, target: string): string {
  if (target.startsWith("/") || /^[A-Za-z]:[\\/]/.test(target)) return normalizePath(target);
  return normalizePath(dirname(from ?? "") + target);
}

interface LoadState {
  readonly ienv: InterpolationEnv;
  readonly readFile: ((path: string) => string) | undefined;
}

function loadFile(text: string, file: string | null, stack: readonly string[], state: LoadState): MapNode {
  const root = parseYamlFile(text, file);
  interpolateTree(root, [], state.ienv, file);
  const includes = root.entries.get("includes");
  root.entries.delete("includes");
  if (includes === undefined || (includes.kind === "leaf" && includes.value === null)) return root;

  const fallback = { file, line: null };
  const list: CNode[] = includes.kind === "seq" ? includes.items : [includes];
  let base: CNode | null = null;
  list.forEach((item, i) => {
    const segs: Segment[] = includes.kind === "seq" ? ["includes", i] : ["includes"];
    const loc = item.loc ?? fallback;
    if (item.kind !== "leaf" || typeof item.value !== "string" || item.value === "") {
      throw buildError(
        loc,
        segs,
        `expected a file path, got ${item.kind === "leaf" ? describeValue(item.value) : `a ${item.kind}`}`,
        "write includes: [base.yaml, other.yaml]",
      );
    }
    const target = item.value;
    if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(target)) {
      throw buildError(loc, segs, `includes must be local files, got '${target}'`, "download the file first");
    }
    if (state.readFile === undefined) {
      throw buildError(
        loc,
        segs,
        `cannot include '${target}': parseConfig was given no readFile callback`,
        "pass options.readFile, e.g. (p) => Deno.readTextFileSync(p)",
      );
    }
    const resolved = resolveInclude(file, target);
    if (stack.includes(resolved)) {
      const cycle = [...stack.slice(stack.indexOf(resolved)), resolved].join(" -> ");
      throw buildError(loc, segs, `include cycle: ${cycle}`, "remove one of these includes");
    }
    let childText: string;
    try {
      childText = state.readFile(resolved);
    } catch (err) {
      const reason = err instanceof Error ? err.message : String(err);
      const e = buildError(loc, segs, `cannot read included file '${resolved}': ${reason}`);
      throw new ConfigError(e.message, { file: e.file, line: e.line, path: e.path, cause: err });
    }
    const child = loadFile(childText, resolved, [...stack, resolved], state);
    base = base === null ? child : mergeNodes(base, child);
  });
  return base === null ? root : mergeNodes(base, root) as MapNode;
}

// ---------------------------------------------------------------------------------------------------------
// Lax conversion and validation
// ---------------------------------------------------------------------------------------------------------

/** The parts of a valibot schema object the lax walker reads. */
interface SchemaShape {
  readonly type: string;
  readonly wrapped?: SchemaShape;
  readonly entries?: Readonly<Record<string, SchemaShape>>;
  readonly item?: SchemaShape;
  readonly items?: readonly SchemaShape[];
  readonly rest?: SchemaShape;
  readonly value?: SchemaShape;
  readonly options?: readonly unknown[];
  readonly literal?: unknown;
  readonly getter?: (input: unknown) => SchemaShape;
}

const NUMERIC = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const TRUE_WORDS = new Set(["true", "yes", "on", "1"]);
const FALSE_WORDS = new Set(["false", "no", "off", "0"]);

function laxBool(value: unknown): unknown {
  if (typeof value === "string") {
    const w = value.trim().toLowerCase();
    if (TRUE_WORDS.has(w)) return true;
    if (FALSE_WORDS.has(w)) return false;
  } else if (value === 0 || value === 1) {
    return value === 1;
  }
  return value;
}

function laxNumber(value: unknown): unknown {
  return typeof value === "string" && NUMERIC.test(value.trim()) ? Number(value) : value;
}

function laxChoice(options: readonly unknown[], value: unknown): unknown {
  if (typeof value !== "string") return value;
  for (const opt of options) {
    if (opt === value) return value;
    if (typeof opt === "number" && laxNumber(value) === opt) return opt;
    if (typeof opt === "boolean" && laxBool(value) === opt) return opt;
  }
  return value;
}

type UnknownKeyHandler = (segs: Segments, key: string, allowed: readonly string[]) => never;

/**
 * Returns a copy of `value` with strings converted where the schema wants numbers or booleans
 * (like msgspec `strict=False`). Never converts numbers to strings. Reports unknown keys of strict objects.
 */
function lax(
  schema: SchemaShape,
  value: unknown,
  segs: Segment[],
  onUnknown: UnknownKeyHandler | null,
): unknown {
  switch (schema.type) {
    case "number":
      return laxNumber(value);
    case "boolean":
      return laxBool(value);
    case "picklist":
    case "enum":
      return laxChoice(schema.options ?? [], value);
    case "literal":
      return laxChoice([schema.literal], value);
    case "optional":
    case "nullable":
    case "nullish":
    case "exact_optional":
    case "undefinedable":
    case "non_nullable":
    case "non_nullish":
    case "non_optional":
      return value === null || value === undefined ? value : lax(schema.wrapped!, value, segs, onUnknown);
    case "array":
      if (!Array.isArray(value)) return value;
      return value.map((item, i) => {
        segs.push(i);
        const out = lax(schema.item!, item, segs, onUnknown);
        segs.pop();
        return out;
      });
    case "tuple":
    case "loose_tuple":
    case "strict_tuple":
    case "tuple_with_rest":
      if (!Array.isArray(value)) return value;
      return value.map((item, i) => {
        const s = schema.items![i] ?? schema.rest;
        if (s === undefined) return item;
        segs.push(i);
        const out = lax(s, item, segs, onUnknown);
        segs.pop();
        return out;
      });
    case "record": {
      if (!isPlainObject(value)) return value;
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(value)) {
        segs.push(key);
        setOwn(out, key, lax(schema.value!, value[key], segs, onUnknown));
        segs.pop();
      }
      return out;
    }
    case "object":
    case "loose_object":
    case "strict_object":
    case "object_with_rest": {
      if (!isPlainObject(value)) return value;
      const entries = schema.entries!;
      const out: Record<string, unknown> = {};
      for (const key of Object.keys(value)) {
        const entry = Object.hasOwn(entries, key) ? entries[key] : schema.rest;
        if (entry === undefined && schema.type === "strict_object" && onUnknown !== null) {
          onUnknown([...segs, key], key, Object.keys(entries));
        }
        segs.push(key);
        setOwn(out, key, entry === undefined ? value[key] : lax(entry, value[key], segs, onUnknown));
        segs.pop();
      }
      return out;
    }
    case "union":
    case "variant": {
      const whole = schema as unknown as v.GenericSchema;
      if (v.is(whole, value)) return value;
      for (const option of (schema.options ?? []) as SchemaShape[]) {
        const converted = lax(option, value, segs, null);
        if (v.is(option as unknown as v.GenericSchema, converted)) return converted;
      }
      return value;
    }
    case "intersect": {
      let out = value;
      for (const option of (schema.options ?? []) as SchemaShape[]) out = lax(option, out, segs, onUnknown);
      return out;
    }
    case "lazy":
      return lax(schema.getter!(value), value, segs, onUnknown);
    default:
      return value;
  }
}

function levenshtein(a: string, b: string): number {
  if (a === b) return 0;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
    }
    prev = cur;
  }
  return prev[b.length];
}

function normalizeKey(key: string): string {
  return key.toLowerCase().replace(/[-_.\s]/g, "");
}

/** The closest allowed key to `key`, when it is plausibly a typo. */
function suggestKey(key: string, allowed: readonly string[]): string | null {
  const norm = normalizeKey(key);
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const candidate of allowed) {
    if (normalizeKey(candidate) === norm) return candidate;
    const d = levenshtein(key.toLowerCase(), candidate.toLowerCase());
    if (d < bestDistance) {
      bestDistance = d;
      best = candidate;
    }
  }
  const limit = Math.max(1, Math.min(3, Math.floor(Math.max(key.length, 3) / 3)));
  return bestDistance <= limit ? best : null;
}

function expectedPhrase(issue: v.BaseIssue<unknown>): string {
  switch (issue.type) {
    case "string":
      return "a string";
    case "number":
      return "a number";
    case "boolean":
      return "a boolean (true or false)";
    case "array":
    case "tuple":
    case "strict_tuple":
    case "loose_tuple":
      return "a list";
    case "object":
    case "strict_object":
    case "loose_object":
    case "object_with_rest":
    case "record":
      return "a map";
    case "picklist":
    case "enum":
      return `one of ${(issue.expected ?? "").replace(/^\(|\)$/g, "").split(" | ").join(", ")}`;
    default:
      return (issue.expected ?? issue.type).replace(/^\(|\)$/g, "");
  }
}

type IssueStyle = "config" | "bind";

interface ValidationTarget {
  /** Where the section lives. */
  readonly segs: Segments;
  /** Locates a full segment path (nearest known ancestor). */
  readonly locate: (segs: Segments) => ConfigLocation;
  readonly style: IssueStyle;
  /** Top-level keys of the section that came from overrides rather than the file. */
  readonly overridden?: ReadonlySet<string>;
}

function issueError(target: ValidationTarget, issue: v.BaseIssue<unknown>): ConfigError {
  const rel: Segment[] = (issue.path ?? []).map((p) =>
    typeof p.key === "number" ? p.key : String(p.key as string)
  );
  const segs = [...target.segs, ...rel];
  const fromOverride = target.overridden !== undefined && rel.length > 0 &&
    target.overridden.has(String(rel[0]));
  const loc = fromOverride ? target.locate(target.segs) : target.locate(segs);
  const suffix = fromOverride ? " (value given in overrides)" : "";
  const last = issue.path?.[issue.path.length - 1];

  if (
    issue.kind === "schema" && issue.input === undefined && last !== undefined && last.type === "object" &&
    isPlainObject(last.input) && !Object.hasOwn(last.input, String(last.key))
  ) {
    const key = String(last.key);
    const parent = segs.slice(0, -1);
    if (target.style === "bind") {
      return buildError(loc, segs, `${pathText(parent)} requires config field '${key}'`, undefined, true);
    }
    return buildError(
      loc,
      segs,
      `missing required key '${key}'`,
      `add '${key}: ...' under ${pathText(parent)}`,
    );
  }
  if (issue.kind === "schema" && issue.expected === "never" && last !== undefined) {
    return buildError(loc, segs, `unknown key '${String(last.key)}'${suffix}`);
  }
  if (issue.kind === "schema" && !issue.message.startsWith("Invalid ")) {
    // A custom message given in the schema.
    return buildError(loc, segs, `${issue.message}${suffix}`);
  }
  if (issue.kind === "schema") {
    const expected = expectedPhrase(issue);
    const quotable = typeof issue.input === "number" || typeof issue.input === "boolean";
    const hint = issue.type === "string" && quotable && !fromOverride
      ? `quote the value if it is meant as text: "${String(issue.input)}"`
      : undefined;
    return buildError(loc, segs, `expected ${expected}, got ${describeValue(issue.input)}${suffix}`, hint);
  }
  if (issue.type === "integer") {
    return buildError(loc, segs, `expected an integer, got ${describeValue(issue.input)}${suffix}`);
  }
  return buildError(loc, segs, `${issue.message}${suffix}`);
}

function validate<TSchema extends v.GenericSchema>(
  target: ValidationTarget,
  schema: TSchema,
  value: unknown,
): v.InferOutput<TSchema> {
  const onUnknown: UnknownKeyHandler = (segs, key, allowed) => {
    const suggestion = suggestKey(key, allowed);
    // The runtime section's Python-only keys are accepted silently but not advertised.
    const hint = suggestion !== null
      ? `did you mean '${suggestion}'?`
      : `allowed keys: ${allowed.filter((k) => !IGNORED_RUNTIME_KEYS.has(k)).join(", ")}`;
    throw buildError(target.locate(segs), segs, `unknown key '${key}'`, hint);
  };
  const converted = lax(schema as unknown as SchemaShape, value, [...target.segs], onUnknown);
  const result = v.safeParse(schema, converted);
  if (result.success) return result.output;
  throw issueError(target, result.issues[0]);
}

// ---------------------------------------------------------------------------------------------------------
// ConfigContext
// ---------------------------------------------------------------------------------------------------------

interface Resolved {
  readonly found: boolean;
  /** The full path when found; else the deepest existing prefix. */
  readonly segs: Segments;
  readonly value: unknown;
  /** The segment that could not be found (when not found). */
  readonly failedAt: string;
}

function resolveSegments(root: unknown, path: Segments): Resolved {
  let node = root;
  for (let i = 0; i < path.length; i++) {
    const seg = path[i];
    let next: unknown = undefined;
    let ok = false;
    if (Array.isArray(node)) {
      const idx = typeof seg === "number" ? seg : /^\d+$/.test(seg) ? Number(seg) : -1;
      ok = idx >= 0 && idx < node.length;
      if (ok) next = node[idx];
    } else if (isPlainObject(node)) {
      ok = Object.hasOwn(node, String(seg));
      if (ok) next = node[String(seg)];
    }
    if (!ok) return { found: false, segs: path.slice(0, i), value: undefined, failedAt: String(seg) };
    node = next;
  }
  return { found: true, segs: path, value: node, failedAt: "" };
}

/** Resolves a dotted path, also matching keys that themselves contain dots (shortest key first). */
function resolveDotted(root: unknown, parts: readonly string[]): Resolved {
  let deepest: Resolved = { found: false, segs: [], value: undefined, failedAt: parts[0] ?? "" };
  const walk = (node: unknown, i: number, segs: Segment[]): Resolved | null => {
    if (i === parts.length) return { found: true, segs: [...segs], value: node, failedAt: "" };
    if (segs.length >= deepest.segs.length && !deepest.found) {
      deepest = { found: false, segs: [...segs], value: undefined, failedAt: parts[i] };
    }
    if (Array.isArray(node)) {
      if (!/^\d+$/.test(parts[i])) return null;
      const idx = Number(parts[i]);
      if (idx >= node.length) return null;
      segs.push(idx);
      const r = walk(node[idx], i + 1, segs);
      segs.pop();
      return r;
    }
    if (!isPlainObject(node)) return null;
    for (let j = i + 1; j <= parts.length; j++) {
      const key = parts.slice(i, j).join(".");
      if (!Object.hasOwn(node, key)) continue;
      segs.push(key);
      const r = walk(node[key], j, segs);
      segs.pop();
      if (r !== null) return r;
    }
    return null;
  };
  return walk(root, 0, []) ?? deepest;
}

/** File and line of every key of a parsed context (keys are segment paths joined with NUL). */
const LOCATIONS = new WeakMap<ConfigContext, ReadonlyMap<string, ConfigLocation>>();

function resolvePath(raw: unknown, path: ConfigPath): Resolved {
  if (typeof path !== "string") return resolveSegments(raw, path);
  if (path === "") return { found: true, segs: [], value: raw, failedAt: "" };
  return resolveDotted(raw, path.split("."));
}

/**
 * A parsed, interpolated and merged configuration document, with the file and line of every key.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { parseConfig } from "@loom/streaming";
 * const ctx = parseConfig("app:\n  retries: '5'\n", { file: "config.yaml" });
 * ctx.get("app.retries"); // "5"
 * ctx.section("app", v.object({ retries: v.number() })); // { retries: 5 }
 * ```
 */
export class ConfigContext {
  /** The plain merged document (after interpolation and includes; `includes` itself removed). */
  readonly raw: Readonly<Record<string, unknown>>;
  /** The root file name, if known. */
  readonly file: string | null;

  /**
   * Prefer {@link parseConfig} or {@link ConfigContext.fromObject}.
   *
   * @param raw the plain document
   * @param file the root file name, if any
   */
  constructor(raw: Record<string, unknown>, file: string | null = null) {
    this.raw = raw;
    this.file = file;
  }

  /**
   * Wraps a plain object (no line information, no interpolation).
   *
   * @example
   * ```ts
   * import { ConfigContext } from "@loom/streaming";
   * const ctx = ConfigContext.fromObject({ kafka: { producer: { brokers: ["localhost:9092"] } } });
   * ctx.has("kafka.producer"); // true
   * ```
   */
  static fromObject(obj: Record<string, unknown>): ConfigContext {
    return new ConfigContext(obj, null);
  }

  /**
   * The value at a key path, or `undefined` when absent.
   *
   * @example
   * ```ts
   * import { ConfigContext } from "@loom/streaming";
   * ConfigContext.fromObject({ a: { "b.c": 1 } }).get("a.b.c"); // 1
   * ```
   */
  get(path: ConfigPath): unknown {
    return resolvePath(this.raw, path).value;
  }

  /**
   * Whether the key path exists and is not null.
   *
   * @example
   * ```ts
   * import { ConfigContext } from "@loom/streaming";
   * ConfigContext.fromObject({ a: null }).has("a"); // false
   * ```
   */
  has(path: ConfigPath): boolean {
    const r = resolvePath(this.raw, path);
    return r.found && r.value !== null && r.value !== undefined;
  }

  /**
   * The file and line of a key path (of its nearest known ancestor when the key itself is absent or
   * has no line, e.g. in a context built with {@link ConfigContext.fromObject}).
   *
   * @example
   * ```ts
   * import { parseConfig } from "@loom/streaming";
   * parseConfig("a:\n  b: 1\n", { file: "c.yaml" }).locate("a.b"); // { file: "c.yaml", line: 2 }
   * ```
   */
  locate(path: ConfigPath): ConfigLocation {
    const segs = typeof path === "string" ? resolvePath(this.raw, path).segs : path;
    const locs = LOCATIONS.get(this);
    for (let i = segs.length; i >= 0; i--) {
      const loc = locs?.get(segKey(i === segs.length ? segs : segs.slice(0, i)));
      if (loc !== undefined) return loc;
    }
    return { file: this.file, line: null };
  }

  /**
   * Validates the section at `path` with a valibot schema, converting laxly (`"5"` → 5, `"true"` → true;
   * numbers are never turned into strings). Throws {@link ConfigError} naming file, line and key path.
   *
   * @example
   * ```ts
   * import * as v from "valibot";
   * import { ConfigContext } from "@loom/streaming";
   * const ctx = ConfigContext.fromObject({ app: { port: "8080" } });
   * ctx.section("app", v.object({ port: v.number() })).port; // 8080
   * ```
   */
  section<TSchema extends AnySchema>(path: ConfigPath, schema: TSchema): SchemaOutput<TSchema> {
    const r = resolvePath(this.raw, path);
    if (!r.found) throw notFound(this, path, r);
    return validateAt(this, r.segs, r.value, schema as unknown as v.GenericSchema) as SchemaOutput<TSchema>;
  }
}

function notFound(ctx: ConfigContext, path: ConfigPath, r: Resolved): ConfigError {
  const text = typeof path === "string" ? path : pathText(path);
  const whole = r.segs.length === 0 && (typeof path === "string" ? !path.includes(".") : path.length === 1);
  const detail = whole
    ? `Config section not found: '${text}'`
    : `Config section not found: '${text}'  (failed at segment '${r.failedAt}')`;
  const loc = ctx.locate(r.segs);
  return new ConfigError(`${where(loc)}${detail}`, { file: loc.file, line: loc.line, path: text });
}

function validateAt<TSchema extends v.GenericSchema>(
  ctx: ConfigContext,
  segs: Segments,
  value: unknown,
  schema: TSchema,
  style: IssueStyle = "config",
  overridden?: ReadonlySet<string>,
): v.InferOutput<TSchema> {
  return validate({ segs, locate: (s) => ctx.locate(s), style, overridden }, schema, value);
}

function errorAt(ctx: ConfigContext, segs: Segments, detail: string, hint?: string): ConfigError {
  return buildError(ctx.locate(segs), segs, detail, hint);
}

/**
 * Options of {@link parseConfig}.
 *
 * @example
 * ```ts
 * import { parseConfig } from "@loom/streaming";
 * const ctx = parseConfig("kafka:\n  producer:\n    brokers: [${BROKERS}]\n", {
 *   file: "config.yaml",
 *   env: { BROKERS: "127.0.0.1:9092" },
 * });
 * ```
 */
export interface ParseConfigOptions {
  /** The file name, used in messages and to resolve relative `includes`. */
  readonly file?: string;
  /** Variables for `${VAR}` interpolation (no environment is read implicitly). */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Reads an included file (paths are resolved relative to the including file). */
  readonly readFile?: (path: string) => string;
}

/**
 * Parses a YAML configuration: environment interpolation (`${VAR}`, `${VAR:-default}`,
 * `${oc.env:VAR,default}`), local `includes` (deep-merged, the declaring file wins), line tracking.
 *
 * @example
 * ```ts
 * import { parseConfig } from "@loom/streaming";
 * const ctx = parseConfig("kafka:\n  producer:\n    brokers: [\"${BROKER:-localhost:9092}\"]\n", {
 *   file: "config.yaml",
 *   env: { BROKER: "kafka:29092" },
 * });
 * ctx.get("kafka.producer.brokers"); // ["kafka:29092"]
 * ```
 */
export function parseConfig(text: string, options: ParseConfigOptions = {}): ConfigContext {
  const file = options.file ?? null;
  const state: LoadState = {
    ienv: { env: options.env ?? {}, envGiven: options.env !== undefined },
    readFile: options.readFile,
  };
  const root = loadFile(text, file, file === null ? [] : [normalizePath(file)], state);
  const locs = new Map<string, ConfigLocation>();
  const raw = flatten(root, [], locs) as Record<string, unknown>;
  const ctx = new ConfigContext(raw, file);
  LOCATIONS.set(ctx, locs);
  return ctx;
}

// ---------------------------------------------------------------------------------------------------------
// Schema helpers
// ---------------------------------------------------------------------------------------------------------

function intAtLeast(min: number) {
  return v.pipe(
    v.number(),
    v.integer(),
    v.minValue(min, (issue) => `expected an integer >= ${min}, got ${String(issue.input)}`),
  );
}

const positiveNumber = v.pipe(
  v.number(),
  v.gtValue(0, (issue) => `expected a number > 0, got ${String(issue.input)}`),
);

const nonEmptyString = (what: string) => v.pipe(v.string(), v.nonEmpty(`${what} cannot be empty`));

const optionalString = v.nullish(v.string());

// ---------------------------------------------------------------------------------------------------------
// kafka
// ---------------------------------------------------------------------------------------------------------

/**
 * librdkafka option names set by the typed settings; repeating one in `extra` is an error.
 *
 * @example
 * ```ts
 * import { KAFKA_MANAGED_KEYS } from "@loom/streaming";
 * KAFKA_MANAGED_KEYS.includes("group.id"); // true
 * ```
 */
export const KAFKA_MANAGED_KEYS: readonly string[] = Object.freeze([
  "bootstrap.servers",
  "client.id",
  "group.id",
  "auto.offset.reset",
  "enable.auto.commit",
  "security.protocol",
  "sasl.mechanism",
  "sasl.username",
  "sasl.password",
  "ssl.ca.location",
]);

const MANAGED_BY: Readonly<Record<string, string>> = {
  "bootstrap.servers": "brokers",
  "client.id": "client_id",
  "group.id": "group_id",
  "auto.offset.reset": "auto_offset_reset",
  "enable.auto.commit": "enable_auto_commit",
  "security.protocol": "security.protocol",
  "sasl.mechanism": "security.sasl_mechanism",
  "sasl.username": "security.sasl_username",
  "sasl.password": "security.sasl_password",
  "ssl.ca.location": "security.ssl_ca_location",
};

const brokersSchema = v.union(
  [
    v.pipe(
      v.array(nonEmptyString("a broker address")),
      v.minLength(1, 'brokers must list at least one broker, e.g. brokers: ["localhost:9092"]'),
    ),
    v.pipe(
      v.string(),
      v.transform((s) => s.split(",").map((b) => b.trim()).filter((b) => b !== "")),
      v.minLength(1, 'brokers must list at least one broker, e.g. brokers: ["localhost:9092"]'),
    ),
  ],
  (issue) =>
    `expected a list of broker addresses (or a comma-separated string), got ${describeValue(issue.input)}`,
);

const securitySchema = v.strictObject({
  protocol: v.picklist(["PLAINTEXT", "SSL", "SASL_SSL", "SASL_PLAINTEXT"]),
  sasl_mechanism: optionalString,
  sasl_username: optionalString,
  sasl_password: optionalString,
  ssl_ca_location: optionalString,
});

const extraSchema = v.optional(
  v.nullable(
    v.record(
      v.string(),
      v.union(
        [v.string(), v.number(), v.boolean()],
        (issue) => `extra values must be a string, number or boolean, got ${describeValue(issue.input)}`,
      ),
    ),
  ),
  {},
);

const producerSchema = v.strictObject({
  brokers: brokersSchema,
  client_id: optionalString,
  topic: optionalString,
  security: v.nullish(securitySchema),
  extra: extraSchema,
});

const consumerSchema = v.strictObject({
  brokers: brokersSchema,
  group_id: nonEmptyString("group_id"),
  topics: v.array(nonEmptyString("a topic name")),
  auto_offset_reset: v.optional(v.picklist(["earliest", "latest"]), "earliest"),
  poll_timeout_ms: v.optional(intAtLeast(0), 100),
  enable_auto_commit: v.optional(v.boolean(), true),
  security: v.nullish(securitySchema),
  extra: extraSchema,
});

const kafkaSchema = v.strictObject({
  producer: v.nullish(producerSchema),
  consumer: v.nullish(consumerSchema),
  producers: v.nullish(v.record(v.string(), producerSchema)),
  consumers: v.nullish(v.record(v.string(), consumerSchema)),
});

type RawSecurity = v.InferOutput<typeof securitySchema>;
type RawProducer = v.InferOutput<typeof producerSchema>;
type RawConsumer = v.InferOutput<typeof consumerSchema>;

function toSecurity(s: RawSecurity | null | undefined): KafkaSecuritySettings | null {
  if (s === null || s === undefined) return null;
  return {
    protocol: s.protocol,
    saslMechanism: s.sasl_mechanism ?? null,
    saslUsername: s.sasl_username ?? null,
    saslPassword: s.sasl_password ?? null,
    sslCaLocation: s.ssl_ca_location ?? null,
  };
}

function checkExtra(
  ctx: ConfigContext,
  segs: Segments,
  extra: Readonly<Record<string, KafkaConfigValue>> | null,
): Readonly<Record<string, KafkaConfigValue>> {
  if (extra === null) return {};
  for (const key of Object.keys(extra)) {
    const field = MANAGED_BY[key];
    if (field !== undefined) {
      throw errorAt(
        ctx,
        [...segs, "extra", key],
        `extra contains '${key}', which is managed by typed settings`,
        `set '${field}' instead and remove '${key}' from extra`,
      );
    }
  }
  return extra;
}

function toProducer(ctx: ConfigContext, segs: Segments, p: RawProducer): ProducerSettings {
  return {
    brokers: p.brokers,
    clientId: p.client_id ?? null,
    topic: p.topic ?? null,
    security: toSecurity(p.security),
    extra: checkExtra(ctx, segs, p.extra),
  };
}

function toConsumer(ctx: ConfigContext, segs: Segments, c: RawConsumer): ConsumerSettings {
  return {
    brokers: c.brokers,
    groupId: c.group_id,
    topics: c.topics,
    autoOffsetReset: c.auto_offset_reset,
    pollTimeoutMs: c.poll_timeout_ms,
    enableAutoCommit: c.enable_auto_commit,
    security: toSecurity(c.security),
    extra: checkExtra(ctx, segs, c.extra),
  };
}

/**
 * Reads and validates the `kafka` section (§3.1). Unknown keys are errors (with a "did you mean" hint);
 * `extra` may not repeat a managed option ({@link KAFKA_MANAGED_KEYS}).
 *
 * @example
 * ```ts
 * import { ConfigContext, readKafkaSettings } from "@loom/streaming";
 * const ctx = ConfigContext.fromObject({
 *   kafka: { consumer: { brokers: ["localhost:9092"], group_id: "g", topics: ["orders"] } },
 * });
 * readKafkaSettings(ctx).consumer?.autoOffsetReset; // "earliest"
 * ```
 */
export function readKafkaSettings(ctx: ConfigContext): KafkaSettings {
  const r = resolvePath(ctx.raw, ["kafka"]);
  if (!r.found || r.value === null) throw notFound(ctx, "kafka", r);
  const raw = validateAt(ctx, ["kafka"], r.value, kafkaSchema);
  const producers: Record<string, ProducerSettings> = {};
  for (const [name, p] of Object.entries(raw.producers ?? {})) {
    producers[name] = toProducer(ctx, ["kafka", "producers", name], p);
  }
  const consumers: Record<string, ConsumerSettings> = {};
  for (const [name, c] of Object.entries(raw.consumers ?? {})) {
    consumers[name] = toConsumer(ctx, ["kafka", "consumers", name], c);
  }
  return {
    producer: raw.producer ? toProducer(ctx, ["kafka", "producer"], raw.producer) : null,
    consumer: raw.consumer ? toConsumer(ctx, ["kafka", "consumer"], raw.consumer) : null,
    producers,
    consumers,
  };
}

/**
 * The producer settings for a logical topic reference: `kafka.producers.<logical>`, else `kafka.producer`.
 *
 * @example
 * ```ts
 * import { ConfigContext, producerFor, readKafkaSettings } from "@loom/streaming";
 * const settings = readKafkaSettings(
 *   ConfigContext.fromObject({ kafka: { producer: { brokers: ["localhost:9092"] } } }),
 * );
 * producerFor(settings, "orders").brokers; // ["localhost:9092"]
 * ```
 */
export function producerFor(settings: KafkaSettings, logical: string): ProducerSettings {
  const named = Object.hasOwn(settings.producers, logical) ? settings.producers[logical] : undefined;
  const found = named ?? settings.producer;
  if (found === null) {
    throw new Error(
      `Kafka producer config route not found for logical reference '${logical}'. ` +
        `Add kafka.producers.${logical} or a default kafka.producer.`,
    );
  }
  return found;
}

/**
 * The consumer settings for a logical source name: `kafka.consumers.<logical>`, else `kafka.consumer`.
 *
 * @example
 * ```ts
 * import { ConfigContext, consumerFor, readKafkaSettings } from "@loom/streaming";
 * const settings = readKafkaSettings(ConfigContext.fromObject({
 *   kafka: { consumer: { brokers: ["localhost:9092"], group_id: "g", topics: [] } },
 * }));
 * consumerFor(settings, "orders").groupId; // "g"
 * ```
 */
export function consumerFor(settings: KafkaSettings, logical: string): ConsumerSettings {
  const named = Object.hasOwn(settings.consumers, logical) ? settings.consumers[logical] : undefined;
  const found = named ?? settings.consumer;
  if (found === null) {
    throw new Error(
      `Kafka consumer config route not found for logical reference '${logical}'. ` +
        `Add kafka.consumers.${logical} or a default kafka.consumer.`,
    );
  }
  return found;
}

/**
 * The physical topic a logical producer reference writes to (`topic` of its settings, else the logical name).
 *
 * @example
 * ```ts
 * import { ConfigContext, producerTopic, readKafkaSettings } from "@loom/streaming";
 * const settings = readKafkaSettings(ConfigContext.fromObject({
 *   kafka: { producers: { orders: { brokers: ["b:9092"], topic: "orders.v1" } } },
 * }));
 * producerTopic(settings, "orders"); // "orders.v1"
 * ```
 */
export function producerTopic(settings: KafkaSettings, logical: string): string {
  return producerFor(settings, logical).topic ?? logical;
}

// ---------------------------------------------------------------------------------------------------------
// streaming.runtime
// ---------------------------------------------------------------------------------------------------------

/** Keys of the Python runtime section that are accepted and ignored. */
const IGNORED_RUNTIME_KEYS: ReadonlySet<string> = new Set(["recovery", "async_backend", "use_uvloop"]);

/**
 * `streaming.runtime` defaults (used when the section is absent).
 *
 * @example
 * ```ts
 * import { DEFAULT_RUNTIME_SETTINGS } from "@loom/streaming";
 * DEFAULT_RUNTIME_SETTINGS.maxInFlight; // 10000
 * ```
 */
export const DEFAULT_RUNTIME_SETTINGS: RuntimeSettings = Object.freeze({
  workersPerProcess: 1,
  processId: null,
  addresses: null,
  epochIntervalMs: null,
  forceShutdownTimeoutMs: null,
  unroutedErrors: "fail",
  maxInFlight: 10000,
  transport: "memory",
  deliveryRetries: 3,
  retryBackoffMs: 100,
});

const runtimeSchema = v.strictObject({
  workers_per_process: v.optional(intAtLeast(1), 1),
  process_id: v.nullish(intAtLeast(0)),
  addresses: v.nullish(v.array(nonEmptyString("an address"))),
  epoch_interval_ms: v.nullish(intAtLeast(1)),
  force_shutdown_timeout_ms: v.nullish(intAtLeast(0)),
  unrouted_errors: v.optional(v.picklist(["fail", "log"]), "fail"),
  max_in_flight: v.optional(intAtLeast(1), 10000),
  transport: v.optional(v.picklist(["memory", "kafka"]), "memory"),
  delivery_retries: v.optional(intAtLeast(0), 3),
  retry_backoff_ms: v.optional(intAtLeast(0), 100),
  // read by the runtime (streaming/observe/_config.ts readAdminSettings)
  admin: v.optional(v.unknown()),
  recovery: v.optional(v.unknown()),
  async_backend: v.optional(v.unknown()),
  use_uvloop: v.optional(v.unknown()),
});

/**
 * Reads `streaming.runtime` (§3.3) with its defaults; absent → {@link DEFAULT_RUNTIME_SETTINGS}.
 * Unknown keys are errors; the Python-only `recovery`, `async_backend` and `use_uvloop` are ignored.
 *
 * @example
 * ```ts
 * import { ConfigContext, readRuntimeSettings } from "@loom/streaming";
 * readRuntimeSettings(ConfigContext.fromObject({})).unroutedErrors; // "fail"
 * ```
 */
export function readRuntimeSettings(ctx: ConfigContext): RuntimeSettings {
  const path = ["streaming", "runtime"];
  const r = resolvePath(ctx.raw, path);
  if (!r.found || r.value === null || r.value === undefined) return DEFAULT_RUNTIME_SETTINGS;
  const raw = validateAt(ctx, path, r.value, runtimeSchema);
  return {
    workersPerProcess: raw.workers_per_process,
    processId: raw.process_id ?? null,
    addresses: raw.addresses ?? null,
    epochIntervalMs: raw.epoch_interval_ms ?? null,
    forceShutdownTimeoutMs: raw.force_shutdown_timeout_ms ?? null,
    unroutedErrors: raw.unrouted_errors,
    maxInFlight: raw.max_in_flight,
    transport: raw.transport,
    deliveryRetries: raw.delivery_retries,
    retryBackoffMs: raw.retry_backoff_ms,
  };
}

// ---------------------------------------------------------------------------------------------------------
// streaming.sinks.<name>
// ---------------------------------------------------------------------------------------------------------

/**
 * The shared buffer policy defaults of table sinks (§3.4).
 *
 * @example
 * ```ts
 * import { DEFAULT_BUFFER_SETTINGS } from "@loom/streaming";
 * DEFAULT_BUFFER_SETTINGS.bufferMaxRecords; // 50000
 * ```
 */
export const DEFAULT_BUFFER_SETTINGS: BufferSettings = Object.freeze({
  bufferMaxRecords: 50000,
  bufferMaxBytes: 134217728,
  bufferMaxAgeS: 60,
  flushOnShutdown: true,
});

const sinkSchema = v.looseObject({
  buffer_max_records: v.optional(intAtLeast(1), DEFAULT_BUFFER_SETTINGS.bufferMaxRecords),
  buffer_max_bytes: v.optional(intAtLeast(1), DEFAULT_BUFFER_SETTINGS.bufferMaxBytes),
  buffer_max_age_s: v.optional(positiveNumber, DEFAULT_BUFFER_SETTINGS.bufferMaxAgeS),
  flush_on_shutdown: v.optional(v.boolean(), DEFAULT_BUFFER_SETTINGS.flushOnShutdown),
  table: optionalString,
  database: optionalString,
  url: optionalString,
  type: optionalString,
});

/**
 * Reads `streaming.sinks.<name>` (§3.4): the buffer policy with defaults, the common `table`, `database`,
 * `url`, `type`, and the whole section as `options` (backend-specific keys are not checked here).
 *
 * @example
 * ```ts
 * import { ConfigContext, readSinkSection } from "@loom/streaming";
 * const ctx = ConfigContext.fromObject({
 *   streaming: { sinks: { orders: { database: "wh", table: "orders" } } },
 * });
 * readSinkSection(ctx, "orders").bufferMaxRecords; // 50000
 * ```
 */
export function readSinkSection(ctx: ConfigContext, name: string): SinkSection {
  const segs = ["streaming", "sinks", name];
  const r = resolvePath(ctx.raw, segs);
  if (!r.found || r.value === null || r.value === undefined) {
    const loc = ctx.locate(segs);
    throw new ConfigError(
      `${where(loc)}no config section found at streaming.sinks.${name}; ` +
        `add it, e.g. streaming.sinks.${name}: {database: <db>, table: <table>}`,
      { file: loc.file, line: loc.line, path: `streaming.sinks.${name}` },
    );
  }
  if (!isPlainObject(r.value)) {
    throw errorAt(ctx, segs, `expected a map, got ${describeValue(r.value)}`);
  }
  const raw = validateAt(ctx, segs, r.value, sinkSchema);
  return {
    name,
    table: raw.table ?? null,
    database: raw.database ?? null,
    url: raw.url ?? null,
    type: raw.type ?? null,
    bufferMaxRecords: raw.buffer_max_records,
    bufferMaxBytes: raw.buffer_max_bytes,
    bufferMaxAgeS: raw.buffer_max_age_s,
    flushOnShutdown: raw.flush_on_shutdown,
    options: r.value,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Free-form bindings
// ---------------------------------------------------------------------------------------------------------

/**
 * Reads a free-form binding section (§3.5), merges `overrides` over it (overrides win, shallowly) and
 * validates the result with `schema` (lax). A missing required field →
 * `<path> requires config field '<name>'`; a wrong type → `<path>.<field>: expected ..., got ...`.
 *
 * @example
 * ```ts
 * import * as v from "valibot";
 * import { bindConfig, ConfigContext } from "@loom/streaming";
 * const ctx = ConfigContext.fromObject({ streaming: { bindings: { fetch: { timeout_s: "30" } } } });
 * const fetch = bindConfig(ctx, "streaming.bindings.fetch", v.object({
 *   api_base: v.string(),
 *   timeout_s: v.number(),
 * }), { api_base: "https://example.test" });
 * fetch.timeout_s; // 30
 * ```
 */
export function bindConfig<TSchema extends AnySchema>(
  ctx: ConfigContext,
  path: ConfigPath,
  schema: TSchema,
  overrides: Readonly<Record<string, unknown>> = {},
): SchemaOutput<TSchema> {
  const r = resolvePath(ctx.raw, path);
  if (!r.found) throw notFound(ctx, path, r);
  const section = r.value === null || r.value === undefined ? {} : r.value;
  if (!isPlainObject(section)) {
    throw errorAt(ctx, r.segs, `expected a map of fields, got ${describeValue(section)}`);
  }
  const keys = Object.keys(overrides);
  const merged = keys.length === 0 ? section : { ...section, ...overrides };
  return validateAt(
    ctx,
    r.segs,
    merged,
    schema as unknown as v.GenericSchema,
    "bind",
    new Set(keys),
  ) as SchemaOutput<
    TSchema
  >;
}
