import { closeSync, constants, fstatSync, openSync, readSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { WatchSuspension, WatchSuspensionStore } from '../../ports/watch-suspension.js';
import { writeFileAtomic } from './atomic-write.js';

/** The suspension record of a state directory: `<stateDir>/watch-suspended.json`. */
export const SUSPENSION_FILE = 'watch-suspended.json';
const MAX_BYTES = 64 * 1024;

export function fileWatchSuspension(stateDir: string): WatchSuspensionStore {
  const path = join(stateDir, SUSPENSION_FILE);
  return {
    read() {
      let text: string;
      try {
        text = readBounded(path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
        return damaged(`${path} cannot be read (${(e as Error).message})`);
      }
      try {
        const v = JSON.parse(text) as Partial<WatchSuspension>;
        if (typeof v.since !== 'string' || typeof v.by !== 'string' || (v.reason !== null && typeof v.reason !== 'string'))
          return damaged(`${path} is not a suspension record`);
        return { since: v.since, by: v.by, reason: v.reason ?? null };
      } catch {
        return damaged(`${path} is not JSON`);
      }
    },
    suspend(s) {
      writeFileAtomic(path, `${JSON.stringify(s, null, 2)}\n`, { mode: 0o644 });
    },
    resume() {
      try {
        rmSync(path);
        return true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw e;
      }
    },
  };
}

function damaged(why: string): WatchSuspension {
  return { since: new Date(0).toISOString(), by: 'unknown', reason: `${why}; run 'orch resume' to end it` };
}

/** A regular file of at most MAX_BYTES, opened without blocking (never a FIFO that waits for a writer). */
function readBounded(path: string): string {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error('not a regular file');
    if (st.size > MAX_BYTES) throw new Error(`larger than ${MAX_BYTES} bytes`);
    const buf = Buffer.alloc(st.size);
    let off = 0;
    while (off < buf.length) {
      const n = readSync(fd, buf, off, buf.length - off, off);
      if (n === 0) break;
      off += n;
    }
    return buf.toString('utf8', 0, off);
  } finally {
    closeSync(fd);
  }
}
