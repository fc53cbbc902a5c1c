import type { ContentStore } from '../../adapters/fs/content-store.js';
import { confirmServed, probeStatus, reloadNginx } from '../../adapters/nginx/nginx-control.js';
import type { StateStore } from '../../ports/state-store.js';
import type { Settings } from '../../config/settings.js';
import { STATUS_FILE_PATH, statusToken } from '../../domain/render/render-status.js';
import { phaseAtLeast, readJournal, removeJournal, type Journal } from '../../adapters/fs/journal.js';
import { completeOps, removeLeftoverTemps, restorePrevious } from '../../adapters/fs/live-files.js';

export interface RecoveryReport {
  journal: Journal;
  action: 'rolled-forward' | 'rolled-back';
  /** nginx was reloaded onto the restored files (and, with a status address, confirmed serving them). */
  reloaded: boolean;
}

/**
 * Finishes or undoes an apply that died mid-way. Called by every writer after it takes the lock.
 * - phase `reloaded` or later, or nginx already answering the journal's generation token (orch
 *   died after sending the reload, before recording it): nginx serves the new files, so the
 *   promotion is completed and the state commit replayed (idempotent: skipped when the generation
 *   row exists);
 * - earlier: the previous files are restored by rename; when a reload may have been sent
 *   (`renamed` or later), nginx is reloaded again so it serves the restored files.
 */
export async function recoverInterruptedApply(settings: Settings, store: StateStore, contents: ContentStore): Promise<RecoveryReport | null> {
  const journal = readJournal(settings.stateDir);
  if (!journal) {
    removeLeftoverTemps(settings.nginxDir);
    return null;
  }
  if (phaseAtLeast(journal.phase, 'reloaded') || (await servesJournalGeneration(settings, journal))) {
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
    // The reload takes effect asynchronously, and a reload sent by the dead writer may still be
    // loading the new files: wait until nginx answers the restored generation, so that when this
    // writer goes on (or returns) nginx serves what is on disk again.
    const current = store.currentGeneration();
    const row = current === null ? null : store.generation(current);
    if (reloaded && row && settings.reload !== 'none' && settings.statusListen !== 'off' && journal.ops.some((op) => op.path === STATUS_FILE_PATH && op.beforeSha256 !== null)) {
      reloaded = (await confirmServed(settings.statusListen, statusToken(row.number, row.fingerprint ?? ''), settings.reloadTimeoutSeconds)).confirmed;
    }
  }
  store.audit([{ command: 'recover', action: 'recovered', subject: `generation ${journal.generation}`, details: `rolled back an apply interrupted in phase ${journal.phase}` }]);
  removeJournal(settings.stateDir);
  return { journal, action: 'rolled-back', reloaded };
}

/**
 * Does nginx already serve the journal's generation? Rolling back then would contradict nginx: the
 * files and state would say "old" while nginx runs the new files, and the reload meant to bring the
 * old files back can fail for good (a port the old files listen on was taken after nginx released
 * it), leaving nginx on files that are no longer on disk. The status file is the journal's last op,
 * so nginx can only answer the new token after every rename and delete was done and it accepted
 * the complete new tree.
 */
async function servesJournalGeneration(settings: Settings, journal: Journal): Promise<boolean> {
  if (settings.statusListen === 'off') return false;
  const last = journal.ops[journal.ops.length - 1];
  if (!last || last.path !== STATUS_FILE_PATH || last.action !== 'write') return false;
  const token = statusToken(journal.generation, journal.commit.generation.fingerprint ?? '');
  return (await probeStatus(settings.statusListen)) === token;
}
