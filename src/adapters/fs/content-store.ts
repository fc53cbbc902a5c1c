import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic-write.js';
import { storeContents } from './store-contents.js';
import type { ContentStore } from '../../ports/content-store.js';

/**
 * Content-addressed store of every file content orch wrote or replaced (`<stateDir>/objects/<sha256>`).
 * It keeps the last K generations' files for `orch rollback`, and gives crash recovery both the old
 * and the new content of every file a journal touches.
 */
export class FileContentStore implements ContentStore {
  readonly dir: string;
  constructor(stateDir: string) {
    this.dir = join(stateDir, 'objects');
  }

  pathOf(sha256: string): string {
    return join(this.dir, sha256);
  }

  has(sha256: string): boolean {
    return existsSync(this.pathOf(sha256));
  }

  /** Stores content under its hash (fsynced); a no-op when already present. */
  put(sha256: string, content: string): void {
    if (this.has(sha256)) return;
    writeFileAtomic(this.pathOf(sha256), content, { mode: 0o600 });
  }

  putMany(contents: ReadonlyMap<string, string>): number {
    return storeContents(this, contents);
  }

  get(sha256: string): string | null {
    try {
      return readFileSync(this.pathOf(sha256), 'utf8');
    } catch {
      return null;
    }
  }

  remove(sha256: string): void {
    if (/^[0-9a-f]{64}$/.test(sha256)) rmSync(this.pathOf(sha256), { force: true });
  }

  /** Removes every stored content not in `keep`. */
  collectGarbage(keep: ReadonlySet<string>): number {
    let removed = 0;
    let names: string[];
    try {
      names = readdirSync(this.dir);
    } catch {
      return 0;
    }
    for (const name of names) {
      if (!/^[0-9a-f]{64}$/.test(name) || keep.has(name)) continue;
      rmSync(join(this.dir, name), { force: true });
      removed++;
    }
    return removed;
  }
}
