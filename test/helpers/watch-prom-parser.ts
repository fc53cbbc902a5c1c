/**
 * A strict parser of the Prometheus text exposition format 0.0.4, for tests: it throws on anything
 * the format does not allow (a sample before its TYPE, a family split in two, a bad metric or
 * label name, an unknown escape in a label value, a duplicate label, a value that is not a float,
 * a negative counter, a histogram whose buckets are not cumulative or lack `+Inf`).
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  timestamp: number | null;
}

export interface MetricFamily {
  name: string;
  help: string | null;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

export class ExpositionError extends Error {
  constructor(line: number, message: string, text: string) {
    super(`line ${line}: ${message}: ${JSON.stringify(text)}`);
  }
}

export function parsePrometheusText(text: string): Map<string, MetricFamily> {
  if (text.length > 0 && !text.endsWith('\n')) throw new ExpositionError(0, 'the exposition must end with a line feed', text.slice(-40));
  const families = new Map<string, MetricFamily>();
  const closed = new Set<string>();
  let current: string | null = null;
  const lines = text.split('\n');
  lines.pop();
  const familyOf = (sampleName: string): string => {
    for (const suffix of ['_bucket', '_sum', '_count']) {
      if (sampleName.endsWith(suffix)) {
        const base = sampleName.slice(0, -suffix.length);
        const f = families.get(base);
        if (f && (f.type === 'histogram' || f.type === 'summary')) return base;
      }
    }
    return sampleName;
  };
  const enter = (name: string, n: number, line: string) => {
    if (current === name) return;
    if (closed.has(name)) throw new ExpositionError(n, `metric family ${name} appears in two separate groups`, line);
    if (current !== null) closed.add(current);
    current = name;
  };

  lines.forEach((line, i) => {
    const n = i + 1;
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+)(?: (.*))?$/.exec(line);
      if (!m) {
        if (/^#\s*(HELP|TYPE)\b/.test(line)) throw new ExpositionError(n, 'malformed HELP or TYPE line', line);
        return; // a plain comment
      }
      const [, kind, name, rest] = m as unknown as [string, string, string, string | undefined];
      if (!METRIC_NAME.test(name) || METRIC_NAME.exec(name)![0] !== name) throw new ExpositionError(n, 'invalid metric name', line);
      enter(name, n, line);
      let f = families.get(name);
      if (!f) families.set(name, (f = { name, help: null, type: 'untyped', samples: [] }));
      if (kind === 'HELP') {
        if (f.help !== null) throw new ExpositionError(n, `second HELP for ${name}`, line);
        f.help = unescapeHelp(rest ?? '', n, line);
      } else {
        if (f.samples.length > 0) throw new ExpositionError(n, `TYPE for ${name} after its samples`, line);
        if ((f as MetricFamily & { typed?: boolean }).typed) throw new ExpositionError(n, `second TYPE for ${name}`, line);
        if (!rest || !TYPES.has(rest)) throw new ExpositionError(n, 'unknown metric type', line);
        f.type = rest as MetricFamily['type'];
        (f as MetricFamily & { typed?: boolean }).typed = true;
      }
      return;
    }
    const sample = parseSample(line, n);
    const fam = familyOf(sample.name);
    enter(fam, n, line);
    let f = families.get(fam);
    if (!f) families.set(fam, (f = { name: fam, help: null, type: 'untyped', samples: [] }));
    const key = JSON.stringify([sample.name, Object.entries(sample.labels).sort()]);
    if (f.samples.some((s) => JSON.stringify([s.name, Object.entries(s.labels).sort()]) === key))
      throw new ExpositionError(n, 'duplicate sample', line);
    if (f.type === 'counter' && !(sample.value >= 0)) throw new ExpositionError(n, 'a counter must be a non-negative number', line);
    if (f.type === 'histogram' && sample.name === fam)
      throw new ExpositionError(n, 'a histogram has only _bucket, _sum and _count samples', line);
    f.samples.push(sample);
  });

  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

function parseSample(line: string, n: number): Sample {
  const nameMatch = METRIC_NAME.exec(line);
  if (!nameMatch) throw new ExpositionError(n, 'a sample must start with a metric name', line);
  const name = nameMatch[0];
  let pos = name.length;
  const labels: Record<string, string> = {};
  if (line[pos] === '{') {
    pos++;
    for (;;) {
      if (line[pos] === '}') {
        pos++;
        break;
      }
      const ln = LABEL_NAME.exec(line.slice(pos));
      if (!ln) throw new ExpositionError(n, 'invalid label name', line);
      const labelName = ln[0];
      if (labelName.startsWith('__')) throw new ExpositionError(n, 'label names starting with __ are reserved', line);
      pos += labelName.length;
      if (line[pos] !== '=' || line[pos + 1] !== '"') throw new ExpositionError(n, 'expected ="', line);
      pos += 2;
      let value = '';
      for (;;) {
        const c = line[pos];
        if (c === undefined) throw new ExpositionError(n, 'unterminated label value', line);
        if (c === '"') {
          pos++;
          break;
        }
        if (c === '\\') {
          const e = line[pos + 1];
          if (e === '\\') value += '\\';
          else if (e === '"') value += '"';
          else if (e === 'n') value += '\n';
          else throw new ExpositionError(n, `invalid escape \\${e ?? ''} in a label value`, line);
          pos += 2;
          continue;
        }
        value += c;
        pos++;
      }
      if (labelName in labels) throw new ExpositionError(n, `duplicate label ${labelName}`, line);
      labels[labelName] = value;
      if (line[pos] === ',') {
        pos++;
        continue;
      }
      if (line[pos] !== '}') throw new ExpositionError(n, 'expected , or } after a label', line);
    }
  }
  if (line[pos] !== ' ') throw new ExpositionError(n, 'expected a space before the value', line);
  const rest = line.slice(pos + 1).split(' ');
  if (rest.length < 1 || rest.length > 2 || rest[0] === '')
    throw new ExpositionError(n, 'expected a value and an optional timestamp', line);
  const value = parseFloatStrict(rest[0]!, n, line);
  let timestamp: number | null = null;
  if (rest.length === 2) {
    if (!/^-?\d+$/.test(rest[1]!)) throw new ExpositionError(n, 'invalid timestamp', line);
    timestamp = Number(rest[1]);
  }
  return { name, labels, value, timestamp };
}

function parseFloatStrict(s: string, n: number, line: string): number {
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new ExpositionError(n, `invalid value ${s}`, line);
  return Number(s);
}

function unescapeHelp(s: string, n: number, line: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) {
    const c = s[i]!;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = s[i + 1];
    if (e === '\\') out += '\\';
    else if (e === 'n') out += '\n';
    else throw new ExpositionError(n, `invalid escape \\${e ?? ''} in HELP`, line);
    i++;
  }
  return out;
}

function checkHistogram(f: MetricFamily): void {
  const groups = new Map<string, { buckets: Array<[number, number]>; sum: number | null; count: number | null }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { buckets: [], sum: null, count: null }));
    if (s.name === `${f.name}_bucket`) {
      if (le === undefined) throw new Error(`${f.name}: a _bucket sample without le`);
      g.buckets.push([parseFloatStrict(le, 0, le), s.value]);
    } else if (s.name === `${f.name}_sum`) g.sum = s.value;
    else if (s.name === `${f.name}_count`) g.count = s.value;
  }
  for (const [key, g] of groups) {
    if (g.sum === null || g.count === null) throw new Error(`${f.name}${key}: _sum and _count are required`);
    if (g.buckets.length === 0 || g.buckets[g.buckets.length - 1]![0] !== Infinity)
      throw new Error(`${f.name}${key}: the last bucket must be le="+Inf"`);
    for (let i = 1; i < g.buckets.length; i++) {
      if (!(g.buckets[i]![0] > g.buckets[i - 1]![0])) throw new Error(`${f.name}${key}: bucket bounds must increase`);
      if (g.buckets[i]![1] < g.buckets[i - 1]![1]) throw new Error(`${f.name}${key}: bucket counts must be cumulative`);
    }
    if (g.buckets[g.buckets.length - 1]![1] !== g.count) throw new Error(`${f.name}${key}: the +Inf bucket must equal _count`);
  }
}

/** The value of one sample, or undefined. */
export function sampleValue(families: Map<string, MetricFamily>, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const f of families.values()) {
    for (const s of f.samples) {
      if (s.name !== name) continue;
      const keys = Object.keys(labels);
      if (keys.length === Object.keys(s.labels).length && keys.every((k) => s.labels[k] === labels[k])) return s.value;
    }
  }
  return undefined;
}
