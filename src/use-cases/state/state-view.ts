import { SqliteStateStore } from '../../adapters/sqlite/state-store.js';
import type { StateView } from '../plan/compute-plan.js';
import { checkManagedDir, stateDbPath, stateViewOf } from './open-state.js';
import type { Settings } from '../../config/settings.js';

/** Reads the state for a plan without writing anything; no database yet means no inventory. */
export function openStateView(settings: Settings): StateView {
  const store = SqliteStateStore.openIfExists(stateDbPath(settings));
  try {
    if (store) checkManagedDir(store, settings);
    return stateViewOf(store);
  } finally {
    store?.close();
  }
}
