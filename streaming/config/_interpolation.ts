/**
 * Environment interpolation in configuration strings: `${NAME}`, `${NAME:-default}`, `${NAME-default}`
 * and resolver forms.
 *
 * @module
 */
import { buildError, type Segment } from "./_errors.ts";
import { isSecretPath } from "./_redact.ts";
import type { CNode } from "./_tree.ts";

export interface InterpolationEnv {
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

export function interpolateTree(
  node: CNode,
  segs: Segment[],
  ienv: InterpolationEnv,
  file: string | null,
): void {
  if (node.kind === "leaf") {
    if (typeof node.value === "string" && node.value.includes("${")) {
      const secret = isSecretPath(segs);
      // Under a secret key, the quoted fragments of the value are masked.
      const mask = (text: string | undefined) =>
        secret && text !== undefined ? text.replace(/'[^']*'/g, "'***'") : text;
      const fail: Fail = (detail, hint) => {
        throw buildError(node.loc ?? { file, line: null }, segs, mask(detail)!, mask(hint));
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
