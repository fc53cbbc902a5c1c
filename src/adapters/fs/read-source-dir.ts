import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { UserError } from '../../domain/errors.js';
import type { IncludedText, IncludeResolver } from '../../domain/nginx-config/nginx-ast.js';
import type { ImportSources } from '../../ports/import-sources.js';
import { nginxVersion } from '../nginx/nginx-cli.js';
import { CURRENT_LINK, GENERATIONS_DIR, liveRoot, treeLayout } from './generations.js';

/** Reads every `*.conf` and `*.meta.json` below `dir` (hidden entries skipped), paths relative to it. */
export function readSourceDir(dir: string): Array<{ path: string; content: string }> {
  let st;
  try {
    st = statSync(dir);
  } catch {
    throw new UserError('import.not-found', `${dir} does not exist.`, {
      hint: 'Give the directory holding the nginx files to import (for orch and the reference tool: the one with pools/ and vhosts/).',
    });
  }
  if (!st.isDirectory())
    throw new UserError('import.not-a-directory', `${dir} is not a directory.`, {
      hint: 'Give the directory holding the nginx files, not one file.',
    });
  const out: Array<{ path: string; content: string }> = [];
  // orch's own managed directory in the generation layout: what nginx reads is pools/ and vhosts/
  // of the live generation (through their symlinks); the generations themselves are history.
  const layout = treeLayout(dir).kind;
  const generations = layout === 'generations' || layout === 'converting';
  const root = generations ? liveRoot(dir) : dir;
  const walk = (d: string, rel: string) => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (e.name.startsWith('.')) continue;
      if (generations && rel === '' && (e.name === GENERATIONS_DIR || e.name === CURRENT_LINK)) continue;
      const p = join(d, e.name);
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory() || (generations && rel === '' && (e.name === 'pools' || e.name === 'vhosts'))) {
        walk(rel === '' && generations && (e.name === 'pools' || e.name === 'vhosts') ? join(root, e.name) : p, r);
      } else if (e.isFile() && (e.name.endsWith('.conf') || e.name.endsWith('.meta.json')))
        out.push({ path: r, content: readFileSync(p, 'utf8') });
    }
  };
  walk(dir, '');
  return out;
}

/**
 * Follows `include` for the parser: an absolute path as is, a relative one against `dir` (nginx
 * resolves it against its prefix; the imported directory is the best stand-in). A `*` or `?` in
 * the last path segment is a glob, expanded in name order like nginx does. Files inside `dir` are
 * named relative to it; null when nothing matches.
 */
export function includeResolverFor(dir: string): IncludeResolver {
  return (pattern) => {
    const abs = isAbsolute(pattern) ? pattern : resolve(dir, pattern);
    const name = abs.slice(abs.lastIndexOf('/') + 1);
    let paths: string[];
    if (/[*?[]/.test(name)) {
      const re = new RegExp(
        `^${name
          .replace(/[.+^${}()|\\]/g, '\\$&')
          .replace(/\*/g, '.*')
          .replace(/\?/g, '.')}$`,
      );
      try {
        paths = readdirSync(dirname(abs))
          .filter((n) => re.test(n) && !n.startsWith('.'))
          .sort()
          .map((n) => join(dirname(abs), n));
      } catch {
        return null;
      }
    } else paths = [abs];
    const found: IncludedText[] = [];
    for (const p of paths) {
      try {
        if (!statSync(p).isFile()) continue;
        const rel = relative(dir, p);
        found.push({ file: rel.startsWith('..') || isAbsolute(rel) ? p : rel.split(sep).join('/'), text: readFileSync(p, 'utf8') });
      } catch {
        /* unreadable: not followed */
      }
    }
    return found.length > 0 ? found : null;
  };
}

/** The installation orch import reads, on the local filesystem. */
export const localImportSources: ImportSources = { read: readSourceDir, includeResolver: includeResolverFor, nginxVersion };
