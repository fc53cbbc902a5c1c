import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { acquireWriterLock, readLockHolder } from '../../src/adapters/fs/writer-lock.js';
import { UserError } from '../../src/domain/errors.js';
import { REPO_ROOT } from '../helpers/cli.js';

/**
 * The writer lock across real processes: a lock left by a dead process (exited, killed, a zombie
 * not yet reaped, a recycled pid, a half-written file) is taken over; a live holder makes a second
 * writer wait and then fail naming it; many processes racing for the lock never overlap.
 * Other processes use the built module (dist/), as the CLI does.
 */

const LOCK_MODULE = join(REPO_ROOT, 'dist/adapters/fs/writer-lock.js');

/** A node process that takes the lock, prints "locked <pid>", and holds it until killed. */
const HOLDER = `
const { acquireWriterLock } = await import(${JSON.stringify(LOCK_MODULE)});
await acquireWriterLock(process.argv[1], 'holder-test', 10);
console.log('locked ' + process.pid);
setInterval(() => {}, 1000);
`;

let dir: string;
const children: ChildProcess[] = [];

function waitForLine(child: ChildProcess, pattern: RegExp): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = pattern.exec(out);
      if (m) resolve(m);
    });
    child.on('exit', (code) => reject(new Error(`exited (${code}) before printing ${pattern}: ${out}`)));
  });
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((r) => (child.exitCode !== null || child.signalCode !== null ? r() : child.once('exit', () => r())));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function lockFile(): string {
  return join(dir, 'orch.lock');
}

async function expectHeldBy(pid: number, command: string) {
  const started = Date.now();
  const err = await acquireWriterLock(dir, 'second', 1).then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(UserError);
  expect((err as UserError).code).toBe('lock.held');
  expect((err as UserError).exitCode).toBe(3);
  expect((err as UserError).message).toContain(`pid ${pid} (${command}) on ${hostname()}, since `);
  expect(Date.now() - started, 'waited the timeout').toBeGreaterThanOrEqual(900);
}

describe('writer lock', () => {
  beforeAll(() => {
    if (!existsSync(LOCK_MODULE)) throw new Error(`${LOCK_MODULE} is missing: run npm run build (npm test does)`);
  });
  afterEach(async () => {
    for (const c of children.splice(0)) {
      c.kill('SIGKILL');
      await exited(c);
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a live holder makes a second writer time out, naming the holder; its death frees the lock', async () => {
    dir = mkdtempSync(join(tmpdir(), 'orch-lock-'));
    const holder = spawn(process.execPath, ['--input-type=module', '-e', HOLDER, dir], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(holder);
    await waitForLine(holder, /locked (\d+)/);
    expect(readLockHolder(dir)).toMatchObject({ pid: holder.pid, command: 'holder-test' });
    await expectHeldBy(holder.pid!, 'holder-test');
    // Killed without any cleanup: the lock file stays, naming a dead process, and is taken over.
    holder.kill('SIGKILL');
    await exited(holder);
    expect(existsSync(lockFile())).toBe(true);
    expect(readLockHolder(dir), 'status does not report a dead holder').toBeNull();
    const lock = await acquireWriterLock(dir, 'taker', 5);
    expect(JSON.parse(readFileSync(lockFile(), 'utf8'))).toMatchObject({ pid: process.pid, command: 'taker' });
    lock.release();
    expect(existsSync(lockFile())).toBe(false);
  });

  it('takes over a lock whose pid is dead', async () => {
    dir = mkdtempSync(join(tmpdir(), 'orch-lock-'));
    const gone = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' });
    await exited(gone);
    expect(alive(gone.pid!)).toBe(false);
    writeFileSync(
      lockFile(),
      JSON.stringify({ pid: gone.pid, command: 'apply', since: new Date().toISOString(), host: hostname(), startTime: '1' }),
    );
    const started = Date.now();
    const lock = await acquireWriterLock(dir, 'taker', 5);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(lock.holder.pid).toBe(process.pid);
    lock.release();
  });

  it('takes over a lock whose pid was recycled by another process', async () => {
    dir = mkdtempSync(join(tmpdir(), 'orch-lock-'));
    // This very process is alive, but it is not the process that wrote the lock: its start time differs.
    writeFileSync(
      lockFile(),
      JSON.stringify({ pid: process.pid, command: 'apply', since: '2020-01-01T00:00:00.000Z', host: hostname(), startTime: '1' }),
    );
    const lock = await acquireWriterLock(dir, 'taker', 5);
    expect(lock.holder.since).not.toBe('2020-01-01T00:00:00.000Z');
    lock.release();
  });

  it('takes over a lock held by a killed process that its parent has not reaped yet (a zombie)', async () => {
    dir = mkdtempSync(join(tmpdir(), 'orch-lock-'));
    // sh starts the holder in the background and exec's into sleep, which never reaps it.
    const script = `${JSON.stringify(process.execPath)} --input-type=module -e ${shellQuote(HOLDER)} ${shellQuote(dir)} & exec sleep 60`;
    const parent = spawn('/bin/sh', ['-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(parent);
    const m = await waitForLine(parent, /locked (\d+)/);
    const pid = Number(m[1]);
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 100 && !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8')); i++) await new Promise((r) => setTimeout(r, 10));
    expect(readFileSync(`/proc/${pid}/stat`, 'utf8'), 'the holder is a zombie').toMatch(/\) Z /);
    expect(readLockHolder(dir), 'status does not report a dead holder').toBeNull();
    const lock = await acquireWriterLock(dir, 'taker', 2);
    expect(lock.holder.pid).toBe(process.pid);
    lock.release();
  });

  it('takes over a lock file left half-written (unreadable) for longer than the takeover delay', async () => {
    dir = mkdtempSync(join(tmpdir(), 'orch-lock-'));
    writeFileSync(lockFile(), '');
    // Fresh: it could be a writer between creating and filling the file, so it is respected.
    await expect(acquireWriterLock(dir, 'taker', 1)).rejects.toMatchObject({ code: 'lock.held' });
    const old = new Date(Date.now() - 60_000);
    utimesSync(lockFile(), old, old);
    const lock = await acquireWriterLock(dir, 'taker', 2);
    lock.release();
  });

  it('many processes racing for the lock (a stale one included) never hold it at the same time', async () => {
    dir = mkdtempSync(join(tmpdir(), 'orch-lock-'));
    writeFileSync(lockFile(), JSON.stringify({ pid: 999_999_999, command: 'apply', since: 'x', host: hostname(), startTime: null }));
    const counter = join(dir, 'counter');
    writeFileSync(counter, '0');
    const WORKER = `
const { readFileSync, writeFileSync, appendFileSync } = await import('node:fs');
const { acquireWriterLock } = await import(${JSON.stringify(LOCK_MODULE)});
const [dir, counter] = process.argv.slice(1);
const lock = await acquireWriterLock(dir, 'worker', 30);
appendFileSync(counter + '.log', 'in ' + process.pid + '\\n');
const n = Number(readFileSync(counter, 'utf8'));
await new Promise((r) => setTimeout(r, 30));
writeFileSync(counter, String(n + 1));
appendFileSync(counter + '.log', 'out ' + process.pid + '\\n');
lock.release();
`;
    const N = 6;
    const workers = Array.from({ length: N }, () =>
      spawn(process.execPath, ['--input-type=module', '-e', WORKER, dir, counter], { stdio: ['ignore', 'ignore', 'inherit'] }),
    );
    children.push(...workers);
    await Promise.all(workers.map(exited));
    expect(workers.map((w) => w.exitCode)).toEqual(Array(N).fill(0));
    // A lost update would show as a smaller count; the log shows every critical section closed before the next opened.
    expect(readFileSync(counter, 'utf8')).toBe(String(N));
    const log = readFileSync(`${counter}.log`, 'utf8').trim().split('\n');
    for (let i = 0; i < log.length; i += 2) {
      expect(log[i]).toMatch(/^in /);
      expect(log[i + 1]).toBe(log[i]!.replace('in', 'out'));
    }
    expect(existsSync(lockFile())).toBe(false);
  });
});

function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}
