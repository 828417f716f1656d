/**
 * ConfigContext: a parsed configuration with dotted-path lookup, typed reads and located errors; and
 * `parseConfig`, which loads YAML (with includes and environment interpolation) into one.
 *
 * Web-standard only: files are read through a `readFile` callback and the environment is passed in.
 *
 * @module
 */
import type * as v from "valibot";
import type { AnySchema, SchemaOutput } from "../_type.ts";
import {
  buildError,
  ConfigError,
  type ConfigLocation,
  type ConfigPath,
  pathText,
  segKey,
  type Segment,
  type Segments,
  where,
} from "./_errors.ts";
import { loadFile, type LoadState, normalizePath } from "./_includes.ts";
import { flatten, isPlainObject } from "./_tree.ts";
import { type IssueStyle, validate } from "./_validation.ts";

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

export function resolvePath(raw: unknown, path: ConfigPath): Resolved {
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

export function notFound(ctx: ConfigContext, path: ConfigPath, r: Resolved): ConfigError {
  const text = typeof path === "string" ? path : pathText(path);
  const whole = r.segs.length === 0 && (typeof path === "string" ? !path.includes(".") : path.length === 1);
  const detail = whole
    ? `Config section not found: '${text}'`
    : `Config section not found: '${text}'  (failed at segment '${r.failedAt}')`;
  const loc = ctx.locate(r.segs);
  return new ConfigError(`${where(loc)}${detail}`, { file: loc.file, line: loc.line, path: text });
}

export function validateAt<TSchema extends v.GenericSchema>(
  ctx: ConfigContext,
  segs: Segments,
  value: unknown,
  schema: TSchema,
  style: IssueStyle = "config",
  overridden?: ReadonlySet<string>,
): v.InferOutput<TSchema> {
  return validate({ segs, locate: (s) => ctx.locate(s), style, overridden }, schema, value);
}

export function errorAt(ctx: ConfigContext, segs: Segments, detail: string, hint?: string): ConfigError {
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
