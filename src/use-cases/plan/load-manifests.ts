import { hasErrors } from '../../domain/diagnostics.js';
import { ValidationError } from '../../domain/errors.js';
import type { LoadedManifests, ManifestLoader } from '../../ports/manifest-loader.js';

export type { LoadedManifests } from '../../ports/manifest-loader.js';

/**
 * Reads and validates the manifests of `target` through the loader. Throws a ValidationError
 * carrying every diagnostic when any is an error; warnings are returned for the caller to show.
 */
export function loadManifests(loader: ManifestLoader, target: string): LoadedManifests {
  const loaded = loader.load(target);
  if (hasErrors(loaded.validation.diagnostics)) throw new ValidationError(loaded.validation.diagnostics);
  return loaded;
}
