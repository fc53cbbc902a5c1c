// Content-addressed store of every file content orch wrote or replaced: it keeps the last K
// generations' files for `orch rollback`, and gives crash recovery both the old and the new content
// of every file a journal touches. Implemented under <stateDir>/objects (src/adapters/fs/content-store.ts).

export interface ContentStore {
  /** Where the contents are kept (named in messages). */
  readonly dir: string;
  has(sha256: string): boolean;
  /** Stores content under its hash, durably; a no-op when already present. */
  put(sha256: string, content: string): void;
  /** Stores many contents at once (a whole rebuilt tree); returns how many were written. */
  putMany(contents: ReadonlyMap<string, string>): number;
  get(sha256: string): string | null;
  /** Removes one stored content (an apply that failed removes the contents only it stored). */
  remove(sha256: string): void;
  /** Removes every stored content not in `keep`; returns how many were removed. */
  collectGarbage(keep: ReadonlySet<string>): number;
}
