import type { MigrationProgress } from './migration-record.js';

// A migration's progress figures (objects and bytes copied, in sync, rate, ETA) as a pass moves on.

/** Progress at the start of a pass's copies, from its diff. */
export function progressAtPassStart(
  progress: MigrationProgress,
  diff: { sourceObjects: number; sourceBytes: number; inSyncObjects: number; inSyncBytes: number },
): MigrationProgress {
  return {
    ...progress,
    pass: progress.pass + 1,
    objectsTotal: diff.sourceObjects,
    bytesTotal: diff.sourceBytes,
    objectsInSync: diff.inSyncObjects,
    bytesInSync: diff.inSyncBytes,
  };
}

/** Where a pass's copies started: what was copied before it, when, and how many bytes it has to copy. */
export interface PassStart {
  at: number;
  bytes: number;
  objects: number;
  toCopyBytes: number;
}

/** Progress while a pass copies: `copied` so far in this pass, at `now`. */
export function progressWhileCopying(
  progress: MigrationProgress,
  start: PassStart,
  copied: { objects: number; bytes: number },
  now: number,
): MigrationProgress {
  const next = { ...progress };
  const elapsed = (now - start.at) / 1000;
  if (elapsed > 0.5) next.rateBytesPerSecond = Math.round(copied.bytes / elapsed);
  const rate = next.rateBytesPerSecond;
  next.etaSeconds = rate && rate > 0 ? Math.max(0, Math.round((start.toCopyBytes - copied.bytes) / rate)) : null;
  next.objectsCopied = start.objects + copied.objects;
  next.bytesCopied = start.bytes + copied.bytes;
  return next;
}

/** Progress after a pass's copies and deletions. */
export function progressAfterPass(
  progress: MigrationProgress,
  start: PassStart,
  r: {
    copied: { objects: number; bytes: number };
    inSyncObjects: number;
    toCopy: number;
    copyFailures: number;
    toDelete: number;
    deleteFailures: number;
  },
): MigrationProgress {
  return {
    ...progress,
    objectsCopied: start.objects + r.copied.objects,
    bytesCopied: start.bytes + r.copied.bytes,
    objectsDeleted: progress.objectsDeleted + r.toDelete - r.deleteFailures,
    objectsInSync: r.inSyncObjects + (r.toCopy - r.copyFailures),
    etaSeconds: null,
  };
}
