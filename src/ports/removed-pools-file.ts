// The copy of the removed-pool records kept beside the state database, so that `orch rebuild-db`
// recovers them when the database is lost (as migrations survive it through their state files).
// Implemented by src/adapters/fs/removed-pools-file.ts.

export interface RemovedPoolsFile {
  /** Where it is kept (for messages). */
  readonly path: string;
  /** The records' JSON text as last written; null when there is none. */
  read(): string | null;
  /** Replaces it atomically (null: removes it, when no record is left). */
  write(text: string | null): void;
}
