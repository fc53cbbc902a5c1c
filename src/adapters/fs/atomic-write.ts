import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, writeSync, unlinkSync } from 'node:fs';
import { dirname, basename, join } from 'node:path';

/**
 * Runs `f`, and names `path` in any error it throws that names none (Node's write and fsync errors
 * on a file descriptor say "ENOSPC: no space left on device, write" without the file): the user
 * error that reports a full or read-only file system must say which one.
 */
export function withPath<T>(path: string, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e && typeof e === 'object' && typeof (e as NodeJS.ErrnoException).code === 'string' && !(e as NodeJS.ErrnoException).path)
      (e as NodeJS.ErrnoException).path = path;
    throw e;
  }
}

/** fsyncs a directory so a rename or unlink inside it is durable. */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes `content` to `path` through a unique temporary name in the same directory, renamed into
 * place: a reader sees the old file or the new one, never a part. Durable by default (fsync of the
 * file and of the directory); `durable: false` skips both, for caches, where a write lost in a
 * crash only costs the next run some time. The temporary file never outlives a failure.
 */
export function writeFileAtomic(path: string, content: string | Buffer, opts: { mode?: number; durable?: boolean } = {}): void {
  const durable = opts.durable ?? true;
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  const fd = openSync(tmp, 'w', opts.mode ?? 0o644);
  try {
    try {
      const buf = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
      let off = 0;
      withPath(tmp, () => {
        while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
        if (durable) fsyncSync(fd);
      });
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw e;
  }
  if (durable) withPath(dir, () => fsyncDir(dir));
}
