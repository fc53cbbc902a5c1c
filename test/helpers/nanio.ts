import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';

/**
 * Real nanio pool members for integration and e2e tests: the S3 server orch's pools run in
 * production (SigV4 verified, ranges never clamped, metadata kept as written). Each member is a
 * child process started by `serve.sh` from nanio's source; several members on one data directory
 * are one pool, as in production.
 *
 * Where nanio lives: `ORCH_NANIO_DIR` (the folder holding `serve.sh`), else `../shared/nanio` beside
 * the project's root. It needs Python >= 3.11 and Debian's packages python3-starlette,
 * python3-uvicorn, python3-defusedxml (`bash scripts/setup.sh` installs them).
 *
 * Under `CI=true` a missing nanio is a failure (`nanioOrSkip` throws); elsewhere the tests that
 * need it are skipped with one line saying how to enable them.
 */
export const NANIO_DIR = resolve(process.env.ORCH_NANIO_DIR ?? join(import.meta.dirname, '..', '..', '..', 'shared', 'nanio'));
const SERVE = join(NANIO_DIR, 'serve.sh');
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

export interface NanioUser {
  accessKeyId: string;
  secretAccessKey: string;
}

/** The credentials a member accepts when a test gives none. */
export const NANIO_DEFAULT_USER: NanioUser = { accessKeyId: 'nanioak', secretAccessKey: 'naniosecret123' };

let availability: string | null | undefined;

/** Why nanio cannot run here, or null when it can. Checked once per test file. */
export function nanioUnavailable(): string | null {
  if (availability !== undefined) return availability;
  if (!existsSync(SERVE)) {
    availability = `nanio not found: ${SERVE} is missing (set ORCH_NANIO_DIR to the folder holding nanio's serve.sh)`;
    return availability;
  }
  const probe = spawnSyncQuiet(PYTHON, [
    '-c',
    'import sys, starlette, uvicorn, defusedxml; sys.exit(0 if sys.version_info >= (3, 11) else 3)',
  ]);
  availability =
    probe === 0
      ? null
      : `nanio cannot start: needs Python >= 3.11 with python3-starlette, python3-uvicorn, python3-defusedxml (run: bash scripts/setup.sh)`;
  return availability;
}

function spawnSyncQuiet(cmd: string, args: string[]): number | null {
  return spawnSync(cmd, args, { stdio: 'ignore' }).status;
}

/**
 * For `describe.skipIf(...)`: true when the nanio tests must be skipped (printing one line that
 * says how to enable them). Under CI=true a missing nanio throws instead: CI must not pass
 * without its real pool server.
 */
export function skipWithoutNanio(): boolean {
  const why = nanioUnavailable();
  if (why === null) return false;
  if (process.env.CI === 'true') throw new Error(`${why}. CI needs the real pool server.`);
  console.warn(`skipping nanio tests: ${why}`);
  return true;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const c of live) c.kill('SIGKILL');
});

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolvePort(port));
    });
  });
}

/** One GET / answered (any status): the server is up. nanio answers 403 MissingAuthenticationToken. */
function answers(port: number): Promise<boolean> {
  return new Promise((ok) => {
    const req = request({ host: '127.0.0.1', port, path: '/', method: 'GET', timeout: 1000 }, (res) => {
      res.resume();
      ok(res.statusCode === 403);
    });
    req.on('error', () => ok(false));
    req.on('timeout', () => {
      req.destroy();
      ok(false);
    });
    req.end();
  });
}

export interface NanioMemberOptions {
  /** Users the member accepts (written as `[[users]]` in an options file). Default: NANIO_DEFAULT_USER. */
  users?: readonly NanioUser[];
  /** An options file to start with instead (e.g. one `orch node-config` wrote). */
  optionsFile?: string;
  region?: string;
}

/** One nanio process serving a data directory. Members of one pool share the directory. */
export class NanioMember {
  private child: ChildProcess | null = null;
  port = 0;
  private stderr = '';

  constructor(
    readonly dataDir: string,
    private readonly options: NanioMemberOptions = {},
  ) {
    mkdirSync(dataDir, { recursive: true });
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  get endpoint(): string {
    return `http://${this.address}`;
  }

  get users(): readonly NanioUser[] {
    return this.options.users ?? [NANIO_DEFAULT_USER];
  }

  private optionsFile(): string {
    if (this.options.optionsFile) return this.options.optionsFile;
    const file = `${this.dataDir.replace(/\/+$/, '')}.${this.port}.nanio-options.toml`;
    const body = this.users.map(
      (u) => `[[users]]\naccess_key = ${JSON.stringify(u.accessKeyId)}\nsecret_key = ${JSON.stringify(u.secretAccessKey)}\n`,
    );
    writeFileSync(file, body.join('\n'), { mode: 0o600 });
    chmodSync(file, 0o600);
    return file;
  }

  /** Starts (or restarts, on the same port) the server and waits until it answers. */
  async start(): Promise<this> {
    const why = nanioUnavailable();
    if (why) throw new Error(why);
    if (this.port === 0) this.port = await freePort();
    const args = [SERVE, this.dataDir, String(this.port), '--options', this.optionsFile()];
    if (this.options.region) args.push('--region', this.options.region);
    const child = spawn('bash', args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, NANIO_PYTHON: PYTHON } });
    live.add(child);
    this.child = child;
    this.stderr = '';
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      if (this.stderr.length < 64 * 1024) this.stderr += d;
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`nanio exited (${child.exitCode}): ${this.stderr}`);
      if (await answers(this.port)) return this;
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`nanio did not answer on ${this.address} within 30 s: ${this.stderr}`);
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Kills the process abruptly (a crashed member). */
  async kill(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((r) => {
      c.once('exit', () => r());
      c.kill('SIGKILL');
    });
    live.delete(c);
    this.child = null;
  }

  /** Stops the process as an operator would (SIGTERM). */
  async stop(): Promise<void> {
    const c = this.child;
    if (!c || c.exitCode !== null) return;
    await new Promise<void>((r) => {
      c.once('exit', () => r());
      c.kill('SIGTERM');
    });
    live.delete(c);
    this.child = null;
  }
}

/**
 * Starts `spec[pool]` members per pool, each pool on its own data directory under `root`, each
 * pool with its own users when `users[pool]` is given.
 */
export async function startNanioPools(
  root: string,
  spec: Record<string, number>,
  users: Record<string, readonly NanioUser[]> = {},
): Promise<Record<string, NanioMember[]>> {
  const out: Record<string, NanioMember[]> = {};
  // One at a time: each member takes ~1 s of Python start-up, and a 2-core machine is busy enough.
  for (const [pool, n] of Object.entries(spec)) {
    const dir = join(root, pool);
    out[pool] = [];
    for (let i = 0; i < n; i++) out[pool].push(await new NanioMember(dir, { users: users[pool] }).start());
  }
  return out;
}
