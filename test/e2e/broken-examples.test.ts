import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT, runCli, STACK_LINE } from '../helpers/cli.js';

/** examples/broken: one file per class of error, each rejected by the built CLI as documented. */
const dir = join(REPO_ROOT, 'examples/broken');
const expected: Record<string, string> = {
  '01-yaml-syntax.yaml': 'yaml.syntax',
  '02-unknown-field.yaml': 'schema.unknown-field',
  '03-wrong-type.yaml': 'schema.wrong-type',
  '04-broken-reference.yaml': 'ref.unknown-pool',
  '05-collision.yaml': 'collision.server-name',
  '06-nginx-rule.yaml': 'rule.ip-hash-with-replica',
  '07-injection.yaml': 'value.server-name',
  '08-extra-block.yaml': 'extra.forbidden-directive',
  '09-tls-without-key.yaml': 'schema.missing-field',
  '10-mixed-pool-types.yaml': 'rule.mixed-pool-types',
};

describe('examples/broken', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
  it('has an expectation for every file', () => {
    expect(files.sort()).toEqual(Object.keys(expected).sort());
  });
  for (const file of files) {
    it.concurrent(`${file} is rejected with ${expected[file]}`, async () => {
      const r = await runCli(['validate', '-m', join('examples/broken', file)]);
      expect(r.code).toBe(1);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain(`examples/broken/${file}:`);
      expect(r.stderr).toContain(`[${expected[file]}]`);
      expect(r.stderr).toContain('hint:');
      expect(r.stderr).toContain('nothing was written');
      expect(r.stderr).not.toMatch(STACK_LINE);
      // The README shows exactly what the CLI prints.
      expect(readFileSync(join(dir, 'README.md'), 'utf8')).toContain(r.stderr.trim());
    });
  }
});
