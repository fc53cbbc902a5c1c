import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { routeRequest, serverViews } from '../../src/domain/import/nginx-routing.js';
import { OUTSIDE_CLIENT } from '../../src/domain/import/routing-equivalence.js';
import type { NginxDirective } from '../../src/domain/nginx-config/nginx-ast.js';
import { parseNginxConfig } from '../../src/domain/nginx-config/parse-nginx-config.js';
import { REPO_ROOT, runCli, type CliResult } from '../helpers/cli.js';
import { makeSelfSignedCert } from '../helpers/nginx.js';
import { freePorts } from '../helpers/ports.js';
import { copyTemplateTree, send, ServedTree, startEchoServers, type Answer, type EchoServers, type Probe } from '../helpers/served-tree.js';

/**
 * Adopting a gateway as a new user would: `orch import` of the tree, then validate, plan and apply
 * into a fresh managed directory, with the real nginx (Debian 12: 1.22) serving first the original
 * tree, then orch's. Pool members are node servers that answer with the pool they stand for and
 * the URI they got. The same requests (Host, path, method, client address) are sent to both.
 *
 * What is shown, request by request:
 * - the import's routing check computes, from the two configurations, exactly the answers real
 *   nginx gives on each tree (so its verdict is nginx's);
 * - every request real nginx answers differently after the apply is listed by the import, and no
 *   request it answers the same is;
 * - the requests that carry data (object reads and writes of every route) are routed identically.
 *
 * The reference tree is written as the reference tool's code writes it (`http2  on;`, relative
 * certificate paths, no `location /`, ...). nginx 1.22 refuses `http2 on;`, so the copy nginx
 * serves "before" has HTTP/2 as the listen parameter instead: the one edit, which routes nothing.
 */
const KEY = 'cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=';

interface ReportDiff {
  port: number;
  host: string;
  method: string;
  uri: string;
  client: string;
  before: string;
  after: string;
}
interface Report {
  files: string[];
  migrations: string[];
  warnings: Array<{ code: string; message: string; file: string | null }>;
  routing: { unchanged: boolean; checked: number; differences: ReportDiff[] } | null;
  secret_names: string[];
  env_file: string | null;
}

function ok(r: CliResult): CliResult {
  if (r.code !== 0) throw new Error(`exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** The top-level blocks named `name` (server, map) of every `.conf` below `dir`. */
function blocksOf(dir: string, name = 'server'): NginxDirective[] {
  const out: NginxDirective[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, n.name);
      if (n.isDirectory()) walk(p);
      else if (n.name.endsWith('.conf'))
        out.push(...parseNginxConfig(readFileSync(p, 'utf8'), { file: p }).directives.filter((x) => x.name === name && x.block));
    }
  };
  walk(dir);
  return out;
}

/** What real nginx answered, in the routing check's words. */
function asOutcome(a: Answer): string {
  if (a.pool !== null) return `pool ${a.pool} ${a.uri}`;
  if (a.status >= 300 && a.status < 400) return `redirect ${a.status} ${a.location}`;
  return `status ${a.status}`;
}

/** The check's prediction, as real nginx shows it here: the prefix has no html/, so static files are all 404. */
function predicted(outcome: string): string {
  return outcome.startsWith('static ') ? 'status 404' : outcome;
}

interface Gateway {
  root: string;
  prefix: string;
  echo: EchoServers;
  served: ServedTree | null;
  env: Record<string, string>;
}

async function startGateway(labels: Record<string, string>, extraPorts: string[]) {
  const root = mkdtempSync(join(tmpdir(), 'orch-equiv-'));
  // nginx's workers (user nobody when run as root) look for static files under the prefix: let them.
  chmodSync(root, 0o755);
  const keys = [...Object.keys(labels), ...extraPorts, 'STATUS'];
  const list = await freePorts(keys.length);
  const ports = Object.fromEntries(keys.map((k, i) => [k, list[i]!]));
  const prefix = join(root, 'prefix');
  mkdirSync(join(prefix, 'ssl'), { recursive: true });
  const echo = await startEchoServers(new Map(Object.entries(labels).map(([k, label]) => [ports[k]!, label])));
  const env = {
    ORCH_MANIFESTS: join(root, 'manifests'),
    ORCH_NGINX_DIR: join(root, 'managed'),
    ORCH_STATE_DIR: join(root, 'state'),
    ORCH_NGINX_CONF: join(prefix, 'nginx.conf'),
    ORCH_NGINX_PREFIX: prefix,
    ORCH_STATUS_LISTEN: `127.0.0.1:${ports['STATUS']}`,
  };
  const g: Gateway = { root, prefix, echo, served: null, env };
  return { g, ports };
}

async function stopGateway(g: Gateway | undefined): Promise<void> {
  if (!g) return;
  await g.served?.stop();
  await g.echo.close();
  rmSync(g.root, { recursive: true, force: true });
}

async function answers(probes: Probe[]): Promise<Answer[]> {
  const out: Answer[] = [];
  for (const p of probes) out.push(await send(p));
  return out;
}

/** Serves `tree`, sends the probes, stops nginx. */
async function servedAnswers(g: Gateway, tree: string, probes: Probe[]): Promise<Answer[]> {
  g.served = await ServedTree.start(tree, g.prefix);
  try {
    return await answers(probes);
  } finally {
    await g.served.stop();
    g.served = null;
  }
}

/** Import -> validate -> apply (which plans) into the fresh managed directory, served by nginx; plan again: no change. */
async function adoptIntoFreshDirectory(g: Gateway, source: string, importArgs: string[], extraEnv: Record<string, string> = {}) {
  const env = { ...g.env, ...extraEnv };
  const report = JSON.parse(
    ok(await runCli(['import', source, '--out', env.ORCH_MANIFESTS, '--json', ...importArgs], { env })).stdout,
  ) as Report;
  ok(await runCli(['validate'], { env }));
  mkdirSync(env.ORCH_NGINX_DIR, { recursive: true });
  g.served = await ServedTree.start(env.ORCH_NGINX_DIR, g.prefix);
  ok(await runCli(['apply', '--auto-approve'], { env }));
  const again = await runCli(['plan', '--detailed-exitcode'], { env });
  expect(again.code, again.stdout + again.stderr).toBe(0);
  return report;
}

function describeProbe(p: Probe): string {
  return `${p.method ?? 'GET'} ${p.host}${p.path} from ${p.from ?? '127.0.0.1'}`;
}

/**
 * The heart of the test: for each probe, the check's computation agrees with real nginx on both
 * trees, and the import lists the probe as a difference exactly when real nginx answers it differently.
 */
function expectCheckAgreesWithNginx(opts: {
  probes: Probe[];
  before: Answer[];
  after: Answer[];
  beforeTree: string;
  afterTree: string;
  report: Report;
  checkClient: (p: Probe) => string;
}): { differing: string[] } {
  const b = serverViews(blocksOf(opts.beforeTree));
  const a = serverViews(blocksOf(opts.afterTree));
  const maps = blocksOf(opts.beforeTree, 'map');
  const differing: string[] = [];
  opts.probes.forEach((p, i) => {
    const req = { port: p.port, host: p.host, uri: p.path, method: p.method ?? 'GET', client: p.from ?? '127.0.0.1' };
    const what = describeProbe(p);
    expect(asOutcome(opts.before[i]!), `before: ${what}`).toBe(predicted(routeRequest(b, req, (x) => x, maps)));
    expect(asOutcome(opts.after[i]!), `after: ${what}`).toBe(predicted(routeRequest(a, req, (x) => x)));
    const realDiffers = asOutcome(opts.before[i]!) !== asOutcome(opts.after[i]!);
    if (realDiffers) differing.push(what);
    const listed = opts.report.routing!.differences.find(
      (d) =>
        d.port === p.port && d.host === p.host && d.method === (p.method ?? 'GET') && d.uri === p.path && d.client === opts.checkClient(p),
    );
    const real = `${asOutcome(opts.before[i]!)} -> ${asOutcome(opts.after[i]!)}`;
    if (realDiffers) expect(listed, `listed by the import: ${what} (${real})`).toBeDefined();
    // Listed while real nginx answers the same: only nginx's static files, which depend on what is on
    // disk (here nothing: 404 like orch's "location /"; a stock /usr/share/nginx/html answers / with 200).
    else if (listed) expect(listed.before, `listed by the import but unchanged: ${what} (${real})`).toMatch(/^static /);
  });
  return { differing };
}

describe("adopting the reference tool's tree: import, apply into a fresh directory, same routing", () => {
  let g: Gateway | undefined;
  let ports: Record<string, number>;
  let source: string;
  let beforeTree: string;
  const labels = {
    PORT_POOL_2025_1: 'pool-2025',
    PORT_POOL_2025_2: 'pool-2025',
    PORT_POOL_2026_1: 'pool-2026',
    PORT_POOL_2026_2: 'pool-2026',
    PORT_CDN_1: 'cdn-files',
    PORT_CDN_2: 'cdn-replica',
  };

  beforeAll(async () => {
    const s = await startGateway(labels, ['PORT_S3', 'PORT_CDN']);
    g = s.g;
    ports = s.ports;
    source = join(g.root, 'reference');
    copyTemplateTree(
      join(REPO_ROOT, 'test/fixtures/import/reference-tool'),
      source,
      Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
    );
    // Relative certificate paths: nginx reads them from the directory of its nginx.conf (the prefix here).
    await makeSelfSignedCert(join(g.prefix, 'ssl'), 'gw');
    beforeTree = join(g.root, 'before');
    cpSync(join(source, 'nginx'), beforeTree, { recursive: true });
    const vhost = join(beforeTree, 'vhosts/s3.xpto.test.conf');
    const text = readFileSync(vhost, 'utf8');
    const edited = text.replace(/listen (\d+) ssl;\n {4}http2 {2}on;\n/, 'listen $1 ssl http2;\n');
    expect(edited).not.toBe(text);
    writeFileSync(vhost, edited);
  });
  afterAll(() => stopGateway(g));

  it('imports every construct (TLS, HTTP/2, key prefixes, extra blocks by zone, credentials, migrations), applies on nginx 1.22, and routes as before except what it lists', async () => {
    const s3 = (path: string, extra: Partial<Probe> = {}): Probe => ({
      port: ports['PORT_S3']!,
      host: 's3.xpto.test',
      path,
      https: true,
      ...extra,
    });
    const cdn = (path: string, extra: Partial<Probe> = {}): Probe => ({ port: ports['PORT_CDN']!, host: 'cdn.xpto.test', path, ...extra });
    const dataProbes: Probe[] = [];
    for (const method of ['GET', 'PUT']) {
      for (const path of [
        '/photos/orch-probe/key.bin',
        '/videos/orch-probe/key.bin',
        '/logs/orch-probe/key.bin',
        '/media/orch-probe/key.bin',
        '/legacy/orch-probe/key.bin',
      ])
        dataProbes.push(s3(path, { method }));
      dataProbes.push(cdn('/releases/orch-probe/key.bin', { method }));
    }
    const otherProbes: Probe[] = [
      s3('/healthz'),
      s3('/photos'),
      s3('/photos?list-type=2'),
      s3('/media/'),
      s3('/'),
      s3('/orch-probe/key.bin'),
      s3('/orch-probe/key.bin', { method: 'PUT' }),
      cdn('/robots.txt'),
      cdn('/releases'),
      cdn('/'),
      cdn('/orch-probe/key.bin'),
      cdn('/orch-probe/key.bin', { method: 'PUT' }),
      // The client the vhost's IP rules deny: 403 before, whatever the path.
      cdn('/orch-probe/key.bin', { from: '127.0.0.2' }),
      cdn('/releases/orch-probe/key.bin', { from: '127.0.0.2' }),
      cdn('/robots.txt', { from: '127.0.0.2' }),
    ];
    const probes = [...dataProbes, ...otherProbes];
    const before = await servedAnswers(g!, beforeTree, probes);
    // The test means something: the tree routes each bucket to its pool, the key prefixes apply.
    expect(before.slice(0, 6).map(asOutcome)).toEqual([
      'pool pool-2025 /photos/orch-probe/key.bin',
      'pool pool-2025 /videos/orch-probe/key.bin',
      'pool pool-2026 /logs/orch-probe/key.bin',
      'pool pool-2025 /media/2024/orch-probe/key.bin',
      'pool pool-2025 /archive-2019/orch-probe/key.bin',
      'pool cdn-files /releases/orch-probe/key.bin',
    ]);
    expect(asOutcome(before[dataProbes.length + 12]!)).toBe('status 403');

    const report = await adoptIntoFreshDirectory(
      g!,
      join(source, 'nginx'),
      ['--reference-key', KEY, '--reference-data', join(source, 'data')],
      {
        POOL_2025_ACCESS_KEY: 'AKIAREFERENCE01',
        POOL_2025_SECRET_KEY: 's3cr3t/with+chars=',
        POOL_2026_ACCESS_KEY: 'AKIAGLOBAL',
        POOL_2026_SECRET_KEY: 'global-secret',
      },
    );
    const after = await answers(probes);
    await g!.served!.stop();
    g!.served = null;

    // What the import made of the tree.
    const s3yaml = readFileSync(join(g!.env.ORCH_MANIFESTS, 'vhosts/s3.xpto.test.yaml'), 'utf8');
    expect(s3yaml).toContain(`certificate: ${join(g!.prefix, 'ssl/gw.crt')}`);
    expect(s3yaml).toContain('http2: true');
    expect(s3yaml).toMatch(/zone: top[\s\S]*zone: ssl[\s\S]*zone: proxy[\s\S]*zone: end/);
    expect(readFileSync(join(g!.env.ORCH_MANIFESTS, 'routes/s3.xpto.test/s3.xpto.test-media.yaml'), 'utf8')).toContain('keyPrefix: 2024/');
    expect(readFileSync(join(g!.env.ORCH_NGINX_DIR, 'vhosts/s3.xpto.test.conf'), 'utf8')).toMatch(/listen \d+ ssl http2;/);
    expect(report.migrations).toEqual(['videos-to-pool-2026']);
    expect(report.secret_names).toEqual(['POOL_2025_ACCESS_KEY', 'POOL_2025_SECRET_KEY']);
    const codes = report.warnings.map((w) => w.code);
    for (const c of [
      'import.migration-carried',
      'import.migration-done',
      'import.migration-ended',
      'import.global-credentials',
      'import.key-prefix-other-bucket',
      'import.relative-path',
    ])
      expect(codes, c).toContain(c);
    expect(report.warnings.filter((w) => w.code === 'import.not-modelled').map((w) => w.message)).toEqual([
      expect.stringContaining('source_nanio_pool_id'),
      expect.stringContaining('region eu-west-1'),
      expect.stringContaining('endpoint http://10.20.0.5:9000'),
    ]);
    expect(codes).not.toContain('import.dropped');
    expect(report.routing!.unchanged).toBe(false);

    const { differing } = expectCheckAgreesWithNginx({
      probes,
      before,
      after,
      beforeTree,
      afterTree: g!.env.ORCH_NGINX_DIR,
      report,
      // The check sends from a client each rule covers and from one none covers (OUTSIDE_CLIENT).
      checkClient: (p) => (p.host === 'cdn.xpto.test' ? (p.from === '127.0.0.2' ? '127.0.0.2' : OUTSIDE_CLIENT) : '127.0.0.1'),
    });
    // Every request that carries data is routed as before; what differs is what orch renders on purpose.
    expect(after.slice(0, dataProbes.length)).toEqual(before.slice(0, dataProbes.length));
    expect(differing.sort()).toEqual([
      'GET cdn.xpto.test/orch-probe/key.bin from 127.0.0.2', // denied client, unrouted path: 403 -> orch's "location /" answers 404 before the access check
      'GET cdn.xpto.test/releases from 127.0.0.1', // bucket-level: nginx's 301 -> the bucket's pool (orch renders "location = /releases")
      'GET s3.xpto.test/media/ from 127.0.0.1', // the bucket itself: the reference rewrite made it /media/2024/; orch's key prefix rewrites keys only
      'GET s3.xpto.test/photos from 127.0.0.1',
      'GET s3.xpto.test/photos?list-type=2 from 127.0.0.1',
      'PUT cdn.xpto.test/orch-probe/key.bin from 127.0.0.1', // unrouted write: nginx's static 405 -> 404
      'PUT s3.xpto.test/orch-probe/key.bin from 127.0.0.1',
    ]);
    const listed = (host: string, uri: string, client: string) =>
      report.routing!.differences.find((d) => d.host === host && d.uri === uri && d.client === client && d.method === 'GET');
    expect(listed('cdn.xpto.test', '/orch-probe/key.bin', '127.0.0.2')).toMatchObject({ before: 'status 403', after: 'status 404' });
  });

  it('refuses, writing nothing, while a migration sends writes to its destination and reads to its source', async () => {
    const data = join(g!.root, 'data-split');
    cpSync(join(source, 'data'), data, { recursive: true });
    const state = join(data, 'migrations/migration-7.state.json');
    writeFileSync(state, readFileSync(state, 'utf8').replace('"copying"', '"write_routing"'));
    const out = join(g!.root, 'refused');
    const r = await runCli(['import', join(source, 'nginx'), '--out', out, '--json', '--reference-data', data], { env: g!.env });
    expect(r.code).toBe(1);
    const error = (
      JSON.parse(r.stdout || r.stderr) as { error: { code: string; diagnostics: Array<{ code: string; hint: string; file: string }> } }
    ).error;
    expect(error.code).toBe('import.refused');
    const split = error.diagnostics.filter((d) => d.code === 'import.migration-split');
    expect(split.map((d) => d.file)).toEqual([state]);
    expect(split[0]!.hint).toContain('POST /api/migrations/7/cancel');
    expect(existsSync(out)).toBe(false);
  });
});

describe('adopting a hand-written tree whose "location /" reads an http-level map', () => {
  let g: Gateway | undefined;
  let ports: Record<string, number>;
  let source: string;

  beforeAll(async () => {
    const s = await startGateway({ PORT_A: 'backend-a', PORT_B: 'backend-b' }, ['PORT_APP']);
    g = s.g;
    ports = s.ports;
    source = join(g.root, 'hand');
    copyTemplateTree(
      join(REPO_ROOT, 'test/fixtures/import/hand-written-map'),
      source,
      Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
    );
  });
  afterAll(() => stopGateway(g));

  it('carries the map and the catch-all into what orch renders: apply passes, every request is routed as before, and the import says so', async () => {
    const app = (host: string, path: string, method = 'GET'): Probe => ({ port: ports['PORT_APP']!, host, path, method });
    const probes: Probe[] = [];
    for (const host of ['app.test', 'tenant-b.test', 'beta.app.test', 'other.test'])
      for (const method of ['GET', 'PUT'])
        for (const path of ['/x', '/', '/photos', '/photos/orch-probe/key.bin', '/orch-probe/key.bin', '/photos?list-type=2'])
          probes.push(app(host, path, method));
    const before = await servedAnswers(g!, source, probes);
    expect([before[0], before[12], before[24]].map(asOutcome)).toEqual(['pool backend-a /x', 'pool backend-b /x', 'pool backend-b /x']);

    const report = await adoptIntoFreshDirectory(g!, source, ['--from', 'nginx']);
    const after = await answers(probes);
    await g!.served!.stop();
    g!.served = null;

    const codes = report.warnings.map((w) => w.code);
    expect(codes).toContain('import.map-inlined');
    expect(codes).toContain('import.catch-all');
    expect(codes).not.toContain('import.dropped');
    const { differing } = expectCheckAgreesWithNginx({
      probes,
      before,
      after,
      beforeTree: source,
      afterTree: g!.env.ORCH_NGINX_DIR,
      report,
      checkClient: () => OUTSIDE_CLIENT,
    });
    expect(differing).toEqual([]);
    expect(after).toEqual(before);
    expect(report.routing).toMatchObject({ unchanged: true, differences: [] });
  });
});
