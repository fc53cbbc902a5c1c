import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, isAbsolute, sep } from 'node:path';
import { UserError } from '../../domain/errors.js';
import type { SourceText } from '../../domain/manifests/parse-manifests.js';
import { displayPath, stableOriginFile } from '../../domain/manifests/origin-names.js';

const MANIFEST_EXT = /\.ya?ml$/;

/**
 * Reads one manifest file, or every `*.yaml`/`*.yml` below a directory (recursively, in a stable
 * order; hidden entries skipped). Paths are shown relative to `cwd` when below it.
 */
export function readManifestSources(target: string, cwd: string = process.cwd()): SourceText[] {
  return readManifestFiles(listManifestTarget(target, cwd).files, cwd);
}

/** The files of a listing, read in order (a failure is thrown for the first file that fails). */
export function readManifestFiles(files: readonly string[], cwd: string): SourceText[] {
  return files.map((file) => readManifestFile(file, cwd));
}

export interface ManifestListing {
  /** The target as an absolute path. */
  target: string;
  /** Absolute paths of the manifest files, in reading order. */
  files: string[];
}

/** The files readManifestSources reads, in its order; a UserError when the target does not exist. */
export function listManifestTarget(target: string, cwd: string): ManifestListing {
  const abs = manifestTargetPath(target, cwd);
  let st;
  try {
    st = statSync(abs);
  } catch {
    throw new UserError('manifests.not-found', `Manifest path ${target} does not exist.`, {
      hint: 'Point --manifests (or ORCH_MANIFESTS, or `manifests:` in the config file) at a directory of *.yaml files or at one file.',
    });
  }
  return { target: abs, files: st.isDirectory() ? listManifestFiles(abs) : [abs] };
}

export function manifestTargetPath(target: string, cwd: string): string {
  return isAbsolute(target) ? target : join(cwd, target);
}

/**
 * The directory manifest paths are named relative to in generated files: the manifests directory,
 * or the directory of the one manifest file; null when the target cannot be read.
 */
export function manifestBaseDir(target: string, cwd: string): string | null {
  const abs = manifestTargetPath(target, cwd);
  try {
    return statSync(abs).isDirectory() ? abs : dirname(abs);
  } catch {
    return null;
  }
}

/** One manifest file as readManifestSources reads it. */
export function readManifestFile(file: string, cwd: string): SourceText {
  return { path: displayPath(file, cwd), text: readFileSync(file, 'utf8') };
}

function listManifestFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    const entries = readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
    // `d` is normalized and an entry name has no separator: join(d, name) is d + sep + name,
    // without join's normalization pass for each of thousands of files.
    const prefix = d.endsWith(sep) ? d : d + sep;
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const p = prefix + e.name;
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && MANIFEST_EXT.test(e.name)) out.push(p);
    }
  };
  walk(normalize(dir));
  return out;
}

/**
 * How generated files name the manifest files read from `target` (see stableOriginFile): relative
 * to the manifests directory, or to the directory of the one manifest file.
 */
export function originNamesFor(target: string, cwd: string): (file: string) => string {
  return stableOriginFile(manifestBaseDir(target, cwd), cwd);
}
