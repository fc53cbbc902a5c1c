import { join } from 'node:path';
import { UserError } from '../../domain/errors.js';
import type { DesiredState } from '../../domain/model/desired-state.js';
import type { Settings } from '../../config/settings.js';
import { packagePath } from '../../config/package-root.js';
import type { SandboxLocation, SandboxNginx } from '../../ports/sandbox-nginx.js';

/** What the sandbox needs: the settings (nginxPrefix, nginxConf: absolute, see settingsFrom) and its nginx. */
export interface SandboxPorts {
  settings: Settings;
  sandbox: SandboxNginx;
}

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

function locationOf(ports: SandboxPorts): SandboxLocation {
  const prefix = sandboxPrefix(ports.settings);
  return { prefix, conf: ports.settings.nginxConf!, nginxDir: ports.settings.nginxDir };
}

/** Writes the sandbox main configuration and starts (or reloads) its nginx. */
export async function startSandboxNginx(ports: SandboxPorts, desired: DesiredState): Promise<{ pid: number; started: boolean }> {
  await ports.sandbox.requireBinary();
  const at = locationOf(ports);
  return ports.sandbox.start(at, sandboxNginxConf(at.prefix, at.nginxDir, demoBackends(desired)));
}

/** Stops the sandbox nginx; false when it was not running. */
export function stopSandboxNginx(ports: SandboxPorts): Promise<boolean> {
  return ports.sandbox.stop(locationOf(ports));
}
