import { ExitCode, UserError } from '../errors.js';

/**
 * A write the file system refused: no space (ENOSPC, EDQUOT), no permission (EACCES, EPERM), a
 * read-only mount (EROFS), an I/O error (EIO). Not a bug of orch: the operator frees space or fixes
 * permissions and runs the command again. The adapters throw Node's errors (`code`, `path`) or,
 * for the database, errors carrying an equivalent `code` and the database's `path`; this module
 * recognizes them (pure: it only reads those two fields) and words the user error.
 */
export type StorageProblem = 'full' | 'denied' | 'read-only' | 'io';

export interface StorageFailure {
  problem: StorageProblem;
  /** The errno name (ENOSPC, EACCES ...). */
  code: string;
  /** The path the refused operation named, when known. */
  path: string | null;
}

const PROBLEMS: Record<string, StorageProblem> = {
  ENOSPC: 'full',
  EDQUOT: 'full',
  EFBIG: 'full',
  EACCES: 'denied',
  EPERM: 'denied',
  EROFS: 'read-only',
  EIO: 'io',
};

/** The storage failure an error is (looking through `cause`), or null when it is something else. */
export function storageFailureOf(e: unknown): StorageFailure | null {
  for (let cur: unknown = e, depth = 0; cur && typeof cur === 'object' && depth < 5; depth++) {
    const err = cur as { code?: unknown; path?: unknown; cause?: unknown };
    if (err instanceof StorageError) return err.failure;
    if (typeof err.code === 'string' && PROBLEMS[err.code]) {
      return { problem: PROBLEMS[err.code]!, code: err.code, path: typeof err.path === 'string' ? err.path : null };
    }
    cur = err.cause;
  }
  return null;
}

export interface StorageContext {
  /** What orch was doing, e.g. `writing generation 12 into /etc/nginx/orch`. */
  doing: string;
  /** What this means for nginx, e.g. `Nothing live changed: nginx serves generation 11, as before.` */
  outcome: string;
  /** Which directory the operator must free or fix (the failing path's directory by default). */
  dir?: string;
}

/** The one error every refused write ends as: which path, what to free or fix, what is live. */
export class StorageError extends UserError {
  readonly failure: StorageFailure;
  constructor(failure: StorageFailure, ctx: StorageContext) {
    const where = failure.path ?? ctx.dir ?? 'a file';
    const dir = ctx.dir ?? (failure.path ? parentOf(failure.path) : null);
    const what: Record<StorageProblem, string> = {
      'full': `No space left on the file system holding ${where} (${failure.code})`,
      'denied': `Permission denied on ${where} (${failure.code})`,
      'read-only': `${where} is on a read-only file system (${failure.code})`,
      'io': `An I/O error on ${where} (${failure.code})`,
    };
    const hints: Record<StorageProblem, string> = {
      'full': `Free space on the file system holding ${dir ?? where} (see: df -h ${dir ?? where}; old generations and backups are pruned by orch itself), then run the command again.`,
      'denied': `orch must be able to write ${dir ?? where}: check its owner and mode (ls -ld ${dir ?? where}), run orch as the user that owns it (or as root), and, under systemd, the unit's ReadWritePaths. Then run the command again.`,
      'read-only': `Remount ${dir ?? where} read-write (or point nginxDir / stateDir at a writable directory), then run the command again.`,
      'io': `Check the disk holding ${dir ?? where} (dmesg), then run the command again.`,
    };
    super(`storage.${failure.problem}`, `${what[failure.problem]} while ${ctx.doing}. ${ctx.outcome}`, {
      hint: hints[failure.problem],
      exitCode: ExitCode.error,
    });
    this.failure = failure;
  }
}

/** Wraps a storage failure into a StorageError (other errors, and StorageErrors, are returned as they are). */
export function asStorageError(e: unknown, ctx: StorageContext): unknown {
  if (e instanceof StorageError) return e;
  const f = storageFailureOf(e);
  return f ? new StorageError(f, ctx) : e;
}

function parentOf(path: string): string {
  const i = path.replace(/\/+$/, '').lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}
