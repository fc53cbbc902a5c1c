import { legacyPhaseAtLeast, type JournalOp, type JournalPhase, type LegacyJournalPhase } from './journal.js';

/**
 * Recovering an interrupted apply from its journal, as pure decisions (distinct from rebuild-db,
 * which rebuilds the state database from the files on disk).
 *
 * The managed tree is one generation at every instant (the `current` symlink names it), so the
 * only question is which one the state should record:
 * - the switch was made and nginx confirmed the new generation (phase `reloaded`), or nginx answers
 *   the new generation's token (orch died after the reload, before recording it): the apply is
 *   completed (its state commit replayed). Switching back then would contradict nginx;
 * - otherwise the switch is undone (when it was made), nginx reloaded onto the previous generation
 *   when it may have loaded the new one, and the unused generation directory removed.
 */
export type RecoveryAction = 'rolled-forward' | 'rolled-back';

export interface SwitchRecoveryFacts {
  phase: JournalPhase;
  /** `current` names the journal's generation. */
  switched: boolean;
  /** What the status location answers: the new token (true), something else (false), unknown (null: no status address, no status file). */
  servesNew: boolean | null;
  /** A reload method is configured (not `reload: none`). */
  reloadConfigured: boolean;
}

export interface SwitchRecoveryDecision {
  action: RecoveryAction;
  /** Rename `current` back to the previous generation. */
  switchBack: boolean;
  /** Reload nginx (and, with a status address, wait until it answers the previous generation). */
  reload: boolean;
}

export function decideSwitchRecovery(f: SwitchRecoveryFacts): SwitchRecoveryDecision {
  if (f.switched && (f.phase === 'reloaded' || f.servesNew === true)) return { action: 'rolled-forward', switchBack: false, reload: false };
  if (f.switched) {
    // Someone (the dead writer, or anyone) may have reloaded nginx onto the new generation, or the
    // dead writer's reload may still be loading: reload once more so nginx ends on what is on disk.
    return { action: 'rolled-back', switchBack: true, reload: f.reloadConfigured };
  }
  // Not switched (or already switched back): nginx can only serve the new generation if the dead
  // writer switched back after a reload and died before reloading again.
  return { action: 'rolled-back', switchBack: false, reload: f.reloadConfigured && f.servesNew === true };
}

// ---------------------------------------------------------------------------------------------
// Version-1 journals (file-by-file promotion, orch before the generation directories).

/**
 * Whether the status location must be asked which generation nginx serves: only when the phase
 * does not settle it, the status location exists, and the status file is the journal's last op (so
 * nginx can only answer the new token after every rename and delete was done and it accepted the
 * complete new tree).
 */
export function legacyRecoveryNeedsProbe(
  phase: LegacyJournalPhase,
  ops: readonly JournalOp[],
  statusFilePath: string,
  statusOn: boolean,
): boolean {
  if (legacyPhaseAtLeast(phase, 'reloaded') || !statusOn) return false;
  const last = ops[ops.length - 1];
  return last !== undefined && last.path === statusFilePath && last.action === 'write';
}

export function decideLegacyRecovery(
  phase: LegacyJournalPhase,
  servesJournalGeneration: boolean,
): { action: RecoveryAction; reload: boolean } {
  if (legacyPhaseAtLeast(phase, 'reloaded') || servesJournalGeneration) return { action: 'rolled-forward', reload: false };
  // Once files were renamed, nginx may have been reloaded (by orch or anyone else) onto them.
  return { action: 'rolled-back', reload: legacyPhaseAtLeast(phase, 'renamed') };
}
