/**
 * The promotion journal (its record is `Journal` in src/ports/apply-journal.ts): written (fsynced)
 * before the first live file is touched and removed after the state commit. Its presence at
 * start-up means an orch writer died mid-apply; the next writer finishes (phase >= reloaded: nginx
 * already serves the new files) or undoes (earlier) it.
 */
export type JournalPhase = 'prepared' | 'renamed' | 'validated' | 'reloading' | 'reloaded' | 'committed';
export const PHASE_ORDER: readonly JournalPhase[] = ['prepared', 'renamed', 'validated', 'reloading', 'reloaded', 'committed'];

export interface JournalOp {
  /** Relative to the managed nginx directory. */
  path: string;
  action: 'write' | 'delete';
  /** Content before (in the content store), null when the file did not exist. */
  beforeSha256: string | null;
  /** Content after (in the content store), null for a delete. */
  afterSha256: string | null;
}

export function phaseAtLeast(phase: JournalPhase, min: JournalPhase): boolean {
  return PHASE_ORDER.indexOf(phase) >= PHASE_ORDER.indexOf(min);
}
