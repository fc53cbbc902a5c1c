import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | null = null;

/**
 * orch's own package directory (where package.json, schemas/, examples/ and bin/ are), found by
 * walking up from this module: the same from the sources (src/config/), the compiled files
 * (dist/config/) and the bundle (dist/bundle/).
 */
export function packageRoot(): string {
  if (root !== null) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`orch's package.json was not found above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
  root = dir;
  return root;
}

/** A path inside orch's package directory. */
export function packagePath(...parts: string[]): string {
  return join(packageRoot(), ...parts);
}
