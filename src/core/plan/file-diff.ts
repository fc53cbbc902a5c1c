import { createRequire } from 'node:module';
import type { FileChange } from './plan-types.js';

type DiffModule = typeof import('diff');
let diffModule: DiffModule | null = null;
/** The diff package is loaded on the first diff: a plan without changes never needs it. */
function createTwoFilesPatch(...args: Parameters<DiffModule['createTwoFilesPatch']>): string {
  diffModule ??= createRequire(import.meta.url)('diff') as DiffModule;
  return diffModule.createTwoFilesPatch(...args);
}

/** Unified diff of one file change, `a/` = on disk, `b/` = what apply writes. */
export function unifiedDiff(change: Pick<FileChange, 'path' | 'before' | 'after'>, context = 3): string {
  const oldName = change.before === null ? '/dev/null' : `a/${change.path}`;
  const newName = change.after === null ? '/dev/null' : `b/${change.path}`;
  const patch = createTwoFilesPatch(oldName, newName, change.before ?? '', change.after ?? '', '', '', { context });
  // Drop the "=====" separator line the library puts first; keep ---/+++ and hunks.
  return patch.startsWith('=') ? patch.slice(patch.indexOf('\n') + 1) : patch;
}
