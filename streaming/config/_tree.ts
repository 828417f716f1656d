/**
 * The located configuration tree: built from the YAML AST (with line numbers), merged across includes,
 * then flattened to plain values plus a location per path.
 *
 * @module
 */
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
import {
  buildError,
  ConfigError,
  type ConfigLocation,
  describeValue,
  segKey,
  type Segment,
  type Segments,
  where,
} from "./_errors.ts";
import { redactYamlText } from "./_redact.ts";

interface Loc {
  readonly file: string | null;
  readonly line: number;
}

export type CNode = MapNode | SeqNode | LeafNode;
export interface MapNode {
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

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

export function setOwn(obj: Record<string, unknown>, key: string, value: unknown): void {
  if (key === "__proto__") {
    Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    obj[key] = value;
  }
}

export function flatten(node: CNode, segs: Segment[], locs: Map<string, ConfigLocation>): unknown {
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
export function mergeNodes(base: CNode, over: CNode): CNode {
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
  // The snippet shows the offending line: secret values in it are masked.
  const reason = redactYamlText(first.replace(/ at line \d+, column \d+:?$/, ""));
  const snippet = redactYamlText(rest.join("\n").trim());
  const col = pos === undefined ? "" : ` (column ${pos.col})`;
  const loc = { file, line: pos?.line ?? null };
  const message = `${where(loc)}invalid YAML: ${reason}${col}${snippet === "" ? "" : `\n${snippet}`}`;
  return new ConfigError(message, { file, line: loc.line, path: "", cause: err });
}

export function parseYamlFile(text: string, file: string | null): MapNode {
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
