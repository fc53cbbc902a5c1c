import { unifiedDiff } from '../../domain/plan/file-diff.js';
import { sha256 } from '../../domain/plan/make-plan.js';
import type { ContentStore } from '../../ports/content-store.js';
import { openStateForReading } from '../state/state-health.js';
import { conversionNotice, effectiveInventory, interruptedApplyOf, type StateViewPorts } from '../state/state-view.js';

export interface DriftItem {
  path: string;
  kind: 'modified' | 'deleted';
  expectedSha256: string;
  actualSha256: string | null;
  /** Last applied content (a/) against the file on disk (b/); null when the applied content is no longer stored. */
  diff: string | null;
}

/** What a drift report reads: the state database, the managed directory, the journal, and the stored contents. */
export interface DriftPorts extends StateViewPorts {
  contents: Pick<ContentStore, 'get'>;
}

export interface DriftResult {
  items: DriftItem[];
  generation: number | null;
  /** Said first: an interrupted apply (whose files are then not counted as hand edits), an interrupted conversion. */
  notices: string[];
}

/**
 * Managed files whose content on disk differs from what orch last wrote. Reads only. A lost or
 * unusable state stops it (src/use-cases/state/state-health.ts) rather than report "no drift".
 */
export function driftReport(ports: DriftPorts): DriftResult {
  const interrupted = interruptedApplyOf(ports);
  const notices = [interrupted?.notice, conversionNotice(ports)].filter((n): n is string => !!n);
  const store = openStateForReading(ports);
  if (!store) return { items: [], generation: null, notices };
  try {
    const contents = ports.contents;
    const observed = new Map(ports.tree.read().files.map((f) => [f.path, f.content]));
    const items: DriftItem[] = [];
    for (const [path, expected] of effectiveInventory(store.inventory(), interrupted)) {
      const disk = observed.get(path);
      if (disk === undefined) {
        items.push({ path, kind: 'deleted', expectedSha256: expected, actualSha256: null, diff: null });
        continue;
      }
      const actual = sha256(disk);
      if (actual === expected) continue;
      const applied = contents.get(expected);
      items.push({
        path,
        kind: 'modified',
        expectedSha256: expected,
        actualSha256: actual,
        diff: applied === null ? null : unifiedDiff({ path, before: applied, after: disk }),
      });
    }
    items.sort((a, b) => (a.path < b.path ? -1 : 1));
    return { items, generation: store.currentGeneration(), notices };
  } finally {
    store.close();
  }
}
