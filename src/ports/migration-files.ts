// The files a migration keeps beside the database (promise: a migration survives the loss of the
// database): its state file, its copy-mode baseline, and the cancel flag `orch migrate cancel`
// leaves for the process driving it. Implemented by src/adapters/fs/migration-files.ts.
import type { MigrationRecord } from '../domain/migrations/migration-record.js';

/** What `readDestinationBaseline` gives: who recorded it, when, and the objects. */
export interface DestinationBaseline {
  /** The migration that recorded it. */
  migration: string;
  /** ISO time. */
  at: string;
  objects: ReadonlyMap<string, string>;
}

export interface MigrationFiles {
  /**
   * Writes the record's state file atomically; a finished migration gets its `.done.json` first,
   * then its `.state.json` and baseline are removed. Returns the file's name.
   */
  write(record: MigrationRecord): string;
  /** Every `*.state.json` / `*.done.json`, by name (none when there is no migration directory). */
  readAll(): Array<{ file: string; text: string }>;
  /** copy mode: the destination's objects from before the migration (key -> ETag); null before it is written. */
  readBaseline(name: string): Map<string, string> | null;
  writeBaseline(name: string, baseline: ReadonlyMap<string, string>): void;
  /**
   * The objects a bucket held on a pool before the first migration to that pool started (key ->
   * ETag), kept across migrations (whatever their names) until one to that pool is done: what any
   * later attempt may count as pre-existing. Null when no migration to that pool and bucket left one.
   */
  readDestinationBaseline(pool: string, bucket: string): DestinationBaseline | null;
  writeDestinationBaseline(pool: string, bucket: string, baseline: DestinationBaseline): void;
  removeDestinationBaseline(pool: string, bucket: string): void;
  cancelRequested(name: string): boolean;
  /** Leaves the cancel flag, saying when (`at`, ISO time) and which process asked. */
  requestCancel(name: string, at: string): void;
  clearCancel(name: string): void;
}
