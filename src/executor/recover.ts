import type { ContentStore } from '../adapters/fs/content-store.js';
import { reloadNginx } from '../adapters/nginx/nginx-control.js';
import type { StateStore } from '../adapters/sqlite/state-store.js';
import type { Settings } from '../app/settings.js';
import { phaseAtLeast, readJournal, removeJournal, type Journal } from './journal.js';
import { completeOps, removeLeftoverTemps, restorePrevious } from './live-files.js';

export interface RecoveryReport {
  journal: Journal;
  action: 'rolled-forward' | 'rolled-back';
  reloaded: boolean;
}

/**
 * Finishes or undoes an apply that died mid-way. Called by every writer after it takes the lock.
 * - phase `reloaded` or later: nginx already serves the new files, so the promotion is completed
 *   and the state commit replayed (idempotent: skipped when the generation row exists);
 * - earlier: the previous files are restored by rename; when a reload may have been sent
 *   (`renamed` or later), nginx is reloaded again so it serves the restored files.
 */
export async function recoverInterruptedApply(settings: Settings, store: StateStore, contents: ContentStore): Promise<RecoveryReport | null> {
  const journal = readJournal(settings.stateDir);
  if (!journal) {
    removeLeftoverTemps(settings.nginxDir);
    return null;
  }
  if (phaseAtLeast(journal.phase, 'reloaded')) {
    completeOps(settings.nginxDir, journal.ops, contents);
    if (store.generation(journal.generation) === null) store.commitGeneration(journal.commit);
    store.audit([{ command: 'recover', action: 'recovered', subject: `generation ${journal.generation}`, details: `completed an apply interrupted in phase ${journal.phase}` }]);
    removeJournal(settings.stateDir);
    return { journal, action: 'rolled-forward', reloaded: false };
  }
  restorePrevious(settings.nginxDir, journal.ops, contents);
  // Once files were renamed, nginx may have been reloaded (by orch or anyone else) onto them:
  // reload again so it serves the restored files. Best effort: a stopped nginx has nothing to reload.
  let reloaded = false;
  if (phaseAtLeast(journal.phase, 'renamed')) {
    reloaded = (await reloadNginx(settings).catch(() => ({ ok: false }))).ok;
  }
  store.audit([{ command: 'recover', action: 'recovered', subject: `generation ${journal.generation}`, details: `rolled back an apply interrupted in phase ${journal.phase}` }]);
  removeJournal(settings.stateDir);
  return { journal, action: 'rolled-back', reloaded };
}
