import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic-write.js';
import type { GenerationCommit } from '../../ports/state-store.js';

/**
 * The promotion journal: written (fsynced) before the first live file is touched and removed after
 * the state commit. Its presence at start-up means an orch writer died mid-apply; the next writer
 * finishes (phase >= reloaded: nginx already serves the new files) or undoes (earlier) it.
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

export interface Journal {
  version: 1;
  generation: number;
  pid: number;
  command: string;
  startedAt: string;
  phase: JournalPhase;
  nginxDir: string;
  ops: JournalOp[];
  /** The state commit to replay when rolling forward. */
  commit: GenerationCommit;
}

export function journalPath(stateDir: string): string {
  return join(stateDir, 'journal.json');
}

export function writeJournal(stateDir: string, journal: Journal): void {
  writeFileAtomic(journalPath(stateDir), `${JSON.stringify(journal)}\n`, { mode: 0o600 });
}

export function setJournalPhase(stateDir: string, journal: Journal, phase: JournalPhase): void {
  journal.phase = phase;
  writeJournal(stateDir, journal);
}

export function readJournal(stateDir: string): Journal | null {
  let text: string;
  try {
    text = readFileSync(journalPath(stateDir), 'utf8');
  } catch {
    return null;
  }
  return JSON.parse(text) as Journal;
}

export function removeJournal(stateDir: string): void {
  rmSync(journalPath(stateDir), { force: true });
}

export function phaseAtLeast(phase: JournalPhase, min: JournalPhase): boolean {
  return PHASE_ORDER.indexOf(phase) >= PHASE_ORDER.indexOf(min);
}
