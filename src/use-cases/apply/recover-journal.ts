import type { Journal } from '../../ports/apply-journal.js';
import type { StateStore } from '../../ports/state-store.js';
import { decideRecovery, recoveryNeedsProbe, type RecoveryAction } from '../../domain/apply/recovery.js';
import { STATUS_FILE_PATH, statusToken } from '../../domain/render/render-status.js';
import type { ApplyPorts } from './apply-ports.js';
import { awaitServed } from './await-served.js';

export interface RecoveryReport {
  journal: Journal;
  action: RecoveryAction;
  /** nginx was reloaded onto the restored files (and, with a status address, confirmed serving them). */
  reloaded: boolean;
}

/**
 * Finishes or undoes an apply that died mid-way, from its journal (src/domain/apply/recovery.ts
 * decides which). Called by every writer after it takes the lock. Distinct from rebuild-db, which
 * rebuilds the state database from the files on disk.
 */
export async function recoverJournal(
  ports: Pick<ApplyPorts, 'settings' | 'tree' | 'journal' | 'contents' | 'nginx' | 'clock'>,
  store: StateStore,
): Promise<RecoveryReport | null> {
  const { settings, tree, contents, nginx } = ports;
  const journal = ports.journal.read();
  if (!journal) {
    tree.removeLeftoverTemps();
    return null;
  }
  const statusOn = settings.statusListen !== 'off';
  // Does nginx already serve the journal's generation? Rolling back then would contradict nginx:
  // the files and state would say "old" while nginx runs the new files, and the reload meant to
  // bring the old files back can fail for good (a port the old files listen on was taken after
  // nginx released it), leaving nginx on files that are no longer on disk.
  const serves =
    recoveryNeedsProbe(journal.phase, journal.ops, STATUS_FILE_PATH, statusOn) &&
    (await nginx.servedGeneration()) === statusToken(journal.generation, journal.commit.generation.fingerprint ?? '');
  const decision = decideRecovery(journal.phase, serves);

  if (decision.action === 'rolled-forward') {
    tree.completeOps(journal.ops, contents);
    if (store.generation(journal.generation) === null) store.commitGeneration(journal.commit);
    store.audit([
      {
        command: 'recover',
        action: 'recovered',
        subject: `generation ${journal.generation}`,
        details: `completed an apply interrupted in phase ${journal.phase}`,
      },
    ]);
    ports.journal.remove();
    return { journal, action: 'rolled-forward', reloaded: false };
  }

  tree.restorePrevious(journal.ops, contents);
  let reloaded = false;
  if (decision.reload) {
    // Best effort: a stopped nginx has nothing to reload.
    reloaded = (await nginx.reload().catch(() => ({ ok: false }))).ok;
    // The reload takes effect asynchronously, and a reload sent by the dead writer may still be
    // loading the new files: wait until nginx answers the restored generation, so that when this
    // writer goes on (or returns) nginx serves what is on disk again.
    const current = store.currentGeneration();
    const row = current === null ? null : store.generation(current);
    const restoredStatus = journal.ops.some((op) => op.path === STATUS_FILE_PATH && op.beforeSha256 !== null);
    if (reloaded && row && settings.reload !== 'none' && statusOn && restoredStatus) {
      reloaded = (await awaitServed(nginx, ports.clock, statusToken(row.number, row.fingerprint ?? ''), settings.reloadTimeoutSeconds))
        .confirmed;
    }
  }
  store.audit([
    {
      command: 'recover',
      action: 'recovered',
      subject: `generation ${journal.generation}`,
      details: `rolled back an apply interrupted in phase ${journal.phase}`,
    },
  ]);
  ports.journal.remove();
  return { journal, action: 'rolled-back', reloaded };
}
