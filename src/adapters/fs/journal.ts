import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic-write.js';
import type { ApplyJournal, Journal } from '../../ports/apply-journal.js';

/** The promotion journal as a JSON file in the state directory (`journal.json`), fsynced on write. */
export function journalPath(stateDir: string): string {
  return join(stateDir, 'journal.json');
}

export function fileApplyJournal(stateDir: string): ApplyJournal {
  return {
    read: () => readJournal(stateDir),
    write: (journal) => {
      const { version, generation, ...rest } = journal;
      const record: Journal = { version, generation, pid: process.pid, ...rest };
      writeFileAtomic(journalPath(stateDir), `${JSON.stringify(record)}\n`, { mode: 0o600 });
    },
    remove: () => rmSync(journalPath(stateDir), { force: true }),
  };
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
