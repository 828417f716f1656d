/**
 * Lax (msgspec `strict=False`-like) conversion of configuration values, and schema validation with
 * located, suggestion-bearing errors.
 *
 * @module
 */
import * as v from "valibot";
import {
  buildError,
  ConfigError,
  type ConfigLocation,
  describeValue,
  pathText,
  type Segment,
  type Segments,
} from "./_errors.ts";
import { isSecretPath, REDACTED } from "./_redact.ts";
import { IGNORED_RUNTIME_KEYS } from "./_schemas.ts";
import { isPlainObject, setOwn } from "./_tree.ts";

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

/** Reports an unknown key of a strict object, or (`key` null) a list where a map is expected. */
type UnknownKeyHandler = (segs: Segments, key: string | null, allowed: readonly string[]) => never;

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
      if (Array.isArray(value) && onUnknown !== null) onUnknown([...segs], null, []);
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
      if (Array.isArray(value) && onUnknown !== null) {
        onUnknown([...segs], null, Object.keys(schema.entries!));
      }
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

/** Edit distance counting a swap of two adjacent characters as one edit (optimal string alignment). */
function editDistance(a: string, b: string): number {
  if (a === b) return 0;
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}

function normalizeKey(key: string): string {
  return key.toLowerCase().replace(/[-_.\s]/g, "");
}

/** The closest allowed key to `key`, when it is plausibly a typo. */
export function suggestKey(key: string, allowed: readonly string[]): string | null {
  const norm = normalizeKey(key);
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const candidate of allowed) {
    if (normalizeKey(candidate) === norm) return candidate;
    const d = editDistance(key.toLowerCase(), candidate.toLowerCase());
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

export type IssueStyle = "config" | "bind";

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
  const err = describeIssue(target, issue);
  const rel: Segment[] = (issue.path ?? []).map((p) => typeof p.key === "number" ? p.key : String(p.key));
  const input = issue.input;
  if (!isSecretPath([...target.segs, ...rel]) || input === null || typeof input === "object") return err;
  // A custom schema message may quote the value: never let a secret through.
  const text = String(input);
  if (text === "" || !err.message.includes(text)) return err;
  return new ConfigError(err.message.split(text).join(REDACTED), {
    file: err.file,
    line: err.line,
    path: err.path,
  });
}

function describeIssue(target: ValidationTarget, issue: v.BaseIssue<unknown>): ConfigError {
  const rel: Segment[] = (issue.path ?? []).map((p) =>
    typeof p.key === "number" ? p.key : String(p.key as string)
  );
  const segs = [...target.segs, ...rel];
  const fromOverride = target.overridden !== undefined && rel.length > 0 &&
    target.overridden.has(String(rel[0]));
  const loc = fromOverride ? target.locate(target.segs) : target.locate(segs);
  const suffix = fromOverride ? " (value given in overrides)" : "";
  const last = issue.path?.[issue.path.length - 1];
  const secret = isSecretPath(segs);

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
      ? (secret
        ? "quote the value if it is meant as text"
        : `quote the value if it is meant as text: "${String(issue.input)}"`)
      : undefined;
    return buildError(
      loc,
      segs,
      `expected ${expected}, got ${describeValue(issue.input, secret)}${suffix}`,
      hint,
    );
  }
  if (issue.type === "integer") {
    return buildError(loc, segs, `expected an integer, got ${describeValue(issue.input, secret)}${suffix}`);
  }
  return buildError(loc, segs, `${issue.message}${suffix}`);
}

export function validate<TSchema extends v.GenericSchema>(
  target: ValidationTarget,
  schema: TSchema,
  value: unknown,
): v.InferOutput<TSchema> {
  const onUnknown: UnknownKeyHandler = (segs, key, allowed) => {
    if (key === null) {
      const keys = allowed.filter((k) => !IGNORED_RUNTIME_KEYS.has(k));
      const hint = keys.length > 0
        ? `write it as 'key: value' lines (keys: ${keys.join(", ")}), not as a '- item' list`
        : "write it as 'name: value' lines, not as a '- item' list";
      throw buildError(target.locate(segs), segs, "expected a map, got a list", hint);
    }
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
