import { readFileSync } from 'node:fs';
import { packagePath } from './package-root.js';

let cached: string | null = null;

/** orch's own version, from package.json (works from src/ under vitest and from dist/). */
export function orchVersion(): string {
  if (cached) return cached;
  const pkg = JSON.parse(readFileSync(packagePath('package.json'), 'utf8')) as { version: string };
  cached = pkg.version;
  return cached;
}
