import { spawn } from 'node:child_process';
import { UserError } from '../../domain/errors.js';
import type { NginxTestResult } from '../../ports/nginx.js';

export interface NginxInvocation {
  bin: string;
  /** Main configuration, passed with -c. */
  conf: string | null;
  /** Prefix, passed with -p. */
  prefix: string | null;
  /** Error log passed with -e (nginx >= 1.19.5), so a private nginx never touches /var/log. */
  errorLog?: string | null;
}

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export function runCommand(
  cmd: string,
  args: string[],
  opts: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: opts.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = opts.timeoutMs ? setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs) : null;
    child.on('error', (err) => {
      if (timer) clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, durationMs: performance.now() - started });
    });
  });
}

export function nginxArgs(inv: NginxInvocation): string[] {
  const args: string[] = [];
  if (inv.prefix) args.push('-p', inv.prefix);
  if (inv.conf) args.push('-c', inv.conf);
  if (inv.errorLog) args.push('-e', inv.errorLog);
  return args;
}

const versionCache = new Map<string, string | null>();

/** The version of the nginx binary (`nginx -v`), or null when it is not installed. */
export async function nginxVersion(bin: string): Promise<string | null> {
  if (versionCache.has(bin)) return versionCache.get(bin) ?? null;
  let version: string | null = null;
  try {
    const r = await runCommand(bin, ['-v'], { timeoutMs: 10_000 });
    const m = /nginx\/(\d+\.\d+\.\d+)/.exec(r.stderr + r.stdout);
    version = m?.[1] ?? null;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT' && (e as NodeJS.ErrnoException).code !== 'EACCES') throw e;
  }
  versionCache.set(bin, version);
  return version;
}

export function nginxMissingError(bin: string): UserError {
  return new UserError('nginx.not-found', `nginx binary "${bin}" was not found.`, {
    hint: 'Install nginx (Debian/Ubuntu: `sudo apt-get install -y nginx-light`) or point ORCH_NGINX / nginxBin at it.',
  });
}

/** `nginx -t` of a configuration. */
export async function nginxTest(inv: NginxInvocation, timeoutMs = 120_000): Promise<NginxTestResult> {
  let r: CommandResult;
  try {
    r = await runCommand(inv.bin, ['-t', ...nginxArgs(inv)], { timeoutMs });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw nginxMissingError(inv.bin);
    throw e;
  }
  return { ok: r.code === 0, output: (r.stderr + r.stdout).trim(), durationMs: r.durationMs };
}
