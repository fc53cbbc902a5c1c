import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { readManifestSources } from '../../src/adapters/fs/read-manifest-sources.js';
import { cachedParsing, PARSE_CACHE_FILE, type ParseSources } from '../../src/adapters/manifests/parse-cache.js';
import { manifestLoader } from '../../src/composition-root.js';
import { resolveSettings } from '../../src/config/settings.js';
import {
  parseManifestSources,
  type ParsedDocument,
  type ParseResult,
  type SourceText,
} from '../../src/domain/manifests/parse-manifests.js';
import { validateManifests } from '../../src/domain/manifests/validate-manifests.js';
import { REPO_ROOT } from '../helpers/cli.js';

/**
 * The parse cache (src/adapters/manifests/parse-cache.ts): the documents of a file whose text is
 * unchanged come back exactly as a parse gives them (values and positions), only changed files
 * are parsed again, files with diagnostics or values JSON cannot keep are never cached, and
 * anything unexpected in the cache file is a miss.
 */
function fieldPaths(value: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  const out: Array<Array<string | number>> = [prefix];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...fieldPaths(v, [...prefix, i])));
  else if (value !== null && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) out.push(...fieldPaths(v, [...prefix, k]));
  return out;
}

const comparable = (r: ParseResult): unknown => ({
  diagnostics: r.diagnostics,
  documents: r.documents.map((x: ParsedDocument) => ({
    file: x.file,
    index: x.index,
    value: x.value,
    at: fieldPaths(x.value).map((p) => [x.at(p), x.at(p, 'key'), x.at(p, 'content')]),
  })),
});

/** parseManifestSources, counting which files it was asked to parse. */
function countingParse(): { parse: ParseSources; parsed: string[] } {
  const parsed: string[] = [];
  return {
    parsed,
    parse: (sources) => {
      parsed.push(...sources.map((s) => s.path));
      return parseManifestSources(sources);
    },
  };
}

describe('manifest parse cache', () => {
  const work = mkdtempSync(join(tmpdir(), 'orch-parse-cache-'));
  const state = join(work, 'state');
  const dir = join(state, 'cache');
  mkdirSync(state);
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const sets = ['examples/gateway', 'examples/sandbox', 'examples/broken', 'test/fixtures/bad', 'test/fixtures/good'].map((d) => ({
    name: d,
    sources: readManifestSources(d, REPO_ROOT),
  }));

  it('gives back exactly what a parse gives, positions included, and parses nothing the second time', () => {
    for (const { name, sources } of sets) {
      rmSync(dir, { recursive: true, force: true });
      const counter = countingParse();
      const parse = cachedParsing(counter.parse, { dir, build: () => 'b' });
      const reference = comparable(parseManifestSources(sources));
      expect(comparable(parse(sources)), name).toEqual(reference);
      const clean = sources.filter((s) => parseManifestSources([s]).diagnostics.length === 0);
      // Each clean text once (files with the same text share an entry), every other file each time.
      const firstParse = new Set(clean.map((s) => s.text)).size + sources.length - clean.length;
      expect(counter.parsed.length, name).toBe(firstParse);
      counter.parsed.length = 0;
      expect(comparable(parse(sources)), name).toEqual(reference);
      // Only the files with YAML errors are parsed again.
      expect(counter.parsed, name).toEqual(sources.filter((s) => !clean.includes(s)).map((s) => s.path));
    }
  });

  it('parses again only the file whose text changed, and keeps one entry per current text', () => {
    const sources = sets[0]!.sources;
    const counter = countingParse();
    const parse = cachedParsing(counter.parse, { dir, build: () => 'b' });
    parse(sources);
    const edited: SourceText[] = sources.map((s, i) => (i === 1 ? { ...s, text: `${s.text}\n# edited\n` } : s));
    counter.parsed.length = 0;
    expect(comparable(parse(edited))).toEqual(comparable(parseManifestSources(edited)));
    expect(counter.parsed).toEqual([sources[1]!.path]);
    const lines = readFileSync(join(dir, PARSE_CACHE_FILE), 'utf8').trimEnd().split('\n');
    expect(lines.length - 1).toBe(new Set(edited.map((s) => s.text)).size);
    // A file moved to another name with the same text is not parsed again; its positions name the new file.
    const moved = edited.map((s, i) => (i === 0 ? { ...s, path: `${s.path}.moved.yaml` } : s));
    counter.parsed.length = 0;
    const result = parse(moved);
    expect(counter.parsed).toEqual([]);
    expect(comparable(result)).toEqual(comparable(parseManifestSources(moved)));
  });

  it('never keeps what JSON cannot give back exactly (-0, .nan, shared aliases): those files are parsed each time', () => {
    const sources: SourceText[] = [
      { path: 'a.yaml', text: 'kind: Pool\nvalue: -0.0\n' },
      { path: 'b.yaml', text: 'kind: Pool\nvalue: .nan\n' },
      { path: 'c.yaml', text: 'kind: Pool\nx: &a {k: 1}\ny: *a\n' },
      { path: 'd.yaml', text: 'kind: Pool\nvalue: 1\n' },
    ];
    const counter = countingParse();
    const parse = cachedParsing(counter.parse, { dir, build: () => 'b' });
    parse(sources);
    counter.parsed.length = 0;
    const again = parse(sources);
    expect(counter.parsed).toEqual(['a.yaml', 'b.yaml', 'c.yaml']);
    expect(Object.is((again.documents[0]!.value as { value: number }).value, -0)).toBe(true);
    expect(Number.isNaN((again.documents[1]!.value as { value: number }).value)).toBe(true);
  });

  it('misses on another build, a damaged or foreign file, and writes nothing without a state directory', () => {
    const sources = sets[1]!.sources;
    const counter = countingParse();
    cachedParsing(counter.parse, { dir, build: () => 'b' })(sources);
    counter.parsed.length = 0;
    cachedParsing(counter.parse, { dir, build: () => 'another build' })(sources);
    expect(counter.parsed.length).toBe(sources.length);
    const file = join(dir, PARSE_CACHE_FILE);
    const good = readFileSync(file, 'utf8');
    const damaged = [good.slice(0, good.length - 7), good.replace(/\t\[/, '\t{'), good.replace(/\t/, ' '), 'garbage\n', ''];
    for (const text of damaged) {
      writeFileSync(file, text);
      counter.parsed.length = 0;
      const result = cachedParsing(counter.parse, { dir, build: () => 'another build' })(sources);
      expect(comparable(result)).toEqual(comparable(parseManifestSources(sources)));
      expect(counter.parsed.length).toBeGreaterThan(0);
    }
    // No build identity: no cache at all.
    rmSync(dir, { recursive: true, force: true });
    cachedParsing(parseManifestSources, { dir, build: () => null })(sources);
    expect(existsSync(dir)).toBe(false);
    // No state directory: nothing written.
    const nowhere = join(work, 'no-state', 'cache');
    cachedParsing(parseManifestSources, { dir: nowhere, build: () => 'b' })(sources);
    expect(existsSync(join(work, 'no-state'))).toBe(false);
  });

  it('is under the validation cache in the composition root: off with ORCH_MANIFEST_CACHE=0 or ORCH_PARSE_CACHE=0', () => {
    const settings = resolveSettings({ flags: { stateDir: state }, env: {}, configPath: null, candidates: [], readFile: () => null });
    const target = join(REPO_ROOT, 'examples/gateway');
    manifestLoader(settings, { ORCH_MANIFEST_CACHE: '0' }).load(target);
    expect(existsSync(join(dir, PARSE_CACHE_FILE))).toBe(false);
    // ORCH_PARSE_CACHE=0: the validation cache alone (the bench measures each cache on and off).
    manifestLoader(settings, { ORCH_PARSE_CACHE: '0' }).load(target);
    expect(existsSync(join(dir, PARSE_CACHE_FILE))).toBe(false);
    expect(existsSync(dir)).toBe(true);
    rmSync(dir, { recursive: true, force: true });
    const loaded = manifestLoader(settings, {}).load(target);
    expect(existsSync(join(dir, PARSE_CACHE_FILE))).toBe(true);
    const reference = validateManifests(parseManifestSources(loaded.sources));
    expect(loaded.validation.desired).toEqual(reference.desired);
    expect(loaded.validation.diagnostics).toEqual(reference.diagnostics);
  });
});
