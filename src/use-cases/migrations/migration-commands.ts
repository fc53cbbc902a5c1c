import { mkdirSync, writeFileSync } from 'node:fs';
import { migrationStateDir } from '../../adapters/fs/read-state-files.js';
import { readLockHolder } from '../../adapters/fs/writer-lock.js';
import { SqliteStateStore } from '../../adapters/sqlite/state-store.js';
import { UserError } from '../../domain/errors.js';
import { FINISHED_PHASES, type MigrationDoc } from '../../domain/migrations/migration-doc.js';
import { checkManagedDir, stateDbPath } from '../state/open-state.js';
import type { Settings } from '../../config/settings.js';
import { cancelFlagPath, driveMigration, migrationLockName, type DriveResult, type DriverHooks } from './driver.js';
import { loadMigrationDoc, loadMigrationDocs } from './migration-records.js';

export interface MigrationView {
  doc: MigrationDoc;
  /** Who drives it now (pid and command), if anyone. */
  driver: { pid: number; command: string; since: string } | null;
  log: Array<{ at: string; level: string; message: string }>;
}

/** `orch migrations`: every migration the state knows, with who drives it and its recent log. */
export function listMigrations(settings: Settings, opts: { logLines?: number } = {}): MigrationView[] {
  const store = SqliteStateStore.openIfExists(stateDbPath(settings));
  if (!store) return [];
  try {
    checkManagedDir(store, settings);
    return loadMigrationDocs(store).map((doc) => {
      const h = readLockHolder(migrationStateDir(settings.stateDir), migrationLockName(doc.name));
      return { doc, driver: h ? { pid: h.pid, command: h.command, since: h.since } : null, log: store.migrationLog(doc.name, opts.logLines ?? 5) };
    });
  } finally {
    store.close();
  }
}

/** `orch migrations orphaned`: finished migrations whose source data stays on the old pool. */
export function orphanedSources(settings: Settings): MigrationDoc[] {
  return listMigrations(settings, { logLines: 0 })
    .map((v) => v.doc)
    .filter((d) => d.phase === 'done' && d.orphanedSource !== null);
}

function knownOrThrow(settings: Settings, name: string): MigrationDoc {
  const store = SqliteStateStore.openIfExists(stateDbPath(settings));
  const doc = store ? loadMigrationDoc(store, name) : null;
  store?.close();
  if (!doc) {
    throw new UserError('migrate.unknown', `There is no migration named ${name} in the state.`, {
      hint: "'orch migrations' lists them; a Migration manifest becomes one when 'orch apply' starts it.",
    });
  }
  return doc;
}

/**
 * `orch migrate run NAME`: drives one migration in the foreground until it is done, cancelled or
 * in error (a pending one waits for a free slot).
 */
export async function runMigration(settings: Settings, name: string, hooks: DriverHooks): Promise<DriveResult> {
  knownOrThrow(settings, name);
  for (;;) {
    const result = await driveMigration(settings, name, hooks);
    if (result.outcome !== 'waiting') return result;
    hooks.log?.('info', `waiting for a free slot: at most ${settings.maxParallelMigrations} migrations copy at once`);
    await new Promise((r) => setTimeout(r, 5000));
    if (hooks.signal.aborted) return { doc: result.doc, outcome: 'stopped' };
  }
}

export interface CancelResult {
  doc: MigrationDoc;
  /** `flagged`: another process drives it and was asked to stop; it restores the route itself. */
  how: 'cancelled' | 'flagged' | 'completed';
}

/**
 * `orch migrate cancel NAME`: writes go back to the source. When another process drives the
 * migration, it is asked (a flag file) and this waits up to `waitSeconds` for it to finish.
 */
export async function cancelMigration(settings: Settings, name: string, opts: { waitSeconds: number; hooks: Omit<DriverHooks, 'command'> }): Promise<CancelResult> {
  const doc = knownOrThrow(settings, name);
  if (FINISHED_PHASES.has(doc.phase)) {
    throw new UserError('migrate.finished', `Migration ${name} is already ${doc.phase}${doc.finishedAt ? ` (${doc.finishedAt})` : ''}: there is nothing to cancel.`, {
      hint: doc.phase === 'done' ? `To move the bucket back, declare a Migration from ${doc.to} to ${doc.from}.` : undefined,
    });
  }
  mkdirSync(migrationStateDir(settings.stateDir), { recursive: true, mode: 0o700 });
  writeFileSync(cancelFlagPath(settings.stateDir, name), `${new Date().toISOString()} pid ${process.pid}\n`, { mode: 0o600 });
  const holder = readLockHolder(migrationStateDir(settings.stateDir), migrationLockName(name));
  if (holder) {
    const deadline = Date.now() + opts.waitSeconds * 1000;
    for (;;) {
      const now = knownOrThrow(settings, name);
      if (FINISHED_PHASES.has(now.phase)) return { doc: now, how: now.phase === 'cancelled' ? 'cancelled' : 'completed' };
      if (Date.now() >= deadline) return { doc: now, how: 'flagged' };
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  const result = await driveMigration(settings, name, { ...opts.hooks, command: 'migrate cancel' });
  return { doc: result.doc, how: result.outcome === 'cancelled' ? 'cancelled' : 'completed' };
}
