import { UserError } from '../../domain/errors.js';
import { unifiedDiff } from '../../domain/plan/file-diff.js';
import type { ContentStore } from '../../ports/content-store.js';
import type { GenerationRow } from '../../ports/state-store.js';
import { openStateForReading, type StateHealthPorts } from '../state/state-health.js';

/** One applied generation as `orch history` shows it. */
export interface HistoryEntry extends Omit<GenerationRow, 'summary'> {
  /** Its files are still kept in the content store: `orch rollback N` can restore it. */
  restorable: boolean;
  summary: Record<string, unknown>;
}

/** One file a generation created, changed or deleted, with its diff when both contents are still kept. */
export interface GenerationFileChange {
  path: string;
  action: 'create' | 'update' | 'delete';
  /** `Kind/name` of the resource the file belongs to. */
  resource: string | null;
  beforeSha256: string | null;
  afterSha256: string | null;
  /** Unified diff (`a/` before, `b/` after); null when a content is no longer kept (older than keepGenerations). */
  diff: string | null;
}

export interface GenerationDetail extends HistoryEntry {
  changes: GenerationFileChange[];
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

/**
 * `orch history show N`: generation N's record and every file it created, changed or deleted (the
 * audit log written in the same transaction as the generation), each with its diff from the
 * content store. Diffs are only as old as the kept contents; the list of changes is kept forever.
 */
export function generationDetail(
  ports: StateHealthPorts & { contents: Pick<ContentStore, 'get'> },
  n: number,
  withDiffs: boolean,
): GenerationDetail {
  const store = openStateForReading(ports);
  const missing = () =>
    new UserError('history.no-generation', `There is no generation ${n}.`, { hint: "List the generations with 'orch history'." });
  if (!store) throw missing();
  try {
    const g = store.generation(n);
    if (!g) throw missing();
    const content = (sha: string | null): string | null | undefined => (sha === null ? null : (ports.contents.get(sha) ?? undefined));
    const changes = store.generationAudit(n).map((a): GenerationFileChange => {
      const action = a.action as GenerationFileChange['action'];
      const before = content(a.beforeSha256 ?? null);
      const after = content(a.afterSha256 ?? null);
      const kept = before !== undefined && after !== undefined;
      return {
        path: a.subject,
        action,
        resource: a.details ?? null,
        beforeSha256: a.beforeSha256 ?? null,
        afterSha256: a.afterSha256 ?? null,
        diff: withDiffs && kept ? unifiedDiff({ path: a.subject, before: before ?? null, after: after ?? null }) : null,
      };
    });
    return {
      ...g,
      restorable: Object.keys(store.generationFiles(n)).length > 0,
      summary: JSON.parse(g.summary) as Record<string, unknown>,
      changes,
    };
  } finally {
    store.close();
  }
}
