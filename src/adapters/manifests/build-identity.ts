import { createHash, type Hash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packagePath } from '../../config/package-root.js';
import { orchVersion } from '../../config/version.js';

/** Written by scripts/bundle.mjs beside the bundle: a SHA-256 of the bundle it built. */
export const BUILD_ID_FILE = 'dist/bundle/build-id';

let identity: string | null | undefined;

/**
 * An identifier of the code that is running, for caches of what that code computes (the validation
 * cache): orch's version and a digest of its code, the version of the YAML library (loaded from
 * node_modules, not bundled), the Node version. The digest of the code is computed once when it is
 * built (BUILD_ID_FILE); run from the sources (vitest), it is a digest of every file under src/,
 * computed once per process. Null when it cannot be made (a build without its build-id file): the
 * cache is then not used, never trusted blindly.
 */
export function buildIdentity(): string | null {
  if (identity !== undefined) return identity;
  try {
    const code =
      extname(fileURLToPath(import.meta.url)) === '.ts' ? sourcesDigest() : readFileSync(packagePath(BUILD_ID_FILE), 'utf8').trim();
    if (!/^[0-9a-f]{64}$/.test(code)) throw new Error(`not a build id: ${code.slice(0, 80)}`);
    const yamlVersion = (
      JSON.parse(readFileSync(createRequire(import.meta.url).resolve('yaml/package.json'), 'utf8')) as { version: string }
    ).version;
    identity = [`orch ${orchVersion()}`, code, `yaml ${yamlVersion}`, `node ${process.version} ${process.arch}`].join(' ');
  } catch {
    identity = null;
  }
  return identity;
}

/** A SHA-256 of every file under src/ (names and contents, in a stable order). */
function sourcesDigest(): string {
  const h = createHash('sha256');
  hashTree(h, packagePath('src'), '');
  return h.digest('hex');
}

function hashTree(h: Hash, root: string, dir: string): void {
  for (const e of readdirSync(join(root, dir), { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const rel = dir === '' ? e.name : `${dir}/${e.name}`;
    if (e.isDirectory()) hashTree(h, root, rel);
    else if (e.isFile())
      h.update(`${rel}\0`)
        .update(readFileSync(join(root, rel)))
        .update('\0');
  }
}
