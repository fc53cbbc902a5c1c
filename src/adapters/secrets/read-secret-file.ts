import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { resolve } from 'node:path';
import { runBoundedRead } from '../fs/bounded-child.js';
import { isOnLocalFileSystem } from '../fs/local-file-system.js';

/** Bytes a secret file may hold: a key id or a secret key is a few dozen. */
export const SECRET_FILE_MAX_BYTES = 64 * 1024;

/** How long a secret file on a network or FUSE file system may take to answer. */
export const SECRET_FILE_TIMEOUT_MS = 5000;

/**
 * A secret file's text, or why it cannot be one. `refused`: the path names something that is not
 * a secret file (a FIFO, a device, a directory, a file too large, one that does not answer in
 * time) — an error wherever the plan runs; otherwise the file is missing or unreadable here, which
 * is expected where a plan runs without secrets (CI).
 */
export type SecretFileRead = { text: string } | { problem: string; refused: boolean };

/**
 * Reads a secret file, bounded in size and in time, so that no reference can hang or blow up
 * orch while it holds the writer lock:
 *
 * - on a local file system (ext4, xfs, btrfs, tmpfs, overlay...: the path and every symbolic link
 *   on the way resolved without touching any other file system), the file is opened without
 *   blocking (O_NONBLOCK: a FIFO with no writer does not wait) and checked with fstat before one
 *   byte is read: a FIFO, a socket or a device such as `/dev/zero` is refused at once, a file
 *   larger than SECRET_FILE_MAX_BYTES is never read;
 * - anywhere else (NFS, SMB, FUSE, sshfs...), where even a stat can wait forever, the same checks
 *   and the read run in a child process (`sh` and `head`) bounded in time (fs/bounded-child.ts,
 *   shared with the manifest reader): past `timeoutMs` the read is abandoned and reported; while
 *   that child is stuck (a FUSE read cannot be killed), the file is refused at once, not read again.
 */
export function readSecretFile(file: string, timeoutMs = SECRET_FILE_TIMEOUT_MS): SecretFileRead {
  if (isOnLocalFileSystem(file)) return readLocal(file);
  return readThroughChild(file, timeoutMs);
}

/** The read of a file that is not on a local file system, for any file (tests). */
export const readSecretFileInChild = (file: string, timeoutMs = SECRET_FILE_TIMEOUT_MS): SecretFileRead =>
  readThroughChild(file, timeoutMs);

const noAnswer = (timeoutMs: number): SecretFileRead => ({
  problem: `did not answer within ${timeoutMs / 1000} s (a network or FUSE file system that does not respond?); copy the secret to a local file`,
  refused: true,
});
const stillHanging = (timeoutMs: number): SecretFileRead => ({
  problem: `is not read again: an earlier read of it did not answer within ${timeoutMs / 1000} s and is still hanging (a network or FUSE file system that does not respond?); copy the secret to a local file`,
  refused: true,
});

function readLocal(file: string): SecretFileRead {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    return errnoProblem(e);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return notRegular(kindOf(st));
    if (st.size > SECRET_FILE_MAX_BYTES) return tooLarge(`holds ${st.size} bytes`);
    const buffer = Buffer.alloc(SECRET_FILE_MAX_BYTES + 1);
    let length = 0;
    for (;;) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
      if (length === buffer.length) return tooLarge(`grew past ${SECRET_FILE_MAX_BYTES} bytes while it was read`);
    }
    const text = buffer.subarray(0, length).toString('utf8');
    buffer.fill(0);
    return { text };
  } catch (e) {
    return errnoProblem(e);
  } finally {
    closeSync(fd);
  }
}

const notRegular = (kind: string): SecretFileRead => ({
  problem: `is ${kind}, not a regular file; write the secret into a file`,
  refused: true,
});
const tooLarge = (what: string): SecretFileRead => ({
  problem: `${what}; a secret file may hold at most ${SECRET_FILE_MAX_BYTES}`,
  refused: true,
});

function errnoProblem(e: unknown): SecretFileRead {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return { problem: 'does not exist', refused: false };
  if (code === 'EACCES' || code === 'EPERM') return { problem: 'cannot be read (permission denied)', refused: false };
  if (code === 'EISDIR') return notRegular('a directory');
  if (code === 'ELOOP') return { problem: 'is a symbolic link loop', refused: true };
  if (code === 'EAGAIN' || code === 'EWOULDBLOCK')
    return { problem: 'cannot be opened without waiting (a lease or lock held by another program)', refused: true };
  return { problem: `cannot be read (${code ?? 'error'})`, refused: false };
}

function kindOf(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isDirectory()) return 'a directory';
  return 'not a regular file';
}

// ------------------------------------------------------------------ the child

/**
 * The child: the checks of readLocal done by `sh` (test -p, -c...), then `head` reads at most one
 * byte more than the limit. Exit codes tell the checks apart.
 */
const CHILD_SCRIPT = `f=$1
if [ ! -e "$f" ]; then if [ -L "$f" ]; then exit 20; fi; exit 10; fi
if [ -p "$f" ]; then exit 11; fi
if [ -c "$f" ] || [ -b "$f" ]; then exit 12; fi
if [ -S "$f" ]; then exit 13; fi
if [ -d "$f" ]; then exit 14; fi
if [ ! -f "$f" ]; then exit 15; fi
exec head -c ${SECRET_FILE_MAX_BYTES + 1} -- "$f"`;

function readThroughChild(file: string, timeoutMs: number): SecretFileRead {
  const key = `secret-file:${resolve(file)}`;
  const answer = runBoundedRead(key, '/bin/sh', ['-c', CHILD_SCRIPT, 'orch-secret', file], timeoutMs, SECRET_FILE_MAX_BYTES);
  if (answer.status === 'hanging') return stillHanging(timeoutMs);
  if (answer.status === 'timeout') return noAnswer(timeoutMs);
  if (answer.status === 'spawn') return { problem: `cannot be read (${answer.detail})`, refused: false };
  const bytes = answer.stdout;
  try {
    switch (answer.code) {
      case 0:
        if (bytes.length > SECRET_FILE_MAX_BYTES) return tooLarge('holds more bytes than that');
        return { text: bytes.toString('utf8') };
      case 10:
        return { problem: 'does not exist', refused: false };
      case 20:
        return { problem: 'is a symbolic link to nothing', refused: false };
      case 11:
        return notRegular('a FIFO (named pipe)');
      case 12:
        return notRegular('a device');
      case 13:
        return notRegular('a socket');
      case 14:
        return notRegular('a directory');
      case 15:
        return notRegular('not a regular file');
      default:
        return /permission denied/i.test(answer.stderr)
          ? { problem: 'cannot be read (permission denied)', refused: false }
          : { problem: 'cannot be read', refused: false };
    }
  } finally {
    bytes.fill(0);
  }
}
