import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { detectSource } from '../../src/domain/import/detect-source.js';
import type { ImportResult, SourceFile } from '../../src/domain/import/import-result.js';
import { importNginxTree } from '../../src/domain/import/import-nginx-tree.js';
import { importOrchTree } from '../../src/domain/import/import-orch-tree.js';
import { importReferenceTree } from '../../src/domain/import/import-reference-tree.js';
import { writeManifests } from '../../src/domain/import/write-manifests.js';
import { parseManifestSources } from '../../src/domain/manifests/parse-manifests.js';
import { validateManifests } from '../../src/domain/manifests/validate-manifests.js';
import { renderTree } from '../../src/domain/render/render-tree.js';
import { nginxFeaturesFor } from '../../src/domain/render/rendered-tree.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { pool, virtualHost } from '../helpers/desired-builders.js';

const KEY = 'cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=';
const PLAINTEXTS = ['AKIAREFERENCE01', 's3cr3t/with+chars='];

/** A fixture tree with its placeholders filled (ports 30001..., fixed paths); no file is read by the importers. */
function fixture(name: string): SourceFile[] {
  const root = join(REPO_ROOT, 'test/fixtures/import', name);
  const out: SourceFile[] = [];
  let port = 30000;
  const ports = new Map<string, number>();
  const walk = (d: string) => {
    for (const n of readdirSync(d).sort()) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else if (!n.endsWith('.md')) {
        const content = readFileSync(p, 'utf8').replace(/\{\{(\w+)\}\}/g, (_, k: string) => {
          if (k === 'CERT') return '/etc/ssl/gw.crt';
          if (k === 'KEY') return '/etc/ssl/gw.key';
          if (k === 'TREE') return '/srv/tree';
          if (!ports.has(k)) ports.set(k, ++port);
          return String(ports.get(k));
        });
        out.push({ path: p.slice(root.length + 1), content });
      }
    }
  };
  walk(root);
  return out;
}

/** Resolves includes inside the fixture itself (as the app's resolver does for a directory). */
function resolverOf(files: SourceFile[]) {
  return (pattern: string) => {
    const rel = pattern.replace(/^\/srv\/tree\//, '');
    const f = files.find((x) => x.path === rel);
    return f ? [{ file: f.path, text: f.content }] : null;
  };
}

function validates(result: ImportResult): void {
  const written = writeManifests(result.desired, { layout: result.layout, schemaRef: () => 'x.json' });
  const v = validateManifests(parseManifestSources(written.files.map((f) => ({ path: f.path, text: f.text }))));
  expect(v.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  // And nginx-renderable (no value the renderer refuses).
  renderTree(v.desired, nginxFeaturesFor('1.22.1'));
}

const codes = (r: ImportResult) => r.warnings.map((w) => w.code);

describe('source detection', () => {
  it('tells the three sources apart', () => {
    expect(detectSource(fixture('reference-tool')).source).toBe('nanio-orchestrator');
    expect(detectSource(fixture('hand-written')).source).toBe('nginx');
    const orch = renderTree(
      { pools: [pool('a')], virtualHosts: [virtualHost('v', { defaultPool: 'a' })], migrations: [] },
      nginxFeaturesFor('1.22.1'),
    ).files;
    expect(detectSource(orch.map((f) => ({ path: f.path, content: f.content }))).source).toBe('orch');
    expect(detectSource([{ path: 'pools/x.meta.json', content: '{"pool_id": 3, "name": "x"}' }]).source).toBe('nanio-orchestrator');
  });
});

/** The reference tree's nginx directory and its migration state files (paths as the use case names them). */
function reference(): { files: SourceFile[]; migrations: SourceFile[] } {
  const all = fixture('reference-tool');
  return {
    files: all.filter((f) => f.path.startsWith('nginx/')).map((f) => ({ ...f, path: f.path.slice('nginx/'.length) })),
    migrations: all.filter((f) => f.path.startsWith('data/migrations/')).map((f) => ({ ...f, path: `/data/${f.path.slice(5)}` })),
  };
}

function importReference(opts: { key?: string | null; edit?: (f: SourceFile) => SourceFile; migrations?: SourceFile[] | null } = {}) {
  const { files, migrations } = reference();
  return importReferenceTree(opts.edit ? files.map(opts.edit) : files, null, {
    key: opts.key ?? null,
    confDir: '/etc/nginx',
    migrationFiles: opts.migrations === undefined ? migrations : opts.migrations,
  });
}

describe("the reference tool's tree", () => {
  it('with its key: credential values are recovered, only into secrets', () => {
    const r = importReference({ key: KEY });
    expect(r.secrets.map((s) => [s.env, s.value])).toEqual([
      ['POOL_2025_ACCESS_KEY', PLAINTEXTS[0]],
      ['POOL_2025_SECRET_KEY', PLAINTEXTS[1]],
    ]);
    expect(JSON.stringify(r.desired)).not.toContain(PLAINTEXTS[0]);
    expect(JSON.stringify(r.warnings)).not.toContain(PLAINTEXTS[0]);
    expect(r.desired.pools.find((p) => p.name === 'pool-2025')!.credentials).toEqual({
      accessKeyId: { env: 'POOL_2025_ACCESS_KEY' },
      secretAccessKey: { env: 'POOL_2025_SECRET_KEY' },
    });
    validates(r);
  });

  it('without a key: references only, one warning; with a wrong key: no value, nothing leaked', () => {
    const none = importReference();
    expect(none.secrets).toEqual([]);
    expect(codes(none).filter((c) => c.startsWith('import.credentials'))).toEqual(['import.credentials-encrypted']);
    const wrong = importReference({ key: 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=' });
    expect(wrong.secrets).toEqual([]);
    expect(codes(wrong).filter((c) => c.startsWith('import.credentials'))).toEqual([
      'import.credentials-unreadable',
      'import.credentials-unreadable',
    ]);
    expect(wrong.warnings.find((w) => w.code === 'import.credentials-unreadable')!.message).toContain('wrong key or damaged token');
  });

  it('maps pools, TLS with relative paths as nginx reads them and HTTP/2, IP rules, extra blocks by zone (extra_blocks_json), key prefixes', () => {
    const r = importReference();
    const p = Object.fromEntries(r.desired.pools.map((x) => [x.name, x]));
    expect([p['pool-2025']!.type, p['pool-2025']!.loadBalancing, p['pool-2025']!.keepalive, p['pool-2025']!.description]).toEqual([
      'nanio',
      'least_conn',
      32,
      'Buckets of 2025 (HDD shelf)',
    ]);
    expect(p['cdn-files']!.type).toBe('http');
    expect(p['cdn-files']!.members.map((m) => m.role)).toEqual(['primary', 'replica']);
    const s3 = r.desired.virtualHosts.find((v) => v.name === 's3.xpto.test')!;
    expect(s3.tls).toEqual({ certificate: '/etc/nginx/ssl/gw.crt', key: '/etc/nginx/ssl/gw.key', http2: true });
    expect(s3.ipRules).toEqual({ mode: 'allow', addresses: ['127.0.0.0/8', '::1'] });
    expect(s3.defaultPool).toBeNull(); // its template has no "location /": the sidecar's default pool routes nothing
    expect(s3.extraBlocks.map((b) => b.zone)).toEqual(['top', 'ssl', 'proxy', 'end', 'end']);
    expect(s3.extraBlocks[4]!.content).toContain('rewrite ^/legacy/(.*)$ /archive-2019/$1 break;');
    expect(s3.routes.map((x) => [x.path, x.pool, x.keyPrefix])).toEqual([
      ['/logs/', 'pool-2026', null],
      ['/media/', 'pool-2025', '2024/'],
      ['/photos/', 'pool-2025', null],
      ['/videos/', 'pool-2025', null],
    ]);
    const cdn = r.desired.virtualHosts.find((v) => v.name === 'cdn.xpto.test')!;
    expect(cdn.ipRules).toEqual({ mode: 'deny', addresses: ['127.0.0.2'] });
    expect(cdn.extraBlocks.map((b) => b.zone)).toEqual(['top', 'end']);
    // Nothing dropped; the one location carried verbatim says why.
    expect(codes(r)).not.toContain('import.dropped');
    expect(r.warnings.filter((w) => w.code === 'import.carried').map((w) => w.message)).toEqual([
      expect.stringContaining('location /legacy/'),
    ]);
    expect(codes(r)).toContain('import.key-prefix-other-bucket');
    expect(r.filesToMove).toEqual([]);
    expect(r.refusals).toEqual([]);
    validates(r);
  });

  it('its migrations: copying -> a Migration document; done, error -> one line each; no state files read -> one line', () => {
    const r = importReference();
    expect(r.desired.migrations.map((m) => [m.name, m.virtualHost, m.bucket, m.from, m.to, m.mode])).toEqual([
      ['videos-to-pool-2026', 's3.xpto.test', 'videos', 'pool-2025', 'pool-2026', 'copy'],
    ]);
    expect(r.warnings.filter((w) => w.code.startsWith('import.migration')).map((w) => [w.code, w.source?.file])).toEqual([
      ['import.migration-done', '/data/migrations/migration-4.done.json'],
      ['import.migration-carried', '/data/migrations/migration-7.state.json'],
      ['import.migration-ended', '/data/migrations/migration-8.state.json'],
    ]);
    // pool-2026 had no credentials of its own (the reference tool's global ones): references, one line.
    expect(r.desired.pools.find((p) => p.name === 'pool-2026')!.credentials).toEqual({
      accessKeyId: { env: 'POOL_2026_ACCESS_KEY' },
      secretAccessKey: { env: 'POOL_2026_SECRET_KEY' },
    });
    validates(r);
    const unread = importReference({ migrations: null });
    expect(unread.desired.migrations).toEqual([]);
    expect(codes(unread)).toContain('import.migrations-not-read');
  });

  it('refuses a migration whose writes already go to the destination: in a state file, or in the .conf', () => {
    const { migrations } = reference();
    const split = migrations.map((f) =>
      f.path.endsWith('migration-7.state.json') ? { ...f, content: f.content.replace('"copying"', '"write_routing"') } : f,
    );
    const r = importReference({ migrations: split });
    expect(r.refusals.map((d) => [d.code, d.source?.file])).toEqual([
      ['import.migration-split', '/data/migrations/migration-7.state.json'],
    ]);
    expect(r.refusals[0]!.hint).toContain('POST /api/migrations/7/cancel');
    // The same migration as the reference template renders it in the .conf, without its state file.
    const conf = (f: SourceFile) =>
      f.path === 'vhosts/s3.xpto.test.conf'
        ? {
            ...f,
            content: f.content
              .replace(
                '    location /videos/ {\n',
                '    location /videos/ {\n        error_page 418 = @nanio_mig_5;\n        if ($request_method !~ ^(GET|HEAD|OPTIONS)$) { return 418; }\n        proxy_intercept_errors on;\n        error_page 404 = @nanio_mig_5;\n',
              )
              .replace(/\n}\n$/, '\n    location @nanio_mig_5 {\n        proxy_pass         http://pool-2026;\n    }\n}\n'),
          }
        : f;
    const fromConf = importReference({ edit: conf, migrations: null });
    expect(fromConf.refusals.map((d) => [d.code, d.source?.file, d.source?.line])).toEqual([
      ['import.migration-split', 'vhosts/s3.xpto.test.conf', 48],
    ]);
  });

  it("reports what orch does not model: source_nanio_pool_id, the credentials' region and endpoint", () => {
    const r = importReference();
    expect(r.warnings.filter((w) => w.code === 'import.not-modelled').map((w) => [w.source?.file, w.message])).toEqual([
      ['pools/cdn-files.meta.json', expect.stringContaining('nanio pool pool-2025 (source_nanio_pool_id)')],
      ['pools/pool-2025.meta.json', expect.stringContaining('region eu-west-1')],
      ['pools/pool-2025.meta.json', expect.stringContaining('endpoint http://10.20.0.5:9000')],
    ]);
  });

  it('an extra block the .conf no longer holds is not imported', () => {
    const r = importReference({
      edit: (f) => (f.path === 'vhosts/s3.xpto.test.conf' ? { ...f, content: f.content.replace('    proxy_read_timeout 300s;\n', '') } : f),
    });
    expect(codes(r)).toContain('import.extra-block-missing');
    const s3 = r.desired.virtualHosts.find((v) => v.name === 's3.xpto.test')!;
    expect(s3.extraBlocks.map((b) => b.zone)).toEqual(['top', 'ssl', 'end', 'end']);
    validates(r);
  });
});

describe('a hand-written tree', () => {
  const resolve = () => {
    const files = fixture('hand-written');
    return importNginxTree(files, resolverOf(files));
  };

  it('maps upstreams, servers, routes, the default pool; carries the rest; lists the files to move', () => {
    const r = resolve();
    const names = r.desired.pools.map((p) => p.name);
    expect(names.slice(1)).toEqual(['backend-a', 'backend-b', 'legacy-1', 'legacy-2']);
    expect(names[0]).toMatch(/^127\.0\.0\.1-\d+$/); // the proxy_pass address, as a pool of one member
    const b = r.desired.pools.find((p) => p.name === 'backend-b')!;
    expect([b.loadBalancing, b.members.map((m) => m.role)]).toEqual(['least_conn', ['primary', 'replica']]);
    const api = r.desired.virtualHosts.find((v) => v.name === 'api')!;
    expect(api.serverNames).toEqual(['api.test']);
    expect(api.defaultPool).toBe('backend-a');
    expect(api.ipRules).toBeNull();
    expect(api.routes.map((x) => [x.path, x.pool])).toEqual([
      ['/direct/', r.desired.pools[0]!.name],
      ['/docs/', 'backend-b'],
      ['/photos/', 'backend-a'],
    ]);
    expect(r.filesToMove).toEqual(['pools/legacy.conf', 'vhosts/two.conf']);
    // allow/deny in an order orch's IP rules cannot hold, and a regex server name, are dropped, never carried into an extra
    // block (which may not set what spec.ipRules renders): validation would refuse them.
    expect(codes(r).filter((c) => c === 'import.carried')).toHaveLength(8);
    expect(
      r.warnings.filter((x) => x.code === 'import.dropped' && /orch sets (allow|deny) from spec\.ipRules/.test(x.message)),
    ).toHaveLength(3);
    validates(r);
  });

  it.each([
    [
      'location / doing more than proxy_pass',
      'server { listen 8080; server_name a.test; location / { proxy_pass http://u; add_header X 1; } }',
      'import.catch-all',
      /carried as the named location @orch_import_root/,
    ],
    [
      'location / holding a location',
      'server { listen 8080; server_name a.test; location / { location /in/ { return 200; } proxy_pass http://u; } }',
      'import.dropped',
      /location \/ does more than send requests to one pool and holds what a named location cannot/,
    ],
    ['a map no server reads', 'map $x $y { default 1; }', 'import.dropped', /no imported server reads \$y/],
    [
      'a map with hostnames',
      'map $host $y { hostnames; default 1; *.a.test 2; } server { listen 8080; server_name a.test; location / { return 200 $y; } }',
      'import.dropped',
      /map orch cannot carry .* \(it uses hostnames\)/,
    ],
    [
      'a unix-socket member',
      'upstream u { server unix:/run/u.sock; server 10.0.0.1:80; } server { listen 8080; server_name a.test; location / { proxy_pass http://u; } }',
      'import.dropped',
      /unix sockets/,
    ],
    ['an http-level directive', 'proxy_cache_path /tmp/c keys_zone=c:1m;', 'import.dropped', /http-level directive/],
    [
      'listen default_server',
      'server { listen 8080 default_server; server_name a.test; }',
      'import.dropped',
      /default_server is not carried/,
    ],
    ['no server name', 'server { listen 8080; }', 'import.server-name', /imported with "_"/],
    ['an unfollowed include', 'server { listen 8080; server_name a.test; include /nowhere/x.conf; }', 'import.dropped', /was not followed/],
  ])('%s is reported', (_, text, code, message) => {
    const r = importNginxTree([{ path: 'conf.d/x.conf', content: text }], null);
    const w = r.warnings.find((x) => x.code === code);
    expect(w, JSON.stringify(r.warnings)).toBeDefined();
    expect(w!.message).toMatch(message);
    expect(w!.source?.file).toBe('conf.d/x.conf');
    validates(r);
  });

  it('an exact location to another pool keeps both locations verbatim (no route, no duplicate location)', () => {
    const text =
      'upstream a { server 10.0.0.1:80; } upstream b { server 10.0.0.2:80; }\nserver { listen 8080; server_name a.test;\n location = /x { proxy_pass http://b; }\n location /x/ { proxy_pass http://a; }\n}';
    const r = importNginxTree([{ path: 'site.conf', content: text }], null);
    const v = r.desired.virtualHosts[0]!;
    expect(v.routes).toEqual([]);
    expect(v.extraBlocks.map((b) => b.content.split('\n')[0])).toEqual([
      'location = /x { proxy_pass http://b; }',
      'location /x/ { proxy_pass http://a; }',
    ]);
    validates(r);
  });
});

describe("orch's own tree with a hand-written file beside it", () => {
  it("imports orch's resources and names the file that is not orch's", () => {
    const tree = renderTree(
      { pools: [pool('a')], virtualHosts: [virtualHost('v', { defaultPool: 'a' })], migrations: [] },
      nginxFeaturesFor('1.22.1'),
    ).files.map((f) => ({ path: f.path, content: f.content }));
    const r = importOrchTree(
      [
        ...tree,
        { path: 'vhosts/hand.conf', content: 'server { listen 81; }\n' },
        { path: 'vhosts/_orch-status.conf', content: '# managed-by: orch status\n' },
      ],
      nginxFeaturesFor('1.22.1'),
    );
    expect(r.desired.virtualHosts.map((v) => v.name)).toEqual(['v']);
    expect(r.warnings.map((w) => [w.code, w.source?.file])).toEqual([['import.not-orch', 'vhosts/hand.conf']]);
  });
});
