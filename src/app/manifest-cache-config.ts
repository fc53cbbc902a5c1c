import { join } from 'node:path';

/**
 * Where loadManifests keeps the cache of its last validation (manifest-cache.ts): set by the CLI
 * from the settings, before any command reads manifests. A module of its own, kept small: every
 * command loads it.
 */
let cacheDir: string | null = null;

/**
 * The cache goes under the state directory, only with ORCH_MANIFEST_CACHE=1: it is opt-in (off by
 * default) because an apply after a manifest was deleted or renamed planned from a stale cached
 * validation (test/integration/apply-guards.test.ts, 2026-11-22) and the cause is not found yet.
 */
export function configureManifestCache(stateDir: string | null, env: NodeJS.ProcessEnv = process.env): void {
  cacheDir = stateDir && env.ORCH_MANIFEST_CACHE === '1' ? manifestCacheDir(stateDir) : null;
}

export function manifestCacheDir(stateDir: string): string {
  return join(stateDir, 'cache');
}

export function configuredManifestCache(): string | null {
  return cacheDir;
}
