/**
 * The apply journal (its record is `Journal` in src/ports/apply-journal.ts): written (fsynced)
 * before the switch to a new generation, removed after the state commit. Its presence at start-up
 * means an orch writer died mid-apply; the next writer finishes it (nginx already serves the new
 * generation) or switches back.
 *
 * Version 2 (this orch): one switch of the `current` symlink, phases `prepared` (written before the
 * switch) and `reloaded` (nginx confirmed serving the new generation). Version 1 (orch before the
 * generation directories) promoted file by file; its journals are still recovered (`JournalOp`,
 * `LegacyJournalPhase`), so an upgrade after a crash of the old version loses nothing.
 */
export type JournalPhase = 'prepared' | 'reloaded';

export type LegacyJournalPhase = 'prepared' | 'renamed' | 'validated' | 'reloading' | 'reloaded' | 'committed';
export const LEGACY_PHASE_ORDER: readonly LegacyJournalPhase[] = ['prepared', 'renamed', 'validated', 'reloading', 'reloaded', 'committed'];

/** One file write or delete of a version-1 (file by file) promotion. */
export interface JournalOp {
  /** Relative to the managed nginx directory. */
  path: string;
  action: 'write' | 'delete';
  /** Content before (in the content store), null when the file did not exist. */
  beforeSha256: string | null;
  /** Content after (in the content store), null for a delete. */
  afterSha256: string | null;
}

export function legacyPhaseAtLeast(phase: LegacyJournalPhase, min: LegacyJournalPhase): boolean {
  return LEGACY_PHASE_ORDER.indexOf(phase) >= LEGACY_PHASE_ORDER.indexOf(min);
}
