import { UserError } from '../../domain/errors.js';
import { isFinished, type MigrationRecord } from '../../domain/migrations/migration-record.js';
import { isoOf } from '../../domain/migrations/phase-machine.js';
import { checkManagedDir } from '../state/open-state.js';
import { driveMigration, unknownMigration, type DriveResult, type DriverHooks } from './driver.js';
import type { MigrationPorts } from './migration-ports.js';
import { loadMigrationRecord, loadMigrationRecords } from './migration-records.js';

export interface MigrationView {
  record: MigrationRecord;
  /** Who drives it now (pid and command), if anyone. */
  driver: { pid: number; command: string; since: string } | null;
  log: Array<{ at: string; level: string; message: string }>;
}

/** How long `orch migrate run` waits for a free slot before it looks again. */
const SLOT_WAIT_MS = 5000;
/** How often `orch migrate cancel` looks whether the driving process finished. */
const CANCEL_POLL_MS = 250;

/** `orch migrations`: every migration the state knows, with who drives it and its recent log. */
export function listMigrations(ports: MigrationPorts, opts: { logLines?: number } = {}): MigrationView[] {
  const store = ports.state.openIfExists();
  if (!store) return [];
  try {
    checkManagedDir(store, ports.settings);
    return loadMigrationRecords(store).map((record) => {
      const h = ports.locks.of(record.name).holder();
      return {
        record,
        driver: h ? { pid: h.pid, command: h.command, since: h.since } : null,
        log: store.migrationLog(record.name, opts.logLines ?? 5),
      };
    });
  } finally {
    store.close();
  }
}

/** `orch migrations orphaned`: finished migrations whose source data stays on the old pool. */
export function orphanedSources(ports: MigrationPorts): MigrationRecord[] {
  return listMigrations(ports, { logLines: 0 })
    .map((v) => v.record)
    .filter((d) => d.phase === 'done' && d.orphanedSource !== null);
}

function knownOrThrow(ports: MigrationPorts, name: string): MigrationRecord {
  const store = ports.state.openIfExists();
  const record = store ? loadMigrationRecord(store, name) : null;
  store?.close();
  if (!record) throw unknownMigration(name);
  return record;
}

/**
 * `orch migrate run NAME`: drives one migration in the foreground until it is done, cancelled or
 * in error (a pending one waits for a free slot).
 */
export async function runMigration(ports: MigrationPorts, name: string, hooks: DriverHooks): Promise<DriveResult> {
  knownOrThrow(ports, name);
  for (;;) {
    const result = await driveMigration(ports, name, hooks);
    if (result.outcome !== 'waiting') return result;
    hooks.log?.('info', `waiting for a free slot: at most ${ports.settings.maxParallelMigrations} migrations copy at once`);
    await ports.clock.sleep(SLOT_WAIT_MS, hooks.signal).catch(() => undefined);
    if (hooks.signal.aborted) return { record: result.record, outcome: 'stopped' };
  }
}

export interface CancelResult {
  record: MigrationRecord;
  /** `flagged`: another process drives it and was asked to stop; it restores the route itself. */
  how: 'cancelled' | 'flagged' | 'completed';
}

/**
 * `orch migrate cancel NAME`: writes go back to the source. When another process drives the
 * migration, it is asked (a flag file) and this waits up to `waitSeconds` for it to finish.
 */
export async function cancelMigration(
  ports: MigrationPorts,
  name: string,
  opts: { waitSeconds: number; hooks: Omit<DriverHooks, 'command'> },
): Promise<CancelResult> {
  const record = knownOrThrow(ports, name);
  if (isFinished(record)) {
    throw new UserError(
      'migrate.finished',
      `Migration ${name} is already ${record.phase}${record.finishedAt ? ` (${record.finishedAt})` : ''}: there is nothing to cancel.`,
      {
        hint: record.phase === 'done' ? `To move the bucket back, declare a Migration from ${record.to} to ${record.from}.` : undefined,
      },
    );
  }
  const clock = ports.clock;
  ports.files.requestCancel(name, isoOf(clock.now()));
  if (ports.locks.of(name).holder()) {
    const deadline = clock.now() + opts.waitSeconds * 1000;
    for (;;) {
      const now = knownOrThrow(ports, name);
      if (isFinished(now)) return { record: now, how: now.phase === 'cancelled' ? 'cancelled' : 'completed' };
      if (clock.now() >= deadline) return { record: now, how: 'flagged' };
      await clock.sleep(CANCEL_POLL_MS);
    }
  }
  const result = await driveMigration(ports, name, { ...opts.hooks, command: 'migrate cancel' });
  return { record: result.record, how: result.outcome === 'cancelled' ? 'cancelled' : 'completed' };
}
