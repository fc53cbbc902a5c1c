import { describe, expect, it } from 'vitest';
import { formatPosition } from '../../src/domain/diagnostics.js';
import { BASE, GW, HTTP_POOL, OTHER_POOL, PHOTOS_ROUTE, pool, route } from './helpers/docs.js';
import { RULE_CASES } from './helpers/rule-cases.js';
import { summarize, validateTexts } from './helpers/manifests.js';

describe('each validation rule', () => {
  it.each(RULE_CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const result = validateTexts(c.files);
    const seen = summarize(result.diagnostics).join('\n');
    const d = result.diagnostics.find((x) => x.code === c.code);
    expect(d, `no ${c.code} in:\n${seen}`).toBeDefined();
    if (!d) return;
    expect(d.severity).toBe(c.severity ?? 'error');
    expect(formatPosition(d.source).replace(/:\d+$/, ''), seen).toBe(c.at);
    expect(d.message).toMatch(c.message);
    expect(d.hint ?? '').not.toBe('');
    if (!d.code.startsWith('yaml.') && !d.code.startsWith('manifest.')) {
      expect(d.document?.kind).toMatch(/^(Pool|VirtualHost|Route|Migration)$/);
      expect(d.field ?? '').not.toBe('');
    }
    // Only the intended problem fires (warnings elsewhere are allowed).
    const otherErrors = result.diagnostics.filter((x) => x.severity === 'error' && x.code !== c.code);
    expect(otherErrors, seen).toEqual([]);
  });
});

describe('reporting', () => {
  it('reports every problem of every document in one run, sorted by position', () => {
    const result = validateTexts({
      'b.yaml': pool('type: http\nmembers:\n  - address: 10.0.0.1\n    wieght: 2'),
      'a.yaml': `${GW}---\n${route('virtualHost: gw\npath: /x\npool: nope')}`,
    });
    expect(summarize(result.diagnostics)).toEqual([
      expect.stringMatching(/^error ref\.unknown-pool a\.yaml:7:/),
      expect.stringMatching(/^error value\.route-path a\.yaml:15:/),
      expect.stringMatching(/^error ref\.unknown-pool a\.yaml:16:/),
      expect.stringMatching(/^error value\.member-address b\.yaml:8:/),
      expect.stringMatching(/^error schema\.unknown-field b\.yaml:9:/),
    ]);
  });

  it('names the allowed fields and suggests the closest one for an unknown field', () => {
    const result = validateTexts({ 'x.yaml': pool('type: http\nmembers:\n  - address: 10.0.0.1:80\n    maxfails: 2') });
    const d = result.diagnostics.find((x) => x.code === 'schema.unknown-field');
    expect(d?.hint).toMatch(/Did you mean "maxFails"\?/);
    expect(d?.hint).toMatch(/Fields allowed here: address, weight, maxFails, failTimeout, enabled and role/);
    expect(d?.source?.column).toBe(7);
  });

  it('lists the allowed values of an enum', () => {
    const result = validateTexts({ 'x.yaml': pool('type: http\nloadBalancing: least-conn\nmembers: [{ address: "10.0.0.1:80" }]') });
    const d = result.diagnostics.find((x) => x.code === 'schema.not-allowed-value');
    expect(d?.message).toBe('spec.loadBalancing is "least-conn"; it must be one of "round_robin", "least_conn" and "ip_hash"');
    expect(d?.hint).toBe('Did you mean "least_conn"? Use one of round_robin, least_conn and ip_hash.');
  });

  it('suggests quotes for a number where a name is expected', () => {
    const result = validateTexts({ 'x.yaml': pool('type: http\nmembers: [{ address: "10.0.0.1:80" }]', '2024') });
    const d = result.diagnostics.find((x) => x.code === 'schema.wrong-type');
    expect(d?.message).toBe('metadata.name must be a string, not the number 2024');
    expect(d?.hint).toMatch(/^Put the value in quotes: "2024"\./);
  });

  it('does not report a reference to a document that has its own errors as unknown', () => {
    const result = validateTexts({
      ...BASE,
      'x.yaml': pool('type: nanio\nmembers: [{ address: bad }]', 'broken'),
      'r.yaml': route('virtualHost: gw\npath: /a/\npool: broken'),
    });
    expect(result.diagnostics.map((d) => d.code)).toEqual(['value.member-address']);
  });

  it('reports an http pool reused by name in two files once, on the second', () => {
    const result = validateTexts({ 'a.yaml': HTTP_POOL, 'b.yaml': HTTP_POOL });
    expect(summarize(result.diagnostics)).toEqual([
      expect.stringMatching(
        /^error collision\.duplicate-name b\.yaml:4:9 metadata\.name: a second Pool is named "files"; the first is at a\.yaml:4$/,
      ),
    ]);
  });

  it('accepts an empty set of manifests', () => {
    const result = validateTexts({});
    expect(result.diagnostics).toEqual([]);
    expect(result.desired).toEqual({ pools: [], virtualHosts: [], migrations: [] });
  });

  it('accepts comment-only files and keeps the parsed documents', () => {
    const result = validateTexts({ 'empty.yaml': '# nothing yet\n', 'p.yaml': OTHER_POOL, 'r.yaml': PHOTOS_ROUTE.replace('photos', 'p') });
    expect(result.documents.map((d) => d.file)).toEqual(['p.yaml', 'r.yaml']);
  });
});
