import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readManifestSources } from '../../src/adapters/fs/read-manifest-sources.js';
import { checkManifestFile, validateCheckedFiles, type CheckedFile } from '../../src/domain/manifests/check-file.js';
import { parseManifestSources, type ParsedDocument, type SourceText } from '../../src/domain/manifests/parse-manifests.js';
import { validateManifests, type ValidationResult } from '../../src/domain/manifests/validate-manifests.js';
import { REPO_ROOT } from '../helpers/cli.js';

/**
 * The parallel manifest load (src/use-cases/plan/parallel-manifests.ts) checks each file on its own, in
 * either thread, and sends the results across threads (structured clone); validateCheckedFiles
 * puts them together. It must give exactly what the reference path gives
 * (validateManifests(parseManifestSources(sources))): the same desired state, the same
 * diagnostics in the same order, the same documents, values and positions. Checked on every
 * manifest set of the repository, each alone and all together, in file order and with the
 * checks done in a scrambled order.
 */
function manifestSets(): Array<{ name: string; sources: SourceText[] }> {
  const sets: Array<{ name: string; sources: SourceText[] }> = [];
  const hasYaml = (dir: string): boolean => readdirSync(dir).some((n) => /\.ya?ml$/.test(n) || (statSync(join(dir, n)).isDirectory() && hasYaml(join(dir, n))));
  const add = (dir: string): void => {
    if (hasYaml(join(REPO_ROOT, dir))) sets.push({ name: dir, sources: readManifestSources(dir, REPO_ROOT) });
  };
  for (const group of ['test/fixtures/bad', 'test/fixtures/good', 'test/fixtures/import']) {
    for (const name of readdirSync(join(REPO_ROOT, group)).sort()) if (statSync(join(REPO_ROOT, group, name)).isDirectory()) add(`${group}/${name}`);
  }
  for (const name of readdirSync(join(REPO_ROOT, 'examples')).sort()) add(`examples/${name}`);
  // Everything at once: duplicates and references across the sets, hundreds of diagnostics.
  sets.push({ name: 'all of them', sources: sets.flatMap((s) => s.sources) });
  return sets;
}

/** Every field path of a value (mapping keys and list indexes), for comparing positions. */
function fieldPaths(value: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  const out: Array<Array<string | number>> = [prefix];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...fieldPaths(v, [...prefix, i])));
  else if (value !== null && typeof value === 'object') for (const [k, v] of Object.entries(value)) out.push(...fieldPaths(v, [...prefix, k]));
  return out;
}

function positionsOf(docs: readonly ParsedDocument[]): unknown[] {
  return docs.map((d) => fieldPaths(d.value).map((p) => [d.at(p), d.at(p, 'key'), d.at(p, 'content')]));
}

function expectSameResult(name: string, got: { sources: SourceText[]; validation: ValidationResult }, sources: SourceText[], reference: ValidationResult): void {
  expect(got.sources, name).toEqual(sources);
  expect(got.validation.diagnostics, name).toEqual(reference.diagnostics);
  expect(got.validation.desired, name).toEqual(reference.desired);
  const plain = (docs: readonly ParsedDocument[]) => docs.map((d) => ({ file: d.file, index: d.index, value: d.value }));
  expect(plain(got.validation.documents), name).toEqual(plain(reference.documents));
  expect(positionsOf(got.validation.documents), name).toEqual(positionsOf(reference.documents));
}

/** What crosses from the worker thread: a structured clone, as postMessage makes it. */
const acrossThreads = (files: CheckedFile[]): CheckedFile[] => structuredClone(files);

describe('manifest checks per file (the parallel load) agree with the reference path', () => {
  const sets = manifestSets();

  it('covers every manifest set of the repository', () => {
    expect(sets.length).toBeGreaterThan(100);
    const all = sets[sets.length - 1]!;
    expect(all.sources.length).toBeGreaterThan(200);
    const reference = validateManifests(parseManifestSources(all.sources));
    // Both paths are exercised on errors of every kind, not only on valid files.
    expect(new Set(reference.diagnostics.map((d) => d.code.split('.')[0])).size).toBeGreaterThanOrEqual(6);
  });

  it('gives the same desired state, diagnostics, documents and positions for every set', () => {
    for (const { name, sources } of sets) {
      const reference = validateManifests(parseManifestSources(sources));
      expectSameResult(name, validateCheckedFiles(sources.map(checkManifestFile)), sources, reference);
      expectSameResult(`${name} (cloned)`, validateCheckedFiles(acrossThreads(sources.map(checkManifestFile))), sources, reference);
    }
  });

  it('does not depend on the order in which files are checked', () => {
    const all = sets[sets.length - 1]!.sources;
    const reference = validateManifests(parseManifestSources(all));
    // Check the files back to front (as two threads may), assemble in file order.
    const checked: CheckedFile[] = new Array<CheckedFile>(all.length);
    for (let i = all.length - 1; i >= 0; i--) checked[i] = checkManifestFile(all[i]!);
    expectSameResult('reversed', validateCheckedFiles(acrossThreads(checked)), all, reference);
  });

  it('keeps values a structured clone could change', () => {
    const text = 'apiVersion: orch/v1\nkind: Pool\nmetadata:\n  name: p\n  labels: { __proto__: x, n: -0.0, inf: .inf, nan: .nan, big: 12345678901234567890 }\nspec: { type: nanio, members: [] }\n';
    const sources = [{ path: 'p.yaml', text }];
    const reference = validateManifests(parseManifestSources(sources));
    const got = validateCheckedFiles(acrossThreads(sources.map(checkManifestFile)));
    expectSameResult('clone', got, sources, reference);
    const labelsOf = (r: ValidationResult) => (r.documents[0]!.value as { metadata: { labels: Record<string, unknown> } }).metadata.labels;
    const labels = labelsOf(got.validation);
    expect(Object.keys(labels)).toEqual(['__proto__', 'n', 'inf', 'nan', 'big']);
    for (const k of Object.keys(labels)) expect(Object.is(labels[k], labelsOf(reference)[k]), k).toBe(true);
    expect(Object.is(labels.n, -0)).toBe(true);
    expect(labels.nan).toBeNaN();
  });
});
