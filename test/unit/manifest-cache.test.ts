import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serialize } from 'node:v8';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { readManifestSources } from '../../src/adapters/fs/read-manifest-sources.js';
import { buildIdentity } from '../../src/adapters/manifests/build-identity.js';
import { fileManifestLoader, validateSources } from '../../src/adapters/manifests/file-manifest-loader.js';
import {
  cacheKey as keyOf,
  cachedValidation,
  FORMAT,
  readCachedValidation,
  writeCachedValidation,
} from '../../src/adapters/manifests/validation-cache.js';
import { manifestLoader } from '../../src/composition-root.js';
import { resolveSettings } from '../../src/config/settings.js';
import { loadManifests } from '../../src/use-cases/plan/load-manifests.js';
import { ValidationError } from '../../src/domain/errors.js';
import { parseManifestSources, type ParsedDocument, type SourceText } from '../../src/domain/manifests/parse-manifests.js';
import { validateManifests, type ValidationResult } from '../../src/domain/manifests/validate-manifests.js';
import { REPO_ROOT } from '../helpers/cli.js';

/**
 * The validation cache (src/adapters/manifests/validation-cache.ts) gives back exactly the validation it
 * stored, only for exactly the same texts, names and order and the same build, and a miss for anything else.
 */
const BUILD = 'a build';
const cacheKey = (sources: readonly SourceText[]): string | null => keyOf(BUILD, sources);
const hasCachedEntry = (dir: string, key: string): boolean => existsSync(join(dir, `manifests-${key}.bin`));
function fieldPaths(value: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  const out: Array<Array<string | number>> = [prefix];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...fieldPaths(v, [...prefix, i])));
  else if (value !== null && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) out.push(...fieldPaths(v, [...prefix, k]));
  return out;
}

function comparable(v: ValidationResult): unknown {
  const docs = (d: readonly ParsedDocument[]) =>
    d.map((x) => ({
      file: x.file,
      index: x.index,
      value: x.value,
      at: fieldPaths(x.value).map((p) => [x.at(p), x.at(p, 'key'), x.at(p, 'content')]),
    }));
  return { desired: v.desired, diagnostics: v.diagnostics, documents: docs(v.documents) };
}

describe('manifest validation cache', () => {
  const work = mkdtempSync(join(tmpdir(), 'orch-manifest-cache-'));
  const state = join(work, 'state');
  const dir = join(state, 'cache');
  mkdirSync(state);
  afterAll(() => rmSync(work, { recursive: true, force: true }));
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const sets = ['examples/gateway', 'examples/sandbox', 'examples/broken', 'test/fixtures/bad', 'test/fixtures/good'].map((d) => ({
    name: d,
    sources: readManifestSources(d, REPO_ROOT),
  }));

  it('gives back exactly the validation it stored, positions included', () => {
    for (const { name, sources } of sets) {
      const reference = validateManifests(parseManifestSources(sources));
      const key = cacheKey(sources)!;
      expect(key, name).toMatch(/^[0-9a-f]{64}$/);
      writeCachedValidation(dir, key, reference);
      expect(hasCachedEntry(dir, key), name).toBe(true);
      const got = readCachedValidation(dir, key, sources);
      expect(got, name).not.toBeNull();
      expect(comparable(got!), name).toEqual(comparable(reference));
    }
  });

  it('stores JSON when JSON gives back the same values, V8 serialization otherwise', () => {
    const header = (key: string) =>
      readFileSync(join(dir, `manifests-${key}.bin`))
        .toString('latin1', 0, 100)
        .split('\n')[0]!
        .split(' ')
        .pop();
    const texts: Array<[string, 'json' | 'v8']> = [
      [
        'apiVersion: orch/v1\nkind: Pool\nmetadata:\n  name: p\n  labels: { __proto__: x, "1": y, a: z }\nspec: { type: http, members: [{ address: "10.0.0.1:80" }] }\n',
        'json',
      ],
      // Several diagnostics of one document share its reference object: JSON would copy it.
      ['apiVersion: orch/v1\nkind: Pool\nmetadata:\n  name: p\n  labels: { a: 2.5 }\nspec: { type: nanio, members: [], bogus: 1 }\n', 'v8'],
      ['apiVersion: orch/v1\nkind: Pool\nmetadata:\n  name: p\n  labels: { n: -0.0 }\nspec: { type: nanio, members: [] }\n', 'v8'],
      ['apiVersion: orch/v1\nkind: Pool\nmetadata:\n  name: p\n  labels: { n: .inf }\nspec: { type: nanio, members: [] }\n', 'v8'],
      [
        'apiVersion: orch/v1\nkind: Pool\nmetadata:\n  name: p\n  labels: &l { a: b }\n  annotations: *l\nspec: { type: nanio, members: [] }\n',
        'v8',
      ],
    ];
    for (const [text, format] of texts) {
      const sources = [{ path: 'p.yaml', text }];
      const reference = validateManifests(parseManifestSources(sources));
      const key = cacheKey(sources)!;
      writeCachedValidation(dir, key, reference);
      expect(header(key), text).toBe(format);
      const got = readCachedValidation(dir, key, sources)!;
      expect(comparable(got), text).toEqual(comparable(reference));
      expect(got.documents[0]!.value, 'one value, read once').toBe(got.documents[0]!.value);
      const labels = (got.documents[0]!.value as { metadata: { labels: object } }).metadata.labels;
      const want = (reference.documents[0]!.value as { metadata: { labels: object } }).metadata.labels;
      expect(Reflect.ownKeys(labels)).toEqual(Reflect.ownKeys(want));
      for (const k of Reflect.ownKeys(want))
        expect(Object.is((labels as Record<string | symbol, unknown>)[k], (want as Record<string | symbol, unknown>)[k]), String(k)).toBe(
          true,
        );
    }
  });

  it('keeps the three most recent entries', () => {
    const keys: string[] = [];
    for (let i = 0; i < 5; i++) {
      const sources = [
        {
          path: 'p.yaml',
          text: `apiVersion: orch/v1\nkind: Pool\nmetadata:\n  name: p${i}\nspec: { type: http, members: [{ address: "10.0.0.1:80" }] }\n`,
        },
      ];
      const key = cacheKey(sources)!;
      keys.push(key);
      writeCachedValidation(dir, key, validateManifests(parseManifestSources(sources)));
      expect(readCachedValidation(dir, key, sources)).not.toBeNull();
    }
    expect(keys.map((k) => hasCachedEntry(dir, k))).toEqual([false, false, true, true, true]);
    expect(readdirSync(dir).length).toBe(3);
  });

  it('keeps values a JSON copy would change', () => {
    const sources = [
      {
        path: 'p.yaml',
        text: 'apiVersion: orch/v1\nkind: Pool\nmetadata:\n  name: p\n  labels: { __proto__: x, n: -0.0, nan: .nan, inf: -.inf }\nspec: { type: nanio, members: [] }\n',
      },
    ];
    const reference = validateManifests(parseManifestSources(sources));
    const key = cacheKey(sources)!;
    writeCachedValidation(dir, key, reference);
    const labels = (readCachedValidation(dir, key, sources)!.documents[0]!.value as { metadata: { labels: Record<string, unknown> } })
      .metadata.labels;
    expect(Object.keys(labels)).toEqual(['__proto__', 'n', 'nan', 'inf']);
    expect(Object.is(labels.n, -0)).toBe(true);
    expect(labels.nan).toBeNaN();
    expect(labels.inf).toBe(-Infinity);
  });

  it('has a key that changes with any text, name or order, and only then', () => {
    const sources = sets[0]!.sources;
    const key = cacheKey(sources);
    expect(cacheKey(sources.map((s) => ({ ...s })))).toBe(key);
    const variants: SourceText[][] = [
      sources.map((s, i) => (i === 3 ? { ...s, text: `${s.text} ` } : s)),
      sources.map((s, i) => (i === 3 ? { ...s, text: s.text.replace('a', 'b') } : s)),
      sources.map((s, i) => (i === 0 ? { ...s, path: `${s.path}x` } : s)),
      [...sources].reverse(),
      sources.slice(1),
      [...sources, { path: 'extra.yaml', text: '' }],
      // Moving text from one file to the next must not collide.
      sources.map((s, i) => (i === 0 ? { ...s, text: `${s.text}x` } : i === 1 ? { ...s, text: s.text.slice(0) } : s)),
    ];
    const keys = new Set(variants.map((v) => cacheKey(v)));
    expect(keys.size).toBe(variants.length);
    expect(keys.has(key)).toBe(false);
    // Another build is another key; no build identity, no key (no cache).
    expect(keyOf('another build', sources)).not.toBe(key);
    expect(keyOf(null, sources)).toBeNull();
  });

  it('misses on another key, a damaged or missing file, and writes nothing without a state directory', () => {
    const { sources } = sets[0]!;
    const reference = validateManifests(parseManifestSources(sources));
    const key = cacheKey(sources)!;
    expect(readCachedValidation(dir, key, sources)).toBeNull();
    writeCachedValidation(dir, key, reference);
    expect(
      readCachedValidation(
        dir,
        key.replace(/^./, (c) => (c === '0' ? '1' : '0')),
        sources,
      ),
    ).toBeNull();
    const file = join(dir, `manifests-${key}.bin`);
    const data = readFileSync(file);
    writeFileSync(file, data.subarray(0, data.length - 100));
    expect(readCachedValidation(dir, key, sources)).toBeNull();
    writeFileSync(
      file,
      Buffer.concat([
        Buffer.from(`${FORMAT} ${key} v8\n`),
        serialize({ diagnostics: [], desired: {}, documents: [{ file: 'elsewhere.yaml', index: 0, value: {} }] }),
      ]),
    );
    expect(readCachedValidation(dir, key, sources)).toBeNull();
    writeFileSync(file, `${FORMAT} ${key} json\n{"diagnostics": [], "desired": {}, "docu`);
    expect(readCachedValidation(dir, key, sources)).toBeNull();
    writeFileSync(file, 'garbage');
    expect(readCachedValidation(dir, key, sources)).toBeNull();
    const nowhere = join(work, 'no-state', 'cache');
    writeCachedValidation(nowhere, key, reference);
    expect(existsSync(join(work, 'no-state'))).toBe(false);
  });

  it('is used by the manifest loader only for exactly the same manifests', () => {
    const manifests = join(work, 'manifests');
    cpSync(join(REPO_ROOT, 'examples/gateway'), manifests, { recursive: true });
    const reference = () => {
      const sources = readManifestSources(manifests);
      return { sources, validation: validateManifests(parseManifestSources(sources)) };
    };
    const loader = fileManifestLoader({ validate: cachedValidation(validateSources, { dir, build: () => BUILD }) });
    const first = loadManifests(loader, manifests);
    expect(hasCachedEntry(dir, cacheKey(reference().sources)!)).toBe(true);
    expect(comparable(first.validation)).toEqual(comparable(reference().validation));
    const second = loadManifests(loader, manifests);
    expect(second.sources).toEqual(reference().sources);
    expect(comparable(second.validation)).toEqual(comparable(reference().validation));

    // Proof that the cache is what answered: an entry stored for these texts is returned as is.
    const { sources } = reference();
    const planted = validateManifests(parseManifestSources(sources));
    planted.desired.pools.pop();
    writeCachedValidation(dir, cacheKey(sources)!, planted);
    expect(loadManifests(loader, manifests).validation.desired.pools.length).toBe(reference().validation.desired.pools.length - 1);
    // ...and only for them: one changed character, and the manifests are validated again.
    const route = join(
      manifests,
      readManifestSources(manifests)
        .find((s) => s.text.includes('kind: Route'))!
        .path.replace(/^.*manifests\//, ''),
    );
    writeFileSync(route, readFileSync(route, 'utf8').replace('pool: ', 'pool:  '));
    expect(comparable(loadManifests(loader, manifests).validation)).toEqual(comparable(reference().validation));

    // Errors come back from the cache as the same ValidationError.
    writeFileSync(join(manifests, 'broken.yaml'), 'apiVersion: orch/v1\nkind: Pool\nmetadata: {name: x}\nspec: {type: nope}\n');
    const errors = () => {
      try {
        loadManifests(loader, manifests);
      } catch (e) {
        return (e as ValidationError).diagnostics;
      }
      return null;
    };
    const firstErrors = errors();
    expect(firstErrors?.length).toBeGreaterThan(0);
    expect(errors()).toEqual(firstErrors);

    // A deleted file and a renamed file are other inputs: never the previous set's result.
    rmSync(join(manifests, 'broken.yaml'));
    expect(errors()).toBeNull();
    expect(comparable(loadManifests(loader, manifests).validation)).toEqual(comparable(reference().validation));
    renameSync(route, `${route.replace(/\.ya?ml$/, '')}-renamed.yaml`);
    const renamed = loadManifests(loader, manifests);
    expect(renamed.sources).toEqual(reference().sources);
    expect(comparable(renamed.validation)).toEqual(comparable(reference().validation));
    expect(renamed.validation.documents.some((d) => d.file.endsWith('-renamed.yaml'))).toBe(true);
  });

  it('is chosen by the composition root: in the state directory, keyed on the build, off with ORCH_MANIFEST_CACHE=0', () => {
    const build = buildIdentity();
    expect(build).toMatch(/^orch \S+ [0-9a-f]{64} yaml \S+ node v\S+ \S+$/);
    expect(buildIdentity()).toBe(build);
    const settings = resolveSettings({ flags: { stateDir: state }, env: {}, configPath: null, candidates: [], readFile: () => null });
    const target = join(REPO_ROOT, 'examples/gateway');
    const { sources } = manifestLoader(settings, { ORCH_MANIFEST_CACHE: '0' }).load(target);
    expect(existsSync(dir)).toBe(false);
    const loaded = manifestLoader(settings, {}).load(target);
    expect(hasCachedEntry(dir, keyOf(build, sources)!)).toBe(true);
    expect(comparable(loaded.validation)).toEqual(comparable(validateManifests(parseManifestSources(sources))));
  });
});
