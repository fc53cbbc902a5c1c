import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { FINISHED_PHASES, migrationDocJson, type MigrationDoc } from '../../domain/migrations/migration-doc.js';
import { MIGRATION_DONE_SUFFIX, MIGRATION_STATE_SUFFIX } from '../../domain/rebuild/migration-state.js';
import { fsyncDir, writeFileAtomic } from './atomic-write.js';
import { migrationStateDir } from './read-state-files.js';

/** The file a migration's record lives in: `.state.json` while it runs, `.done.json` once finished. */
export function migrationFileName(doc: Pick<MigrationDoc, 'name' | 'phase'>): string {
  return `${doc.name}${FINISHED_PHASES.has(doc.phase) ? MIGRATION_DONE_SUFFIX : MIGRATION_STATE_SUFFIX}`;
}

/**
 * Writes the record atomically (temp file, fsync, rename, fsync of the directory). A finished
 * migration gets its `.done.json` first; only then is the `.state.json` removed, so a crash in
 * between leaves both and readers prefer the done record.
 */
export function writeMigrationFile(stateDir: string, doc: MigrationDoc): string {
  const dir = migrationStateDir(stateDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = migrationFileName(doc);
  writeFileAtomic(join(dir, file), migrationDocJson(doc), { mode: 0o600 });
  if (file.endsWith(MIGRATION_DONE_SUFFIX)) {
    rmSync(join(dir, `${doc.name}${MIGRATION_STATE_SUFFIX}`), { force: true });
    rmSync(join(dir, `${doc.name}.baseline.json`), { force: true });
    fsyncDir(dir);
  }
  return file;
}

/**
 * copy mode: the destination's objects from before the migration (key -> ETag), which the
 * migration never deletes. Kept beside the state file (not only in the database): losing it would
 * make pre-existing objects indistinguishable from copies of since-deleted ones.
 */
export function writeBaseline(stateDir: string, name: string, baseline: ReadonlyMap<string, string>): void {
  const dir = migrationStateDir(stateDir);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileAtomic(join(dir, `${name}.baseline.json`), JSON.stringify({ formatVersion: 1, objects: Object.fromEntries(baseline) }) + '\n', { mode: 0o600 });
}

/** The baseline, or null when none was written (the migration has not started copying). */
export function readBaseline(stateDir: string, name: string): Map<string, string> | null {
  let text: string;
  try {
    text = readFileSync(join(migrationStateDir(stateDir), `${name}.baseline.json`), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
  const json = JSON.parse(text) as { formatVersion?: number; objects?: Record<string, string> };
  if (json.formatVersion !== 1 || typeof json.objects !== 'object' || json.objects === null) throw new Error(`migration baseline ${name}.baseline.json is not one this orch reads`);
  return new Map(Object.entries(json.objects));
}
