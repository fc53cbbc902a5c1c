import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DesiredVirtualHost } from '../../src/domain/model/desired-state.js';
import { BASE, migration } from './helpers/docs.js';
import { summarize, validateDir, validateTexts } from './helpers/manifests.js';

/** A realistic gateway: several files, several documents per file, every kind and zone. */
const DIR = join(import.meta.dirname, '..', 'fixtures', 'good', 'gateway');

describe('the good gateway fixture', () => {
  const result = validateDir(DIR);

  it('has no diagnostics at all', () => {
    expect(summarize(result.diagnostics)).toEqual([]);
  });

  it('keeps every parsed document', () => {
    expect(result.documents.map((d) => `${d.file}#${d.index}`)).toEqual([
      'http-static-replica.yaml#0',
      'migrations.yaml#0',
      'pools.yaml#0',
      'pools.yaml#1',
      'pools.yaml#2',
      'routes/more.yaml#0',
      'routes/more.yaml#1',
      'routes/more.yaml#2',
      'routes/photos.yaml#0',
      'vhosts.yaml#0',
      'vhosts.yaml#1',
    ]);
  });

  it('sorts pools by name and applies member defaults', () => {
    const { pools } = result.desired;
    expect(pools.map((p) => p.name)).toEqual(['http-mirror', 'http-static', 'nanio-archive', 'nanio-main']);
    const main = pools.find((p) => p.name === 'nanio-main');
    expect(main).toEqual({
      name: 'nanio-main',
      type: 'nanio',
      description: 'Main nanio cluster on the SSD shelf',
      loadBalancing: 'least_conn',
      keepalive: 32,
      members: [
        { address: '10.0.1.11:9000', weight: 1, maxFails: 1, failTimeout: '10s', enabled: true, role: 'primary' },
        { address: '10.0.1.12:9000', weight: 2, maxFails: 1, failTimeout: '10s', enabled: true, role: 'primary' },
        { address: '[fd00::13]:9000', weight: 1, maxFails: 3, failTimeout: '30s', enabled: true, role: 'primary' },
      ],
      credentials: { accessKeyId: { env: 'NANIO_MAIN_ACCESS_KEY' }, secretAccessKey: { file: '/etc/orch/secrets/nanio-main-secret' } },
      origin: { file: 'pools.yaml', index: 0, kind: 'Pool', name: 'nanio-main' },
    });
    const mirror = pools.find((p) => p.name === 'http-mirror');
    expect(mirror?.members.map((m) => [m.role, m.failTimeout])).toEqual([
      ['primary', '10s'],
      ['replica', '1m30s'],
    ]);
    expect(mirror?.loadBalancing).toBe('round_robin');
    expect(mirror?.credentials).toBeNull();
    expect(pools.find((p) => p.name === 'nanio-archive')?.members[1]?.enabled).toBe(false);
  });

  it('builds the TLS virtual host with its routes sorted by path', () => {
    const s3 = result.desired.virtualHosts.find((v) => v.name === 's3-public');
    expect(s3).toEqual({
      name: 's3-public',
      serverNames: ['s3.example.com', '*.s3.example.com'],
      port: 443,
      address: null,
      tls: { certificate: '/etc/ssl/s3.example.com.crt', key: '/etc/ssl/private/s3.example.com.key', http2: true },
      defaultPool: 'nanio-main',
      ipRules: { mode: 'allow', addresses: ['10.0.0.0/8', '192.0.2.17', 'fd00::/8'] },
      extraBlocks: [
        { zone: 'top', content: 'access_log /var/log/nginx/s3.access.log;\nadd_header X-Served-By "orch gateway" always;\n' },
        { zone: 'ssl', content: 'ssl_protocols TLSv1.2 TLSv1.3;\nssl_session_cache shared:SSL:10m;\n' },
        { zone: 'proxy', content: 'proxy_read_timeout 300s;\nproxy_connect_timeout 5s; # members are local\n' },
        { zone: 'end', content: "location = /healthz {\n    return 200 'ok';\n}\n" },
      ],
      ignoreBuckets: ['scratch'],
      routes: [
        {
          name: 'legacy-reports',
          virtualHost: 's3-public',
          path: '/Reports/2019/',
          bucket: null,
          pool: 'nanio-archive',
          keyPrefix: null,
          enabled: false,
          allowOrphan: false,
          origin: { file: 'routes/more.yaml', index: 1, kind: 'Route', name: 'legacy-reports' },
        },
        {
          name: 'backups',
          virtualHost: 's3-public',
          path: '/backups/',
          bucket: 'backups',
          pool: 'nanio-main',
          keyPrefix: null,
          enabled: true,
          allowOrphan: true,
          origin: { file: 'routes/more.yaml', index: 0, kind: 'Route', name: 'backups' },
        },
        {
          name: 'photos',
          virtualHost: 's3-public',
          path: '/photos/',
          bucket: 'photos',
          pool: 'nanio-archive',
          keyPrefix: null,
          enabled: true,
          allowOrphan: false,
          origin: { file: 'routes/photos.yaml', index: 0, kind: 'Route', name: 'photos' },
        },
      ],
      origin: { file: 'vhosts.yaml', index: 0, kind: 'VirtualHost', name: 's3-public' },
    } satisfies DesiredVirtualHost);
  });

  it('builds the plain virtual host with its bind address and key prefix route', () => {
    const st = result.desired.virtualHosts.find((v) => v.name === 'static');
    expect(st).toMatchObject({
      serverNames: ['static.example.com', 'files.example.*'],
      port: 8080,
      address: '10.0.0.5',
      tls: null,
      ipRules: null,
      extraBlocks: [],
      ignoreBuckets: [],
      defaultPool: 'http-static',
    });
    expect(st?.routes.map((r) => [r.path, r.bucket, r.pool, r.keyPrefix])).toEqual([['/assets/', 'assets', 'http-mirror', 'v2/']]);
    expect(result.desired.virtualHosts.map((v) => v.name)).toEqual(['s3-public', 'static']);
  });

  it('parses migration limits to numbers', () => {
    expect(result.desired.migrations).toEqual([
      {
        name: 'photos-to-main',
        virtualHost: 's3-public',
        bucket: 'photos',
        from: 'nanio-archive',
        to: 'nanio-main',
        mode: 'sync',
        concurrency: 32,
        bandwidthLimit: 50 * 1024 * 1024,
        freezeBudgetSeconds: 90,
        origin: { file: 'migrations.yaml', index: 0, kind: 'Migration', name: 'photos-to-main' },
      },
    ]);
  });

  it('applies migration defaults', () => {
    const r = validateTexts({ ...BASE, 'm.yaml': migration('virtualHost: gw\nbucket: photos\nfrom: main\nto: other') });
    expect(r.diagnostics).toEqual([]);
    expect(r.desired.migrations[0]).toMatchObject({ mode: 'copy', concurrency: 16, bandwidthLimit: null, freezeBudgetSeconds: 10 });
  });
});
