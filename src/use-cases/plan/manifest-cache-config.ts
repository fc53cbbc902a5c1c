import { join } from 'node:path';

/**
 * Where loadManifests keeps the cache of its last validation (manifest-cache.ts): set by the CLI
 * from the settings, before any command reads manifests. A module of its own, kept small: every
 * command loads it.
 */
let cacheDir: string | null = null;

/**
 * The cache goes under the state directory; ORCH_MANIFEST_CACHE=0 turns it off (for an operator who
 * suspects it: results never depend on it, only the time they take).
 *
 * It was opt-in for one commit (88ebe4e) after apply-guards failed in a clean-clone CI run with it
 * on. That failure was not the cache: the first test's lock holder took more than the test's 4 s
 * to start on the loaded machine, the test failed and left it running, and the next tests
 * planned while it was still applying (test fixed in 93b8e2b). The same file passes with the cache.
 */
export function configureManifestCache(stateDir: string | null, env: NodeJS.ProcessEnv = process.env): void {
  cacheDir = stateDir && env.ORCH_MANIFEST_CACHE !== '0' ? manifestCacheDir(stateDir) : null;
}

export function manifestCacheDir(stateDir: string): string {
  return join(stateDir, 'cache');
}

export function configuredManifestCache(): string | null {
  return cacheDir;
}
