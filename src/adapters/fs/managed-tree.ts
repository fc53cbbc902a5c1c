import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ManagedTree } from '../../ports/managed-tree.js';
import { sha256 } from '../../domain/plan/make-plan.js';
import {
  buildGeneration,
  convertToGenerations,
  discardGeneration,
  generationNumbers,
  liveRoot,
  prepareSwitch,
  pruneGenerations,
  removeLeftovers,
  removeSwitchLinks,
  switchCurrent,
  treeLayout,
} from './generations.js';
import { completeOps, removeLeftoverTemps, restorePrevious } from './live-files.js';
import { readManagedTree } from './read-managed-tree.js';

/**
 * The managed nginx directory on the filesystem, as generations (src/adapters/fs/generations.ts):
 * a new generation is built beside the live one, unchanged files hard-linked (a 1,000-vhost tree is
 * 2,400 files), and `current` is switched by one rename.
 */
export function fileManagedTree(nginxDir: string): ManagedTree {
  const readLive = (path: string): string | null => {
    try {
      return readFileSync(join(liveRoot(nginxDir), path), 'utf8');
    } catch {
      return null;
    }
  };
  return {
    dir: nginxDir,
    exists: () => statSync(nginxDir, { throwIfNoEntry: false })?.isDirectory() ?? false,
    read: () => readManagedTree(nginxDir),
    readLive,
    liveSha: (path) => {
      const c = readLive(path);
      return c === null ? null : sha256(c);
    },
    layout: () => treeLayout(nginxDir),
    generations: () => generationNumbers(nginxDir),
    build: (n, writes, deletes) => buildGeneration(nginxDir, n, writes, deletes),
    discard: (n) => discardGeneration(nginxDir, n),
    convert: (g0) => convertToGenerations(nginxDir, g0),
    prepareSwitch: (next, previous) => prepareSwitch(nginxDir, next, previous),
    switchTo: (n) => switchCurrent(nginxDir, n),
    removeSwitchLinks: () => removeSwitchLinks(nginxDir),
    prune: (keep) => pruneGenerations(nginxDir, keep),
    removeLeftovers: () => removeLeftovers(nginxDir),
    restorePrevious: (ops, contents) => restorePrevious(nginxDir, ops, contents),
    completeOps: (ops, contents) => completeOps(nginxDir, ops, contents),
    removeLeftoverTemps: () => removeLeftoverTemps(nginxDir),
  };
}
