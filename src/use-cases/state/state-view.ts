import type { StateDatabase } from '../../ports/state-store.js';
import type { StateView } from '../plan/compute-plan.js';
import { checkManagedDir, stateViewOf } from './open-state.js';
import type { Settings } from '../../config/settings.js';

/** Reads the state for a plan without writing anything; no database yet means no inventory. */
export function openStateView(state: StateDatabase, settings: Settings): StateView {
  const store = state.openIfExists();
  try {
    if (store) checkManagedDir(store, settings);
    return stateViewOf(store);
  } finally {
    store?.close();
  }
}
