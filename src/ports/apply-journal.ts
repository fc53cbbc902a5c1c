// The apply journal, as the apply engine sees it: written before the switch to a new generation,
// its phase moved on once nginx confirmed it, removed after the state commit. Implemented by a JSON
// file in the state directory (src/adapters/fs/journal.ts).
import type { JournalOp, JournalPhase, LegacyJournalPhase } from '../domain/apply/journal.js';
import type { GenerationCommit } from './state-store.js';

/** An apply that switches the whole managed tree at once (this orch). */
export interface SwitchJournal {
  version: 2;
  /** The new generation (its directory is `generations/<generation>`). */
  generation: number;
  /** The generation directory that was live before the switch (switching back goes there). */
  previous: number;
  /** What the status location answered for the previous generation, when it had one. */
  previousToken: string | null;
  /** What the status location answers once nginx serves the new generation (null: no status file). */
  token: string | null;
  /** The process that wrote it. */
  pid: number;
  command: string;
  startedAt: string;
  phase: JournalPhase;
  nginxDir: string;
  /** The state commit to replay when rolling forward. */
  commit: GenerationCommit;
}

/** An apply of orch before the generation directories (file-by-file promotion): still recovered after an upgrade. */
export interface LegacyJournal {
  version: 1;
  generation: number;
  pid: number;
  command: string;
  startedAt: string;
  phase: LegacyJournalPhase;
  nginxDir: string;
  ops: JournalOp[];
  commit: GenerationCommit;
}

export type Journal = SwitchJournal | LegacyJournal;

export interface ApplyJournal {
  /** The journal an interrupted apply left, or null. */
  read(): Journal | null;
  /** Writes (durably: fsync + rename) the journal, replacing any previous one; stamps the writer's pid. */
  write(journal: Omit<SwitchJournal, 'pid'>): void;
  remove(): void;
}
