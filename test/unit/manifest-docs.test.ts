import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs build script without type declarations
import { loadSchemas, renderManifestDocs } from '../../scripts/manifest-docs.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('docs/manifests.md', () => {
  it('is generated from the current schemas (run `node scripts/gen-manifest-docs.mjs`)', () => {
    const expected = renderManifestDocs(loadSchemas(`${root}schemas`)) as string;
    expect(readFileSync(`${root}docs/manifests.md`, 'utf8')).toBe(expected);
  });

  it('documents every spec field of every kind', () => {
    const docs = readFileSync(`${root}docs/manifests.md`, 'utf8');
    for (const field of [
      'spec.members[].failTimeout',
      'spec.tls.certificate',
      'spec.extraBlocks[].zone',
      'spec.allowOrphan',
      'spec.freezeBudget',
      'spec.ignoreBuckets',
    ]) {
      expect(docs).toContain(`\`${field}\``);
    }
  });
});
