import type Database from 'better-sqlite3';
import type { CopyRecord, SnapshotObject } from '../../ports/state-store.js';

/**
 * The migration engine's working data in the state database (schema steps 4 and 5): the copy
 * records that let a resumed migration skip what it copied, the verified snapshot of the source,
 * and each migration's log. SqliteStateStore's methods of the same names delegate here.
 */
type DB = Database.Database;

/** Records copies the engine made (upsert by key). */
export function putCopyRecords(db: DB, migration: string, records: ReadonlyArray<CopyRecord>): void {
  if (records.length === 0) return;
  const upsert = db.prepare(
    `INSERT INTO migration_copies (migration, key, src_etag, src_size, dst_etag, src_modified, meta, settled) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT(migration, key) DO UPDATE SET src_etag = excluded.src_etag, src_size = excluded.src_size, dst_etag = excluded.dst_etag,
       src_modified = excluded.src_modified, meta = excluded.meta, settled = excluded.settled`,
  );
  db.transaction(() => {
    for (const r of records)
      upsert.run(migration, r.key, r.srcEtag, r.srcSize, r.dstEtag, r.srcModified ?? null, r.meta ?? null, r.settled ? 1 : 0);
  })();
}

export function copyRecords(db: DB, migration: string): Map<string, CopyRecord> {
  const rows = db
    .prepare(
      `SELECT key, src_etag AS srcEtag, src_size AS srcSize, dst_etag AS dstEtag, src_modified AS srcModified, meta, settled
       FROM migration_copies WHERE migration = ?`,
    )
    .all(migration) as Array<{
    key: string;
    srcEtag: string;
    srcSize: number;
    dstEtag: string;
    srcModified: number | null;
    meta: string | null;
    settled: number;
  }>;
  return new Map(rows.map((r) => [r.key, { ...r, settled: r.settled === 1 }]));
}

/** Replaces the verified snapshot of the source (the freeze's final listing). */
export function replaceSnapshot(db: DB, migration: string, objects: ReadonlyArray<SnapshotObject>): void {
  const insert = db.prepare('INSERT INTO migration_snapshot (migration, key, etag, size, last_modified) VALUES (?, ?, ?, ?, ?)');
  db.transaction(() => {
    db.prepare('DELETE FROM migration_snapshot WHERE migration = ?').run(migration);
    for (const o of objects) insert.run(migration, o.key, o.etag, o.size, o.lastModified ?? null);
  })();
}

/** The verified snapshot, or null when none was recorded (`recorded`: its marker in meta). */
export function snapshot(db: DB, migration: string, recorded: boolean): SnapshotObject[] | null {
  if (!recorded) return null;
  const rows = db
    .prepare('SELECT key, etag, size, last_modified AS lastModified FROM migration_snapshot WHERE migration = ? ORDER BY key')
    .all(migration) as Array<{ key: string; etag: string; size: number; lastModified: string | null }>;
  return rows.map((r) => ({
    key: r.key,
    etag: r.etag,
    size: r.size,
    ...(r.lastModified !== null ? { lastModified: r.lastModified } : {}),
  }));
}

/** Drops a finished migration's working data (records and snapshot); its row and log stay. */
export function dropMigrationWork(db: DB, migration: string): void {
  db.transaction(() => {
    db.prepare('DELETE FROM migration_copies WHERE migration = ?').run(migration);
    db.prepare('DELETE FROM migration_snapshot WHERE migration = ?').run(migration);
    db.prepare('DELETE FROM meta WHERE key = ?').run(`migration_snapshot:${migration}`);
  })();
}

export function appendMigrationLog(db: DB, migration: string, level: 'info' | 'warn' | 'error', message: string, at: string): void {
  db.prepare('INSERT INTO migration_log (migration, at, level, message) VALUES (?, ?, ?, ?)').run(migration, at, level, message);
}

/** The last `limit` lines of a migration's log, oldest first. */
export function migrationLog(db: DB, migration: string, limit: number): Array<{ at: string; level: string; message: string }> {
  const rows = db
    .prepare('SELECT at, level, message FROM migration_log WHERE migration = ? ORDER BY id DESC LIMIT ?')
    .all(migration, limit) as Array<{ at: string; level: string; message: string }>;
  return rows.reverse();
}
