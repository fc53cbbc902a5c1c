import type { StateStore } from '../../ports/state-store.js';
import { newMigrationDoc } from '../../domain/migrations/migration-doc.js';
import type { Plan } from '../../domain/plan/plan-types.js';
import type { Settings } from '../../config/settings.js';
import { saveMigrationDoc } from './migration-records.js';

/**
 * `orch apply` starts the plan's new migrations: each gets its state file and row in phase
 * pending, an audit entry and the first line of its own log. Copying is the driver's job
 * (`orch migrate run NAME` or `orch watch`).
 */
export function startPlannedMigrations(settings: Settings, store: StateStore, plan: Plan, command: string): string[] {
  const started: string[] = [];
  for (const change of plan.migrations) {
    const m = change.migration;
    if (store.migration(m.name)) continue;
    const doc = newMigrationDoc(m, new Date());
    saveMigrationDoc(store, settings.stateDir, doc);
    const what = `bucket ${m.bucket} of ${m.virtualHost} from pool ${m.from} to ${m.to} (${m.mode} mode, concurrency ${m.concurrency}, freeze budget ${m.freezeBudgetSeconds}s${m.bandwidthLimit ? `, ${m.bandwidthLimit} B/s` : ''})`;
    store.audit([{ command, action: 'migration-start', subject: `Migration/${m.name}`, details: what }]);
    store.appendMigrationLog(m.name, 'info', `started by '${command}': ${what}`);
    started.push(m.name);
  }
  return started;
}
