import type { Journal, LegacyJournal, SwitchJournal } from '../../ports/apply-journal.js';
import type { GenerationCommit, StateStore } from '../../ports/state-store.js';
import { decideLegacyRecovery, decideSwitchRecovery, legacyRecoveryNeedsProbe, type RecoveryAction } from '../../domain/apply/recovery.js';
import { asStorageError } from '../../domain/apply/storage-failure.js';
import { STATUS_FILE_PATH, statusToken } from '../../domain/render/render-status.js';
import type { ApplyPorts } from './apply-ports.js';
import { awaitServed } from './await-served.js';

export interface RecoveryReport {
  journal: Journal;
  action: RecoveryAction;
  /** nginx was reloaded onto the previous generation (and, with a status address, confirmed serving it). */
  reloaded: boolean;
}

type RecoveryPorts = Pick<ApplyPorts, 'settings' | 'tree' | 'journal' | 'contents' | 'nginx' | 'clock'>;

/**
 * Finishes or undoes an apply that died mid-way, from its journal (src/domain/apply/recovery.ts
 * decides which), and removes what a dead writer left that nobody uses; finishes an interrupted
 * conversion to generation directories. Called by every writer after it takes the lock. Distinct
 * from rebuild-db, which rebuilds the state database from the files on disk.
 */
export async function recoverJournal(ports: RecoveryPorts, store: StateStore): Promise<RecoveryReport | null> {
  const journal = ports.journal.read();
  try {
    return await recover(ports, store, journal);
  } catch (e) {
    throw asStorageError(e, {
      doing: journal ? `recovering the interrupted apply of generation ${journal.generation}` : 'removing what an interrupted apply left',
      outcome: journal
        ? 'The journal stays: the next orch run tries again (the managed tree is one whole generation meanwhile).'
        : 'Nothing live changed.',
    });
  }
}

async function recover(ports: RecoveryPorts, store: StateStore, journal: Journal | null): Promise<RecoveryReport | null> {
  const { tree } = ports;
  const layout = tree.layout();
  // Same content either way; finishing it first lets every path below see one layout.
  if (layout.kind === 'converting') tree.convert(layout.current);
  if (!journal) {
    tree.removeLeftovers();
    if (tree.layout().kind === 'legacy') tree.removeLeftoverTemps();
    return null;
  }
  return journal.version === 1 ? recoverLegacy(ports, store, journal) : recoverSwitch(ports, store, journal);
}

async function recoverSwitch(ports: RecoveryPorts, store: StateStore, journal: SwitchJournal): Promise<RecoveryReport> {
  const { settings, tree, nginx } = ports;
  const layout = tree.layout();
  const switched = (layout.kind === 'generations' || layout.kind === 'converting') && layout.current === journal.generation;
  const statusOn = settings.statusListen !== 'off';
  // Does nginx already serve the journal's generation? Switching back then would contradict
  // nginx: files and state would say "old" while nginx runs the new files, and the reload meant to
  // bring the old ones back can fail for good (a port the old files listen on was taken meanwhile).
  const servesNew = statusOn && journal.token !== null ? (await nginx.servedGeneration()) === journal.token : null;
  const decision = decideSwitchRecovery({ phase: journal.phase, switched, servesNew, reloadConfigured: settings.reload !== 'none' });

  if (decision.action === 'rolled-forward') {
    commitInterrupted(store, journal);
    ports.journal.remove();
    tree.removeSwitchLinks();
    return { journal, action: 'rolled-forward', reloaded: false };
  }

  if (decision.switchBack) tree.switchTo(journal.previous);
  let reloaded = false;
  if (decision.reload) {
    // Best effort: a stopped nginx has nothing to reload.
    reloaded = (await nginx.reload().catch(() => ({ ok: false }))).ok;
    // The reload takes effect asynchronously, and a reload sent by the dead writer may still be
    // loading the new generation: wait until nginx answers the previous one, so that when this
    // writer goes on (or returns) nginx serves what is live on disk.
    if (reloaded && statusOn && journal.previousToken)
      reloaded = (await awaitServed(nginx, ports.clock, journal.previousToken, settings.reloadTimeoutSeconds)).confirmed;
  }
  tree.discard(journal.generation);
  tree.removeSwitchLinks();
  store.audit([
    {
      command: 'recover',
      action: 'recovered',
      subject: `generation ${journal.generation}`,
      details: `${switched ? 'switched back from' : 'removed'} an apply interrupted in phase ${journal.phase}`,
    },
  ]);
  ports.journal.remove();
  return { journal, action: 'rolled-back', reloaded };
}

/** A journal of orch before generations (file-by-file promotion), recovered in place as that orch did. */
async function recoverLegacy(ports: RecoveryPorts, store: StateStore, journal: LegacyJournal): Promise<RecoveryReport> {
  const { settings, tree, contents, nginx } = ports;
  const statusOn = settings.statusListen !== 'off';
  const serves =
    legacyRecoveryNeedsProbe(journal.phase, journal.ops, STATUS_FILE_PATH, statusOn) &&
    (await nginx.servedGeneration()) === statusToken(journal.generation, journal.commit.generation.fingerprint ?? '');
  const decision = decideLegacyRecovery(journal.phase, serves);

  if (decision.action === 'rolled-forward') {
    tree.completeOps(journal.ops, contents);
    commitInterrupted(store, journal);
    ports.journal.remove();
    return { journal, action: 'rolled-forward', reloaded: false };
  }

  tree.restorePrevious(journal.ops, contents);
  let reloaded = false;
  if (decision.reload) {
    reloaded = (await nginx.reload().catch(() => ({ ok: false }))).ok;
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

/** Records the generation an interrupted apply had made live (unless it was recorded), and says so in the audit log. */
function commitInterrupted(store: StateStore, journal: { generation: number; phase: string; commit: GenerationCommit }): void {
  if (store.generation(journal.generation) === null) store.commitGeneration(journal.commit);
  store.audit([
    {
      command: 'recover',
      action: 'recovered',
      subject: `generation ${journal.generation}`,
      details: `completed an apply interrupted in phase ${journal.phase}`,
    },
  ]);
}
