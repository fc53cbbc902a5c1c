import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MIGRATION_DONE_SUFFIX, MIGRATION_STATE_SUFFIX } from '../../domain/migrations/migration-record.js';
import { STATUS_FILE_PATH } from '../../domain/render/render-status.js';

export function migrationStateDir(stateDir: string): string {
  return join(stateDir, 'migrations');
}

/** Every `*.state.json` / `*.done.json` in `<stateDir>/migrations/`, by name; none when the directory is missing. */
export function readMigrationStateFiles(stateDir: string): Array<{ file: string; text: string }> {
  const dir = migrationStateDir(stateDir);
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  return names
    .filter((n) => !n.startsWith('.') && (n.endsWith(MIGRATION_STATE_SUFFIX) || n.endsWith(MIGRATION_DONE_SUFFIX)))
    .sort()
    .map((file) => ({ file, text: readFileSync(join(dir, file), 'utf8') }));
}

/** The reload status file orch keeps in the managed directory, or null when there is none. */
export function readStatusFile(nginxDir: string): string | null {
  try {
    return readFileSync(join(nginxDir, STATUS_FILE_PATH), 'utf8');
  } catch {
    return null;
  }
}
