import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../../adapters/fs/atomic-write.js';
import { nginxArgs, nginxVersion, nginxMissingError, runCommand } from '../../adapters/nginx/nginx-cli.js';
import { liveInvocation } from '../../adapters/nginx/nginx-control.js';
import { UserError } from '../../domain/errors.js';
import type { DesiredState } from '../../domain/model/desired-state.js';
import type { Settings } from '../../config/settings.js';
import { packagePath } from '../../config/package-root.js';

/** The example manifests the sandbox applies when no manifest path is configured. */
export const SANDBOX_EXAMPLE = packagePath('examples', 'sandbox');

/**
 * Demo backends: every pool member on a loopback address gets a tiny server inside the sandbox
 * nginx that answers with its pool and address, standing in for nanio servers and file servers.
 */
export function demoBackends(desired: DesiredState): Array<{ listen: string; pool: string }> {
  const out: Array<{ listen: string; pool: string }> = [];
  const seen = new Set<string>();
  for (const pool of desired.pools) {
    for (const m of pool.members) {
      if (!/^127\.\d+\.\d+\.\d+:\d+$/.test(m.address) || seen.has(m.address)) continue;
      seen.add(m.address);
      out.push({ listen: m.address, pool: pool.name });
    }
  }
  return out;
}

export function sandboxNginxConf(prefix: string, nginxDir: string, backends: Array<{ listen: string; pool: string }>): string {
  const t = (n: string) => join(prefix, 'temp', n);
  const demo = backends
    .map(
      (b) => `    server {
        listen ${b.listen};
        access_log off;
        location / {
            default_type text/plain;
            add_header X-Demo-Backend "${b.pool} ${b.listen}" always;
            return 200 "demo backend: pool=${b.pool} member=${b.listen} method=$request_method uri=$request_uri host=$http_host\\n";
        }
    }`,
    )
    .join('\n');
  return `# orch sandbox: a private nginx under ${prefix}, on loopback ports. Written by 'orch sandbox up'.
worker_processes 1;
pid ${join(prefix, 'nginx.pid')};
error_log ${join(prefix, 'logs', 'error.log')} notice;
events {
    worker_connections 512;
}
http {
    access_log ${join(prefix, 'logs', 'access.log')};
    client_body_temp_path ${t('client_body')};
    proxy_temp_path ${t('proxy')};
    fastcgi_temp_path ${t('fastcgi')};
    uwsgi_temp_path ${t('uwsgi')};
    scgi_temp_path ${t('scgi')};
    server_names_hash_bucket_size 128;
    server_names_hash_max_size 65536;

    # Demo backends standing in for the pools' members.
${demo}

    # orch's managed files.
    include ${join(nginxDir, 'pools')}/*.conf;
    include ${join(nginxDir, 'vhosts')}/*.conf;
}
`;
}

export function sandboxPrefix(settings: Settings): string {
  if (!settings.nginxPrefix || !settings.nginxConf) {
    throw new UserError('sandbox.no-prefix', 'The sandbox needs a private nginx: nginxPrefix and nginxConf must be set.', {
      hint: 'Unset ORCH_NGINX_CONF / ORCH_NGINX_PREFIX (the defaults point at ./.orch/sandbox), or set both to a private directory.',
    });
  }
  return settings.nginxPrefix;
}

export function isSandboxRunning(settings: Settings): number | null {
  const pidFile = join(sandboxPrefix(settings), 'nginx.pid');
  if (!existsSync(pidFile)) return null;
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  if (!Number.isInteger(pid) || pid <= 0) return null;
  try {
    process.kill(pid, 0);
    return pid;
  } catch {
    return null;
  }
}

/** Writes the sandbox main configuration and starts (or reloads) its nginx. */
export async function startSandboxNginx(settings: Settings, desired: DesiredState): Promise<{ pid: number; started: boolean }> {
  const version = await nginxVersion(settings.nginxBin);
  if (!version) throw nginxMissingError(settings.nginxBin);
  const prefix = sandboxPrefix(settings);
  for (const d of ['logs', 'temp']) mkdirSync(join(prefix, d), { recursive: true });
  mkdirSync(join(settings.nginxDir, 'pools'), { recursive: true });
  mkdirSync(join(settings.nginxDir, 'vhosts'), { recursive: true });
  writeFileAtomic(settings.nginxConf!, sandboxNginxConf(resolve(prefix), resolve(settings.nginxDir), demoBackends(desired)));
  const inv = liveInvocation({ bin: settings.nginxBin, conf: settings.nginxConf, prefix: settings.nginxPrefix });
  const running = isSandboxRunning(settings);
  const args = running ? [...nginxArgs(inv), '-s', 'reload'] : nginxArgs(inv);
  const r = await runCommand(settings.nginxBin, args, { timeoutMs: 60_000 });
  if (r.code !== 0) {
    throw new UserError('sandbox.nginx-failed', `The sandbox nginx did not ${running ? 'reload' : 'start'}: ${(r.stderr + r.stdout).trim()}`, {
      hint: `A port may already be in use; see ${join(prefix, 'logs', 'error.log')}. Stop a previous sandbox with 'orch sandbox down'.`,
    });
  }
  for (let i = 0; i < 100; i++) {
    const pid = isSandboxRunning(settings);
    if (pid) return { pid, started: !running };
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new UserError('sandbox.nginx-failed', `The sandbox nginx did not start; see ${join(prefix, 'logs', 'error.log')}.`);
}

export async function stopSandboxNginx(settings: Settings): Promise<boolean> {
  if (!isSandboxRunning(settings)) return false;
  await runCommand(settings.nginxBin, [...nginxArgs(liveInvocation({ bin: settings.nginxBin, conf: settings.nginxConf, prefix: settings.nginxPrefix })), '-s', 'quit'], { timeoutMs: 30_000 });
  for (let i = 0; i < 100 && isSandboxRunning(settings); i++) await new Promise((r) => setTimeout(r, 50));
  return true;
}

/** GET through the gateway; returns status and body (first line). */
export function probeGateway(host: string, port: number, hostHeader: string, path: string): Promise<{ status: number; body: string } | null> {
  return new Promise((resolveP) => {
    const req = request({ host, port, path, method: 'GET', timeout: 3000, headers: { host: hostHeader } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolveP({ status: res.statusCode ?? 0, body: body.trim() }));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolveP(null));
    req.end();
  });
}
