import { isAbsolute, relative, resolve, sep } from 'node:path';
import type { DesiredState, Origin } from '../model/desired-state.js';
import type { RenderedTree } from '../render/rendered-tree.js';

/**
 * Manifest paths as generated files record them (the marker comment of a `.conf`, the `origin` of
 * a sidecar): relative to the manifests directory (or, when the manifests setting names one file,
 * to that file's directory), whatever the working directory of the process.
 *
 * Documents are read with paths relative to the working directory, which is what messages should
 * show. Written into the files, those paths made the output depend on where orch ran: the daemon
 * (started by systemd in `/`) and an operator's `orch plan` in a checkout would each see every file
 * as changed and rewrite them back and forth.
 */
export function stableOriginFile(base: string | null, cwd: string): (file: string) => string {
  // `base`: the manifests directory, or the directory of the one manifest file (absolute); null
  // when it cannot be read: the manifests could not have been read either, paths stay as they are.
  if (base === null) return (file) => file;
  // The common case costs one startsWith: documents are listed below the base's display path.
  const prefix = displayPath(base, cwd);
  const head = prefix === '' ? '' : `${prefix}/`;
  return (file) => {
    if (head === '' ? !isAbsolute(file) && !file.startsWith('../') && file !== '..' : file.startsWith(head)) return file.slice(head.length);
    const rel = relative(base, resolve(cwd, file));
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return file;
    return sep === '/' ? rel : rel.split(sep).join('/');
  };
}

/**
 * The desired state with stable origin files, for rendering, and a way back: `restoreLineMaps`
 * gives the rendered tree's line maps the documents' own origins again (nginx -t errors are
 * mapped to `file:line` through them, with the paths messages use).
 */
export function withStableOrigins(
  desired: DesiredState,
  stable: (file: string) => string,
): { desired: DesiredState; restoreLineMaps: (tree: RenderedTree) => RenderedTree } {
  const back = new Map<Origin, Origin>();
  const map = (o: Origin): Origin => {
    const file = stable(o.file);
    if (file === o.file) return o;
    const s = { ...o, file };
    back.set(s, o);
    return s;
  };
  const out: DesiredState = {
    ...desired,
    pools: desired.pools.map((p) => ({ ...p, origin: map(p.origin) })),
    virtualHosts: desired.virtualHosts.map((v) => ({
      ...v,
      origin: map(v.origin),
      routes: v.routes.map((r) => ({ ...r, origin: map(r.origin) })),
    })),
    migrations: desired.migrations.map((m) => ({ ...m, origin: map(m.origin) })),
  };
  // In place: every line-map entry is a fresh object of this render (LineTracker.at).
  const restoreLineMaps = (tree: RenderedTree): RenderedTree => {
    if (back.size === 0) return tree;
    for (const f of tree.files) {
      for (const l of f.lineMap) {
        if (l === null) continue;
        const o = back.get(l.origin);
        if (o !== undefined) l.origin = o;
      }
    }
    return tree;
  };
  return { desired: out, restoreLineMaps };
}

/** A manifest file's path as messages show it: relative to `cwd` when below it, else absolute. */
export function displayPath(file: string, cwd: string): string {
  // The common case, a normalized file below a normalized cwd: what relative() returns, without
  // resolving both paths again for each of thousands of files.
  if (
    file.length > cwd.length + 1 &&
    file.startsWith(cwd) &&
    file[cwd.length] === sep &&
    isNormalizedDir(cwd) &&
    !NOT_NORMALIZED.test(file)
  ) {
    const rel = file.slice(cwd.length + 1);
    return rel.startsWith('..') ? file : rel;
  }
  const rel = relative(cwd, file);
  return rel === '' || rel.startsWith('..') || isAbsolute(rel) ? file : rel;
}

/** An empty, `.` or `..` segment, or a trailing separator: what path.resolve would change. */
const NOT_NORMALIZED = /\/\/|\/\.\.?(?:\/|$)|\/$/;

let lastDir: string | null = null;
let lastDirNormalized = false;

/** An absolute, normalized directory other than the root (remembered: it is the same for every file). */
function isNormalizedDir(dir: string): boolean {
  if (dir !== lastDir) {
    lastDir = dir;
    lastDirNormalized = sep === '/' && dir.length > 1 && dir.startsWith('/') && !NOT_NORMALIZED.test(dir);
  }
  return lastDirNormalized;
}
