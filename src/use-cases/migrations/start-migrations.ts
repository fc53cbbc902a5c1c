import type { StateStore } from '../../ports/state-store.js';
import type { Clock } from '../../ports/clock.js';
import type { MigrationFiles } from '../../ports/migration-files.js';
import { newMigrationRecord } from '../../domain/migrations/migration-record.js';
import type { Plan } from '../../domain/plan/plan-types.js';
import { saveMigrationRecord } from './migration-records.js';

/**
 * `orch apply` starts the plan's new migrations: each gets its state file and row in phase
 * pending, an audit entry and the first line of its own log. Copying is the driver's job
 * (`orch migrate run NAME` or `orch watch`). `ports`: the composition root's (Orch).
 */
export function startPlannedMigrations(
  ports: { migrationFiles: MigrationFiles; clock: Clock },
  store: StateStore,
  plan: Plan,
  command: string,
): string[] {
  const started: string[] = [];
  const now = new Date(ports.clock.now());
  for (const change of plan.migrations) {
    const m = change.migration;
    if (store.migration(m.name)) continue;
    const record = newMigrationRecord(m, now);
    saveMigrationRecord(store, ports.migrationFiles, record, now.toISOString());
    const what = `bucket ${m.bucket} of ${m.virtualHost} from pool ${m.from} to ${m.to} (${m.mode} mode, concurrency ${m.concurrency}, freeze budget ${m.freezeBudgetSeconds}s${m.bandwidthLimit ? `, ${m.bandwidthLimit} B/s` : ''})`;
    store.audit([{ command, action: 'migration-start', subject: `Migration/${m.name}`, details: what }]);
    store.appendMigrationLog(m.name, 'info', `started by '${command}': ${what}`);
    started.push(m.name);
  }
  return started;
}
