/**
 * Local configuration includes: path resolution and recursive loading (cycles rejected).
 *
 * @module
 */
import { buildError, ConfigError, describeValue, type Segment } from "./_errors.ts";
import { interpolateTree, type InterpolationEnv } from "./_interpolation.ts";
import { type CNode, type MapNode, mergeNodes, parseYamlFile } from "./_tree.ts";

function dirname(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "" : path.slice(0, i + 1);
}

export function normalizePath(path: string): string {
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

export interface LoadState {
  readonly ienv: InterpolationEnv;
  readonly readFile: ((path: string) => string) | undefined;
}

export function loadFile(
  text: string,
  file: string | null,
  stack: readonly string[],
  state: LoadState,
): MapNode {
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
