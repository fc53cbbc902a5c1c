import type { GenerationRow, StateDatabase } from '../../ports/state-store.js';

/** One applied generation as `orch history` shows it. */
export interface HistoryEntry extends Omit<GenerationRow, 'summary'> {
  /** Its files are still kept in the content store: `orch rollback N` can restore it. */
  restorable: boolean;
  summary: Record<string, unknown>;
}

/** The last `limit` generations, newest first; none before the first apply (nothing is created). */
export function generationHistory(ports: { state: StateDatabase }, limit: number): HistoryEntry[] {
  const store = ports.state.openIfExists();
  if (!store) return [];
  try {
    return store.generations(limit).map((g) => ({
      ...g,
      restorable: Object.keys(store.generationFiles(g.number)).length > 0,
      summary: JSON.parse(g.summary) as Record<string, unknown>,
    }));
  } finally {
    store.close();
  }
}
