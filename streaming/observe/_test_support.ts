// A strict parser of the Prometheus text exposition format (0.0.4), for tests: it rejects what a
// Prometheus server would reject (bad names, bad label syntax or escapes, samples of undeclared
// families, duplicate series, non-cumulative or incomplete histogram buckets).

/** One parsed series. */
export interface ParsedSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** One parsed family. */
export interface ParsedFamily {
  readonly name: string;
  readonly help: string;
  readonly type: string;
  readonly samples: ParsedSample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function parseValue(s: string, line: number): number {
  if (s === "+Inf") return Infinity;
  if (s === "-Inf") return -Infinity;
  if (s === "NaN") return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new Error(`line ${line}: bad value '${s}'`);
  return Number(s);
}

function parseLabels(s: string, line: number): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < s.length) {
    const eq = s.indexOf("=", i);
    if (eq < 0) throw new Error(`line ${line}: label without '='`);
    const name = s.slice(i, eq);
    if (!LABEL.test(name)) throw new Error(`line ${line}: bad label name '${name}'`);
    if (s[eq + 1] !== '"') throw new Error(`line ${line}: label value must be quoted`);
    let j = eq + 2, v = "";
    for (;;) {
      if (j >= s.length) throw new Error(`line ${line}: unterminated label value`);
      const c = s[j];
      if (c === "\\") {
        const n = s[j + 1];
        if (n === "\\") v += "\\";
        else if (n === '"') v += '"';
        else if (n === "n") v += "\n";
        else throw new Error(`line ${line}: bad escape '\\${n}'`);
        j += 2;
      } else if (c === '"') break;
      else if (c === "\n") throw new Error(`line ${line}: newline in label value`);
      else {
        v += c;
        j++;
      }
    }
    if (name in out) throw new Error(`line ${line}: duplicate label '${name}'`);
    out[name] = v;
    i = j + 1;
    if (s[i] === ",") i++;
    else if (i < s.length) throw new Error(`line ${line}: expected ',' between labels`);
  }
  return out;
}

/** Parses exposition text; throws on anything malformed. */
export function parsePrometheusText(text: string): Map<string, ParsedFamily> {
  if (text.length > 0 && !text.endsWith("\n")) throw new Error("exposition must end with a newline");
  const families = new Map<string, ParsedFamily>();
  const series = new Set<string>();
  const lines = text.split("\n");
  lines.pop();
  let current: ParsedFamily | null = null;
  const helps = new Map<string, string>();
  lines.forEach((raw, idx) => {
    const n = idx + 1;
    if (raw === "") return;
    if (raw.startsWith("#")) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(raw);
      if (!m) return; // a comment
      const [, what, name, rest] = m;
      if (!NAME.test(name)) throw new Error(`line ${n}: bad metric name '${name}'`);
      if (what === "HELP") helps.set(name, rest.replace(/\\n/g, "\n").replace(/\\\\/g, "\\"));
      else {
        if (!["counter", "gauge", "histogram", "summary", "untyped"].includes(rest)) {
          throw new Error(`line ${n}: bad type '${rest}'`);
        }
        if (families.has(name)) throw new Error(`line ${n}: family ${name} declared twice`);
        current = { name, help: helps.get(name) ?? "", type: rest, samples: [] };
        families.set(name, current);
      }
      return;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)( -?\d+)?$/.exec(raw);
    if (!m) throw new Error(`line ${n}: bad sample line '${raw}'`);
    const [, name, , labelText, valueText] = m;
    const labels = labelText ? parseLabels(labelText, n) : {};
    const fam: ParsedFamily | null = current;
    const base = fam === null ? null : (fam as ParsedFamily).name;
    const ok = base !== null && (name === base ||
      ((fam as ParsedFamily).type === "histogram" &&
        [`${base}_bucket`, `${base}_sum`, `${base}_count`].includes(name)));
    if (!ok) throw new Error(`line ${n}: sample ${name} outside its family (${base ?? "none"})`);
    const key = `${name}{${
      Object.entries(labels).sort().map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(",")
    }}`;
    if (series.has(key)) throw new Error(`line ${n}: duplicate series ${key}`);
    series.add(key);
    (fam as ParsedFamily).samples.push({ name, labels, value: parseValue(valueText, n) });
  });
  for (const f of families.values()) {
    if (f.type !== "histogram") continue;
    const groups = new Map<string, ParsedSample[]>();
    for (const s of f.samples) {
      if (s.name !== `${f.name}_bucket`) continue;
      const { le: _le, ...rest } = s.labels;
      const k = JSON.stringify(Object.entries(rest).sort());
      let g = groups.get(k);
      if (!g) groups.set(k, g = []);
      g.push(s);
    }
    for (const [k, g] of groups) {
      let prev = -Infinity, prevCount = 0;
      for (const b of g) {
        if (b.labels.le === undefined) throw new Error(`${f.name}: bucket without le`);
        const le = parseValue(b.labels.le, 0);
        if (!(le > prev)) throw new Error(`${f.name}: buckets not ascending`);
        if (b.value < prevCount) throw new Error(`${f.name}: buckets not cumulative`);
        prev = le;
        prevCount = b.value;
      }
      if (prev !== Infinity) throw new Error(`${f.name}: no +Inf bucket for ${k}`);
      const count = f.samples.find((s) =>
        s.name === `${f.name}_count` && JSON.stringify(Object.entries(s.labels).sort()) === k
      );
      if (!count || count.value !== prevCount) {
        throw new Error(`${f.name}: _count differs from the +Inf bucket`);
      }
    }
  }
  return families;
}

/** The value of one series (labels must match exactly), or undefined. */
export function sampleValue(
  families: Map<string, ParsedFamily>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name !== name) continue;
      const a = Object.entries(s.labels).sort(), b = Object.entries(labels).sort();
      if (JSON.stringify(a) === JSON.stringify(b)) return s.value;
    }
  }
  return undefined;
}

/** Sum of every series of `name` whose labels include `labels`. */
export function sampleSum(
  families: Map<string, ParsedFamily>,
  name: string,
  labels: Record<string, string> = {},
): number {
  let sum = 0;
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) sum += s.value;
    }
  }
  return sum;
}
