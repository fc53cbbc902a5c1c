import { sortDiagnostics } from '../../domain/diagnostics.js';
import { parseManifestSources, type SourceText } from '../../domain/manifests/parse-manifests.js';
import { validateManifests, type ValidationResult } from '../../domain/manifests/validate-manifests.js';
import type { ManifestLoader } from '../../ports/manifest-loader.js';
import type { ParseSources } from './parse-cache.js';
import { originNamesFor, readManifestTree } from '../fs/read-manifest-sources.js';

/** The pure step of a load: parse and validate texts already read. */
export type ValidateSources = (sources: readonly SourceText[]) => ValidationResult;

/** Validation of the texts as `parse` parses them (the composition root may put the parse cache there). */
export const validateParsed =
  (parse: ParseSources): ValidateSources =>
  (sources) =>
    validateManifests(parse(sources));

export const validateSources: ValidateSources = validateParsed(parseManifestSources);

export interface FileManifestLoaderOptions {
  /** The directory relative paths are read from (and shown relative to); default: the process's. */
  cwd?: string;
  /** How the texts are validated; default validateSources (the composition root may wrap it in a cache). */
  validate?: ValidateSources;
}

/** The manifests from the filesystem: every file read, then parsed and validated. */
export function fileManifestLoader(options: FileManifestLoaderOptions = {}): ManifestLoader {
  const validate = options.validate ?? validateSources;
  return {
    load(target) {
      const { sources, problems } = readManifestTree(target, options.cwd ?? process.cwd());
      // A file that could not be read (too large, not UTF-8, a FIFO, no permission) is reported
      // alone: validating the others without it would report its absence as other errors.
      if (problems.length > 0) return { sources, validation: { ...validateSources([]), diagnostics: sortDiagnostics(problems) } };
      return { sources, validation: validate(sources) };
    },
    originNames: (target) => originNamesFor(target, options.cwd ?? process.cwd()),
  };
}
