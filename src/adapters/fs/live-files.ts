import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fsyncDir } from './atomic-write.js';
import type { ContentStore } from '../../ports/content-store.js';
import { sha256 } from '../../domain/plan/make-plan.js';
import type { JournalOp } from '../../domain/apply/journal.js';

const TMP_SUFFIX = '.orch-tmp';

/** Temporary name beside the target: never `*.conf`, so nginx's include globs never pick it up. */
export function tmpNameFor(path: string): string {
  return join(dirname(path), `.${basename(path)}${TMP_SUFFIX}`);
}

/** Writes a file in the live directory: temp file, fsync, rename over the target. */
export function replaceFile(nginxDir: string, rel: string, content: string): void {
  const target = join(nginxDir, rel);
  mkdirSync(dirname(target), { recursive: true });
  const tmp = tmpNameFor(target);
  const fd = openSync(tmp, 'w', 0o644);
  try {
    const buf = Buffer.from(content, 'utf8');
    let off = 0;
    while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, target);
}

export function removeFile(nginxDir: string, rel: string): void {
  try {
    unlinkSync(join(nginxDir, rel));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}

export function liveSha(nginxDir: string, rel: string): string | null {
  try {
    return sha256(readFileSync(join(nginxDir, rel), 'utf8'));
  } catch {
    return null;
  }
}

export function fsyncManagedDirs(nginxDir: string, ops: readonly JournalOp[]): void {
  const dirs = new Set(ops.map((op) => dirname(join(nginxDir, op.path))));
  for (const d of dirs) {
    try {
      fsyncDir(d);
    } catch {
      /* directory removed or not created: nothing to make durable */
    }
  }
}

/** Removes temp files a crashed writer may have left in pools/ and vhosts/. */
export function removeLeftoverTemps(nginxDir: string): void {
  for (const sub of ['pools', 'vhosts']) {
    let names: string[];
    try {
      names = readdirSync(join(nginxDir, sub));
    } catch {
      continue;
    }
    for (const n of names) if (n.endsWith(TMP_SUFFIX)) rmSync(join(nginxDir, sub, n), { force: true });
  }
}

/** Puts every file a journal touched back to its previous content (by rename), newest op first. */
export function restorePrevious(nginxDir: string, ops: readonly JournalOp[], contents: ContentStore): void {
  for (const op of [...ops].reverse()) {
    const current = liveSha(nginxDir, op.path);
    if (current === op.beforeSha256) continue;
    if (op.beforeSha256 === null) {
      removeFile(nginxDir, op.path);
      continue;
    }
    const previous = contents.get(op.beforeSha256);
    if (previous === null) throw new Error(`previous content of ${op.path} (${op.beforeSha256}) is missing from the content store`);
    replaceFile(nginxDir, op.path, previous);
  }
  removeLeftoverTemps(nginxDir);
  fsyncManagedDirs(nginxDir, ops);
}

/** Makes every file a journal touched hold its new content. */
export function completeOps(nginxDir: string, ops: readonly JournalOp[], contents: ContentStore): void {
  for (const op of ops) {
    const current = liveSha(nginxDir, op.path);
    if (current === op.afterSha256) continue;
    if (op.afterSha256 === null) {
      removeFile(nginxDir, op.path);
      continue;
    }
    const next = contents.get(op.afterSha256);
    if (next === null) throw new Error(`new content of ${op.path} (${op.afterSha256}) is missing from the content store`);
    replaceFile(nginxDir, op.path, next);
  }
  removeLeftoverTemps(nginxDir);
  fsyncManagedDirs(nginxDir, ops);
}
