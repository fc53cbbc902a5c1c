import { spawnSync } from 'node:child_process';

/**
 * renameat2(2) with RENAME_EXCHANGE: swaps two paths atomically (here: a real directory and a
 * symlink, which rename(2) cannot replace one with the other). Node has no binding for it; perl
 * (Essential on Debian and Ubuntu) makes the system call. Returns false when it is not available
 * (no perl, an architecture whose number is not known here, a kernel or file system without
 * RENAME_EXCHANGE): the caller then falls back to two renames. Throws Node-like errors (`code`,
 * `path`) for anything else (EACCES, EROFS, ENOSPC ...).
 */
const RENAMEAT2: Partial<Record<NodeJS.Architecture, number>> = {
  x64: 316,
  arm64: 276,
  riscv64: 276,
  loong64: 276,
  ia32: 353,
  arm: 382,
  ppc64: 357,
  s390x: 347,
};

const AT_FDCWD = -100;
const RENAME_EXCHANGE = 2;

// Exit 0: done; exit 3: the errno name follows on stderr.
const SCRIPT = `my $r = syscall($ARGV[0], ${AT_FDCWD}, $ARGV[1], ${AT_FDCWD}, $ARGV[2], ${RENAME_EXCHANGE});
if ($r == 0) { exit 0 } my $n = $! + 0; print STDERR "$n\\n"; exit 3;`;

const ERRNO: Record<number, string> = {
  1: 'EPERM',
  2: 'ENOENT',
  5: 'EIO',
  13: 'EACCES',
  16: 'EBUSY',
  17: 'EEXIST',
  18: 'EXDEV',
  20: 'ENOTDIR',
  21: 'EISDIR',
  22: 'EINVAL',
  28: 'ENOSPC',
  30: 'EROFS',
  38: 'ENOSYS',
  95: 'EOPNOTSUPP',
};

export function exchangePaths(a: string, b: string): boolean {
  const nr = RENAMEAT2[process.arch];
  if (nr === undefined) return false;
  const r = spawnSync('perl', ['-e', SCRIPT, String(nr), a, b], { encoding: 'utf8', timeout: 10_000 });
  if (r.error) return false; // no perl
  if (r.status === 0) return true;
  const errno = Number(r.stderr.trim());
  const code = ERRNO[errno] ?? `errno ${errno}`;
  if (code === 'ENOSYS' || code === 'EINVAL' || code === 'EOPNOTSUPP' || r.status !== 3) return false;
  const e = new Error(`${code}: cannot exchange ${a} and ${b}`) as NodeJS.ErrnoException;
  e.code = code;
  e.path = b;
  throw e;
}
