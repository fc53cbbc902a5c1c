import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, isAbsolute } from 'node:path';
import { UserError } from '../../core/errors.js';
import type { SourceText } from '../../core/manifests/parse-manifests.js';

const MANIFEST_EXT = /\.ya?ml$/;

/**
 * Reads one manifest file, or every `*.yaml`/`*.yml` below a directory (recursively, in a stable
 * order; hidden entries skipped). Paths are shown relative to `cwd` when below it.
 */
export function readManifestSources(target: string, cwd: string = process.cwd()): SourceText[] {
  const abs = isAbsolute(target) ? target : join(cwd, target);
  let st;
  try {
    st = statSync(abs);
  } catch {
    throw new UserError('manifests.not-found', `Manifest path ${target} does not exist.`, {
      hint: 'Point --manifests (or ORCH_MANIFESTS, or `manifests:` in the config file) at a directory of *.yaml files or at one file.',
    });
  }
  const files = st.isDirectory() ? listManifestFiles(abs) : [abs];
  return files.map((file) => ({ path: displayPath(file, cwd), text: readFileSync(file, 'utf8') }));
}

function listManifestFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    const entries = readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && MANIFEST_EXT.test(e.name)) out.push(p);
    }
  };
  walk(dir);
  return out;
}

export function displayPath(file: string, cwd: string): string {
  const rel = relative(cwd, file);
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? file : rel;
}
