import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { UserError } from '../../domain/errors.js';
import type { HealthHandlers, HealthServer, HealthServers } from '../../ports/health-server.js';

/**
 * The daemon's loopback HTTP listener: `/healthz` (the process answers), `/readyz`, `/status`
 * (JSON), `/metrics` (Prometheus). GET and HEAD only; no request body is read. The address must be
 * loopback (checked by the settings); nothing here authenticates.
 */
export async function startHealthServer(listen: string, handlers: HealthHandlers): Promise<HealthServer> {
  const { host, port } = splitHostPort(listen);
  const server: Server = createServer((req, res) => handle(req, res, handlers));
  server.keepAliveTimeout = 5000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new UserError(
          'watch.listen',
          `orch watch cannot listen on ${listen}: ${e.code === 'EADDRINUSE' ? 'the address is already in use' : e.message}.`,
          {
            hint: 'Choose another loopback address with --listen or watchListen (ORCH_WATCH_LISTEN), or "off" to run without the health listener.',
          },
        ),
      ),
    );
    server.listen(port, host, () => resolve());
  });
  const a = server.address();
  const bound = a && typeof a === 'object' ? `${a.family === 'IPv6' ? `[${a.address}]` : a.address}:${a.port}` : listen;
  return {
    address: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

function handle(req: IncomingMessage, res: ServerResponse, h: HealthHandlers): void {
  req.resume();
  const path = (req.url ?? '/').split('?')[0];
  const head = req.method === 'HEAD';
  if (req.method !== 'GET' && !head) {
    send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', head, { allow: 'GET, HEAD' });
    return;
  }
  try {
    switch (path) {
      case '/healthz':
        send(res, 200, 'text/plain; charset=utf-8', 'ok\n', head);
        return;
      case '/readyz': {
        const r = h.ready();
        send(res, r.ready ? 200 : 503, 'text/plain; charset=utf-8', r.ready ? 'ready\n' : `not ready: ${r.reason ?? 'unknown'}\n`, head);
        return;
      }
      case '/status':
        send(res, 200, 'application/json; charset=utf-8', `${JSON.stringify(h.status(), null, 2)}\n`, head);
        return;
      case '/metrics': {
        const m = h.metrics();
        send(res, 200, m.contentType, m.body, head);
        return;
      }
      default:
        send(res, 404, 'text/plain; charset=utf-8', 'not found: /healthz, /readyz, /status, /metrics\n', head);
    }
  } catch (e) {
    send(res, 500, 'text/plain; charset=utf-8', `internal error: ${e instanceof Error ? e.message : String(e)}\n`, head);
  }
}

function send(res: ServerResponse, status: number, type: string, body: string, head: boolean, extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store', ...extra });
  res.end(head ? undefined : body);
}

function splitHostPort(listen: string): { host: string; port: number } {
  const m = /^(\[[0-9a-fA-F:]+\]|[^:]+):(\d+)$/.exec(listen);
  if (!m) throw new UserError('config.invalid', `watchListen "${listen}" is not host:port.`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

/** The health listener of production: node:http. */
export const httpHealthServers: HealthServers = { start: startHealthServer };
