import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { CreateBucketCommand, ListBucketsCommand } from '@aws-sdk/client-s3';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runCli, STACK_LINE } from '../helpers/cli.js';
import { expectContract } from '../helpers/json-contract.js';
import { nginxBinary, wrapperConf } from '../helpers/nginx.js';
import { freePorts } from '../helpers/ports.js';
import { NanioMember, skipWithoutNanio } from '../helpers/nanio.js';
import { s3Client } from '../helpers/s3-servers.js';

/**
 * `orch node-config` through the built CLI: the nanio files for the example gateway (the unit
 * checked by systemd-analyze), and an http pool's file server run by the REAL nginx, answering
 * files and refusing listings and writes.
 */
const GATEWAY = join(REPO_ROOT, 'examples/gateway');
const SYSTEMD_ANALYZE = '/usr/bin/systemd-analyze';

async function freePort(): Promise<number> {
  return (await freePorts(1))[0]!;
}

function http(port: number, method: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(method === 'PUT' ? 'new content' : undefined);
  });
}

/** A nanio pool whose credentials come from NC_ACCESS / NC_SECRET. */
function nanioPoolYaml(name: string, members: string[]): string {
  return `apiVersion: orch/v1
kind: Pool
metadata: {name: ${name}}
spec:
  type: nanio
  members:
${members.map((m) => `    - address: "${m}"`).join('\n')}
  credentials:
    accessKeyId: {env: NC_ACCESS}
    secretAccessKey: {env: NC_SECRET}
`;
}

describe('orch node-config (CLI)', () => {
  let work: string;
  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'orch-node-config-e2e-'));
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('prints the nanio files of a member, placeholders instead of credentials', async () => {
    const r = await runCli(['node-config', 'pool-2025', '10.20.0.11:9000', '-m', GATEWAY]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('# ==> nanio-options.toml: install as /etc/nanio/options.toml (mode 0600) <==');
    expect(r.stdout).toContain('# ==> nanio.service: install as /etc/systemd/system/nanio.service (mode 0644) <==');
    expect(r.stdout).toContain('host = "10.20.0.11"');
    expect(r.stdout).toContain('secret_key = "<contents of /etc/orch/secrets/pool-2025.secret>"');
    expect(r.stdout).toContain('Next steps on the member:');
  });

  it('reads the manifests through the settings, like plan (ORCH_MANIFESTS)', async () => {
    const r = await runCli(['node-config', 'pool-2026', '--json'], { env: { ORCH_MANIFESTS: GATEWAY } });
    expect(r.code).toBe(0);
    const j = expectContract<{ files: Array<{ name: string; mode: string }> }>('node-config', r.stdout);
    expect(j).toMatchObject({ pool: 'pool-2026', type: 'nanio', member: null, listen: { host: '0.0.0.0', port: 9000 } });
    expect(j.files.map((f: { name: string; mode: string }) => [f.name, f.mode])).toEqual([
      ['nanio-options.toml', '0600'],
      ['nanio.service', '0644'],
    ]);
  });

  it('writes a nanio unit that systemd-analyze verify accepts', async () => {
    const out = join(work, 'nanio');
    const manifests = join(work, 'unit-manifests');
    mkdirSync(manifests, { recursive: true });
    writeFileSync(join(manifests, 'pool.yaml'), nanioPoolYaml('pool-2025', ['10.20.0.11:9000', '10.20.0.12:9000', '10.20.0.13:9000']));
    const r = await runCli(['node-config', 'pool-2025', '2', '-m', manifests, '--out', out, '--nanio-bin', '/bin/sh'], {
      env: { NC_ACCESS: 'AKIAUNITTEST0001', NC_SECRET: 'unit-test-secret' },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`${out}/nanio.service  (install as /etc/systemd/system/nanio.service, mode 0644)`);
    if (!existsSync(SYSTEMD_ANALYZE)) {
      console.warn(`SKIPPED ASSERTION: ${SYSTEMD_ANALYZE} is not installed on this machine; nanio.service was not verified by systemd.`);
      return;
    }
    const v = spawnSync(SYSTEMD_ANALYZE, ['verify', join(out, 'nanio.service')], { encoding: 'utf8' });
    expect(v.stderr + v.stdout).toBe('');
    expect(v.status).toBe(0);
  });

  it('an http pool member: the real nginx serves files with the block, no listing, no writes', async () => {
    const port = await freePort();
    const manifests = join(work, 'manifests');
    mkdirSync(manifests, { recursive: true });
    writeFileSync(
      join(manifests, 'gw.yaml'),
      `apiVersion: orch/v1
kind: Pool
metadata: {name: files}
spec:
  type: http
  members:
    - address: 127.0.0.1:${port}
---
apiVersion: orch/v1
kind: VirtualHost
metadata: {name: dl}
spec:
  serverNames: [dl.example.test]
  port: 8080
  defaultPool: files
`,
    );
    const root = join(work, 'www');
    mkdirSync(join(root, 'releases'), { recursive: true });
    // nginx's workers run as an unprivileged user when the test runs as root: let them read the files.
    chmodSync(work, 0o755);
    writeFileSync(join(root, 'releases', 'v1.txt'), 'release one\n');
    const out = join(work, 'http');
    const r = await runCli(['node-config', 'files', `127.0.0.1:${port}`, '-m', manifests, '--root', root, '--out', out]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const block = readFileSync(join(out, 'files-file-server.conf'), 'utf8');
    expect(block).toContain(`    listen ${port};\n`);
    expect(block).toContain('#   dl (default pool: every other path) ->');

    // Run it in a private nginx, as the member's nginx would (inside http {}).
    const prefix = join(work, 'nginx');
    for (const d of ['logs', 'temp', 'tree/pools', 'tree/vhosts']) mkdirSync(join(prefix, d), { recursive: true });
    writeFileSync(join(prefix, 'tree/vhosts/files.conf'), block);
    writeFileSync(join(prefix, 'nginx.conf'), wrapperConf(prefix, join(prefix, 'tree')));
    const args = ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-e', join(prefix, 'logs/error.log')];
    execFileSync(nginxBinary(), [...args, '-t'], { stdio: 'pipe' });
    execFileSync(nginxBinary(), args, { stdio: 'pipe' });
    try {
      expect(await http(port, 'GET', '/releases/v1.txt')).toEqual({ status: 200, body: 'release one\n' });
      expect((await http(port, 'HEAD', '/releases/v1.txt')).status).toBe(200);
      expect((await http(port, 'GET', '/releases/missing.txt')).status).toBe(404);
      // No directory listing, with or without the slash.
      for (const p of ['/releases/', '/releases', '/']) expect([403, 404], p).toContain((await http(port, 'GET', p)).status);
      expect((await http(port, 'PUT', '/releases/v1.txt')).status).toBe(403);
      expect((await http(port, 'DELETE', '/releases/v1.txt')).status).toBe(403);
      expect(readFileSync(join(root, 'releases', 'v1.txt'), 'utf8')).toBe('release one\n');
    } finally {
      execFileSync(nginxBinary(), [...args, '-s', 'stop'], { stdio: 'pipe' });
    }
  });

  it.skipIf(skipWithoutNanio())(
    'a nanio member started from the written options file accepts the pool credentials, and only them',
    async () => {
      const out = join(work, 'nanio-real');
      const manifests = join(work, 'nanio-manifests');
      mkdirSync(manifests, { recursive: true });
      writeFileSync(join(manifests, 'pool.yaml'), nanioPoolYaml('real', ['127.0.0.1:9000']));
      const user = { accessKeyId: 'AKIANODECONFIG01', secretAccessKey: `nc-${Math.random().toString(36).slice(2)}/+=` };
      const r = await runCli(['node-config', 'real', '0', '-m', manifests, '--out', out], {
        env: { NC_ACCESS: user.accessKeyId, NC_SECRET: user.secretAccessKey },
      });
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout + r.stderr).not.toContain(user.secretAccessKey);
      const options = join(out, 'nanio-options.toml');
      expect(statSync(options).mode & 0o777).toBe(0o600);
      const member = await new NanioMember(join(work, 'nanio-data'), { optionsFile: options }).start();
      const ok = s3Client(member.endpoint, user);
      const wrong = s3Client(member.endpoint, { accessKeyId: user.accessKeyId, secretAccessKey: 'not-it' });
      try {
        await ok.send(new CreateBucketCommand({ Bucket: 'from-node-config' }));
        const listed = await ok.send(new ListBucketsCommand({}));
        expect(listed.Buckets?.map((b) => b.Name)).toEqual(['from-node-config']);
        await expect(wrong.send(new ListBucketsCommand({}))).rejects.toMatchObject({ name: 'SignatureDoesNotMatch' });
      } finally {
        ok.destroy();
        wrong.destroy();
        await member.kill();
      }
    },
  );

  it('an unknown pool: exit 1, the manifests named and the pools listed, no stack trace', async () => {
    const r = await runCli(['node-config', 'pool-1999', '-m', GATEWAY]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`Error: No pool "pool-1999" in the manifests at ${GATEWAY}.`);
    expect(r.stderr).toContain('hint: Pools: cdn-files (http), pool-2025 (nanio), pool-2026 (nanio).');
    expect(r.stderr).not.toMatch(STACK_LINE);
  });
});
