import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasErrors } from '../../src/domain/diagnostics.js';
import { errorsOf, summarize, validateDir } from './helpers/manifests.js';

/**
 * Every case under test/fixtures/bad/<case>/ is a set of manifest files plus expect.json
 * `{"code", "file", "line"}`: validation must fail with that code at that file and line, and
 * with no other error code, so each case shows exactly one mistake.
 */
const CORPUS = join(import.meta.dirname, '..', 'fixtures', 'bad');

interface Expectation {
  code: string;
  file: string;
  line: number;
}

const cases = readdirSync(CORPUS, { withFileTypes: true })
  .filter((e) => e.isDirectory())
  .map((e) => e.name)
  .sort();

describe('bad manifest corpus', () => {
  it('has at least 45 cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(45);
  });

  it.each(cases)('%s is rejected with the expected diagnostic', (name) => {
    const dir = join(CORPUS, name);
    const want = JSON.parse(readFileSync(join(dir, 'expect.json'), 'utf8')) as Expectation;
    const result = validateDir(dir);
    const errors = errorsOf(result);
    const seen = summarize(errors);
    expect(hasErrors(result.diagnostics), seen.join('\n')).toBe(true);
    const match = errors.find((d) => d.code === want.code && d.source?.file === want.file && d.source.line === want.line);
    expect(match, `want ${want.code} at ${want.file}:${want.line}, got:\n${seen.join('\n')}`).toBeDefined();
    expect(match?.message.length ?? 0).toBeGreaterThan(0);
    expect(match?.hint?.length ?? 0).toBeGreaterThan(0);
    expect(new Set(errors.map((d) => d.code)), seen.join('\n')).toEqual(new Set([want.code]));
  });
});
