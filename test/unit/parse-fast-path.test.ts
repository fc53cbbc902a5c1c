import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseManifestSources } from '../../src/domain/manifests/parse-manifests.js';
import { REPO_ROOT } from '../helpers/cli.js';

/**
 * parseManifestSources reads valid files with js-yaml and asks the `yaml` document API for
 * positions lazily. Both must agree: same documents, same indexes, same values, and a position
 * for a field that points at that field.
 */
function yamlFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...yamlFiles(p));
    else if (/\.ya?ml$/.test(name)) out.push(p);
  }
  return out;
}

describe('manifest parsing fast path', () => {
  const files = [...yamlFiles(join(REPO_ROOT, 'examples')), ...yamlFiles(join(REPO_ROOT, 'test/fixtures'))];

  it('covers a real set of files', () => {
    expect(files.length).toBeGreaterThan(100);
  });

  it('gives the same documents and values as the yaml document API for every fixture', () => {
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      const reference = parseAllDocuments(text, { uniqueKeys: true });
      if (!Array.isArray(reference) || reference.some((d) => d.errors.length > 0)) continue;
      const expected = reference
        .map((d, index) => ({ index, value: d.toJS() as unknown }))
        .filter((d) => d.value !== null && d.value !== undefined);
      const got = parseManifestSources([{ path: file, text }]);
      expect(got.diagnostics, file).toEqual([]);
      expect(got.documents.map((d) => ({ index: d.index, value: d.value })), file).toEqual(expected);
    }
  });

  it('resolves positions lazily to the right line', () => {
    const text = '# c\napiVersion: orch/v1\nkind: Pool\nmetadata:\n  name: a\n---\n# only a comment\n---\nkind: Route\nspec:\n  path: /x/\n';
    const { documents } = parseManifestSources([{ path: 'm.yaml', text }]);
    expect(documents.map((d) => d.index)).toEqual([0, 2]);
    expect(documents[0]!.at(['metadata', 'name'])).toEqual({ file: 'm.yaml', line: 5, column: 9 });
    expect(documents[1]!.at(['spec', 'path'], 'key')).toEqual({ file: 'm.yaml', line: 11, column: 3 });
  });

  it('reports every syntax error with a position when the fast parser rejects a file', () => {
    const { documents, diagnostics } = parseManifestSources([{ path: 'b.yaml', text: 'a: 1\na: 2\n---\nkind: [\n' }]);
    expect(documents).toEqual([]);
    expect(diagnostics.length).toBeGreaterThanOrEqual(2);
    expect(diagnostics.every((d) => d.code === 'yaml.syntax' && d.source?.file === 'b.yaml')).toBe(true);
  });

  it('limits aliases', () => {
    const bomb = 'a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n';
    const { documents, diagnostics } = parseManifestSources([{ path: 'bomb.yaml', text: bomb }]);
    expect(documents).toEqual([]);
    expect(diagnostics[0]?.code).toBe('yaml.syntax');
  });
});
