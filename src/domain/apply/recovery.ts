import { phaseAtLeast, type JournalOp, type JournalPhase } from './journal.js';

/**
 * Recovering an interrupted apply from its journal, as pure decisions (distinct from rebuild-db,
 * which rebuilds the state database from the files on disk).
 *
 * - phase `reloaded` or later, or nginx already answering the journal's generation token (orch
 *   died after sending the reload, before recording it): nginx serves the new files, so the
 *   promotion is completed and the state commit replayed;
 * - earlier: the previous files are restored; when a reload may have been sent (`renamed` or
 *   later), nginx is reloaded again so it serves the restored files.
 */
export type RecoveryAction = 'rolled-forward' | 'rolled-back';

/**
 * Whether the status location must be asked which generation nginx serves: only when the phase
 * does not settle it, the status location exists, and the status file is the journal's last op (so
 * nginx can only answer the new token after every rename and delete was done and it accepted the
 * complete new tree).
 */
export function recoveryNeedsProbe(phase: JournalPhase, ops: readonly JournalOp[], statusFilePath: string, statusOn: boolean): boolean {
  if (phaseAtLeast(phase, 'reloaded') || !statusOn) return false;
  const last = ops[ops.length - 1];
  return last !== undefined && last.path === statusFilePath && last.action === 'write';
}

export function decideRecovery(phase: JournalPhase, servesJournalGeneration: boolean): { action: RecoveryAction; reload: boolean } {
  if (phaseAtLeast(phase, 'reloaded') || servesJournalGeneration) return { action: 'rolled-forward', reload: false };
  // Once files were renamed, nginx may have been reloaded (by orch or anyone else) onto them.
  return { action: 'rolled-back', reload: phaseAtLeast(phase, 'renamed') };
}
