import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { ManagedTree } from '../../ports/managed-tree.js';
import { completeOps, fsyncManagedDirs, liveSha, removeFile, removeLeftoverTemps, replaceFile, restorePrevious } from './live-files.js';
import { readManagedTree } from './read-managed-tree.js';
import { removeStaging, stageTree } from './staging.js';

/**
 * The managed nginx directory on the filesystem. Staging goes under `<stateDir>/staging`; a file the
 * apply does not change is hard-linked from the live directory into the staging (a 1,000-vhost tree
 * is 2,400 files) rather than written again.
 */
export function fileManagedTree(nginxDir: string, stateDir: string): ManagedTree {
  return {
    dir: nginxDir,
    exists: () => statSync(nginxDir, { throwIfNoEntry: false })?.isDirectory() ?? false,
    read: () => readManagedTree(nginxDir),
    liveSha: (path) => liveSha(nginxDir, path),
    readLive: (path) => {
      try {
        return readFileSync(join(nginxDir, path), 'utf8');
      } catch {
        return null;
      }
    },
    stage: (files) =>
      stageTree(
        stateDir,
        files.map((f) => ({ path: f.path, content: f.content, ...(f.unchanged ? { linkFrom: join(nginxDir, f.path) } : {}) })),
      ),
    unstage: () => removeStaging(stateDir),
    write: (path, content) => replaceFile(nginxDir, path, content),
    remove: (path) => removeFile(nginxDir, path),
    sync: (ops) => fsyncManagedDirs(nginxDir, ops),
    restorePrevious: (ops, contents) => restorePrevious(nginxDir, ops, contents),
    completeOps: (ops, contents) => completeOps(nginxDir, ops, contents),
    removeLeftoverTemps: () => removeLeftoverTemps(nginxDir),
  };
}
