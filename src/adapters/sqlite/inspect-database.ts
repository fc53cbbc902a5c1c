import { accessSync, closeSync, constants, existsSync, openSync, readdirSync, readFileSync, readSync, statfsSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import type { BackupInfo, DatabaseCondition } from '../../ports/state-store.js';
import { SCHEMA_STEPS } from './schema-steps.js';

/**
 * Reading a database without writing anything, and telling what is wrong with one.
 *
 * SQLite opens a WAL-mode database read-only only through its `-shm` and `-wal` files, and creates
 * them when they are missing (and cannot remove them on close). When there is no `-wal` (no writer
 * has the database open, and the last one checkpointed it), the file alone is the whole database:
 * it is read into memory and opened there (its header's WAL bytes set to the rollback journal's,
 * which SQLite needs for a deserialized database), so nothing is created. With a `-wal` (a writer
 * is at work), the files exist already and the usual read-only open adds nothing.
 */
const IN_MEMORY_LIMIT = 512 * 1024 * 1024;
const HEADER = Buffer.from('SQLite format 3\0', 'latin1');

/**
 * Whether the database file alone is the whole database: no -wal, or an empty one (a read-only
 * connection of another program leaves an empty -wal behind; a writer's holds frames).
 */
export function walIsEmpty(path: string): boolean {
  try {
    return statSync(`${path}-wal`).size === 0;
  } catch {
    return true;
  }
}

export function openReadOnlyDatabase(path: string): Database.Database {
  if (walIsEmpty(path)) {
    const size = statSync(path).size;
    if (size <= IN_MEMORY_LIMIT) {
      const buf = readFileSync(path);
      // A writer may have written meanwhile (frames in its -wal): then read the files.
      if (walIsEmpty(path)) {
        if (buf.length >= 20 && buf.subarray(0, 16).equals(HEADER)) {
          buf[18] = 1;
          buf[19] = 1;
        }
        return new Database(buf, { readonly: true });
      }
    }
  }
  return new Database(path, { readonly: true, fileMustExist: true });
}

const REQUIRED_TABLES = ['generations', 'inventory', 'meta', 'generation_files', 'audit_log'];

/**
 * What is at `path`, without writing anything. `deep` also runs SQLite's quick_check (reads every
 * page); without it, a database whose header and schema read fine counts as usable, and opening
 * it (which checks) reports any corruption.
 */
export function inspectDatabase(path: string, opts: { deep?: boolean } = {}): DatabaseCondition {
  let size: number;
  try {
    const st = statSync(path);
    if (st.isDirectory()) return { kind: 'not-sqlite' };
    size = st.size;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code ?? 'EIO';
    return code === 'ENOENT' ? { kind: 'missing' } : { kind: 'unreadable', code };
  }
  if (size === 0) return { kind: 'zero-bytes' };
  let head: Buffer;
  try {
    head = readHead(path, 100);
  } catch (e) {
    return { kind: 'unreadable', code: (e as NodeJS.ErrnoException).code ?? 'EIO' };
  }
  if (head.length < 16 || !head.subarray(0, 16).equals(HEADER)) return { kind: 'not-sqlite' };
  if (head.length < 100) return { kind: 'truncated', size, expected: 100 };
  const rawPageSize = head.readUInt16BE(16);
  const pageSize = rawPageSize === 1 ? 65536 : rawPageSize;
  const pages = head.readUInt32BE(28);
  const sizeValid = head.readUInt32BE(24) === head.readUInt32BE(92);
  // With frames in a -wal, a writer may be checkpointing (page 1 first, the file grown after): no verdict then.
  const quiet = walIsEmpty(path);
  const short = pageSize >= 512 && (size % pageSize !== 0 || (sizeValid && pages > 0 && size < pages * pageSize));
  const truncated: DatabaseCondition = {
    kind: 'truncated',
    size,
    expected: sizeValid ? pages * pageSize : Math.ceil(size / pageSize) * pageSize,
  };
  if (quiet && short) return truncated;

  let db: Database.Database;
  try {
    db = openReadOnlyDatabase(path);
  } catch (e) {
    // Frames in a -wal hid the size check: a file shorter than its header says that SQLite
    // cannot read is truncated, not "corrupt".
    const condition = conditionOfError(e);
    return condition.kind === 'corrupt' && short ? truncated : condition;
  }
  try {
    if (opts.deep) {
      const check = db.pragma('quick_check', { simple: true });
      if (check !== 'ok') return { kind: 'corrupt', detail: String(check) };
    }
    const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all() as Array<{ name: string }>).map(
      (r) => r.name,
    );
    const missing = REQUIRED_TABLES.filter((t) => !tables.includes(t));
    if (missing.length > 0) {
      return {
        kind: 'foreign',
        detail:
          tables.length === 0
            ? 'it holds no table'
            : `it has no ${missing.join(', ')} table (its tables: ${tables.slice(0, 5).join(', ')}${tables.length > 5 ? ', ...' : ''})`,
      };
    }
    const schema = db.pragma('user_version', { simple: true }) as number;
    if (schema > SCHEMA_STEPS.length) return { kind: 'too-new', schema, known: SCHEMA_STEPS.length };
    const row = db.prepare('SELECT MAX(number) AS n FROM generations').get() as { n: number | null };
    return { kind: 'usable', generation: row.n };
  } catch (e) {
    const condition = conditionOfError(e);
    return condition.kind === 'corrupt' && short ? truncated : condition;
  } finally {
    db.close();
  }
}

function conditionOfError(e: unknown): DatabaseCondition {
  const code = (e as { code?: string }).code ?? '';
  const message = e instanceof Error ? e.message : String(e);
  if (code === 'SQLITE_NOTADB') return { kind: 'not-sqlite' };
  if (code.startsWith('SQLITE_CANTOPEN') || code === 'EACCES' || code === 'EPERM') return { kind: 'unreadable', code: code || 'EACCES' };
  return { kind: 'corrupt', detail: message };
}

function readHead(path: string, n: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(n);
    const read = readSync(fd, buf, 0, n, 0);
    return buf.subarray(0, read);
  } finally {
    closeSync(fd);
  }
}

/** The rotated backups of the database at `path` (`<path>.bak`, `.bak.2`, ...), newest first. */
export function listBackups(path: string): BackupInfo[] {
  const dir = dirname(path);
  const base = `${basename(path)}.bak`;
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const order = (name: string) => (name === base ? 1 : Number(name.slice(base.length + 1)));
  return names
    .filter((n) => n === base || new RegExp(`^${base.replace(/\./g, '\\.')}\\.\\d+$`).test(n))
    .sort((a, b) => order(a) - order(b))
    .map((name) => {
      const p = join(dir, name);
      let writtenAt = 0;
      try {
        writtenAt = statSync(p).mtimeMs;
      } catch {
        /* gone meanwhile */
      }
      return { path: p, writtenAt, condition: inspectDatabase(p, { deep: true }) };
    });
}

/**
 * A SQLite error that is the file system refusing a write, as a Node-style error (`code`, `path`)
 * that names the errno and the path, or null when it is something else. SQLite says "database or
 * disk is full" or "unable to open database file"; the directory is asked which it really is.
 */
export function sqliteStorageError(path: string, e: unknown): NodeJS.ErrnoException | null {
  const code = (e as { code?: unknown }).code;
  if (typeof code !== 'string') return null;
  if (/^E[A-Z]+$/.test(code)) return null; // already a Node error
  let errno: string | null = null;
  if (code === 'SQLITE_FULL') errno = 'ENOSPC';
  else if (
    code.startsWith('SQLITE_READONLY') ||
    code.startsWith('SQLITE_CANTOPEN') ||
    code === 'SQLITE_PERM' ||
    code.startsWith('SQLITE_IOERR')
  )
    errno = probeWritable(path) ?? (code.startsWith('SQLITE_IOERR') ? 'EIO' : null);
  if (errno === null) return null;
  const err = new Error(`${errno}: ${e instanceof Error ? e.message : String(e)}, ${path}`, { cause: e }) as NodeJS.ErrnoException;
  err.code = errno;
  err.path = path;
  return err;
}

/** Why `path` (or its directory) cannot be written: EROFS, EACCES, ENOSPC, or null when it can. */
function probeWritable(path: string): string | null {
  const dir = dirname(path);
  for (const p of [dir, path]) {
    if (!existsSync(p)) continue;
    try {
      accessSync(p, constants.W_OK);
    } catch (e) {
      return (e as NodeJS.ErrnoException).code ?? 'EACCES';
    }
  }
  try {
    const fs = statfsSync(dir);
    if (fs.bavail === 0 || fs.ffree === 0) return 'ENOSPC';
  } catch {
    /* cannot tell */
  }
  return null;
}
