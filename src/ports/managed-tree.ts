// The managed nginx directory as the apply engine sees it: the live tree (one generation, reached
// through pools/ -> current/pools and vhosts/ -> current/vhosts), new generations built beside it,
// and the one rename that switches `current`. Implemented on the filesystem
// (src/adapters/fs/managed-tree.ts, src/adapters/fs/generations.ts).
import type { JournalOp } from '../domain/apply/journal.js';
import type { ObservedTree } from '../domain/plan/make-plan.js';
import type { ContentStore } from './content-store.js';

export type TreeLayout =
  /** Nothing yet (a fresh install): no pools/, vhosts/ or current. */
  | { kind: 'empty' }
  /** Real pools/ and vhosts/ directories (orch before generations, or a tree to adopt). */
  | { kind: 'legacy' }
  | { kind: 'generations'; current: number }
  /** A conversion was interrupted: `current` exists, pools/ or vhosts/ is still a real directory (same content). */
  | { kind: 'converting'; current: number }
  /** Something else stands at pools/, vhosts/ or current: orch does not touch it. */
  | { kind: 'unexpected'; detail: string };

export interface BuiltGeneration {
  n: number;
  /** Its directory (holding pools/ and vhosts/); nginx's messages about the new files name it. */
  dir: string;
  written: number;
  linked: number;
}

export interface ManagedTree {
  /** The managed directory (nginx's messages name its files). */
  readonly dir: string;
  /** Whether the managed directory exists (as a directory). */
  exists(): boolean;
  /** Every `*.conf` and `*.meta.json` of the live pools/ and vhosts/, with whether it carries orch's marker. */
  read(): ObservedTree;
  /** The content of a live file, or null when it does not exist. */
  readLive(path: string): string | null;
  /** The sha256 of a live file, or null when it does not exist. */
  liveSha(path: string): string | null;
  layout(): TreeLayout;
  /** The complete generation directories on disk, ascending. */
  generations(): number[];
  /**
   * Builds generation `n`, not live: every live entry linked except `deletes` and `writes` (written).
   * Durable when it returns; on failure nothing of it is left.
   */
  build(n: number, writes: ReadonlyMap<string, string>, deletes: ReadonlySet<string>): BuiltGeneration;
  /** Removes a generation that is not live (never the live one). */
  discard(n: number): void;
  /** Turns real pools/ and vhosts/ into the generation layout, same content, as generation `g0`. */
  convert(g0: number): { atomic: boolean };
  /** Prepares the links that make switching (and switching back) one rename each. */
  prepareSwitch(next: number, previous: number): void;
  /** `current` names generation `n`: one rename(2). */
  switchTo(n: number): void;
  removeSwitchLinks(): void;
  /** Removes generation directories not in `keep` (never the live one); returns their numbers. */
  prune(keep: ReadonlySet<number>): number[];
  /** What a dead writer left and nobody uses (only when there is no journal); returns what was removed. */
  removeLeftovers(): string[];
  // A version-1 journal (orch before generations, file-by-file promotion) is recovered in place:
  /** Puts every file the ops touched back to its previous content, newest op first. */
  restorePrevious(ops: readonly JournalOp[], contents: ContentStore): void;
  /** Makes every file the ops touched hold its new content. */
  completeOps(ops: readonly JournalOp[], contents: ContentStore): void;
  /** Removes the temp files of a version-1 promotion. */
  removeLeftoverTemps(): void;
}
