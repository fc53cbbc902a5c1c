import { existsSync, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { CorruptStateError, UserError } from '../../domain/errors.js';
import type {
  AuditEntry,
  BucketSyncObservation,
  BucketSyncRow,
  CopyRecord,
  GenerationCommit,
  GenerationRow,
  InventoryRow,
  MigrationRow,
  SnapshotObject,
  StateDatabase,
  StateStore,
} from '../../ports/state-store.js';

import { SCHEMA_STEPS } from './schema-steps.js';
import {
  appendMigrationLog,
  copyRecords,
  dropMigrationWork,
  migrationLog,
  putCopyRecords,
  replaceSnapshot,
  snapshot,
} from './migration-work.js';
import { inspectDatabase, listBackups, openReadOnlyDatabase, sqliteStorageError } from './inspect-database.js';

type DB = Database.Database;

export function corruptDatabaseError(path: string, cause: unknown): CorruptStateError {
  return new CorruptStateError(path, cause);
}

/** SQLite state: WAL, foreign keys, versioned schema. */
export class SqliteStateStore implements StateStore {
  private constructor(
    readonly path: string,
    readonly db: DB,
  ) {}

  /**
   * Opens (creating when missing) and migrates the database. Read-only, it writes nothing (see
   * inspect-database.ts). A file system that refuses the writes (full, read-only, no permission)
   * is reported as such, with the path, never as a corrupt database.
   */
  static open(path: string, opts: { readonly?: boolean } = {}): SqliteStateStore {
    let db: DB;
    try {
      if (opts.readonly) db = openReadOnlyDatabase(path);
      else {
        mkdirSync(dirname(path), { recursive: true });
        db = new Database(path);
        db.pragma('journal_mode = WAL');
      }
      db.pragma('foreign_keys = ON');
      db.pragma('busy_timeout = 5000');
      const check = db.pragma('quick_check', { simple: true });
      if (check !== 'ok') throw new Error(`integrity check: ${String(check)}`);
    } catch (e) {
      throw storageOr(path, e, () => corruptDatabaseError(path, e));
    }
    const store = new SqliteStateStore(path, db);
    if (!opts.readonly) store.guard(() => store.migrate());
    else if (!store.hasTable('generations')) {
      store.close();
      throw corruptDatabaseError(path, new Error('not an orch database: it has no generations table'));
    }
    return store;
  }

  /** Opens read-only when the file exists; null when there is no database yet. */
  static openIfExists(path: string): SqliteStateStore | null {
    if (!existsSync(path)) return null;
    return SqliteStateStore.open(path, { readonly: true });
  }

  /** Runs a write; a file system refusing it is rethrown as a storage error naming the database. */
  private guard<T>(work: () => T): T {
    try {
      return work();
    } catch (e) {
      throw storageOr(this.path, e, () => e);
    }
  }

  close(): void {
    this.db.close();
  }

  schemaVersion(): number {
    return this.db.pragma('user_version', { simple: true }) as number;
  }

  private migrate(): void {
    const current = this.schemaVersion();
    if (current > SCHEMA_STEPS.length) {
      throw new UserError(
        'state.too-new',
        `The state database ${this.path} was written by a newer orch (schema ${current}, this orch knows ${SCHEMA_STEPS.length}).`,
        {
          hint: 'Upgrade orch on this machine.',
        },
      );
    }
    for (let v = current; v < SCHEMA_STEPS.length; v++) {
      this.db.transaction(() => {
        SCHEMA_STEPS[v]!(this.db);
        this.db.pragma(`user_version = ${v + 1}`);
      })();
    }
  }

  getMeta(key: string): string | null {
    const row = this.db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined;
    return row?.value ?? null;
  }

  setMeta(key: string, value: string): void {
    this.guard(() =>
      this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value').run(key, value),
    );
  }

  isEmpty(): boolean {
    const row = this.db.prepare('SELECT (SELECT COUNT(*) FROM generations) + (SELECT COUNT(*) FROM inventory) AS n').get() as { n: number };
    return row.n === 0;
  }

  currentGeneration(): number | null {
    const row = this.db.prepare('SELECT MAX(number) AS n FROM generations').get() as { n: number | null };
    return row.n;
  }

  generations(limit = 50): GenerationRow[] {
    return this.db
      .prepare(
        `SELECT number, created_at AS createdAt, command, fingerprint, outcome, summary, nginx_output AS nginxOutput,
                  actor, git_commit AS gitCommit, git_dirty AS gitDirty
           FROM generations ORDER BY number DESC LIMIT ?`,
      )
      .all(limit)
      .map((r) => generationRow(r as RawGenerationRow));
  }

  generation(n: number): GenerationRow | null {
    const row = this.db
      .prepare(
        `SELECT number, created_at AS createdAt, command, fingerprint, outcome, summary, nginx_output AS nginxOutput,
                actor, git_commit AS gitCommit, git_dirty AS gitDirty
         FROM generations WHERE number = ?`,
      )
      .get(n) as RawGenerationRow | undefined;
    return row ? generationRow(row) : null;
  }

  generationFiles(n: number): Record<string, string> {
    const rows = this.db.prepare('SELECT path, sha256 FROM generation_files WHERE generation = ? ORDER BY path').all(n) as Array<{
      path: string;
      sha256: string;
    }>;
    return Object.fromEntries(rows.map((r) => [r.path, r.sha256]));
  }

  inventory(): InventoryRow[] {
    return this.db
      .prepare(
        `SELECT path, resource_kind AS resourceKind, resource_name AS resourceName, role, sha256, size, generation,
                origin_file AS originFile, origin_index AS originIndex
         FROM inventory ORDER BY path`,
      )
      .all() as InventoryRow[];
  }

  /** Records a generation: its row, inventory changes, file list and audit entries, in one transaction. */
  commitGeneration(c: GenerationCommit): void {
    const insertGen = this.db.prepare(
      `INSERT INTO generations (number, created_at, command, fingerprint, outcome, summary, nginx_output, actor, git_commit, git_dirty)
       VALUES (@number, @createdAt, @command, @fingerprint, @outcome, @summary, @nginxOutput, @actor, @gitCommit, @gitDirty)`,
    );
    const upsert = this.db.prepare(
      `INSERT INTO inventory (path, resource_kind, resource_name, role, sha256, size, generation, origin_file, origin_index)
       VALUES (@path, @resourceKind, @resourceName, @role, @sha256, @size, @generation, @originFile, @originIndex)
       ON CONFLICT(path) DO UPDATE SET resource_kind = excluded.resource_kind, resource_name = excluded.resource_name,
         role = excluded.role, sha256 = excluded.sha256, size = excluded.size, generation = excluded.generation,
         origin_file = excluded.origin_file, origin_index = excluded.origin_index`,
    );
    const remove = this.db.prepare('DELETE FROM inventory WHERE path = ?');
    const addFile = this.db.prepare('INSERT INTO generation_files (generation, path, sha256) VALUES (?, ?, ?)');
    const createdAt = c.generation.createdAt ?? new Date().toISOString();
    this.guard(() =>
      this.db.transaction(() => {
        const g = c.generation;
        insertGen.run({
          ...g,
          createdAt,
          actor: g.actor ?? null,
          gitCommit: g.gitCommit ?? null,
          gitDirty: g.gitDirty == null ? null : g.gitDirty ? 1 : 0,
        });
        for (const row of c.upsert) upsert.run(row);
        for (const path of c.remove) remove.run(path);
        for (const [path, sha] of Object.entries(c.files)) addFile.run(c.generation.number, path, sha);
        this.insertAudit(
          c.audit.map((a) => ({ ...a, generation: a.generation ?? c.generation.number })),
          createdAt,
        );
      })(),
    );
  }

  /**
   * `orch rebuild-db`: records the rebuilt generation (inventory, file list, audit) and replaces the
   * migrations with those restored from their state files, in one transaction.
   */
  commitRebuild(c: GenerationCommit, migrations: readonly MigrationRow[]): void {
    const insert = this.db.prepare(
      `INSERT INTO migrations (name, virtual_host, bucket, from_pool, to_pool, mode, phase, completed, started_at, updated_at,
         finished_at, orphaned_source, state_file, document)
       VALUES (@name, @virtualHost, @bucket, @from, @to, @mode, @phase, @completed, @startedAt, @updatedAt,
         @finishedAt, @orphanedSource, @stateFile, @document)`,
    );
    this.guard(() =>
      this.db.transaction(() => {
        this.commitGeneration(c);
        this.db.prepare('DELETE FROM migrations').run();
        for (const m of migrations) insert.run({ ...m, completed: m.completed ? 1 : 0 });
      })(),
    );
  }

  /** Inserts or replaces one migration's row (the engine, after writing its state file). */
  putMigration(m: MigrationRow): void {
    this.db
      .prepare(
        `INSERT INTO migrations (name, virtual_host, bucket, from_pool, to_pool, mode, phase, completed, started_at, updated_at,
           finished_at, orphaned_source, state_file, document)
         VALUES (@name, @virtualHost, @bucket, @from, @to, @mode, @phase, @completed, @startedAt, @updatedAt,
           @finishedAt, @orphanedSource, @stateFile, @document)
         ON CONFLICT(name) DO UPDATE SET virtual_host = excluded.virtual_host, bucket = excluded.bucket, from_pool = excluded.from_pool,
           to_pool = excluded.to_pool, mode = excluded.mode, phase = excluded.phase, completed = excluded.completed,
           started_at = excluded.started_at, updated_at = excluded.updated_at, finished_at = excluded.finished_at,
           orphaned_source = excluded.orphaned_source, state_file = excluded.state_file, document = excluded.document`,
      )
      .run({ ...m, completed: m.completed ? 1 : 0 });
  }

  /** One migration's row, or null. */
  migration(name: string): MigrationRow | null {
    return this.migrations().find((m) => m.name === name) ?? null;
  }

  /** Records copies the engine made (upsert by key). */
  putCopyRecords(migration: string, records: ReadonlyArray<CopyRecord>): void {
    putCopyRecords(this.db, migration, records);
  }

  copyRecords(migration: string): Map<string, CopyRecord> {
    return copyRecords(this.db, migration);
  }

  /** Replaces the verified snapshot of the source (the freeze's final listing). */
  replaceSnapshot(migration: string, objects: ReadonlyArray<SnapshotObject>): void {
    replaceSnapshot(this.db, migration, objects);
  }

  /** The verified snapshot, or null when none was recorded (or the database was rebuilt since). */
  snapshot(migration: string): SnapshotObject[] | null {
    return snapshot(this.db, migration, this.getMeta(`migration_snapshot:${migration}`) !== null);
  }

  /** Marks the snapshot of a migration as recorded (an empty bucket has an empty, but present, snapshot). */
  markSnapshot(migration: string, at: string | null): void {
    if (at === null) this.db.prepare('DELETE FROM meta WHERE key = ?').run(`migration_snapshot:${migration}`);
    else this.setMeta(`migration_snapshot:${migration}`, at);
  }

  /** Drops a finished migration's working data (records and snapshot); its row and log stay. */
  dropMigrationWork(migration: string): void {
    dropMigrationWork(this.db, migration);
  }

  appendMigrationLog(migration: string, level: 'info' | 'warn' | 'error', message: string, at = new Date().toISOString()): void {
    appendMigrationLog(this.db, migration, level, message, at);
  }

  migrationLog(migration: string, limit = 200): Array<{ at: string; level: string; message: string }> {
    return this.hasTable('migration_log') ? migrationLog(this.db, migration, limit) : [];
  }

  /** Every migration row, by name; empty for a database whose schema predates the table. */
  migrations(): MigrationRow[] {
    if (!this.hasTable('migrations')) return [];
    const rows = this.db
      .prepare(
        `SELECT name, virtual_host AS virtualHost, bucket, from_pool AS "from", to_pool AS "to", mode, phase, completed,
                started_at AS startedAt, updated_at AS updatedAt, finished_at AS finishedAt, orphaned_source AS orphanedSource,
                state_file AS stateFile, document
         FROM migrations ORDER BY name`,
      )
      .all() as Array<Omit<MigrationRow, 'completed'> & { completed: number }>;
    return rows.map((r) => ({ ...r, completed: r.completed === 1 }));
  }

  /**
   * Records a bucket sync, in one transaction: for each (virtual host, pool) listed, the buckets
   * seen are upserted (first_seen kept, last_seen = now) and the rows of buckets no longer there are
   * removed. Pools that were not listed keep their rows as they were.
   */
  recordBucketSync(observations: readonly BucketSyncObservation[], at = new Date().toISOString()): void {
    const upsert = this.db.prepare(
      `INSERT INTO bucket_sync (virtual_host, bucket, pool, first_seen, last_seen, object_count, bytes, counted_at)
       VALUES (@virtualHost, @bucket, @pool, @at, @at, @objects, @bytes, CASE WHEN @objects IS NULL THEN NULL ELSE @at END)
       ON CONFLICT(virtual_host, bucket, pool) DO UPDATE SET last_seen = excluded.last_seen,
         object_count = COALESCE(excluded.object_count, bucket_sync.object_count),
         bytes = COALESCE(excluded.bytes, bucket_sync.bytes),
         counted_at = COALESCE(excluded.counted_at, bucket_sync.counted_at)`,
    );
    const existing = this.db.prepare('SELECT bucket FROM bucket_sync WHERE virtual_host = ? AND pool = ?');
    const remove = this.db.prepare('DELETE FROM bucket_sync WHERE virtual_host = ? AND pool = ? AND bucket = ?');
    this.db.transaction(() => {
      for (const o of observations) {
        for (const [bucket, c] of o.buckets)
          upsert.run({ virtualHost: o.virtualHost, bucket, pool: o.pool, at, objects: c.objects, bytes: c.bytes });
        for (const row of existing.all(o.virtualHost, o.pool) as Array<{ bucket: string }>) {
          if (!o.buckets.has(row.bucket)) remove.run(o.virtualHost, o.pool, row.bucket);
        }
      }
    })();
  }

  /** Updates the counts of one bucket on one pool (after a purge), keeping first_seen. */
  recordBucketCount(
    virtualHost: string,
    bucket: string,
    pool: string,
    counts: { objects: number; bytes: number },
    at = new Date().toISOString(),
  ): void {
    this.db
      .prepare(
        `INSERT INTO bucket_sync (virtual_host, bucket, pool, first_seen, last_seen, object_count, bytes, counted_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT(virtual_host, bucket, pool) DO UPDATE SET last_seen = excluded.last_seen, object_count = excluded.object_count,
           bytes = excluded.bytes, counted_at = excluded.counted_at`,
      )
      .run(virtualHost, bucket, pool, at, at, counts.objects, counts.bytes, at);
  }

  /** Every bucket_sync row (optionally of one virtual host), sorted; empty before the table exists. */
  bucketSync(virtualHost?: string): BucketSyncRow[] {
    if (!this.hasTable('bucket_sync')) return [];
    const sql = `SELECT virtual_host AS virtualHost, bucket, pool, first_seen AS firstSeen, last_seen AS lastSeen,
                        object_count AS objectCount, bytes, counted_at AS countedAt
                 FROM bucket_sync ${virtualHost === undefined ? '' : 'WHERE virtual_host = ?'} ORDER BY virtual_host, bucket, pool`;
    const stmt = this.db.prepare(sql);
    return (virtualHost === undefined ? stmt.all() : stmt.all(virtualHost)) as BucketSyncRow[];
  }

  hasTable(name: string): boolean {
    return this.db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
  }

  /** Drops the file lists of generations older than the newest `keep` (their rows stay, as history). */
  pruneGenerationFiles(keep: number): number[] {
    const old = this.db
      .prepare(
        'SELECT DISTINCT generation FROM generation_files WHERE generation NOT IN (SELECT number FROM generations ORDER BY number DESC LIMIT ?)',
      )
      .all(keep) as Array<{ generation: number }>;
    if (old.length > 0) {
      this.db
        .prepare('DELETE FROM generation_files WHERE generation NOT IN (SELECT number FROM generations ORDER BY number DESC LIMIT ?)')
        .run(keep);
    }
    return old.map((r) => r.generation);
  }

  /** Every sha256 referenced by a kept generation file list (for garbage-collecting stored contents). */
  referencedContents(): Set<string> {
    const rows = this.db.prepare('SELECT DISTINCT sha256 FROM generation_files').all() as Array<{ sha256: string }>;
    return new Set(rows.map((r) => r.sha256));
  }

  audit(entries: AuditEntry[]): void {
    this.guard(() => this.db.transaction(() => this.insertAudit(entries, new Date().toISOString()))());
  }

  generationAudit(n: number): Array<AuditEntry & { id: number; at: string }> {
    return this.db
      .prepare(
        `SELECT id, at, command, action, subject, before_sha256 AS beforeSha256, after_sha256 AS afterSha256, generation, details
         FROM audit_log WHERE generation = ? AND action IN ('create', 'update', 'delete') ORDER BY id`,
      )
      .all(n) as Array<AuditEntry & { id: number; at: string }>;
  }

  auditLog(limit = 100): Array<AuditEntry & { id: number; at: string }> {
    return this.db
      .prepare(
        `SELECT id, at, command, action, subject, before_sha256 AS beforeSha256, after_sha256 AS afterSha256, generation, details
         FROM audit_log ORDER BY id DESC LIMIT ?`,
      )
      .all(limit) as Array<AuditEntry & { id: number; at: string }>;
  }

  private insertAudit(entries: AuditEntry[], at: string): void {
    const stmt = this.db.prepare(
      `INSERT INTO audit_log (at, command, action, subject, before_sha256, after_sha256, generation, details)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    for (const a of entries) {
      stmt.run(at, a.command, a.action, a.subject, a.beforeSha256 ?? null, a.afterSha256 ?? null, a.generation ?? null, a.details ?? null);
    }
  }

  /**
   * Online backup (SQLite backup API) to `<db>.bak`, rotating older copies to `.bak.2` ... `.bak.N`.
   */
  async backup(rotate: number): Promise<string> {
    const base = `${this.path}.bak`;
    const tmp = `${base}.tmp`;
    const removeTmp = () => {
      for (const ext of ['', '-journal', '-wal', '-shm']) rmSync(`${tmp}${ext}`, { force: true });
    };
    removeTmp();
    try {
      await this.db.backup(tmp);
    } catch (e) {
      // Nothing half-written is left, and the older backups are not rotated: they are still good.
      removeTmp();
      throw storageOr(tmp, e, () => e);
    }
    if (rotate > 1) {
      for (let i = rotate; i >= 2; i--) {
        const from = i === 2 ? base : `${base}.${i - 1}`;
        if (existsSync(from)) renameSync(from, `${base}.${i}`);
      }
    }
    renameSync(tmp, base);
    return base;
  }
}

/**
 * Moves a database aside under `<db>.<suffix>` with its WAL and shared-memory files, by rename (the
 * three stay consistent together and the result opens as a database). Returns the new path, or
 * null when there was no database.
 */
export function moveDatabaseAside(dbPath: string, suffix: string): string | null {
  if (!existsSync(dbPath)) return null;
  const aside = `${dbPath}.${suffix}`;
  for (const ext of ['-wal', '-shm']) {
    if (existsSync(`${dbPath}${ext}`)) renameSync(`${dbPath}${ext}`, `${aside}${ext}`);
  }
  renameSync(dbPath, aside);
  return aside;
}

/** A storage error (full, read-only, no permission) for `path`, or whatever `otherwise` makes of the error. */
function storageOr(path: string, e: unknown, otherwise: () => unknown): unknown {
  return sqliteStorageError(path, e) ?? otherwise();
}

/** The state database at `path` (`<stateDir>/orch.db`). */
export function sqliteStateDatabase(path: string): StateDatabase {
  return {
    path,
    open: () => SqliteStateStore.open(path),
    openIfExists: () => SqliteStateStore.openIfExists(path),
    condition: () => inspectDatabase(path),
    backups: () => listBackups(path),
    backupWrittenAt() {
      try {
        return statSync(`${path}.bak`).mtimeMs;
      } catch {
        return null;
      }
    },
    moveAside(base) {
      let suffix = base;
      for (let i = 2; existsSync(`${path}.${suffix}`); i++) suffix = `${base}-${i}`;
      return moveDatabaseAside(path, suffix);
    },
  };
}

type RawGenerationRow = Omit<GenerationRow, 'gitDirty'> & { gitDirty: number | null };

function generationRow(r: RawGenerationRow): GenerationRow {
  return { ...r, gitDirty: r.gitDirty === null ? null : r.gitDirty !== 0 };
}
