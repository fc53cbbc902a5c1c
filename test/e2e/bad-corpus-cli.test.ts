import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, runCli, STACK_LINE } from '../helpers/cli.js';

/**
 * The bad-manifest corpus (test/fixtures/bad) through the built CLI: every case exits 1 with a
 * positioned, hinted message naming the expected diagnostic, no stack trace, and nothing on
 * stdout. test/unit/bad-corpus.test.ts checks the same cases in-process in more detail.
 */
const corpus = join(REPO_ROOT, 'test/fixtures/bad');
const cases = readdirSync(corpus).sort();

describe.concurrent('bad manifests through the CLI', () => {
  it('has the cases', () => {
    expect(cases.length).toBeGreaterThanOrEqual(45);
  });
  for (const name of cases) {
    it(`${name}: exit 1, ${name} diagnostic, no stack trace`, async () => {
      const expected = JSON.parse(readFileSync(join(corpus, name, 'expect.json'), 'utf8')) as { code: string; file: string; line: number };
      const r = await runCli(['validate', '-m', join('test/fixtures/bad', name)]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(`test/fixtures/bad/${name}/${expected.file}:${expected.line}:`);
      expect(r.stderr).toContain(`[${expected.code}]`);
      expect(r.stderr).toContain('hint:');
      expect(r.stderr).not.toMatch(STACK_LINE);
    });
  }
});
