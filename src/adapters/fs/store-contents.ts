import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fsyncDir, withPath } from './atomic-write.js';

const CHUNK = 128;

/** Where a content store keeps its files (FileContentStore). */
export interface ContentFiles {
  readonly dir: string;
  has(sha256: string): boolean;
  pathOf(sha256: string): string;
}

/**
 * Stores many contents at once (e.g. a whole rebuilt tree), as durably as FileContentStore.put but
 * cheaper: a chunk of files is written, then fsynced together (the file system can commit them in
 * fewer journal transactions), renamed into place, and the directory is fsynced once at the end.
 * Contents already present are skipped. Returns how many were written.
 */
export function storeContents(store: ContentFiles, contents: ReadonlyMap<string, string>): number {
  const missing = [...contents].filter(([sha]) => !store.has(sha));
  if (missing.length === 0) return 0;
  mkdirSync(store.dir, { recursive: true });
  for (let start = 0; start < missing.length; start += CHUNK) {
    const open: Array<{ fd: number; tmp: string; target: string }> = [];
    try {
      for (const [sha, content] of missing.slice(start, start + CHUNK)) {
        const target = store.pathOf(sha);
        const tmp = join(dirname(target), `.${basename(target)}.${process.pid}.tmp`);
        const fd = openSync(tmp, 'w', 0o600);
        open.push({ fd, tmp, target });
        const buf = Buffer.from(content, 'utf8');
        withPath(tmp, () => {
          for (let off = 0; off < buf.length;) off += writeSync(fd, buf, off, buf.length - off);
        });
      }
      for (const f of open) withPath(f.tmp, () => fsyncSync(f.fd));
    } catch (e) {
      for (const f of open) {
        try {
          closeSync(f.fd);
          unlinkSync(f.tmp);
        } catch {
          /* already gone */
        }
      }
      throw e;
    }
    for (const f of open) {
      closeSync(f.fd);
      renameSync(f.tmp, f.target);
    }
  }
  withPath(store.dir, () => fsyncDir(store.dir));
  return missing.length;
}
