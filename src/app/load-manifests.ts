import { readManifestSources } from '../adapters/fs/read-manifest-sources.js';
import { hasErrors } from '../core/diagnostics.js';
import { ValidationError } from '../core/errors.js';
import { validateCheckedFiles } from '../core/manifests/check-file.js';
import { parseManifestSources, type SourceText } from '../core/manifests/parse-manifests.js';
import { validateManifests, type ValidationResult } from '../core/manifests/validate-manifests.js';
import { loadWithPreloadedWorker } from './parallel-manifests.js';

export interface LoadedManifests {
  sources: SourceText[];
  validation: ValidationResult;
}

/**
 * Reads and validates the manifests. Throws a ValidationError carrying every diagnostic when any
 * is an error; warnings are returned for the caller to show.
 *
 * When the CLI started a manifest worker for this command (bin/run.js, manifest-preload.ts),
 * the files are read, parsed and checked by it and this thread together (parallel-manifests.ts);
 * the result is the same (test/unit/check-file.test.ts, test/e2e/manifest-worker.test.ts).
 */
export function loadManifests(target: string, cwd?: string): LoadedManifests {
  const checked = loadWithPreloadedWorker(target, cwd ?? process.cwd());
  const { sources, validation } = checked ? validateCheckedFiles(checked) : validateSources(readManifestSources(target, cwd));
  if (hasErrors(validation.diagnostics)) throw new ValidationError(validation.diagnostics);
  return { sources, validation };
}

function validateSources(sources: SourceText[]): { sources: SourceText[]; validation: ValidationResult } {
  return { sources, validation: validateManifests(parseManifestSources(sources)) };
}
