import { CONF_MARKER } from './rendered-tree.js';

/** The managed status file: a loopback-only server that answers with the generation nginx serves. */
export const STATUS_FILE_PATH = 'vhosts/_orch-status.conf';

/** What the status location answers for a generation: the number and a short content token. */
export function statusToken(generation: number, fingerprint: string): string {
  const short = fingerprint.replace(/^sha256:/, '').slice(0, 12);
  return `${generation} ${short}`;
}

/**
 * Renders the status server. `listen` is validated by the caller to be a loopback `addr:port`.
 * Reload confirmation polls `GET /orch/generation` until it answers the new token: nginx's
 * `-s reload` exits 0 even when the master keeps the old configuration.
 */
export function renderStatusFile(listen: string, token: string): string {
  return [
    `${CONF_MARKER} — reload confirmation endpoint (loopback only); rewritten by every 'orch apply'.`,
    'server {',
    `    listen ${listen};`,
    '    server_name orch-status;',
    '    access_log off;',
    '    allow 127.0.0.0/8;',
    '    allow ::1;',
    '    deny all;',
    '    location = /orch/generation {',
    '        default_type text/plain;',
    `        return 200 "${token}";`,
    '    }',
    // The pid of the worker that answers: its parent is the nginx master, whose children tell
    // whether workers of an older configuration are still finishing requests (migration freezes).
    '    location = /orch/worker-pid {',
    '        default_type text/plain;',
    '        return 200 "$pid";',
    '    }',
    '    location / {',
    '        return 404;',
    '    }',
    '}',
    '',
  ].join('\n');
}

/** statusListen must be a loopback address with a port: it is rendered into nginx. */
export function isLoopbackListen(listen: string): boolean {
  const m = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\]|localhost):(\d{1,5})$/.exec(listen);
  if (!m) return false;
  const port = Number(m[2]);
  if (port < 1 || port > 65535) return false;
  return m[1]!.startsWith('127.') ? m[1]!.split('.').every((o) => Number(o) <= 255) : true;
}
