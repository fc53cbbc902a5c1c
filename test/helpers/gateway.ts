import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  unlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer as createHttpServer, request, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import Database from 'better-sqlite3';
import { REPO_ROOT } from './cli.js';
import { nginxBinary } from './nginx.js';
import { freePorts } from './ports.js';

/**
 * A real gateway for integration tests: a private nginx (its own prefix, pid, logs and temp paths)
 * serving on loopback ports, small node HTTP upstreams that answer with their pool, member and the
 * request URI (so a test can tell which pool answered), a manifests directory, and the BUILT orch
 * CLI (`npm test` builds first) pointed at all of it through ORCH_* environment variables.
 *
 * A missing nginx is a failure (start() throws), never a skip.
 */

const CLI = join(REPO_ROOT, 'bin', 'run.js');
/** The crash tests' CLI: the same bundle, with a fault hook that SIGKILLs at ORCH_FAULT_INJECT. */
const FAULTY_CLI = join(REPO_ROOT, 'test', 'helpers', 'faulty-cli.mjs');
export const STATUS_FILE = 'vhosts/_orch-status.conf';

/**
 * The orch command a hint prints: the first group of `pattern` in `text` (which must start with
 * `orch `), to be run exactly as printed (Gateway.orchAsPrinted).
 */
export function printedCommand(text: string, pattern: RegExp): string {
  const m = pattern.exec(text);
  if (!m?.[1]?.startsWith('orch ')) throw new Error(`no orch command matching ${String(pattern)} in:\n${text}`);
  return m[1];
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

export interface RunOptions {
  /** Extra environment (e.g. ORCH_FAULT_INJECT). */
  env?: Record<string, string>;
  /**
   * Which entry runs: the shipped bin/run.js, or test/helpers/faulty-cli.mjs (which honours
   * ORCH_FAULT_INJECT). Default: the faulty one when ORCH_FAULT_INJECT is set, else the shipped one.
   */
  entry?: 'shipped' | 'faulty';
  /** Working directory: a workspace whose `manifests/` is used. Default: the gateway's main workspace. */
  cwd?: string;
  timeoutMs?: number;
}

export interface Answer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed from an upstream's answer; null when nginx answered by itself. */
  pool: string | null;
  member: string | null;
  uri: string | null;
  host: string | null;
}

interface Upstream {
  pool: string;
  member: string;
  port: number;
  server: Server;
}

// Every nginx master started by this process, killed if the test process exits without teardown.
const liveMasters = new Set<number>();
process.once('exit', () => {
  for (const pid of liveMasters) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
});

export function sha256(text: string | Buffer): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Holds a loopback port with a plain TCP listener (for a listen port "already in use"). */
export async function holdPort(port: number): Promise<{ close(): Promise<void> }> {
  const s = createNetServer((sock) => sock.destroy());
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.listen(port, '127.0.0.1', () => resolve());
  });
  return { close: () => new Promise<void>((r) => s.close(() => r())) };
}

function runProcess(
  file: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): { child: ChildProcess; done: Promise<CliResult> } {
  const started = performance.now();
  const child = spawn(file, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const done = new Promise<CliResult>((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : null;
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(new Error(`cannot run ${file} ${args.join(' ')}: ${e.message}`));
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - started });
    });
  });
  return { child, done };
}

/** One HTTP request on a fresh connection (no keep-alive: every request may land on a new worker). */
export function httpRequest(port: number, hostHeader: string, path: string, method = 'GET', timeoutMs = 3000): Promise<Answer | null> {
  return new Promise((resolve) => {
    const req = request(
      { host: '127.0.0.1', port, path, method, agent: false, timeout: timeoutMs, headers: { host: hostHeader } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => {
          const m = /^pool=(\S+) member=(\S+) host=(\S+) uri=(\S+)$/.exec(body.trim());
          resolve({
            status: res.statusCode ?? 0,
            body,
            headers: res.headers,
            pool: m?.[1] ?? (typeof res.headers['x-upstream-pool'] === 'string' ? res.headers['x-upstream-pool'] : null),
            member: m?.[2] ?? null,
            host: m?.[3] ?? null,
            uri: m?.[4] ?? null,
          });
        });
        res.on('error', () => resolve(null));
      },
    );
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
    req.end();
  });
}

export interface GatewayOptions {
  /** Upstream servers to start, per pool: `{ hot: 2, archive: 1 }` -> hot-1, hot-2, archive-1. */
  pools: Record<string, number>;
  /** How many free loopback ports to reserve for virtual hosts (`gw.ports`). */
  vhostPorts?: number;
}

export class Gateway {
  /** Fresh free ports for the test's virtual hosts. */
  ports: number[] = [];
  statusPort = 0;
  private upstreams: Upstream[] = [];
  private stopped = false;

  private constructor(
    readonly root: string,
    readonly prefix: string,
    readonly nginxDir: string,
    readonly stateDir: string,
    /** Main workspace: the CLI's working directory; its `manifests/` is ORCH_MANIFESTS. */
    readonly work: string,
    readonly conf: string,
  ) {}

  get manifestsDir(): string {
    return join(this.work, 'manifests');
  }

  get statusListen(): string {
    return `127.0.0.1:${this.statusPort}`;
  }

  get errorLog(): string {
    return join(this.prefix, 'logs', 'error.log');
  }

  get dbPath(): string {
    return join(this.stateDir, 'orch.db');
  }

  static async start(opts: GatewayOptions): Promise<Gateway> {
    const bin = nginxBinary();
    const v = await runProcess(bin, ['-v']).done.catch((e: Error) => {
      throw new Error(
        `nginx is required for the integration tests and could not be run (${e.message}). Install it (Debian: apt-get install nginx-light) or set ORCH_NGINX.`,
      );
    });
    if (!/nginx\/\d+\.\d+\.\d+/.test(v.stderr + v.stdout))
      throw new Error(`"${bin} -v" did not print an nginx version: ${v.stderr}${v.stdout}`);

    const root = mkdtempSync(join(tmpdir(), 'orch-gw-'));
    // nginx workers run as an unprivileged user when the tests run as root: they must reach the temp paths.
    chmodSync(root, 0o755);
    const prefix = join(root, 'prefix');
    const nginxDir = join(root, 'managed');
    const work = join(root, 'work');
    for (const d of [join(prefix, 'logs'), join(prefix, 'temp'), join(nginxDir, 'pools'), join(nginxDir, 'vhosts'), join(root, 'state')])
      mkdirSync(d, { recursive: true });
    const gw = new Gateway(root, prefix, nginxDir, join(root, 'state'), work, join(prefix, 'nginx.conf'));
    gw.workspace(work);
    try {
      for (const [pool, n] of Object.entries(opts.pools)) {
        for (let i = 1; i <= n; i++) gw.upstreams.push(await startUpstream(pool, `${pool}-${i}`));
      }
      const ports = await freePorts((opts.vhostPorts ?? 2) + 1);
      gw.statusPort = ports[0]!;
      gw.ports = ports.slice(1);
      writeFileSync(gw.conf, gw.mainConf());
      const r = await runProcess(bin, gw.nginxArgs()).done;
      if (r.code !== 0) throw new Error(`nginx did not start: ${r.stderr}${r.stdout}`);
      const pid = await gw.waitForMaster();
      liveMasters.add(pid);
    } catch (e) {
      await gw.stop();
      throw e;
    }
    return gw;
  }

  private mainConf(): string {
    const p = this.prefix;
    const t = (n: string) => join(p, 'temp', n);
    return `# Test gateway: a private nginx under ${p}.
worker_processes 1;
pid ${join(p, 'nginx.pid')};
error_log ${this.errorLog};
events {
    worker_connections 256;
}
http {
    access_log ${join(p, 'logs', 'access.log')};
    client_body_temp_path ${t('client_body')};
    proxy_temp_path ${t('proxy')};
    fastcgi_temp_path ${t('fastcgi')};
    uwsgi_temp_path ${t('uwsgi')};
    scgi_temp_path ${t('scgi')};
    server_names_hash_bucket_size 128;
    include ${join(this.nginxDir, 'pools')}/*.conf;
    include ${join(this.nginxDir, 'vhosts')}/*.conf;
}
`;
  }

  /** `-p P -c P/nginx.conf -e P/logs/error.log`. */
  nginxArgs(): string[] {
    return ['-p', this.prefix, '-c', this.conf, '-e', this.errorLog];
  }

  /** Creates a workspace directory (a CLI working directory with its own `manifests/` and empty orch.yaml). */
  workspace(dir: string): string {
    mkdirSync(join(dir, 'manifests'), { recursive: true });
    // An explicit (empty) config file: nothing from ./orch.yaml or /etc/orch leaks into the tests.
    writeFileSync(join(dir, 'orch.yaml'), '# test workspace: settings come from ORCH_* variables\n');
    return dir;
  }

  /** Address of an upstream member, e.g. member('hot-1') -> 127.0.0.1:PORT. */
  member(name: string): string {
    const u = this.upstreams.find((x) => x.member === name);
    if (!u) throw new Error(`no upstream member ${name}`);
    return `127.0.0.1:${u.port}`;
  }

  membersOf(pool: string): string[] {
    return this.upstreams.filter((u) => u.pool === pool).map((u) => `127.0.0.1:${u.port}`);
  }

  /** The environment the CLI runs with: only these ORCH_* variables (the parent's are dropped). */
  env(cwd = this.work, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env, NO_COLOR: '1' };
    for (const k of Object.keys(env)) if (k.startsWith('ORCH_') || k === 'FORCE_COLOR') delete env[k];
    Object.assign(env, {
      ORCH_CONFIG: join(cwd, 'orch.yaml'),
      ORCH_MANIFESTS: join(cwd, 'manifests'),
      ORCH_NGINX_DIR: this.nginxDir,
      ORCH_STATE_DIR: this.stateDir,
      ORCH_NGINX: nginxBinary(),
      ORCH_NGINX_CONF: this.conf,
      ORCH_NGINX_PREFIX: this.prefix,
      ORCH_STATUS_LISTEN: this.statusListen,
      ...extra,
    });
    return env;
  }

  /** Runs the built CLI (`node bin/run.js ARGS`) against this gateway. */
  orch(args: string[], opts: RunOptions = {}): Promise<CliResult> {
    return this.spawnOrch(args, opts).done;
  }

  /**
   * A command a hint printed (see printedCommand), run by `sh -c` exactly as printed, with an
   * `orch` on PATH that is this build's CLI (the faulty entry when ORCH_FAULT_INJECT is set, as
   * spawnOrch picks it) and this gateway's environment.
   */
  orchAsPrinted(command: string, opts: RunOptions = {}): Promise<CliResult> {
    const cwd = opts.cwd ?? this.work;
    const env = this.env(cwd, opts.env);
    const bin = join(this.root, 'printed-bin');
    if (!existsSync(join(bin, 'orch'))) {
      mkdirSync(bin, { recursive: true });
      const node = `'${process.execPath}'`;
      writeFileSync(
        join(bin, 'orch'),
        `#!/bin/sh\nif [ -n "$ORCH_FAULT_INJECT" ]; then exec ${node} '${FAULTY_CLI}' "$@"; fi\nexec ${node} '${CLI}' "$@"\n`,
      );
      chmodSync(join(bin, 'orch'), 0o755);
    }
    return runProcess('/bin/sh', ['-c', command], {
      cwd,
      env: { ...env, PATH: `${bin}:${env['PATH'] ?? ''}` },
      timeoutMs: opts.timeoutMs ?? 90_000,
    }).done;
  }

  spawnOrch(args: string[], opts: RunOptions = {}): { child: ChildProcess; done: Promise<CliResult> } {
    const cwd = opts.cwd ?? this.work;
    const env = this.env(cwd, opts.env);
    const entry = (opts.entry ?? (env['ORCH_FAULT_INJECT'] ? 'faulty' : 'shipped')) === 'faulty' ? FAULTY_CLI : CLI;
    return runProcess(process.execPath, [entry, ...args], { cwd, env, timeoutMs: opts.timeoutMs ?? 90_000 });
  }

  /** Replaces the whole manifests directory of a workspace with `files` (path relative to manifests/). */
  setManifests(files: Record<string, string>, cwd = this.work): void {
    const dir = join(cwd, 'manifests');
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    for (const [rel, text] of Object.entries(files)) this.writeManifest(rel, text, cwd);
  }

  writeManifest(rel: string, text: string, cwd = this.work): void {
    const p = join(cwd, 'manifests', rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, text);
  }

  removeManifest(rel: string, cwd = this.work): void {
    unlinkSync(join(cwd, 'manifests', rel));
  }

  /**
   * sha256 of every file nginx would read through the managed directory: pools/ and vhosts/ as a
   * path resolves them (through the `current` symlink of the generation layout), hidden and temp
   * files included. The generation directories themselves are orch's machinery: see leftovers().
   */
  snapshot(): Record<string, string> {
    return liveSnapshot(this.nginxDir);
  }

  /** What an apply left in the managed directory beyond the live generation and the kept ones (should be nothing). */
  leftovers(): string[] {
    return managedLeftovers(this.nginxDir);
  }

  readManaged(rel: string): string {
    return readFileSync(join(this.nginxDir, rel), 'utf8');
  }

  writeManaged(rel: string, text: string): void {
    writeFileSync(join(this.nginxDir, rel), text);
  }

  removeManagedFile(rel: string): void {
    unlinkSync(join(this.nginxDir, rel));
  }

  /** `nginx -t` of the live main configuration. */
  async nginxT(): Promise<{ ok: boolean; output: string }> {
    const r = await runProcess(nginxBinary(), ['-t', ...this.nginxArgs()], { timeoutMs: 30_000 }).done;
    return { ok: r.code === 0, output: r.stderr + r.stdout };
  }

  masterPid(): number | null {
    try {
      const pid = Number(readFileSync(join(this.prefix, 'nginx.pid'), 'utf8').trim());
      return Number.isInteger(pid) && pid > 0 ? pid : null;
    } catch {
      return null;
    }
  }

  /** Worker processes of the master: a reload replaces them, so an unchanged set means no reload. */
  workerPids(): number[] {
    const master = this.masterPid();
    if (!master) return [];
    const out: number[] = [];
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const stat = readFileSync(`/proc/${name}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (ppid === master) out.push(Number(name));
      } catch {
        /* exited meanwhile */
      }
    }
    return out.sort((a, b) => a - b);
  }

  /**
   * The worker set once old workers (still finishing connections after a reload) have exited:
   * exactly `worker_processes` (1) workers, or whatever is there after 5 s.
   */
  async settledWorkerPids(): Promise<number[]> {
    let pids = this.workerPids();
    for (let i = 0; i < 200 && pids.length !== 1; i++) {
      await new Promise((r) => setTimeout(r, 25));
      pids = this.workerPids();
    }
    return pids;
  }

  /** The generation token in the status file on disk (what nginx answers once it loaded these files). */
  statusFileToken(): string | null {
    try {
      return /return 200 "([^"]*)";/.exec(this.readManaged(STATUS_FILE))?.[1] ?? null;
    } catch {
      return null;
    }
  }

  /** What the status location answers now (generation token), or null. */
  async served(): Promise<string | null> {
    const a = await httpRequest(this.statusPort, 'orch-status', '/orch/generation');
    return a && a.status === 200 ? a.body.trim() : null;
  }

  /** Polls the status location until it answers `token` (a reload takes effect asynchronously). */
  async waitServed(token: string, timeoutMs = 5000): Promise<string | null> {
    const deadline = Date.now() + timeoutMs;
    let seen: string | null = null;
    for (;;) {
      seen = await this.served();
      if (seen === token || Date.now() > deadline) return seen;
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** GET (or another method) through nginx on a virtual host's port with its Host header. */
  request(port: number, host: string, path: string, method = 'GET'): Promise<Answer | null> {
    return httpRequest(port, `${host}:${port}`, path, method);
  }

  /** The state database, read directly (read-only) with better-sqlite3: an independent view of orch's state. */
  readState(): DbState {
    if (!existsSync(this.dbPath)) return { generation: null, fingerprint: null, inventory: {}, generations: [] };
    const db = new Database(this.dbPath, { readonly: true, fileMustExist: true });
    try {
      const gens = db
        .prepare('SELECT number, fingerprint, command, outcome, summary FROM generations ORDER BY number')
        .all() as DbGeneration[];
      const last = gens[gens.length - 1] ?? null;
      const inv = db.prepare('SELECT path, sha256 FROM inventory ORDER BY path').all() as Array<{ path: string; sha256: string }>;
      return {
        generation: last?.number ?? null,
        fingerprint: last?.fingerprint ?? null,
        inventory: Object.fromEntries(inv.map((r) => [r.path, r.sha256])),
        generations: gens,
      };
    } finally {
      db.close();
    }
  }

  /** The file list (path -> sha256) recorded for a generation. */
  generationFiles(n: number): Record<string, string> {
    const db = new Database(this.dbPath, { readonly: true, fileMustExist: true });
    try {
      const rows = db.prepare('SELECT path, sha256 FROM generation_files WHERE generation = ? ORDER BY path').all(n) as Array<{
        path: string;
        sha256: string;
      }>;
      return Object.fromEntries(rows.map((r) => [r.path, r.sha256]));
    } finally {
      db.close();
    }
  }

  /**
   * Are files, state and nginx consistent? Checks that the managed files are exactly one of the
   * expected sets (status file aside: it carries the generation token), that the state database's
   * latest generation, its file list and the inventory all equal the disk, that the status file is
   * that generation's, that no journal or temp file is left, that `nginx -t` passes on the live
   * configuration, and that nginx serves that generation right away (or within `waitMs`). Returns which set is on disk and every
   * problem found (empty when consistent).
   */
  async consistency(
    sets: Record<string, Record<string, string>>,
    opts: { unmanaged?: string[]; waitMs?: number } = {},
  ): Promise<{ landed: string | null; problems: string[] }> {
    const problems: string[] = [];
    const snap = this.snapshot();
    for (const p of opts.unmanaged ?? []) delete snap[p];
    const resources = withoutStatus(snap);
    const landed = Object.entries(sets).find(([, s]) => sameFiles(s, resources))?.[0] ?? null;
    if (landed === null) {
      const near = Object.entries(sets).map(([name, s]) => `vs ${name}: ${describeDifference(s, resources)}`);
      problems.push(`the managed files are none of the expected sets (a mix?): ${near.join('; ')}`);
    }
    const state = this.readState();
    if (state.generation === null) {
      problems.push('the state database has no generation');
      return { landed, problems };
    }
    if (!sameFiles(state.inventory, snap))
      problems.push(`the inventory differs from the disk: ${describeDifference(state.inventory, snap)}`);
    const listed = this.generationFiles(state.generation);
    if (!sameFiles(listed, snap))
      problems.push(`generation ${state.generation}'s file list differs from the disk: ${describeDifference(listed, snap)}`);
    const token = tokenOf(state.generation, state.fingerprint);
    const status = existsSync(join(this.nginxDir, STATUS_FILE)) ? this.readManaged(STATUS_FILE) : '';
    if (!status.includes(`return 200 "${token}";`))
      problems.push(`the status file does not carry generation ${state.generation}'s token "${token}"`);
    if (this.journalExists()) problems.push('a journal is left in the state directory');
    const left = this.leftovers();
    if (left.length > 0) problems.push(`left in the managed directory: ${left.join(', ')}`);
    if (existsSync(join(this.stateDir, 'staging'))) problems.push('a staging directory is left in the state directory');
    const t = await this.nginxT();
    if (!t.ok) problems.push(`nginx -t fails on the live configuration:\n${t.output}`);
    // By default a single probe: when orch returns, nginx must already serve what it committed.
    const served = await this.waitServed(token, opts.waitMs ?? 0);
    if (served !== token) problems.push(`nginx serves "${served}", not generation ${state.generation} ("${token}")`);
    return { landed, problems };
  }

  journalExists(): boolean {
    return existsSync(join(this.stateDir, 'journal.json'));
  }

  /** Text appended to nginx's error log since `offset` (byte length before). */
  errorLogSince(offset: number): string {
    try {
      return readFileSync(this.errorLog).subarray(offset).toString('utf8');
    } catch {
      return '';
    }
  }

  errorLogSize(): number {
    try {
      return statSync(this.errorLog).size;
    } catch {
      return 0;
    }
  }

  private async waitForMaster(): Promise<number> {
    for (let i = 0; i < 200; i++) {
      const pid = this.masterPid();
      if (pid && (await this.alive(pid))) return pid;
      await new Promise((r) => setTimeout(r, 25));
    }
    throw new Error(`nginx did not write its pid file; see ${this.errorLog}:\n${this.errorLogSince(0)}`);
  }

  private async alive(pid: number): Promise<boolean> {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Stops nginx (fast shutdown) and starts a fresh one on the same main configuration: what a
   * restart by anyone (systemctl restart, a reboot) would load. Returns nginx's output when it
   * does not start.
   */
  async restartNginx(): Promise<{ ok: boolean; output: string }> {
    const pid = this.masterPid();
    if (pid) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        /* gone */
      }
      for (let i = 0; i < 200 && (await this.alive(pid)); i++) await new Promise((r) => setTimeout(r, 25));
      if (await this.alive(pid)) process.kill(pid, 'SIGKILL');
      liveMasters.delete(pid);
    }
    rmSync(join(this.prefix, 'nginx.pid'), { force: true });
    const r = await runProcess(nginxBinary(), this.nginxArgs(), { timeoutMs: 30_000 }).done;
    if (r.code !== 0) return { ok: false, output: r.stderr + r.stdout };
    liveMasters.add(await this.waitForMaster());
    return { ok: true, output: '' };
  }

  /** Stops nginx (fast shutdown, then SIGKILL) and the upstreams, and removes the directory. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const pid = this.masterPid();
    if (pid) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        /* gone */
      }
      for (let i = 0; i < 100 && (await this.alive(pid)); i++) await new Promise((r) => setTimeout(r, 25));
      if (await this.alive(pid)) process.kill(pid, 'SIGKILL');
      liveMasters.delete(pid);
    }
    await Promise.all(
      this.upstreams.map(
        (u) =>
          new Promise<void>((r) => {
            u.server.closeAllConnections();
            u.server.close(() => r());
          }),
      ),
    );
    rmSync(this.root, { recursive: true, force: true });
  }
}

export interface DbGeneration {
  number: number;
  fingerprint: string | null;
  command: string;
  outcome: string;
  summary: string;
}

export interface DbState {
  generation: number | null;
  fingerprint: string | null;
  inventory: Record<string, string>;
  generations: DbGeneration[];
}

/** The token the status location serves for a generation (see src/domain/render/render-status.ts). */
export function tokenOf(generation: number, fingerprint: string | null): string {
  return `${generation} ${(fingerprint ?? '').replace(/^sha256:/, '').slice(0, 12)}`;
}

function startUpstream(pool: string, member: string): Promise<Upstream> {
  const server = createHttpServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'text/plain');
      res.setHeader('x-upstream-pool', pool);
      res.end(`pool=${pool} member=${member} host=${req.headers.host ?? '-'} uri=${req.url ?? '-'}\n`);
    });
  });
  server.keepAliveTimeout = 2000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve({ pool, member, port: (server.address() as { port: number }).port, server }));
  });
}

/** The live tree's files: pools/ and vhosts/ as a path resolves them now (through `current` in the generation layout). */
export function liveSnapshot(nginxDir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (statSync(p).isDirectory()) walk(p);
      else out[relative(nginxDir, p).replace(/^current\//, '')] = sha256(readFileSync(p));
    }
  };
  for (const sub of ['pools', 'vhosts']) if (existsSync(join(nginxDir, sub))) walk(join(nginxDir, sub));
  return sortKeys(out);
}

/**
 * What is in the managed directory beyond the live tree and the kept generations: partial builds,
 * generations newer than the live one, switch or conversion leftovers, temp files.
 */
export function managedLeftovers(nginxDir: string): string[] {
  const out: string[] = [];
  if (!existsSync(nginxDir)) return out;
  let current: number | null = null;
  try {
    current = Number(/^generations\/(\d+)$/.exec(readlinkSync(join(nginxDir, 'current')))?.[1] ?? NaN);
  } catch {
    /* no current: the older layout */
  }
  for (const name of readdirSync(nginxDir)) {
    if (['pools', 'vhosts', 'current', 'generations'].includes(name)) continue;
    out.push(name);
  }
  if (existsSync(join(nginxDir, 'generations'))) {
    for (const name of readdirSync(join(nginxDir, 'generations'))) {
      if (!/^\d+$/.test(name) || (current !== null && Number(name) > current)) out.push(`generations/${name}`);
    }
  }
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.orch-tmp') || e.name.endsWith('.tmp')) out.push(relative(nginxDir, p));
    }
  };
  for (const sub of ['pools', 'vhosts']) if (existsSync(join(nginxDir, sub))) walk(join(nginxDir, sub));
  return out.sort();
}

function sortKeys(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

export function sameFiles(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => b[k] === a[k]);
}

/** Which paths differ between two file sets, for failure messages. */
export function describeDifference(expected: Record<string, string>, actual: Record<string, string>): string {
  const out: string[] = [];
  for (const p of new Set([...Object.keys(expected), ...Object.keys(actual)])) {
    if (!(p in actual)) out.push(`missing ${p}`);
    else if (!(p in expected)) out.push(`extra ${p}`);
    else if (expected[p] !== actual[p]) out.push(`different ${p}`);
  }
  return out.length === 0 ? 'identical' : out.sort().join(', ');
}

/** Paths whose content differs between two sets (created, changed or deleted). */
export function changedPaths(a: Record<string, string>, b: Record<string, string>): string[] {
  return [...new Set([...Object.keys(a), ...Object.keys(b)])].filter((p) => a[p] !== b[p]).sort();
}

/** The snapshot without the status file (its content is the generation token, new every generation). */
export function withoutStatus(snap: Record<string, string>): Record<string, string> {
  const { [STATUS_FILE]: _status, ...rest } = snap;
  return rest;
}

// ---------------------------------------------------------------------------------------------
// Manifest builders (YAML text, as an operator writes it).

export function poolYaml(name: string, members: string[], type: 'nanio' | 'http' = 'nanio'): string {
  return `apiVersion: orch/v1
kind: Pool
metadata:
  name: ${name}
spec:
  type: ${type}
  members:
${members.map((m, i) => `    - address: ${m}${type === 'http' ? `\n      role: ${i === 0 ? 'primary' : 'replica'}` : ''}`).join('\n')}
`;
}

export function vhostYaml(name: string, o: { serverNames: string[]; port: number; defaultPool?: string; extra?: string }): string {
  return `apiVersion: orch/v1
kind: VirtualHost
metadata:
  name: ${name}
spec:
  serverNames: [${o.serverNames.join(', ')}]
  address: 127.0.0.1
  port: ${o.port}
${o.defaultPool ? `  defaultPool: ${o.defaultPool}\n` : ''}${o.extra ?? ''}`;
}

export function routeYaml(name: string, o: { virtualHost: string; path: string; pool: string }): string {
  return `apiVersion: orch/v1
kind: Route
metadata:
  name: ${name}
spec:
  virtualHost: ${o.virtualHost}
  path: ${o.path}
  pool: ${o.pool}
`;
}

/**
 * The smallest gateway whose every apply changes one file: an http pool hot and virtual host s3 on
 * `port`, whose extra block adds the header X-Test: `header` (a new header, a new generation).
 */
export function oneHostManifests(gw: Gateway, port: number, header: string): Record<string, string> {
  return {
    'pools.yaml': docs(poolYaml('hot', gw.membersOf('hot'), 'http')),
    'vhosts/s3.yaml': vhostYaml('s3', {
      serverNames: ['s3.test'],
      port,
      defaultPool: 'hot',
      extra: `  extraBlocks:\n    - zone: top\n      content: |\n        add_header X-Test ${header} always;\n`,
    }),
  };
}

/** Joins several YAML documents into one file. */
export function docs(...texts: string[]): string {
  return texts.join('---\n');
}
