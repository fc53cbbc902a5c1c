import { closeSync, constants, fstatSync, lstatSync, openSync, readFileSync, readlinkSync, readSync, type Stats } from 'node:fs';
import { resolve } from 'node:path';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';

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
 *   and the read run in a child process (`sh` and `head`), driven from a helper thread: past
 *   `timeoutMs` the read is abandoned and reported. A read stuck in the kernel cannot be killed
 *   (a FUSE request already sent is waited for), so the child is left behind, never waited for:
 *   orch exits on time.
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

// ------------------------------------------------------------------ which file system

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

let mounts: Array<{ at: string; type: string }> | null = null;

/** The mount table (mount point, type), longest mount point first; empty when it cannot be read. */
function mountTable(): Array<{ at: string; type: string }> {
  if (mounts) return mounts;
  const out: Array<{ at: string; type: string }> = [];
  try {
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const fields = line.split(' ');
      const dash = fields.indexOf('-');
      if (dash < 0 || fields[4] === undefined) continue;
      const at = fields[4].replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
      out.push({ at, type: fields[dash + 1] ?? '' });
    }
  } catch {
    // No /proc: every file is read through the child (bounded, only slower).
  }
  // Later mounts on the same point hide earlier ones: keep the last, longest first.
  mounts = out.reverse().sort((a, b) => b.at.length - a.at.length);
  return mounts;
}

function mountTypeOf(path: string): string | null {
  for (const m of mountTable()) if (path === m.at || path.startsWith(m.at === '/' ? '/' : `${m.at}/`)) return m.type;
  return null;
}

/**
 * Whether the file, with every symbolic link on its path resolved, lies on a local file system.
 * The links are read one by one, each only once its own directory is known to be local, so no
 * network or FUSE file system is ever touched here.
 */
function isOnLocalFileSystem(file: string): boolean {
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
    const type = mountTypeOf(next);
    if (type === null || !LOCAL_TYPES.has(type)) return false;
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

// ------------------------------------------------------------------ the child, driven from a thread

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

/**
 * The helper thread: spawns the child for each request and answers with what it printed, or
 * "timeout" (then the child is killed and left behind). The thread itself never waits in the
 * kernel, so it ends with the process.
 */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { spawn } = require('node:child_process');
const { port, flag } = workerData;
const done = (id, answer) => { port.postMessage({ id, ...answer }); Atomics.store(flag, 0, id); Atomics.notify(flag, 0); };
port.on('message', ({ id, file, timeoutMs, script, max }) => {
  let child;
  try {
    child = spawn('/bin/sh', ['-c', script, 'orch-secret', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    return done(id, { status: 'spawn', detail: String(e && e.message) });
  }
  const chunks = []; let length = 0; let stderr = ''; let settled = false;
  const timer = setTimeout(() => {
    if (settled) return; settled = true;
    try { child.kill('SIGKILL'); } catch {}
    child.stdout.destroy(); child.stderr.destroy(); child.unref();
    done(id, { status: 'timeout' });
  }, timeoutMs);
  child.stdout.on('data', (d) => { if (length <= max) { chunks.push(d); length += d.length; } });
  child.stderr.setEncoding('utf8').on('data', (d) => { if (stderr.length < 1000) stderr += d; });
  child.on('error', (e) => { if (settled) return; settled = true; clearTimeout(timer); done(id, { status: 'spawn', detail: String(e && e.message) }); });
  child.on('close', (code) => {
    if (settled) return; settled = true; clearTimeout(timer);
    const bytes = Buffer.concat(chunks);
    done(id, { status: 'exit', code, bytes, stderr });
    bytes.fill(0);
  });
});
`;

let helper: { port: MessagePort; flag: Int32Array; next: number } | null = null;

function startHelper(): { port: MessagePort; flag: Int32Array; next: number } {
  if (helper) return helper;
  const { port1, port2 } = new MessageChannel();
  const flag = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { port: port2, flag }, transferList: [port2] });
  worker.unref();
  port1.unref();
  helper = { port: port1, flag, next: 1 };
  return helper;
}

type ChildAnswer =
  | { id: number; status: 'timeout' }
  | { id: number; status: 'spawn'; detail: string }
  | { id: number; status: 'exit'; code: number | null; bytes: Uint8Array; stderr: string };

/** Files that did not answer in time, in this process: asked again, they are not waited for again. */
const unanswered = new Set<string>();

function readThroughChild(file: string, timeoutMs: number): SecretFileRead {
  if (unanswered.has(file)) return noAnswer(timeoutMs);
  const h = startHelper();
  const id = h.next++;
  h.port.postMessage({ id, file, timeoutMs, script: CHILD_SCRIPT, max: SECRET_FILE_MAX_BYTES });
  // The thread answers within timeoutMs of receiving the request; its own start may take a while
  // on a loaded machine, hence the margin.
  const deadline = Date.now() + timeoutMs + 10_000;
  let answer: ChildAnswer | null = null;
  while (answer === null) {
    const seen = Atomics.load(h.flag, 0);
    const received = receiveMessageOnPort(h.port)?.message as ChildAnswer | undefined;
    if (received?.id === id) {
      answer = received;
      break;
    }
    const left = deadline - Date.now();
    if (left <= 0) return noAnswer(timeoutMs);
    Atomics.wait(h.flag, 0, seen, Math.min(left, 50));
  }
  if (answer.status === 'timeout') {
    unanswered.add(file);
    return noAnswer(timeoutMs);
  }
  if (answer.status === 'spawn') return { problem: `cannot be read (${answer.detail})`, refused: false };
  const bytes = Buffer.from(answer.bytes);
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
