import type { GenerationRow } from '../../ports/state-store.js';
import { openStateForReading, type StateHealthPorts } from '../state/state-health.js';

/** One applied generation as `orch history` shows it. */
export interface HistoryEntry extends Omit<GenerationRow, 'summary'> {
  /** Its files are still kept in the content store: `orch rollback N` can restore it. */
  restorable: boolean;
  summary: Record<string, unknown>;
}

/**
 * The last `limit` generations, newest first; none before the first apply (nothing is created). A
 * lost state stops it (it never answers "none applied yet" for a state that was lost).
 */
export function generationHistory(ports: StateHealthPorts, limit: number): HistoryEntry[] {
  const store = openStateForReading(ports);
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
