import type { MigrationRow, StateStore } from '../../ports/state-store.js';
import type { MigrationFiles } from '../../ports/migration-files.js';
import {
  decodeMigrationStateFile,
  isFinished,
  migrationFileName,
  migrationRecordJson,
  type MigrationRecord,
} from '../../domain/migrations/migration-record.js';

/** The records of the `migrations` table (rows whose document cannot be read are skipped). */
export function loadMigrationRecords(store: StateStore): MigrationRecord[] {
  const out: MigrationRecord[] = [];
  for (const row of store.migrations()) {
    const read = decodeMigrationStateFile(row.stateFile, row.document);
    if (read.ok) out.push(read.value.record);
  }
  return out;
}

export function loadMigrationRecord(store: StateStore, name: string): MigrationRecord | null {
  const row = store.migration(name);
  if (!row) return null;
  const read = decodeMigrationStateFile(row.stateFile, row.document);
  return read.ok ? read.value.record : null;
}

/** Persists a record stamped `at`: the state file first (the source of truth), then the database row. */
export function saveMigrationRecord(store: StateStore, files: MigrationFiles, record: MigrationRecord, at: string): void {
  record.updatedAt = at;
  const file = files.write(record);
  store.putMigration(migrationRowOf(record, file));
}

/** The database row of a record: its state file's JSON, and the indexed columns derived from it. */
export function migrationRowOf(record: MigrationRecord, file = migrationFileName(record), completed = isFinished(record)): MigrationRow {
  return {
    name: record.name,
    virtualHost: record.virtualHost,
    bucket: record.bucket,
    from: record.from,
    to: record.to,
    mode: record.mode,
    phase: record.phase,
    completed,
    startedAt: record.startedAt,
    updatedAt: record.updatedAt,
    finishedAt: record.finishedAt,
    orphanedSource: record.orphanedSource === null ? null : JSON.stringify(record.orphanedSource),
    stateFile: file,
    document: JSON.stringify(migrationRecordJson(record)),
  };
}
