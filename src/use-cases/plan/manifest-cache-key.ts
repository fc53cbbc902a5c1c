import { createHash, type Hash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SourceText } from '../../domain/manifests/parse-manifests.js';

/**
 * The key of the validation cache (manifest-cache.ts): what a validation result depends on. A
 * module of its own, without the parsers, for the manifest worker (it only checks whether the
 * cache has an entry before it starts parsing).
 */
export const FORMAT = 'orch-manifest-cache 1';

export const fileFor = (key: string): string => `manifests-${key}.bin`;

/** The key of a validation of these sources by this code; null when the code cannot be identified. */
export function cacheKey(sources: readonly SourceText[]): string | null {
  const code = codeFingerprint();
  if (code === null) return null;
  const h = createHash('sha256');
  h.update(`${FORMAT}\0${code}\0${sources.length}\0`);
  // One update over one string: thousands of small updates cost more than the hashing itself.
  const parts: string[] = [];
  for (const s of sources) parts.push(s.path, String(s.text.length), s.text);
  h.update(parts.join('\0'));
  return h.digest('hex');
}

/** Whether the cache in `dir` has an entry for `key` (the worker's hint; the main thread reads it). */
export function hasCachedEntry(dir: string, key: string): boolean {
  return existsSync(join(dir, fileFor(key)));
}

let fingerprint: string | null | undefined;

/**
 * A SHA-256 of the code a validation result (and a render memo) depends on: every file of the core
 * (parsing, checks, schemas, rendering rules), the modules that load manifests and shape the
 * rendered tree, the libraries' package.json
 * (their versions), the Node version. Computed once per process (~10 ms).
 */
function codeFingerprint(): string | null {
  if (fingerprint !== undefined) return fingerprint;
  try {
    const here = fileURLToPath(import.meta.url);
    // From the sources (vitest): src/*.ts. Built: dist/*.js, whether this runs from dist/app/ or
    // from a bundle in dist/bundle/ (cli.cjs, manifest-worker.js), which are built from them.
    const ext = extname(here) === '.ts' ? '.ts' : '.js';
    let root = dirname(here); // up to dist/ (or src/ when run from the sources)
    while (basename(root) !== 'dist' && basename(root) !== 'src' && dirname(root) !== root) root = dirname(root);
    const h = createHash('sha256');
    h.update(`${process.version} ${process.arch}\0`);
    hashTree(h, root, 'domain');
    for (const f of ['use-cases/plan/load-manifests', 'use-cases/plan/parallel-manifests', 'use-cases/plan/manifest-preload', 'use-cases/plan/manifest-worker', 'use-cases/plan/manifest-cache', 'use-cases/plan/manifest-cache-key', 'use-cases/plan/manifest-cache-config', 'adapters/fs/read-manifest-sources', 'use-cases/plan/render-memo', 'use-cases/plan/stable-origins', 'use-cases/plan/compute-plan']) {
      const p = join(root, `${f}${ext}`);
      h.update(`${f}\0`);
      if (existsSync(p)) h.update(readFileSync(p));
    }
    const require = createRequire(import.meta.url);
    for (const pkg of ['js-yaml', 'yaml', 'ajv']) h.update(readFileSync(require.resolve(`${pkg}/package.json`)));
    fingerprint = h.digest('hex');
  } catch {
    fingerprint = null;
  }
  return fingerprint;
}

function hashTree(h: Hash, root: string, dir: string): void {
  for (const e of readdirSync(join(root, dir), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const rel = `${dir}/${e.name}`;
    if (e.isDirectory()) hashTree(h, root, rel);
    else if (e.isFile()) {
      h.update(`${rel}\0`);
      h.update(readFileSync(join(root, rel)));
    }
  }
}
