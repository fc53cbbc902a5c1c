import { readManifestSources } from '../adapters/fs/read-manifest-sources.js';
import { hasErrors } from '../core/diagnostics.js';
import { ValidationError } from '../core/errors.js';
import { parseManifestSources, type SourceText } from '../core/manifests/parse-manifests.js';
import { validateManifests, type ValidationResult } from '../core/manifests/validate-manifests.js';

export interface LoadedManifests {
  sources: SourceText[];
  validation: ValidationResult;
}

/**
 * Reads and validates the manifests. Throws a ValidationError carrying every diagnostic when any
 * is an error; warnings are returned for the caller to show.
 */
export function loadManifests(target: string, cwd?: string): LoadedManifests {
  const sources = readManifestSources(target, cwd);
  const validation = validateManifests(parseManifestSources(sources));
  if (hasErrors(validation.diagnostics)) throw new ValidationError(validation.diagnostics);
  return { sources, validation };
}
