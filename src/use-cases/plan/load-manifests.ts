import { readManifestSources } from '../../adapters/fs/read-manifest-sources.js';
import { hasErrors } from '../../domain/diagnostics.js';
import { ValidationError } from '../../domain/errors.js';
import { validateCheckedFiles } from '../../domain/manifests/check-file.js';
import { parseManifestSources, type SourceText } from '../../domain/manifests/parse-manifests.js';
import { validateManifests, type ValidationResult } from '../../domain/manifests/validate-manifests.js';
import { cacheKey, readCachedValidation, writeCachedValidation } from './manifest-cache.js';
import { configuredManifestCache } from './manifest-cache-config.js';
import { joinPreloadedWorker } from './parallel-manifests.js';

export interface LoadedManifests {
  sources: SourceText[];
  validation: ValidationResult;
  /**
   * The validation cache key of these manifests (their texts and names, and the code that reads,
   * validates and renders them), or null when the cache is off: the render memo's key builds on it.
   */
  cacheKey: string | null;
}

/**
 * Reads and validates the manifests. Throws a ValidationError carrying every diagnostic when any
 * is an error; warnings are returned for the caller to show.
 *
 * Two optimisations, neither of which changes the result (tests compare them with the plain
 * path, validateManifests(parseManifestSources(readManifestSources(...)))):
 * - when the CLI started a manifest worker for this command (bin/run.js, manifest-preload.ts),
 *   the files are read by it and parsed and checked by it and this thread together
 *   (parallel-manifests.ts; test/unit/check-file.test.ts, test/e2e/manifest-worker.test.ts);
 * - when the CLI configured a cache (the state directory), the validation of exactly these texts
 *   by exactly this code is taken from it (manifest-cache.ts; test/unit/manifest-cache.test.ts).
 */
export function loadManifests(target: string, cwd?: string): LoadedManifests {
  const worker = joinPreloadedWorker(target, cwd ?? process.cwd());
  try {
    const sources = worker ? worker.sources : readManifestSources(target, cwd);
    const cache = configuredManifestCache();
    // The worker hashed the texts it read (the same function and code): not again here.
    const key = cache ? (worker?.cacheKey ?? cacheKey(sources)) : null;
    let validation = cache && key ? readCachedValidation(cache, key, sources) : null;
    if (!validation) {
      validation = worker ? validateCheckedFiles(worker.checkAll()).validation : validateManifests(parseManifestSources(sources));
      if (cache && key) writeCachedValidation(cache, key, validation);
    }
    if (hasErrors(validation.diagnostics)) throw new ValidationError(validation.diagnostics);
    return { sources, validation, cacheKey: key };
  } finally {
    worker?.release();
  }
}
