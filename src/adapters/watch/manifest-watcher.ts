import { existsSync, statSync } from 'node:fs';
import { basename, dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { ManifestEvent, ManifestWatcher, ManifestWatchers } from '../../ports/manifest-watcher.js';

const MANIFEST_EXT = /\.ya?ml$/;

/**
 * Watches what `orch` reads as manifests (a directory, recursively, or one file) with chokidar and
 * reports changes that can alter the manifest set: `*.yaml`/`*.yml` files added, changed or
 * removed, and directories added or removed (a git checkout, `mv new-routes routes`). Hidden
 * entries (`.git`, editors' `.x.swp`) are ignored, as the manifest reader ignores them. Editors that
 * save by writing a temp file and renaming it over the original are seen as a change (chokidar's
 * `atomic` mode), and a new directory is watched as soon as it appears.
 *
 * A watched directory that is removed (`rm -rf manifests && git clone`, a deploy that swaps
 * directories) or does not exist yet is polled every second and watched again once it exists.
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
  const relevant = (kind: ManifestEvent['kind'], p: string) => {
    if (isFile) return resolve(p) === abs;
    if (kind === 'addDir' || kind === 'unlinkDir') return resolve(p) !== root;
    return MANIFEST_EXT.test(basename(p));
  };
  let closed = false;
  let poll: NodeJS.Timeout | null = null;
  let current: FSWatcher | null = null;
  const start = (): Promise<void> => {
    const watcher = watch(root, {
      ignoreInitial: true,
      persistent: true,
      atomic: true,
      followSymlinks: true,
      ignored: (p: string) => hidden(p),
      ...(isFile ? { depth: 0 } : {}),
    });
    current = watcher;
    watcher.on('all', (kind, p) => {
      if (kind === 'unlinkDir' && resolve(p) === root) {
        // chokidar stops watching a directory that was removed, even if it comes back (a
        // `rm -rf manifests && git clone`, a deploy that swaps directories): watch it again once it exists.
        onEvent({ kind, path: p });
        void watcher.close();
        waitForRoot();
        return;
      }
      if (kind === 'add' || kind === 'change' || kind === 'unlink' || kind === 'addDir' || kind === 'unlinkDir') {
        if (relevant(kind, p)) onEvent({ kind, path: p });
      }
    });
    watcher.on('error', (e) => onError(e instanceof Error ? e : new Error(String(e))));
    return new Promise<void>((r) => watcher.once('ready', () => r()));
  };
  const waitForRoot = () => {
    if (closed || poll) return;
    poll = setInterval(() => {
      if (closed || !existsSync(root)) return;
      clearInterval(poll!);
      poll = null;
      void start().then(() => onEvent({ kind: 'addDir', path: root }));
    }, 1000);
  };
  let ready: Promise<void>;
  if (existsSync(root)) ready = start();
  else {
    // Not there yet (a first deploy): watched once it appears.
    waitForRoot();
    ready = Promise.resolve();
  }
  return {
    ready,
    close: async () => {
      closed = true;
      if (poll) clearInterval(poll);
      await current?.close();
    },
  };
}

/** The manifest watcher of production: chokidar. */
export const chokidarManifestWatchers: ManifestWatchers = { watch: watchManifests };
