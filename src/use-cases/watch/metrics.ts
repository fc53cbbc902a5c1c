/**
 * A small Prometheus registry and its text exposition format (version 0.0.4), hand-written: no
 * dependency. Counters, gauges and histograms with labels; `render()` writes `# HELP` and
 * `# TYPE` once per metric family, then one sample per line, label values escaped (`\\`, `"`,
 * newline) as the format requires.
 */
export type Labels = Readonly<Record<string, string>>;

export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

abstract class Family {
  protected readonly series = new Map<string, { labels: Labels; value: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {
    if (!NAME.test(name)) throw new Error(`invalid metric name ${name}`);
    for (const l of labelNames)
      if (!LABEL.test(l) || l.startsWith('__') || l === 'le') throw new Error(`invalid label name ${l} on ${name}`);
  }
  abstract readonly type: 'counter' | 'gauge' | 'histogram';

  protected key(labels: Labels): string {
    const given = Object.keys(labels);
    if (given.length !== this.labelNames.length || !this.labelNames.every((n) => typeof labels[n] === 'string')) {
      throw new Error(`${this.name} takes labels {${this.labelNames.join(', ')}}, got {${given.join(', ')}}`);
    }
    return JSON.stringify(this.labelNames.map((n) => labels[n]));
  }

  protected entry(labels: Labels): { labels: Labels; value: number } {
    const k = this.key(labels);
    let e = this.series.get(k);
    if (!e) this.series.set(k, (e = { labels: { ...labels }, value: 0 }));
    return e;
  }

  /** Forgets every series (a gauge whose label set is replaced wholesale, e.g. buckets by status). */
  clear(): void {
    this.series.clear();
  }

  get(labels: Labels = {}): number | undefined {
    return this.series.get(this.key(labels))?.value;
  }

  lines(): string[] {
    const out = [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`];
    for (const s of this.sorted()) out.push(`${this.name}${formatLabels(s.labels)} ${formatValue(s.value)}`);
    return out;
  }

  protected sorted(): Array<{ labels: Labels; value: number }> {
    return [...this.series.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
  }
}

export class Counter extends Family {
  readonly type = 'counter' as const;
  inc(labels: Labels = {}, by = 1): void {
    if (!(by >= 0)) throw new Error(`${this.name}: a counter only goes up`);
    this.entry(labels).value += by;
  }
  /** Mirrors a total kept elsewhere (a migration's objects copied, from its driver). */
  setTotal(labels: Labels, value: number): void {
    this.entry(labels).value = value;
  }
  /** Exposes the series with 0 before the first event, so rates work from the start. */
  init(labels: Labels): void {
    this.entry(labels);
  }
}

export class Gauge extends Family {
  readonly type = 'gauge' as const;
  set(labels: Labels, value: number): void {
    this.entry(labels).value = value;
  }
}

export class Histogram extends Family {
  readonly type = 'histogram' as const;
  private readonly hist = new Map<string, { labels: Labels; counts: number[]; sum: number; count: number }>();
  constructor(
    name: string,
    help: string,
    labelNames: readonly string[],
    readonly buckets: readonly number[],
  ) {
    super(name, help, labelNames);
    for (let i = 1; i < buckets.length; i++) if (!(buckets[i]! > buckets[i - 1]!)) throw new Error(`${name}: buckets must increase`);
  }
  observe(labels: Labels, value: number): void {
    const k = this.key(labels);
    let h = this.hist.get(k);
    if (!h) this.hist.set(k, (h = { labels: { ...labels }, counts: this.buckets.map(() => 0), sum: 0, count: 0 }));
    this.buckets.forEach((b, i) => {
      if (value <= b) h!.counts[i]!++;
    });
    h.sum += value;
    h.count++;
  }
  count(labels: Labels = {}): number {
    return this.hist.get(this.key(labels))?.count ?? 0;
  }
  override clear(): void {
    this.hist.clear();
  }
  override lines(): string[] {
    const out = [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`];
    const entries = [...this.hist.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
    for (const h of entries) {
      this.buckets.forEach((b, i) => out.push(`${this.name}_bucket${formatLabels({ ...h.labels, le: formatValue(b) })} ${h.counts[i]}`));
      out.push(`${this.name}_bucket${formatLabels({ ...h.labels, le: '+Inf' })} ${h.count}`);
      out.push(`${this.name}_sum${formatLabels(h.labels)} ${formatValue(h.sum)}`);
      out.push(`${this.name}_count${formatLabels(h.labels)} ${h.count}`);
    }
    return out;
  }
}

export class MetricsRegistry {
  private readonly families = new Map<string, Family>();

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.add(new Counter(name, help, labelNames));
  }
  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.add(new Gauge(name, help, labelNames));
  }
  histogram(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]): Histogram {
    return this.add(new Histogram(name, help, labelNames, buckets));
  }

  private add<F extends Family>(f: F): F {
    if (this.families.has(f.name)) throw new Error(`metric ${f.name} registered twice`);
    this.families.set(f.name, f);
    return f;
  }

  /** The text exposition format 0.0.4, ending with a newline. */
  render(): string {
    return `${[...this.families.values()].flatMap((f) => f.lines()).join('\n')}\n`;
  }
}

/** Label value escaping of the text format: backslash, double quote and line feed. */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text escaping: backslash and line feed. */
function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatLabels(labels: Labels): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return '';
  return `{${entries.map(([k, v]) => `${k}="${escapeLabelValue(v)}"`).join(',')}}`;
}

export function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}
