import { unifiedDiff } from '../../domain/plan/file-diff.js';
import { sha256 } from '../../domain/plan/make-plan.js';
import type { StateDatabase } from '../../ports/state-store.js';
import type { ContentStore } from '../../ports/content-store.js';
import type { ManagedTree } from '../../ports/managed-tree.js';

export interface DriftItem {
  path: string;
  kind: 'modified' | 'deleted';
  expectedSha256: string;
  actualSha256: string | null;
  /** Last applied content (a/) against the file on disk (b/); null when the applied content is no longer stored. */
  diff: string | null;
}

/** What a drift report reads: the state database, the managed directory, and the stored contents. */
export interface DriftPorts {
  state: StateDatabase;
  tree: Pick<ManagedTree, 'read'>;
  contents: Pick<ContentStore, 'get'>;
}

/** Managed files whose content on disk differs from what orch last wrote. Reads only. */
export function driftReport(ports: DriftPorts): { items: DriftItem[]; generation: number | null } {
  const store = ports.state.openIfExists();
  if (!store) return { items: [], generation: null };
  try {
    const contents = ports.contents;
    const observed = new Map(ports.tree.read().files.map((f) => [f.path, f.content]));
    const items: DriftItem[] = [];
    for (const row of store.inventory()) {
      if (row.role === 'status') continue;
      const disk = observed.get(row.path);
      if (disk === undefined) {
        items.push({ path: row.path, kind: 'deleted', expectedSha256: row.sha256, actualSha256: null, diff: null });
        continue;
      }
      const actual = sha256(disk);
      if (actual === row.sha256) continue;
      const applied = contents.get(row.sha256);
      items.push({
        path: row.path,
        kind: 'modified',
        expectedSha256: row.sha256,
        actualSha256: actual,
        diff: applied === null ? null : unifiedDiff({ path: row.path, before: applied, after: disk }),
      });
    }
    return { items, generation: store.currentGeneration() };
  } finally {
    store.close();
  }
}
