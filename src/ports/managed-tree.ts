// The managed nginx directory (pools/, vhosts/) as the apply engine sees it: read the live tree,
// stage a complete new tree for `nginx -t`, promote files one by one (atomically), restore them.
// Implemented on the filesystem (src/adapters/fs/managed-tree.ts).
import type { JournalOp } from '../domain/apply/journal.js';
import type { ObservedTree } from '../domain/plan/make-plan.js';
import type { ContentStore } from './content-store.js';

export interface StagedFile {
  path: string;
  content: string;
  sha256: string;
  /** The live file holds exactly this content: the staging may link it instead of writing it again. */
  unchanged: boolean;
}

/** A complete tree staged for `nginx -t`, under a wrapper configuration of its own. */
export interface StagedTree {
  /** Where the staged files are, mirroring the managed directory (nginx's messages name them). */
  treeDir: string;
  /** The wrapper nginx.conf that includes exactly the staged files. */
  conf: string;
  /** The nginx prefix for the test (-p). */
  prefix: string;
  errorLog: string;
}

export interface ManagedTree {
  /** The managed directory (nginx's messages name its files). */
  readonly dir: string;
  /** Whether the managed directory exists (as a directory). */
  exists(): boolean;
  /** Every `*.conf` and `*.meta.json` of pools/ and vhosts/, with whether it carries orch's marker. */
  read(): ObservedTree;
  /** The sha256 of a live file, or null when it does not exist. */
  liveSha(path: string): string | null;
  /** The content of a live file, or null when it does not exist. */
  readLive(path: string): string | null;
  /** Stages the complete new tree (replacing any earlier staging). */
  stage(files: readonly StagedFile[]): StagedTree;
  unstage(): void;
  /** Replaces a live file atomically (temp file, fsync, rename). */
  write(path: string, content: string): void;
  /** Removes a live file (missing is fine). */
  remove(path: string): void;
  /** Makes the renames and deletions of these ops durable (fsync of their directories). */
  sync(ops: readonly JournalOp[]): void;
  /** Puts every file the ops touched back to its previous content, newest op first. */
  restorePrevious(ops: readonly JournalOp[], contents: ContentStore): void;
  /** Makes every file the ops touched hold its new content. */
  completeOps(ops: readonly JournalOp[], contents: ContentStore): void;
  /** Removes temp files a crashed writer may have left. */
  removeLeftoverTemps(): void;
}
