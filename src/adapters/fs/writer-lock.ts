import { closeSync, mkdirSync, openSync, readFileSync, rmdirSync, statSync, unlinkSync, writeSync, fsyncSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { LockHeldError } from '../../domain/errors.js';
import { withPath } from './atomic-write.js';

import type { HeldLock, LockHolder, WriterLocks } from '../../ports/writer-lock.js';

const POLL_MS = 100;
const TAKEOVER_STALE_MS = 10_000;

/**
 * One writer at a time: an exclusive lock file in the state directory, created with O_EXCL. A lock
 * whose holder process is dead (or whose pid was recycled) is taken over safely: a takeover
 * directory (mkdir is atomic) serializes concurrent takeovers, and the stale holder is re-checked
 * inside it before the file is removed.
 */
export async function acquireWriterLock(
  stateDir: string,
  command: string,
  timeoutSeconds: number,
  fileName = 'orch.lock',
): Promise<HeldLock> {
  mkdirSync(stateDir, { recursive: true });
  const path = join(stateDir, fileName);
  const me: LockHolder = {
    pid: process.pid,
    command,
    since: new Date().toISOString(),
    host: hostname(),
    startTime: processStartTime(process.pid),
  };
  const deadline = Date.now() + timeoutSeconds * 1000;
  let lastHolder: LockHolder | null = null;
  for (;;) {
    if (tryCreate(path, me)) {
      let released = false;
      return {
        holder: me,
        release() {
          if (released) return;
          released = true;
          const current = readHolder(path);
          if (current && current.pid === me.pid && current.since === me.since) unlinkQuiet(path);
        },
      };
    }
    const holder = readHolder(path);
    if (holder && !isAlive(holder)) {
      takeOverStale(path, holder);
      continue;
    }
    if (holder) lastHolder = holder;
    if (Date.now() >= deadline) {
      const h = lastHolder;
      throw new LockHeldError(
        h
          ? `Another orch writer holds the lock: pid ${h.pid} (${h.command}) on ${h.host}, since ${h.since}.`
          : `Another orch writer holds the lock ${path}.`,
        h,
        {
          hint: `Wait for it to finish, or wait longer (waited ${timeoutSeconds}s): --lock-timeout SECONDS on apply, rollback, rebuild-db and buckets purge-orphans, or ORCH_LOCK_TIMEOUT=SECONDS for any command. If that process is gone, orch takes the lock over by itself.`,
        },
      );
    }
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

/** Reads the current holder without taking the lock (for `orch status`). */
export function readLockHolder(stateDir: string, fileName = 'orch.lock'): LockHolder | null {
  const h = readHolder(join(stateDir, fileName));
  return h && isAlive(h) ? h : null;
}

function tryCreate(path: string, me: LockHolder): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o644);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw e;
  }
  try {
    withPath(path, () => {
      writeSync(fd, `${JSON.stringify(me)}\n`);
      fsyncSync(fd);
    });
  } catch (e) {
    // A full state directory: the file was created, its content could not be written. Leave no
    // empty lock behind (every later writer would wait on it).
    closeSync(fd);
    unlinkQuiet(path);
    throw e;
  }
  closeSync(fd);
  return true;
}

function readHolder(path: string): LockHolder | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return null;
  }
  try {
    return JSON.parse(text) as LockHolder;
  } catch {
    // Being written right now (created, not yet filled) or garbage from a crash. Treat a file that
    // stays unreadable for a while as stale.
    try {
      const age = Date.now() - statSync(path).mtimeMs;
      return age > TAKEOVER_STALE_MS
        ? { pid: -1, command: 'unknown', since: '', host: '', startTime: null }
        : { pid: 0, command: 'starting', since: '', host: hostname(), startTime: null };
    } catch {
      return null;
    }
  }
}

function isAlive(h: LockHolder): boolean {
  if (h.pid === 0) return true; // a writer that is creating the file
  if (h.pid < 0) return false;
  if (h.host && h.host !== hostname()) return true; // cannot check another host: assume alive
  try {
    process.kill(h.pid, 0);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
  }
  // A killed holder whose parent has not reaped it yet (a zombie) still answers kill(pid, 0), but
  // it is dead and will never release the lock: without this check every writer waited for the
  // parent (a supervisor, a shell, a container's init) to reap it, or timed out.
  if (isZombie(h.pid)) return false;
  const start = processStartTime(h.pid);
  return !(h.startTime && start && start !== h.startTime);
}

function takeOverStale(path: string, stale: LockHolder): void {
  const takeover = `${path}.takeover`;
  try {
    mkdirSync(takeover);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    try {
      if (Date.now() - statSync(takeover).mtimeMs > TAKEOVER_STALE_MS) rmdirSync(takeover);
    } catch {
      /* someone else cleaned it */
    }
    return;
  }
  try {
    const again = readHolder(path);
    if (again && again.pid === stale.pid && again.since === stale.since && !isAlive(again)) unlinkQuiet(path);
  } finally {
    rmdirSync(takeover);
  }
}

function unlinkQuiet(path: string): void {
  try {
    unlinkSync(path);
  } catch {
    /* already gone */
  }
}

/** Process state from /proc (field 3): Z (zombie) or X (dead) means the process has exited. */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    return state === 'Z' || state === 'X';
  } catch {
    return false;
  }
}

function processStartTime(pid: number): string | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22 (starttime), counted after the parenthesised command name which may hold spaces.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return rest[19] ?? null;
  } catch {
    return null;
  }
}

/** The writer lock of `stateDir` (`orch.lock`, or `fileName`). */
export function fileWriterLocks(stateDir: string, fileName = 'orch.lock'): WriterLocks {
  return {
    acquire: (command, timeoutSeconds) => acquireWriterLock(stateDir, command, timeoutSeconds, fileName),
    holder: () => readLockHolder(stateDir, fileName),
  };
}
