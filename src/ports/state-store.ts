// The state database as the use cases see it: the inventory of managed files, generations,
// migrations, bucket sync results, the audit log. Implemented by the SQLite adapter
// (src/adapters/sqlite/state-store.ts); opened through a StateDatabase built in the composition root.
import type { CopyRecord as DomainCopyRecord } from '../domain/migrations/object-diff.js';

export interface InventoryRow {
  path: string;
  resourceKind: string;
  resourceName: string;
  role: 'config' | 'sidecar' | 'status';
  sha256: string;
  size: number;
  generation: number;
  originFile: string | null;
  originIndex: number | null;
}

export interface GenerationRow {
  number: number;
  createdAt: string;
  command: string;
  fingerprint: string | null;
  outcome: 'applied' | 'rebuilt' | 'rolled-back';
  summary: string;
  nginxOutput: string | null;
  /** Who applied it (`user@host`; `alice via sudo@host`), null before orch recorded it. */
  actor: string | null;
  /** The manifests' git commit when they were in a git work tree, null otherwise. */
  gitCommit: string | null;
  /** Whether that work tree had uncommitted changes under the manifests. */
  gitDirty: boolean | null;
}

/** Who applied a generation and from which revision of the manifests. */
export type GenerationProvenance = Pick<GenerationRow, 'actor' | 'gitCommit' | 'gitDirty'>;

export interface AuditEntry {
  command: string;
  action: string;
  subject: string;
  beforeSha256?: string | null;
  afterSha256?: string | null;
  generation?: number | null;
  details?: string | null;
}

/** A row of the `migrations` table; `document` is the state file's JSON, verbatim. */
export interface MigrationRow {
  name: string;
  virtualHost: string;
  bucket: string;
  from: string;
  to: string;
  mode: 'copy' | 'sync';
  phase: string;
  completed: boolean;
  startedAt: string | null;
  updatedAt: string | null;
  finishedAt: string | null;
  /** JSON `{pool, prefix, at}` or null. */
  orphanedSource: string | null;
  stateFile: string;
  document: string;
}

/** A row of `bucket_sync`: one bucket seen on one pool, for one virtual host. */
export interface BucketSyncRow {
  virtualHost: string;
  bucket: string;
  pool: string;
  firstSeen: string;
  lastSeen: string;
  objectCount: number | null;
  bytes: number | null;
  countedAt: string | null;
}

/** What one sync saw on one pool for one virtual host (a pool that could not be listed is left out). */
export interface BucketSyncObservation {
  virtualHost: string;
  pool: string;
  /** Bucket -> counts (null when not counted this time: the previous count is kept). */
  buckets: ReadonlyMap<string, { objects: number | null; bytes: number | null }>;
}

export interface GenerationCommit {
  generation: Omit<GenerationRow, 'createdAt' | keyof GenerationProvenance> & { createdAt?: string } & Partial<GenerationProvenance>;
  /** Rows to upsert. */
  upsert: InventoryRow[];
  /** Paths to remove from the inventory. */
  remove: string[];
  /** The complete file list (path -> sha256) of the new generation. */
  files: Record<string, string>;
  audit: AuditEntry[];
}

/** An open state database. */
export interface StateStore {
  readonly path: string;
  close(): void;
  schemaVersion(): number;
  getMeta(key: string): string | null;
  setMeta(key: string, value: string): void;
  isEmpty(): boolean;
  currentGeneration(): number | null;
  generations(limit?: number): GenerationRow[];
  generation(n: number): GenerationRow | null;
  generationFiles(n: number): Record<string, string>;
  inventory(): InventoryRow[];
  commitGeneration(c: GenerationCommit): void;
  commitRebuild(c: GenerationCommit, migrations: readonly MigrationRow[]): void;
  putMigration(m: MigrationRow): void;
  migration(name: string): MigrationRow | null;
  putCopyRecords(migration: string, records: ReadonlyArray<CopyRecord>): void;
  copyRecords(migration: string): Map<string, CopyRecord>;
  replaceSnapshot(migration: string, objects: ReadonlyArray<SnapshotObject>): void;
  snapshot(migration: string): SnapshotObject[] | null;
  markSnapshot(migration: string, at: string | null): void;
  dropMigrationWork(migration: string): void;
  appendMigrationLog(migration: string, level: 'info' | 'warn' | 'error', message: string, at?: string): void;
  migrationLog(migration: string, limit?: number): Array<{ at: string; level: string; message: string }>;
  migrations(): MigrationRow[];
  recordBucketSync(observations: readonly BucketSyncObservation[], at?: string): void;
  recordBucketCount(virtualHost: string, bucket: string, pool: string, counts: { objects: number; bytes: number }, at?: string): void;
  bucketSync(virtualHost?: string): BucketSyncRow[];
  pruneGenerationFiles(keep: number): number[];
  referencedContents(): Set<string>;
  audit(entries: AuditEntry[]): void;
  auditLog(limit?: number): Array<AuditEntry & { id: number; at: string }>;
  /** The file changes (create, update, delete) recorded with generation `n`, in order. */
  generationAudit(n: number): Array<AuditEntry & { id: number; at: string }>;
  /** Copies the database to `<path>.bak`, rotating `rotate` older copies; returns the backup's path. */
  backup(rotate: number): Promise<string>;
}

/** What the copy engine recorded of one copied object. */
export type CopyRecord = DomainCopyRecord;

/** One object of a migration's source snapshot (with its Last-Modified, ISO, when listed). */
export interface SnapshotObject {
  key: string;
  etag: string;
  size: number;
  lastModified?: string;
}

/**
 * What stands at the database path, found without writing anything: usable (orch's schema, and the
 * generation it records), missing, or unusable and why (each reported as such, never as an
 * internal error).
 */
export type DatabaseCondition =
  | { kind: 'missing' }
  | { kind: 'usable'; generation: number | null }
  | { kind: 'zero-bytes' }
  | { kind: 'truncated'; size: number; expected: number }
  | { kind: 'not-sqlite' }
  | { kind: 'foreign'; detail: string }
  | { kind: 'corrupt'; detail: string }
  | { kind: 'too-new'; schema: number; known: number }
  | { kind: 'unreadable'; code: string };

/** One of the rotated database backups (`orch.db.bak`, `.bak.2` ...), newest first. */
export interface BackupInfo {
  path: string;
  /** When it was written (ms since the epoch). */
  writtenAt: number;
  condition: DatabaseCondition;
}

/** The state database of one state directory. */
export interface StateDatabase {
  /** The database file. */
  readonly path: string;
  /** Opens for writing, creating and migrating the schema when needed (writers hold the lock). */
  open(): StateStore;
  /** Opens read-only; null when there is no database yet. Never writes anything (no -wal, -shm or journal file). */
  openIfExists(): StateStore | null;
  /** What is at the path (reads only). */
  condition(): DatabaseCondition;
  /** The rotated backups, newest first (reads only). */
  backups(): BackupInfo[];
  /** When the newest backup (`<path>.bak`) was written (ms since the epoch), or null when there is none. */
  backupWrittenAt(): number | null;
  /**
   * Moves the database (and its -wal/-shm files) aside, without opening it, to `<path>.<base>` or
   * the first free `<path>.<base>-N`; returns where it went, or null when there is no database.
   */
  moveAside(base: string): string | null;
}
