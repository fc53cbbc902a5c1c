import { lstatSync, readFileSync, readlinkSync, type Stats } from 'node:fs';
import { resolve } from 'node:path';

/**
 * Which file system a path lies on, decided without touching anything but local file systems:
 * a file on NFS, SMB, FUSE or sshfs can make even a stat wait forever, so such files are read by
 * a bounded child (bounded-child.ts), the others in process.
 */

/** File systems whose operations answer from this machine's memory or disks. */
const LOCAL_TYPES = new Set([
  'ext2',
  'ext3',
  'ext4',
  'xfs',
  'btrfs',
  'tmpfs',
  'ramfs',
  'overlay',
  'zfs',
  'f2fs',
  'jfs',
  'reiserfs',
  'vfat',
  'exfat',
  'devtmpfs',
  'proc',
  'sysfs',
  'squashfs',
  'iso9660',
]);

interface Mount {
  at: string;
  /** `at` followed by a slash (`/` for the root): what the paths below it start with. */
  below: string;
  local: boolean;
}

/** The mount table is read again when older than this: a long-running daemon sees new mounts. */
const MOUNT_TABLE_TTL_MS = 2000;
let mounts: { table: Mount[]; readAt: number } | null = null;

/** The mount table (mount point, type), longest mount point first; empty when it cannot be read. */
function mountTable(): Mount[] {
  const now = Date.now();
  if (mounts && now - mounts.readAt < MOUNT_TABLE_TTL_MS) return mounts.table;
  const out: Mount[] = [];
  try {
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const fields = line.split(' ');
      const dash = fields.indexOf('-');
      if (dash < 0 || fields[4] === undefined) continue;
      const at = fields[4].replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
      out.push({ at, below: at === '/' ? '/' : `${at}/`, local: LOCAL_TYPES.has(fields[dash + 1] ?? '') });
    }
  } catch {
    // No /proc: every path counts as remote, so every read goes through the child (bounded, only slower).
  }
  // Later mounts on the same point hide earlier ones: keep the last, longest first.
  const table = out.reverse().sort((a, b) => b.at.length - a.at.length);
  mounts = { table, readAt: now };
  return table;
}

/**
 * Whether an absolute path with no symbolic link on it (a real path) lies on a local file system:
 * a look at the mount table only, nothing is touched.
 */
export function isLocalRealPath(real: string): boolean {
  for (const m of mountTable()) if (real.startsWith(m.below) || real === m.at) return m.local;
  return false;
}

/**
 * Whether the path, with every symbolic link on it resolved, lies on a local file system. The
 * links are read one by one, each only once its own directory is known to be local, so no
 * network or FUSE file system is ever touched here. A path that does not exist on a local file
 * system counts as local: reading it says why it cannot be read.
 */
export function isOnLocalFileSystem(file: string): boolean {
  const pending = resolve(file).split('/').filter(Boolean);
  let current = '';
  let links = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === '.') continue;
    if (part === '..') {
      current = current.slice(0, current.lastIndexOf('/'));
      continue;
    }
    const next = `${current}/${part}`;
    if (!isLocalRealPath(next)) return false;
    let st: Stats;
    try {
      st = lstatSync(next);
    } catch {
      return true; // does not exist (or cannot be seen) on a local file system: the local read says why
    }
    if (st.isSymbolicLink()) {
      if (++links > 40) return true; // the local open reports the loop
      const target = readlinkSync(next);
      pending.unshift(...target.split('/').filter(Boolean));
      if (target.startsWith('/')) current = '';
    } else current = next;
  }
  return true;
}
