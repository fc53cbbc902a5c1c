import { createTwoFilesPatch } from 'diff';
import type { FileChange } from './plan-types.js';

/** Unified diff of one file change, `a/` = on disk, `b/` = what apply writes. */
export function unifiedDiff(change: Pick<FileChange, 'path' | 'before' | 'after'>, context = 3): string {
  const oldName = change.before === null ? '/dev/null' : `a/${change.path}`;
  const newName = change.after === null ? '/dev/null' : `b/${change.path}`;
  const patch = createTwoFilesPatch(oldName, newName, change.before ?? '', change.after ?? '', '', '', { context });
  // Drop the "=====" separator line the library puts first; keep ---/+++ and hunks.
  return patch.startsWith('=') ? patch.slice(patch.indexOf('\n') + 1) : patch;
}
