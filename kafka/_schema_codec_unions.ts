/**
 * Union and variant codecs (the first matching option), valibot pipe checks and fallbacks.
 *
 * @module
 */
import * as v from "valibot";
import { T_EXT, WireDecodeError, WireEncodeError, Writer } from "./_msgpack.ts";
import type { AnySchema } from "./_type.ts";
import {
  A_MAP,
  A_NIL,
  encodeMismatch,
  isPlainObjectLike,
  type Node,
  pyRepr,
  type SchemaLike,
} from "./_schema_codec_node.ts";
import { required } from "./_schema_codec_leaves.ts";

export function unionNode(options: readonly Node[]): Node {
  const expectsParts: string[] = [];
  let accepts = 0;
  for (const o of options) {
    for (const part of o.expects.split(" | ")) if (!expectsParts.includes(part)) expectsParts.push(part);
    accepts |= o.accepts;
  }
  // Keep msgspec's habit of listing `null` last.
  const nullIdx = expectsParts.indexOf("null");
  if (nullIdx !== -1) {
    expectsParts.splice(nullIdx, 1);
    expectsParts.push("null");
  }
  const expects = expectsParts.join(" | ");
  const byType: Node[][] = [];
  for (let t = 0; t <= T_EXT; t++) byType.push(options.filter((o) => (o.accepts & (1 << t)) !== 0));
  const nilOption = options.find((o) => o.accepts & A_NIL);
  return {
    expects,
    accepts,
    missing: nilOption ? nilOption.missing : required,
    matches: (x) => options.some((o) => o.matches(x)),
    encode(w, x) {
      for (const o of options) {
        if (o.matches(x)) return o.encode(w, x);
      }
      throw encodeMismatch(expects, x);
    },
    decode(r) {
      const t = r.peekType();
      const candidates = byType[t];
      if (candidates.length === 0) throw r.typeError(expects);
      if (candidates.length === 1) return candidates[0].decode(r);
      const start = r.pos, depth = r.depth;
      let first: unknown = null;
      for (const c of candidates) {
        try {
          return c.decode(r);
        } catch (e) {
          if (!(e instanceof WireDecodeError)) throw e;
          first ??= e;
          r.pos = start;
          r.depth = depth;
        }
      }
      throw first;
    },
  };
}

export function variantNode(key: string, options: readonly Node[], discriminators: readonly Node[]): Node {
  const base = unionNode(options);
  const keyBytes = (() => {
    const w = new Writer(64);
    w.str(key);
    return w.toBytes();
  })();
  return {
    expects: "object",
    accepts: A_MAP,
    missing: required,
    matches: base.matches,
    encode(w, x) {
      if (isPlainObjectLike(x)) {
        const tag = x[key];
        for (let i = 0; i < options.length; i++) {
          if (discriminators[i].matches(tag)) return options[i].encode(w, x);
        }
        throw new WireEncodeError(
          `Invalid value ${pyRepr(tag)} for the discriminator \`${key}\``,
          `$.${key}`,
        );
      }
      throw encodeMismatch("object", x);
    },
    decode(r) {
      const start = r.pos;
      const n = r.readMapHeader();
      let tag: unknown = undefined;
      let found = false;
      for (let i = 0; i < n; i++) {
        if (r.matchRaw(keyBytes)) {
          tag = r.readAny();
          found = true;
          break;
        }
        r.skip();
        r.skip();
      }
      r.pos = start;
      if (!found) throw new WireDecodeError(`Object missing required field \`${key}\``);
      for (let i = 0; i < options.length; i++) {
        if (discriminators[i].matches(tag)) return options[i].decode(r);
      }
      throw new WireDecodeError(`Invalid value ${pyRepr(tag)}`, `$.${key}`);
    },
  };
}

function issuePath(issue: v.BaseIssue<unknown>): string {
  let path = "$";
  for (const item of issue.path ?? []) {
    const k = item.key;
    path += typeof k === "number" ? `[${k}]` : typeof k === "string" ? `.${k}` : "[...]";
  }
  return path;
}

export function withCheck(inner: Node, schema: AnySchema): Node {
  return {
    ...inner,
    decode(r) {
      const value = inner.decode(r);
      const result = v.safeParse(schema as unknown as v.GenericSchema, value);
      if (result.success) return result.output;
      const issue = result.issues[0];
      throw new WireDecodeError(issue.message, issuePath(issue));
    },
  };
}

export function withFallback(inner: Node, schema: SchemaLike): Node {
  const fallback = () => (typeof schema.fallback === "function" ? schema.fallback() : schema.fallback);
  return {
    ...inner,
    decode(r) {
      const start = r.pos, depth = r.depth;
      try {
        return inner.decode(r);
      } catch (e) {
        if (!(e instanceof WireDecodeError) || e.reason.startsWith("Input data was truncated")) throw e;
        r.pos = start;
        r.depth = depth;
        r.skip();
        return fallback();
      }
    },
  };
}
