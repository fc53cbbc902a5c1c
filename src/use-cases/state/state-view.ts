import type { Journal } from '../../ports/apply-journal.js';
import type { InventoryRow, StateStore } from '../../ports/state-store.js';
import type { ManagedTree } from '../../ports/managed-tree.js';
import type { StateView } from '../plan/compute-plan.js';
import { stateViewOf } from './open-state.js';
import { openStateForReading, type StateHealthPorts } from './state-health.js';

/** An apply that died mid-way, as the read-only commands describe it (they say so first). */
export interface InterruptedApply {
  generation: number;
  phase: string;
  /** Version 2: the switch was made (its generation is live); null for an older orch's file-by-file journal. */
  switched: boolean | null;
  notice: string;
  /** What each file the interrupted apply touched is expected to hold now (null: deleted). */
  expected: ReadonlyMap<string, string | null>;
}

export interface StateViewPorts extends StateHealthPorts {
  tree: StateHealthPorts['tree'] & Pick<ManagedTree, 'liveSha'>;
}

/** The journal an interrupted apply left, described; null when there is none. */
export function interruptedApplyOf(ports: Pick<StateViewPorts, 'journal' | 'tree'>): InterruptedApply | null {
  const journal: Journal | null = ports.journal.read();
  if (!journal) return null;
  const expected = new Map<string, string | null>();
  if (journal.version === 1) {
    // Mid-promotion, each file holds its old or its new content: whichever it holds is orch's.
    for (const op of journal.ops) {
      const disk = ports.tree.liveSha(op.path);
      expected.set(op.path, disk === op.afterSha256 ? op.afterSha256 : op.beforeSha256);
    }
    return {
      generation: journal.generation,
      phase: journal.phase,
      switched: null,
      expected,
      notice: `An apply of generation ${journal.generation} by an older orch (${journal.command}, started ${journal.startedAt}) was interrupted while promoting files (phase ${journal.phase}): until the next writer (orch apply, orch watch; 'orch apply --dry-run' only recovers) finishes or undoes it, the files it touched hold their old or their new content, and neither is reported as a hand edit.`,
    };
  }
  const layout = ports.tree.layout();
  const switched = (layout.kind === 'generations' || layout.kind === 'converting') && layout.current === journal.generation;
  if (switched) {
    for (const row of journal.commit.upsert) expected.set(row.path, row.sha256);
    for (const path of journal.commit.remove) expected.set(path, null);
  }
  return {
    generation: journal.generation,
    phase: journal.phase,
    switched,
    expected,
    notice: switched
      ? `An apply of generation ${journal.generation} (${journal.command}, started ${journal.startedAt}) was interrupted after switching to it (phase ${journal.phase}): its files are live, as a whole. The next writer (orch apply, orch watch; 'orch apply --dry-run' only recovers) records it if nginx serves it, or switches back to generation ${journal.previous}. Its files are compared with what it wrote, not reported as hand edits.`
      : `An apply of generation ${journal.generation} (${journal.command}, started ${journal.startedAt}) was interrupted before switching (phase ${journal.phase}): nothing live changed (generation ${journal.previous} is live). The next writer (orch apply, orch watch) removes what it left.`,
  };
}

/** The inventory as it should be now, with an interrupted apply's files taken as orch's. */
export function effectiveInventory(rows: readonly InventoryRow[], interrupted: InterruptedApply | null): Map<string, string> {
  const out = new Map(rows.filter((r) => r.role !== 'status').map((r) => [r.path, r.sha256]));
  for (const [path, sha] of interrupted?.expected ?? []) {
    if (path.endsWith('_orch-status.conf')) continue;
    if (sha === null) out.delete(path);
    else out.set(path, sha);
  }
  return out;
}

/** A notice for a conversion to generation directories that was interrupted (nginx sees one generation either way). */
export function conversionNotice(ports: Pick<StateViewPorts, 'tree' | 'settings'>): string | null {
  const layout = ports.tree.layout();
  if (layout.kind === 'converting')
    return `Converting ${ports.settings.nginxDir} to generation directories was interrupted: nginx sees generation ${layout.current}'s files either way; the next writer (orch apply, orch watch) finishes it.`;
  if (layout.kind === 'unexpected')
    return `The managed directory has an unexpected layout: ${layout.detail}. orch will not write to it until it is fixed.`;
  return null;
}

/**
 * What `orch plan` reads of the state, without writing anything: the state (after the state-loss
 * checks), with an interrupted apply's files taken as orch's, and the notices to print first.
 */
export function openStateView(ports: StateViewPorts, opts: { withoutState?: boolean } = {}): { view: StateView; notices: string[] } {
  // A preview against a copy of the managed tree (CI), asked for by name (--no-state), never
  // assumed: hand edits are not told from orch's files there, which the flag's help says.
  if (opts.withoutState) return { view: stateViewOf(null), notices: [] };
  const interrupted = interruptedApplyOf(ports);
  const notices = [interrupted?.notice, conversionNotice(ports)].filter((n): n is string => !!n);
  const store: StateStore | null = openStateForReading(ports);
  try {
    const view = stateViewOf(store);
    if (interrupted && store) {
      const inv = effectiveInventory(store.inventory(), interrupted);
      view.inventory = new Map([...inv].map(([path, sha256]) => [path, { sha256 }]));
    }
    return { view, notices };
  } finally {
    store?.close();
  }
}
