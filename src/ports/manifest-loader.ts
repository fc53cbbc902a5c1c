import type { SourceText } from '../domain/manifests/parse-manifests.js';
import type { ValidationResult } from '../domain/manifests/validate-manifests.js';

/** The manifests as read and validated: their texts, and what the validation made of them. */
export interface LoadedManifests {
  sources: SourceText[];
  validation: ValidationResult;
}

/** Reads and validates the manifests of a path: a directory of `*.yaml`/`*.yml` files, or one file. */
export interface ManifestLoader {
  /**
   * The manifests of `target` (relative to the working directory), read and validated. Problems with
   * the manifests are diagnostics of the result, never thrown; a target that does not exist is a
   * UserError (`manifests.not-found`).
   */
  load(target: string): LoadedManifests;
  /**
   * How generated files name the manifest files of `target`: relative to the manifests directory
   * (or the one file's directory), whatever the working directory (see stableOriginFile).
   */
  originNames(target: string): (file: string) => string;
}
