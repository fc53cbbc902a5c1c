// One writer at a time (promise 4): apply, watch, rollback, rebuild-db and migrations take the
// writer lock of a state directory. Implemented by a lock file (src/adapters/fs/writer-lock.ts).

/** Who holds the writer lock; written into the lock file. */
export interface LockHolder {
  pid: number;
  command: string;
  since: string;
  host: string;
  /** Process start time from /proc, to tell a live holder from a recycled pid. */
  startTime: string | null;
}

/** A lock this process holds. */
export interface HeldLock {
  holder: LockHolder;
  release(): void;
}

/** The writer lock of one state directory. */
export interface WriterLocks {
  /**
   * Waits up to `timeoutSeconds` for the lock; rejects with a UserError `lock.held` naming the
   * holder when another writer keeps it.
   */
  acquire(command: string, timeoutSeconds: number): Promise<HeldLock>;
  /** The current holder, or null when the lock is free. */
  holder(): LockHolder | null;
}
