import { chmodSync, readdirSync, readFileSync } from 'node:fs';
import type { TextFiles } from '../../ports/text-files.js';
import { writeFileAtomic } from './atomic-write.js';

function missing(e: unknown): boolean {
  return (e as NodeJS.ErrnoException).code === 'ENOENT';
}

/** Text files on the local filesystem. */
export const localTextFiles: TextFiles = {
  read(path) {
    try {
      return readFileSync(path, 'utf8');
    } catch (e) {
      if (missing(e)) return null;
      throw e;
    }
  },
  write(path, content, opts = {}) {
    writeFileAtomic(path, content, opts.mode === undefined ? {} : { mode: opts.mode });
    // The mode given at creation is reduced by the umask: set it as asked.
    if (opts.mode !== undefined) chmodSync(path, opts.mode);
  },
  entries(dir) {
    try {
      return readdirSync(dir);
    } catch (e) {
      if (missing(e)) return null;
      throw e;
    }
  },
};
