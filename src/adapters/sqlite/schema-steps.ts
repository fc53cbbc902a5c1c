import type Database from 'better-sqlite3';

type DB = Database.Database;

/**
 * Forward-only schema migrations. Never edit a released step: append a new one.
 * The database is a cache of the disk (files + sidecars + migration state files): everything in it
 * except history (generations before the current one, the audit log) can be rebuilt.
 */
export const SCHEMA_STEPS: ReadonlyArray<(db: DB) => void> = [
  (db) => {
    db.exec(`
      CREATE TABLE generations (
        number        INTEGER PRIMARY KEY,
        created_at    TEXT NOT NULL,
        command       TEXT NOT NULL,
        fingerprint   TEXT,
        outcome       TEXT NOT NULL CHECK (outcome IN ('applied', 'rebuilt', 'rolled-back')),
        summary       TEXT NOT NULL DEFAULT '{}',
        nginx_output  TEXT
      );
      CREATE TABLE inventory (
        path           TEXT PRIMARY KEY,
        resource_kind  TEXT NOT NULL,
        resource_name  TEXT NOT NULL,
        role           TEXT NOT NULL CHECK (role IN ('config', 'sidecar', 'status')),
        sha256         TEXT NOT NULL,
        size           INTEGER NOT NULL,
        generation     INTEGER NOT NULL REFERENCES generations(number),
        origin_file    TEXT,
        origin_index   INTEGER
      );
      CREATE TABLE generation_files (
        generation  INTEGER NOT NULL REFERENCES generations(number) ON DELETE CASCADE,
        path        TEXT NOT NULL,
        sha256      TEXT NOT NULL,
        PRIMARY KEY (generation, path)
      );
      CREATE TABLE audit_log (
        id             INTEGER PRIMARY KEY AUTOINCREMENT,
        at             TEXT NOT NULL,
        command        TEXT NOT NULL,
        action         TEXT NOT NULL,
        subject        TEXT NOT NULL,
        before_sha256  TEXT,
        after_sha256   TEXT,
        generation     INTEGER,
        details        TEXT
      );
      CREATE INDEX audit_log_at ON audit_log(at);
      CREATE TABLE meta (
        key    TEXT PRIMARY KEY,
        value  TEXT NOT NULL
      );
    `);
  },
  // Migrations as their state files describe them (see src/domain/migrations/migration-record.ts):
  // `orch rebuild-db` restores them; the migration engine keeps them current.
  (db) => {
    db.exec(`
      CREATE TABLE migrations (
        name             TEXT PRIMARY KEY,
        virtual_host     TEXT NOT NULL,
        bucket           TEXT NOT NULL,
        from_pool        TEXT NOT NULL,
        to_pool          TEXT NOT NULL,
        mode             TEXT NOT NULL CHECK (mode IN ('copy', 'sync')),
        phase            TEXT NOT NULL,
        completed        INTEGER NOT NULL DEFAULT 0,
        started_at       TEXT,
        updated_at       TEXT,
        finished_at      TEXT,
        orphaned_source  TEXT,
        state_file       TEXT NOT NULL,
        document         TEXT NOT NULL
      );
    `);
  },
  // Bucket sync: which buckets each nanio pool holds, per virtual host that sees them (its default
  // pool and the pools its routes point to). Statuses are derived when read, not stored.
  (db) => {
    db.exec(`
      CREATE TABLE bucket_sync (
        virtual_host  TEXT NOT NULL,
        bucket        TEXT NOT NULL,
        pool          TEXT NOT NULL,
        first_seen    TEXT NOT NULL,
        last_seen     TEXT NOT NULL,
        object_count  INTEGER,
        bytes         INTEGER,
        counted_at    TEXT,
        PRIMARY KEY (virtual_host, bucket, pool)
      );
      CREATE INDEX bucket_sync_pool ON bucket_sync(pool, bucket);
    `);
  },
  // The migration engine's working data. Copy records let a resumed migration skip what it copied
  // (a lost table only costs re-hashing); the snapshot is the source as verified in the freeze;
  // the log is each migration's own account of what it did.
  (db) => {
    db.exec(`
      CREATE TABLE migration_copies (
        migration  TEXT NOT NULL,
        key        TEXT NOT NULL,
        src_etag   TEXT NOT NULL,
        src_size   INTEGER NOT NULL,
        dst_etag   TEXT NOT NULL,
        PRIMARY KEY (migration, key)
      ) WITHOUT ROWID;
      CREATE TABLE migration_snapshot (
        migration  TEXT NOT NULL,
        key        TEXT NOT NULL,
        etag       TEXT NOT NULL,
        size       INTEGER NOT NULL,
        PRIMARY KEY (migration, key)
      ) WITHOUT ROWID;
      CREATE TABLE migration_log (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        migration  TEXT NOT NULL,
        at         TEXT NOT NULL,
        level      TEXT NOT NULL,
        message    TEXT NOT NULL
      );
      CREATE INDEX migration_log_name ON migration_log(migration, id);
    `);
  },
  // Metadata in the migration engine's working data: which source version (Last-Modified) a copy
  // read, a digest of the metadata it wrote, whether that read is settled; the snapshot's
  // Last-Modified (a metadata-only write after it changes only that).
  (db) => {
    db.exec(`
      ALTER TABLE migration_copies ADD COLUMN src_modified INTEGER;
      ALTER TABLE migration_copies ADD COLUMN meta TEXT;
      ALTER TABLE migration_copies ADD COLUMN settled INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE migration_snapshot ADD COLUMN last_modified TEXT;
    `);
  },
  // Who applied each generation and from which revision of the manifests (`orch history`), and
  // the audit log by generation (`orch history show N` reads one generation's file changes).
  (db) => {
    db.exec(`
      ALTER TABLE generations ADD COLUMN actor TEXT;
      ALTER TABLE generations ADD COLUMN git_commit TEXT;
      ALTER TABLE generations ADD COLUMN git_dirty INTEGER;
      CREATE INDEX audit_log_generation ON audit_log(generation);
    `);
  },
];
