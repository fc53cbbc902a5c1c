import { join } from 'node:path';
import type { StateDatabase, StateStore } from '../../ports/state-store.js';
import { UserError } from '../../domain/errors.js';
import { StateLostError } from '../../domain/apply/state-loss.js';
import type { StateView } from '../plan/compute-plan.js';
import { loadMigrationRecords } from '../migrations/migration-records.js';
import type { Settings } from '../../config/settings.js';

export function stateDbPath(settings: Settings): string {
  return join(settings.stateDir, 'orch.db');
}

/**
 * Opens (creating and migrating) the state database for a writer holding the lock. A file that is
 * not orch's database (truncated, foreign, random bytes, too new, unreadable) is refused, never
 * initialized over. Writers of generations check more first (src/use-cases/state/state-health.ts:
 * a lost state is never restarted).
 */
export function openWritableState(state: StateDatabase, settings: Settings): StateStore {
  const condition = state.condition();
  if (condition.kind !== 'missing' && condition.kind !== 'zero-bytes' && condition.kind !== 'usable')
    throw new StateLostError(condition, null, state.path);
  const store = state.open();
  try {
    checkManagedDir(store, settings);
    if (store.getMeta('nginx_dir') === null) store.setMeta('nginx_dir', settings.nginxDir);
  } catch (e) {
    store.close();
    throw e;
  }
  return store;
}

/**
 * A state directory belongs to one managed nginx directory: its inventory describes those files.
 * Pointing it at another directory would report every file as drift or delete the wrong ones.
 */
export function checkManagedDir(store: StateStore, settings: Settings): void {
  const recorded = store.getMeta('nginx_dir');
  if (recorded !== null && recorded !== settings.nginxDir) {
    throw new UserError(
      'state.other-nginx-dir',
      `The state in ${settings.stateDir} manages the nginx directory ${recorded}, not ${settings.nginxDir}.`,
      {
        hint: 'Use the matching --state-dir / ORCH_STATE_DIR for this nginx directory (each managed directory has its own state directory).',
      },
    );
  }
}

/** What a plan needs from a state store: inventory (null before the first generation), generation. */
export function stateViewOf(store: StateStore | null): StateView {
  if (!store) return { inventory: null, generation: null, knownMigrations: new Set(), migrations: [] };
  const generation = store.currentGeneration();
  const rows = store.inventory().filter((r) => r.role !== 'status');
  return {
    inventory: generation === null && rows.length === 0 ? null : new Map(rows.map((r) => [r.path, { sha256: r.sha256 }])),
    generation,
    // Migrations restored by rebuild-db (and later recorded by the migration engine) are not started again.
    knownMigrations: new Set(store.migrations().map((m) => m.name)),
    migrations: loadMigrationRecords(store),
  };
}
