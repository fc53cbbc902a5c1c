import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';

describe('generated files', () => {
  it('schemas.generated.ts and schema-validators.generated.ts match schemas/*.json', () => {
    // Exits 1 (and execFileSync throws) when a generated file is out of date.
    expect(() =>
      execFileSync(process.execPath, ['scripts/gen-schema-types.mjs', '--check'], { cwd: REPO_ROOT, stdio: 'pipe' }),
    ).not.toThrow();
  });
});
