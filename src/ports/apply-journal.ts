// The promotion journal of an apply, as the apply engine sees it: written before the first live
// file is touched, its phase moved on as the apply goes, removed after the state commit. Implemented
// by a JSON file in the state directory (src/adapters/fs/journal.ts).
import type { JournalOp, JournalPhase } from '../domain/apply/journal.js';
import type { GenerationCommit } from './state-store.js';

export interface Journal {
  version: 1;
  generation: number;
  /** The process that wrote it. */
  pid: number;
  command: string;
  startedAt: string;
  phase: JournalPhase;
  nginxDir: string;
  ops: JournalOp[];
  /** The state commit to replay when rolling forward. */
  commit: GenerationCommit;
}

export interface ApplyJournal {
  /** The journal an interrupted apply left, or null. */
  read(): Journal | null;
  /** Writes (durably: fsync + rename) the journal, replacing any previous one; stamps the writer's pid. */
  write(journal: Omit<Journal, 'pid'>): void;
  remove(): void;
}
