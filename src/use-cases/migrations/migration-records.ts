import { writeMigrationFile } from '../../adapters/fs/migration-files.js';
import type { MigrationRow, StateStore } from '../../ports/state-store.js';
import { docOfState, FINISHED_PHASES, type MigrationDoc } from '../../domain/migrations/migration-doc.js';
import { readMigrationState } from '../../domain/rebuild/migration-state.js';

/** The engine's records, from the `migrations` table (rows whose document cannot be read are skipped). */
export function loadMigrationDocs(store: StateStore): MigrationDoc[] {
  const out: MigrationDoc[] = [];
  for (const row of store.migrations()) {
    const read = readMigrationState(row.stateFile, row.document);
    if (read.ok) out.push(docOfState(read.value));
  }
  return out;
}

export function loadMigrationDoc(store: StateStore, name: string): MigrationDoc | null {
  const row = store.migration(name);
  if (!row) return null;
  const read = readMigrationState(row.stateFile, row.document);
  return read.ok ? docOfState(read.value) : null;
}

/** Persists a record: the state file first (the source of truth), then the database row. */
export function saveMigrationDoc(store: StateStore, stateDir: string, doc: MigrationDoc): void {
  doc.updatedAt = new Date().toISOString();
  const file = writeMigrationFile(stateDir, doc);
  store.putMigration(rowOf(doc, file));
}

function rowOf(doc: MigrationDoc, file: string): MigrationRow {
  return {
    name: doc.name,
    virtualHost: doc.virtualHost,
    bucket: doc.bucket,
    from: doc.from,
    to: doc.to,
    mode: doc.mode,
    phase: doc.phase,
    completed: FINISHED_PHASES.has(doc.phase),
    startedAt: doc.startedAt,
    updatedAt: doc.updatedAt,
    finishedAt: doc.finishedAt,
    orphanedSource: doc.orphanedSource === null ? null : JSON.stringify(doc.orphanedSource),
    stateFile: file,
    document: JSON.stringify(doc),
  };
}
