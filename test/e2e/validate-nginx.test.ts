import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, STACK_LINE } from '../helpers/cli.js';

/**
 * `orch validate --nginx-test` (issue 21): what only nginx catches fails validation at the manifest
 * field, with the real nginx; nothing is written outside a temporary directory (the state and
 * managed directories stay absent).
 */
describe('orch validate --nginx-test', () => {
  let dir: string;
  const manifests = (extra: string) => {
    const m = join(dir, 'manifests');
    rmSync(m, { recursive: true, force: true });
    mkdirSync(m, { recursive: true });
    writeFileSync(
      join(m, 'gateway.yaml'),
      [
        'apiVersion: orch/v1',
        'kind: Pool',
        'metadata: { name: web }',
        'spec:',
        '  type: http',
        '  members: [{ address: "127.0.0.1:9" }]',
        '---',
        'apiVersion: orch/v1',
        'kind: VirtualHost',
        'metadata: { name: site }',
        'spec:',
        '  serverNames: [site.test]',
        '  address: 127.0.0.1',
        '  port: 18089',
        '  defaultPool: web',
        '  extraBlocks:',
        '    - zone: proxy',
        '      content: |',
        '        proxy_read_timeout 300s;',
        `        ${extra}`,
        '',
      ].join('\n'),
    );
    return m;
  };
  const env = () => ({
    ORCH_STATE_DIR: join(dir, 'state'),
    ORCH_NGINX_DIR: join(dir, 'managed'),
    // A main configuration that does not include the managed directory: tested alone, as in CI.
    ORCH_NGINX_CONF: join(dir, 'nginx.conf'),
  });

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'orch-validate-nginx-'));
    writeFileSync(join(dir, 'nginx.conf'), 'events {}\nhttp {}\n');
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('passes what nginx accepts, and says which nginx checked it', async () => {
    const m = manifests('proxy_connect_timeout 5s;');
    const r = await runCli(['validate', '-m', m, '--nginx-test'], { env: env() });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Manifests are valid: 2 documents in 1 file (1 pool, 1 virtual host, 0 routes, 0 migrations).');
    expect(r.stdout).toMatch(/nginx \d+\.\d+\.\d+ accepts them: nginx -t passed on the rendered files alone/);
    const json = JSON.parse((await runCli(['validate', '-m', m, '--nginx-test', '--json'], { env: env() })).stdout) as {
      nginx: { checked: boolean; scope: string };
    };
    expect(json.nginx).toMatchObject({ checked: true, scope: 'wrapper' });
    expect(readdirSync(dir).sort()).toEqual(['manifests', 'nginx.conf']);
  });

  it('fails on what only nginx catches, at the manifest field; without the flag it passes', async () => {
    const m = manifests('proxy_no_such_directive on;');
    const plain = await runCli(['validate', '-m', m], { env: env() });
    expect(plain.code, plain.stderr).toBe(0);

    const r = await runCli(['validate', '-m', m, '--nginx-test'], { env: env() });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('unknown directive "proxy_no_such_directive"');
    expect(r.stderr).toMatch(/gateway\.yaml:\d+:\d+/);
    expect(r.stderr).toContain('extraBlocks');
    expect(r.stderr).not.toMatch(STACK_LINE);
    expect(readdirSync(dir).sort()).toEqual(['manifests', 'nginx.conf']);
  });
});
