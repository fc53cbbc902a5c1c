import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { documentsFromValues, parseManifestSources } from '../../src/domain/manifests/parse-manifests.js';
import { REPO_ROOT } from '../helpers/cli.js';

/**
 * parseManifestSources reads every file with the `yaml` document API. Documents rebuilt from their
 * values (documentsFromValues: what the validation cache gives back) must point at the same
 * positions as the parsed ones, whose lookups come from the parse itself.
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

function fieldPaths(value: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  const out: Array<Array<string | number>> = [prefix];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...fieldPaths(v, [...prefix, i])));
  else if (value !== null && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) out.push(...fieldPaths(v, [...prefix, k]));
  return out;
}

describe('manifest parsing', () => {
  const files = [...yamlFiles(join(REPO_ROOT, 'examples')), ...yamlFiles(join(REPO_ROOT, 'test/fixtures'))];

  it('covers a real set of files', () => {
    expect(files.length).toBeGreaterThan(100);
  });

  it('points documents rebuilt from their values at the same positions as the parsed ones', () => {
    let compared = 0;
    for (const file of files) {
      const source = { path: file, text: readFileSync(file, 'utf8') };
      const parsed = parseManifestSources([source]);
      const rebuilt = documentsFromValues(source, parsed.documents);
      expect(
        rebuilt.map((d) => [d.index, d.value]),
        file,
      ).toEqual(parsed.documents.map((d) => [d.index, d.value]));
      parsed.documents.forEach((doc, i) => {
        for (const path of fieldPaths(doc.value)) {
          for (const target of ['key', 'value', 'content'] as const)
            expect(rebuilt[i]!.at(path, target), `${file} ${path.join('.')}`).toEqual(doc.at(path, target));
          compared++;
        }
      });
    }
    expect(compared).toBeGreaterThan(1000);
  });

  it('resolves positions lazily to the right line', () => {
    const text =
      '# c\napiVersion: orch/v1\nkind: Pool\nmetadata:\n  name: a\n---\n# only a comment\n---\nkind: Route\nspec:\n  path: /x/\n';
    const { documents } = parseManifestSources([{ path: 'm.yaml', text }]);
    expect(documents.map((d) => d.index)).toEqual([0, 2]);
    expect(documents[0]!.at(['metadata', 'name'])).toEqual({ file: 'm.yaml', line: 5, column: 9 });
    expect(documents[1]!.at(['spec', 'path'], 'key')).toEqual({ file: 'm.yaml', line: 11, column: 3 });
  });

  it('reports every syntax error of a file with a position, duplicate keys included', () => {
    const { documents, diagnostics } = parseManifestSources([{ path: 'b.yaml', text: 'a: 1\na: 2\n---\nkind: [\n' }]);
    expect(documents).toEqual([]);
    expect(diagnostics.length).toBeGreaterThanOrEqual(2);
    expect(diagnostics.every((d) => d.code === 'yaml.syntax' && d.source?.file === 'b.yaml')).toBe(true);
  });

  it('limits aliases', () => {
    const bomb =
      'a: &a ["x","x","x","x","x","x","x","x","x"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n';
    const { documents, diagnostics } = parseManifestSources([{ path: 'bomb.yaml', text: bomb }]);
    expect(documents).toEqual([]);
    expect(diagnostics[0]?.code).toBe('yaml.limit');
  });
});
