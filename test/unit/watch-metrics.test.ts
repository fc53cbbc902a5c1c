import { describe, expect, it } from 'vitest';
import { escapeLabelValue, MetricsRegistry } from '../../src/use-cases/watch/metrics.js';
import { createWatchMetrics } from '../../src/use-cases/watch/watch-metrics.js';
import { parsePrometheusText, sampleValue } from '../helpers/watch-prom-parser.js';

describe('Prometheus text exposition (src/use-cases/watch/metrics.ts)', () => {
  it('escapes label values (backslash, double quote, line feed) so that a strict parser reads them back exactly', () => {
    const r = new MetricsRegistry();
    const phase = r.gauge('orch_migration_phase', 'Current phase.\nOne line per migration, with a \\ in it.', ['migration', 'phase']);
    const nasty = ['plain', 'with "quotes"', 'back\\slash', 'two\nlines', 'all \\"\n of them', 'unicode ✓ ü', '{}=,', ''];
    nasty.forEach((name, i) => phase.set({ migration: name, phase: `p${i}` }, 1));
    const text = r.render();
    // No raw line feed inside a sample: every line is a HELP, a TYPE or one sample.
    expect(text.split('\n').filter((l) => l !== '' && !l.startsWith('#'))).toHaveLength(nasty.length);
    const parsed = parsePrometheusText(text);
    const fam = parsed.get('orch_migration_phase')!;
    expect(fam.type).toBe('gauge');
    expect(fam.help).toBe('Current phase.\nOne line per migration, with a \\ in it.');
    expect(fam.samples.map((s) => s.labels['migration']).sort()).toEqual([...nasty].sort());
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
  });

  it('writes histograms with cumulative buckets, +Inf, _sum and _count', () => {
    const r = new MetricsRegistry();
    const h = r.histogram('orch_nginx_test_duration_seconds', 'nginx -t.', ['stage'], [0.1, 0.5, 1]);
    for (const v of [0.05, 0.2, 0.2, 0.7, 3]) h.observe({ stage: 'live' }, v);
    h.observe({ stage: 'staged' }, 0.01);
    const m = parsePrometheusText(r.render());
    const b = (le: string, stage = 'live') => sampleValue(m, 'orch_nginx_test_duration_seconds_bucket', { stage, le });
    expect([b('0.1'), b('0.5'), b('1'), b('+Inf')]).toEqual([1, 3, 4, 5]);
    expect(sampleValue(m, 'orch_nginx_test_duration_seconds_count', { stage: 'live' })).toBe(5);
    expect(sampleValue(m, 'orch_nginx_test_duration_seconds_sum', { stage: 'live' })).toBeCloseTo(4.15, 10);
    expect(b('+Inf', 'staged')).toBe(1);
  });

  it('the daemon registry: every family has HELP and TYPE, counters start at 0 for every outcome', () => {
    const m = createWatchMetrics();
    m.reconcile.inc({ outcome: 'applied' });
    m.apply.inc({ outcome: 'applied' });
    m.reload.observe({}, 0.3);
    m.buckets.set({ status: 'via-default' }, 3);
    m.migrationObjects.setTotal({ migration: 'photos "to" hot' }, 12);
    const text = m.registry.render();
    const parsed = parsePrometheusText(text);
    for (const f of parsed.values()) {
      expect(f.help, f.name).toBeTruthy();
      expect(f.type, f.name).not.toBe('untyped');
    }
    expect(
      parsed
        .get('orch_reconcile_total')!
        .samples.map((s) => s.labels['outcome'])
        .sort(),
    ).toEqual(['applied', 'blocked', 'failed', 'invalid', 'no_changes', 'planned']);
    expect(sampleValue(parsed, 'orch_reconcile_total', { outcome: 'failed' })).toBe(0);
    expect(sampleValue(parsed, 'orch_reconcile_total', { outcome: 'applied' })).toBe(1);
    expect(sampleValue(parsed, 'orch_apply_total', { outcome: 'reload_not_confirmed' })).toBe(0);
    expect(sampleValue(parsed, 'orch_migration_objects_copied_total', { migration: 'photos "to" hot' })).toBe(12);
    expect(sampleValue(parsed, 'orch_up')).toBe(1);
    expect(text.endsWith('\n')).toBe(true);
  });

  it('refuses what the format cannot carry: bad names, wrong labels, a counter going down', () => {
    const r = new MetricsRegistry();
    expect(() => r.gauge('orch-bad', 'x')).toThrow(/invalid metric name/);
    expect(() => r.gauge('orch_x', 'x', ['le'])).toThrow(/invalid label name/);
    const c = r.counter('orch_c_total', 'x', ['outcome']);
    expect(() => c.inc({})).toThrow(/takes labels/);
    expect(() => c.inc({ outcome: 'a' }, -1)).toThrow(/only goes up/);
    expect(() => r.counter('orch_c_total', 'again')).toThrow(/registered twice/);
  });
});

describe('the strict text-format parser used by the tests', () => {
  const bad: Array<[string, string, RegExp]> = [
    [
      'sample before its TYPE is fine, but a TYPE after samples is not',
      '# HELP a x\na 1\n# TYPE a gauge\n',
      /TYPE for a after its samples/,
    ],
    ['bad escape in a label value', '# TYPE a gauge\na{l="x\\t"} 1\n', /invalid escape/],
    ['unterminated label value', '# TYPE a gauge\na{l="x} 1\n', /unterminated|expected/],
    ['duplicate label', '# TYPE a gauge\na{l="x",l="y"} 1\n', /duplicate label/],
    ['bad label name', '# TYPE a gauge\na{1l="x"} 1\n', /invalid label name/],
    ['not a float', '# TYPE a gauge\na 1,5\n', /invalid value/],
    ['negative counter', '# TYPE a_total counter\na_total -1\n', /non-negative/],
    ['family split in two groups', '# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na{x="1"} 2\n', /two separate groups/],
    ['duplicate sample', '# TYPE a gauge\na{x="1"} 1\na{x="1"} 2\n', /duplicate sample/],
    ['missing final line feed', '# TYPE a gauge\na 1', /end with a line feed/],
    ['unknown type', '# TYPE a meter\na 1\n', /unknown metric type/],
    ['histogram without +Inf', '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n', /\+Inf/],
    ['histogram not cumulative', '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n', /cumulative/],
  ];
  for (const [what, text, error] of bad) {
    it(`rejects: ${what}`, () => {
      expect(() => parsePrometheusText(text)).toThrow(error);
    });
  }
  it('accepts comments, blank lines, timestamps and special values', () => {
    const m = parsePrometheusText('# a comment\n\n# TYPE a gauge\na{x="1"} +Inf 1700000000000\na{x="2"} NaN\na{x="3"} -1.5e-3\n');
    expect(sampleValue(m, 'a', { x: '1' })).toBe(Infinity);
    expect(Number.isNaN(sampleValue(m, 'a', { x: '2' }))).toBe(true);
    expect(sampleValue(m, 'a', { x: '3' })).toBe(-0.0015);
  });
});
