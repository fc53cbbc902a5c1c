import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { encodeMigrationRecord, isFinished, MIGRATION_STATE_SUFFIX, migrationFileName } from '../../domain/migrations/migration-record.js';
import type { MigrationFiles } from '../../ports/migration-files.js';
import type { MigrationLocks } from '../../ports/migration-locks.js';
import { fsyncDir, writeFileAtomic } from './atomic-write.js';
import { migrationStateDir, readMigrationStateFiles } from './read-state-files.js';
import { fileWriterLocks } from './writer-lock.js';

/** A migration's files in `<stateDir>/migrations/`: state file, baseline, cancel flag. */
export function fsMigrationFiles(stateDir: string): MigrationFiles {
  const dir = migrationStateDir(stateDir);
  const ensureDir = () => mkdirSync(dir, { recursive: true, mode: 0o700 });
  const cancelFlag = (name: string) => join(dir, `${name}.cancel`);
  const destinationFile = (pool: string, bucket: string) => join(dir, 'destinations', pool, `${bucket}.baseline.json`);
  return {
    /**
     * Atomically (temp file, fsync, rename, fsync of the directory). A finished migration gets its
     * `.done.json` first; only then is the `.state.json` removed, so a crash in between leaves both
     * and readers prefer the done record.
     */
    write(record) {
      ensureDir();
      const file = migrationFileName(record);
      writeFileAtomic(join(dir, file), encodeMigrationRecord(record), { mode: 0o600 });
      if (isFinished(record)) {
        rmSync(join(dir, `${record.name}${MIGRATION_STATE_SUFFIX}`), { force: true });
        rmSync(join(dir, `${record.name}.baseline.json`), { force: true });
        fsyncDir(dir);
      }
      return file;
    },
    readAll: () => readMigrationStateFiles(stateDir),
    /**
     * Kept beside the state file (not only in the database): losing it would make pre-existing
     * objects indistinguishable from copies of since-deleted ones.
     */
    writeBaseline(name, baseline) {
      ensureDir();
      writeFileAtomic(
        join(dir, `${name}.baseline.json`),
        JSON.stringify({ formatVersion: 1, objects: Object.fromEntries(baseline) }) + '\n',
        { mode: 0o600 },
      );
    },
    readBaseline(name) {
      let text: string;
      try {
        text = readFileSync(join(dir, `${name}.baseline.json`), 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw e;
      }
      const json = JSON.parse(text) as { formatVersion?: number; objects?: Record<string, string> };
      if (json.formatVersion !== 1 || typeof json.objects !== 'object' || json.objects === null)
        throw new Error(`migration baseline ${name}.baseline.json is not one this orch reads`);
      return new Map(Object.entries(json.objects));
    },
    /**
     * `<stateDir>/migrations/destinations/<pool>/<bucket>.baseline.json`: beside the state files,
     * so it survives the loss of the database, and keyed by pool and bucket, not by migration name.
     */
    readDestinationBaseline(pool, bucket) {
      let text: string;
      try {
        text = readFileSync(destinationFile(pool, bucket), 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw e;
      }
      const json = JSON.parse(text) as { formatVersion?: number; migration?: string; at?: string; objects?: Record<string, string> };
      if (json.formatVersion !== 1 || typeof json.objects !== 'object' || json.objects === null)
        throw new Error(`destination baseline ${pool}/${bucket}.baseline.json is not one this orch reads`);
      return { migration: String(json.migration ?? '?'), at: String(json.at ?? '?'), objects: new Map(Object.entries(json.objects)) };
    },
    writeDestinationBaseline(pool, bucket, baseline) {
      const file = destinationFile(pool, bucket);
      mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
      writeFileAtomic(
        file,
        JSON.stringify({
          formatVersion: 1,
          pool,
          bucket,
          migration: baseline.migration,
          at: baseline.at,
          objects: Object.fromEntries(baseline.objects),
        }) + '\n',
        { mode: 0o600 },
      );
    },
    removeDestinationBaseline(pool, bucket) {
      rmSync(destinationFile(pool, bucket), { force: true });
    },
    cancelRequested: (name) => existsSync(cancelFlag(name)),
    requestCancel(name, at) {
      ensureDir();
      writeFileSync(cancelFlag(name), `${at} pid ${process.pid}\n`, { mode: 0o600 });
    },
    clearCancel: (name) => rmSync(cancelFlag(name), { force: true }),
  };
}

/** Each migration's lock file, `<stateDir>/migrations/<name>.lock`. */
export function fileMigrationLocks(stateDir: string): MigrationLocks {
  return { of: (name) => fileWriterLocks(migrationStateDir(stateDir), `${name}.lock`) };
}
