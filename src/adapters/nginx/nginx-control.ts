import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Settings } from '../../config/settings.js';
import { nginxArgs, nginxMissingError, runCommand, type NginxInvocation } from './nginx-cli.js';

/** How orch invokes the operator's nginx: ORCH_NGINX, ORCH_NGINX_CONF (-c), ORCH_NGINX_PREFIX (-p). */
export function liveInvocation(settings: Settings): NginxInvocation {
  return {
    bin: settings.nginxBin,
    conf: settings.nginxConf,
    prefix: settings.nginxPrefix,
    errorLog: settings.nginxPrefix ? join(settings.nginxPrefix, 'logs', 'error.log') : null,
  };
}

export interface ReloadResult {
  ok: boolean;
  output: string;
  durationMs: number;
}

/** Sends the configured reload. Exit 0 does NOT mean nginx loaded the config: confirm separately. */
export async function reloadNginx(settings: Settings): Promise<ReloadResult> {
  const started = performance.now();
  let cmd: string;
  let args: string[];
  switch (settings.reload) {
    case 'none':
      return { ok: true, output: 'reload disabled (reload: none)', durationMs: 0 };
    case 'systemctl':
      cmd = 'systemctl';
      args = ['reload', 'nginx'];
      break;
    case 'command':
      cmd = '/bin/sh';
      args = ['-c', settings.reloadCommand ?? 'false'];
      break;
    default:
      cmd = settings.nginxBin;
      args = [...nginxArgs(liveInvocation(settings)), '-s', 'reload'];
  }
  try {
    const r = await runCommand(cmd, args, { timeoutMs: 120_000 });
    return { ok: r.code === 0, output: (r.stderr + r.stdout).trim(), durationMs: performance.now() - started };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' && settings.reload === 'nginx') throw nginxMissingError(settings.nginxBin);
    throw e;
  }
}

/**
 * One GET of the status location on a fresh connection (`agent: false`: Node's global agent keeps
 * connections alive, and a reused connection stays with the worker that accepted it, old or new,
 * so it cannot tell what a new client connection gets); null when nothing answers.
 */
export function probeStatus(listen: string, timeoutMs = 1000, path = '/orch/generation'): Promise<string | null> {
  const { host, port } = splitListen(listen);
  return new Promise((resolve) => {
    const req = request({ host, port, path, method: 'GET', timeout: timeoutMs, agent: false, headers: { host: 'orch-status' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve(res.statusCode === 200 ? body.trim() : null));
      res.on('error', () => resolve(null));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
    req.end();
  });
}

/**
 * How long the new token must answer every probe before a reload counts as confirmed. On reload the
 * nginx master starts the new workers, sleeps 100 ms, and only then tells the old workers to stop
 * accepting: meanwhile new connections land on old and new workers alike (measured: about half of
 * them still got the old configuration in the ~100 ms after the first new answer). Confirming on
 * the first new answer let `orch apply` return while requests were still routed by the old files.
 */
export const RELOAD_SETTLE_MS = 200;

/**
 * Polls the status location until it serves `token` on every probe for RELOAD_SETTLE_MS (any other
 * answer restarts that window), or the timeout passes.
 */
export async function confirmServed(listen: string, token: string, timeoutSeconds: number): Promise<{ confirmed: boolean; lastSeen: string | null; waitedMs: number }> {
  const started = performance.now();
  const deadline = Date.now() + timeoutSeconds * 1000;
  let lastSeen: string | null = null;
  let servedSince: number | null = null;
  for (;;) {
    lastSeen = await probeStatus(listen);
    const now = performance.now();
    if (lastSeen === token) {
      servedSince ??= now;
      if (now - servedSince >= RELOAD_SETTLE_MS) return { confirmed: true, lastSeen, waitedMs: now - started };
    } else {
      servedSince = null;
    }
    if (Date.now() >= deadline) return { confirmed: servedSince !== null, lastSeen, waitedMs: now - started };
    await new Promise((r) => setTimeout(r, servedSince === null ? 25 : 10));
  }
}

export function splitListen(listen: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:]+\]|[^:]+):(\d+)$/.exec(listen);
  if (!m) return { host: '127.0.0.1', port: Number(listen) };
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

/** The last lines of nginx's error log, for explaining a reload that did not take effect. */
export function tailErrorLog(settings: Settings, lines = 5): string | null {
  const candidates = [settings.nginxPrefix ? join(settings.nginxPrefix, 'logs', 'error.log') : null, '/var/log/nginx/error.log'];
  for (const file of candidates) {
    if (!file) continue;
    try {
      const text = readFileSync(file, 'utf8');
      return text.trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      /* try the next */
    }
  }
  return null;
}
