import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Gateway, httpRequest } from '../helpers/gateway.js';

/**
 * The proxy timeouts orch renders take effect in the real nginx: an upstream that answers only
 * after 2.5 s (like a CompleteMultipartUpload assembling its parts) is cut off with 504 by a
 * virtual host whose proxyReadTimeout is 1s, and answered through one with the default (600s).
 */
describe('proxy timeouts in a real nginx', () => {
  let gw: Gateway;
  let slow: Server;
  let slowPort = 0;

  beforeAll(async () => {
    gw = await Gateway.start({ pools: {}, vhostPorts: 2 });
    slow = createServer((_req, res) => {
      setTimeout(() => res.end('assembled\n'), 2500);
    });
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', () => r()));
    slowPort = (slow.address() as { port: number }).port;
    const vhost = (name: string, port: number, extra = '') => `apiVersion: orch/v1
kind: VirtualHost
metadata:
  name: ${name}
spec:
  serverNames: [${name}.test]
  address: 127.0.0.1
  port: ${port}
  defaultPool: slow
${extra}`;
    gw.setManifests({
      'pool.yaml': `apiVersion: orch/v1
kind: Pool
metadata:
  name: slow
spec:
  type: http
  members:
    - address: 127.0.0.1:${slowPort}
`,
      'short.yaml': vhost('short', gw.ports[0]!, '  proxyReadTimeout: 1s\n'),
      'default.yaml': vhost('default', gw.ports[1]!),
    });
    const r = await gw.orch(['apply', '--auto-approve']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
  }, 60_000);

  afterAll(async () => {
    await new Promise((r) => slow?.close(r));
    await gw?.stop();
  });

  it('a 1s read timeout cuts a slow answer off with 504; the default lets it through', async () => {
    const short = await httpRequest(gw.ports[0]!, 'short.test', '/bucket/key', 'GET', 10_000);
    expect(short?.status).toBe(504);
    const dflt = await httpRequest(gw.ports[1]!, 'default.test', '/bucket/key', 'GET', 10_000);
    expect(dflt?.status).toBe(200);
    expect(dflt?.body).toBe('assembled\n');
    expect(gw.readManaged('vhosts/default.conf')).toContain('    proxy_read_timeout 600s;\n');
    expect(gw.readManaged('vhosts/short.conf')).toContain('    proxy_read_timeout 1s;\n');
  });
});
