import { existsSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';

export interface ManifestEvent {
  kind: 'add' | 'change' | 'unlink' | 'addDir' | 'unlinkDir';
  path: string;
}

export interface ManifestWatcher {
  /** Resolves once the initial scan is done: changes after this are reported. */
  ready: Promise<void>;
  close(): Promise<void>;
}

const MANIFEST_EXT = /\.ya?ml$/;

/**
 * Watches what `orch` reads as manifests (a directory, recursively, or one file) with chokidar and
 * reports changes that can alter the manifest set: `*.yaml`/`*.yml` files added, changed or
 * removed, and directories added or removed (a git checkout, `mv new-routes routes`). Hidden
 * entries (`.git`, editors' `.x.swp`) are ignored, as the manifest reader ignores them. Editors that
 * save by writing a temp file and renaming it over the original are seen as a change (chokidar's
 * `atomic` mode), and a new directory is watched as soon as it appears.
 *
 * Events are reported one by one; the caller debounces them.
 */
export function watchManifests(target: string, onEvent: (e: ManifestEvent) => void, onError: (e: Error) => void): ManifestWatcher {
  const abs = resolve(target);
  const isFile = existsSync(abs) && statSync(abs).isFile();
  // A single manifest file: watch its directory (a rename-save replaces the file's inode).
  const root = isFile ? dirname(abs) : abs;
  const hidden = (p: string) => {
    const rel = relative(root, p);
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return false;
    return rel.split(sep).some((part) => part.startsWith('.'));
  };
  const watcher: FSWatcher = watch(root, {
    ignoreInitial: true,
    persistent: true,
    atomic: true,
    followSymlinks: true,
    ignored: (p: string) => hidden(p),
    ...(isFile ? { depth: 0 } : {}),
  });
  const relevant = (kind: ManifestEvent['kind'], p: string) => {
    if (isFile) return resolve(p) === abs;
    if (kind === 'addDir' || kind === 'unlinkDir') return resolve(p) !== root;
    return MANIFEST_EXT.test(basename(p));
  };
  watcher.on('all', (kind, p) => {
    if (kind === 'add' || kind === 'change' || kind === 'unlink' || kind === 'addDir' || kind === 'unlinkDir') {
      if (relevant(kind, p)) onEvent({ kind, path: p });
    }
  });
  watcher.on('error', (e) => onError(e instanceof Error ? e : new Error(String(e))));
  const ready = new Promise<void>((r) => watcher.once('ready', () => r()));
  return {
    ready,
    close: () => watcher.close(),
  };
}
