import { join } from 'node:path';
import { ContentStore } from '../adapters/fs/content-store.js';
import { StateStore } from '../adapters/sqlite/state-store.js';
import type { StateView } from './compute-plan.js';
import type { Settings } from './settings.js';

export function stateDbPath(settings: Settings): string {
  return join(settings.stateDir, 'orch.db');
}

export interface WritableState {
  store: StateStore;
  contents: ContentStore;
}

/** Opens (creating and migrating) the state database for a writer holding the lock. */
export function openWritableState(settings: Settings): WritableState {
  return { store: StateStore.open(stateDbPath(settings)), contents: new ContentStore(settings.stateDir) };
}

/** What a plan needs from a state store: inventory (null before the first generation), generation. */
export function stateViewOf(store: StateStore | null): StateView {
  if (!store) return { inventory: null, generation: null, knownMigrations: new Set() };
  const generation = store.currentGeneration();
  const rows = store.inventory().filter((r) => r.role !== 'status');
  return {
    inventory: generation === null && rows.length === 0 ? null : new Map(rows.map((r) => [r.path, { sha256: r.sha256 }])),
    generation,
    knownMigrations: new Set(),
  };
}
