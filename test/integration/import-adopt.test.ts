import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runCli, type CliResult } from '../helpers/cli.js';
import { makeSelfSignedCert } from '../helpers/nginx.js';
import { freePorts } from '../helpers/ports.js';
import { copyTemplateTree, send, ServedTree, startEchoServers, type Answer, type EchoServers, type Probe } from '../helpers/served-tree.js';

/**
 * `orch import`, then the first `orch apply`, take ownership of a live tree without changing how
 * nginx routes traffic. A real nginx serves the tree (its main configuration includes the tree's
 * pools/ and vhosts/), with node servers as pool members. A fixed set of requests is sent before
 * and after: each is answered by the same pool, with the same status and the same upstream URI.
 * The one intended difference: a bucket-level request without a trailing slash (`GET /photos`),
 * which nginx answered with a 301 to `/photos/`, is now sent to the bucket's pool directly (orch
 * renders `location = /photos`); after following the redirect it ends at the same pool and URI.
 *
 * Decision (docs/recovery.md): the import never touches the imported directory; files whose blocks
 * orch writes under other names are listed by the import and moved away by the operator (here, the
 * test) before the first apply; every other file is replaced in place (plan: "adopt").
 */
interface Case {
  probe: Probe;
  /** The request was a bucket-level request that nginx redirected before orch (see above). */
  bucketLevel?: boolean;
}

interface Adoption {
  root: string;
  tree: string;
  manifests: string;
  served: ServedTree;
  echo: EchoServers;
  env: Record<string, string>;
}

async function setUp(
  fixture: string,
  labels: Record<string, string>,
  extraPorts: string[],
): Promise<{ a: Adoption; ports: Record<string, number> }> {
  const root = mkdtempSync(join(tmpdir(), 'orch-adopt-'));
  const keys = [...Object.keys(labels), ...extraPorts, 'STATUS'];
  const list = await freePorts(keys.length);
  const ports = Object.fromEntries(keys.map((k, i) => [k, list[i]!]));
  const cert = await makeSelfSignedCert(root, 'gw');
  const tree = join(root, 'tree');
  copyTemplateTree(join(REPO_ROOT, 'test/fixtures/import', fixture), tree, {
    ...Object.fromEntries(Object.entries(ports).map(([k, v]) => [k, String(v)])),
    CERT: cert.certificate,
    KEY: cert.key,
    TREE: tree,
  });
  const echo = await startEchoServers(new Map(Object.entries(labels).map(([k, label]) => [ports[k]!, label])));
  const served = await ServedTree.start(tree, join(root, 'prefix'));
  const manifests = join(root, 'manifests');
  const env = {
    ORCH_MANIFESTS: manifests,
    ORCH_NGINX_DIR: tree,
    ORCH_STATE_DIR: join(root, 'state'),
    ORCH_NGINX_CONF: served.conf,
    ORCH_NGINX_PREFIX: served.prefix,
    ORCH_STATUS_LISTEN: `127.0.0.1:${ports['STATUS']}`,
  };
  return { a: { root, tree, manifests, served, echo, env }, ports };
}

async function tearDown(a: Adoption | undefined): Promise<void> {
  if (!a) return;
  await a.served.stop();
  await a.echo.close();
  rmSync(a.root, { recursive: true, force: true });
}

async function answers(cases: Case[]): Promise<Answer[]> {
  const out: Answer[] = [];
  for (const c of cases) out.push(await send(c.probe));
  return out;
}

/** After following nginx's bucket-level redirect: the answer a client that follows redirects gets. */
async function followed(c: Case, a: Answer): Promise<Answer> {
  if (a.status !== 301 || !a.location) return a;
  return send({ ...c.probe, path: a.location });
}

function ok(r: CliResult): CliResult {
  if (r.code !== 0) throw new Error(`exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  return r;
}

/** import -> move the listed files away -> plan (adopt) -> apply; returns the import report. */
async function adopt(a: Adoption, importArgs: string[]) {
  const imported = ok(await runCli(['import', a.tree, '--out', a.manifests, '--json', ...importArgs], { env: a.env }));
  const report = JSON.parse(imported.stdout) as {
    files_to_move: string[];
    warnings: Array<{ code: string; message: string; file: string | null; line: number | null }>;
    env_file: string | null;
    secret_names: string[];
    files: string[];
  };
  for (const f of report.files_to_move) {
    const to = join(a.root, 'moved-away', f);
    mkdirSync(dirname(to), { recursive: true });
    renameSync(join(a.tree, f), to);
  }
  const plan = JSON.parse(ok(await runCli(['plan', '--json'], { env: a.env })).stdout) as {
    changes: Array<{ files: Array<{ path: string; action: string; adopt: boolean }> }>;
  };
  const files = plan.changes.flatMap((c) => c.files);
  const text = ok(await runCli(['plan'], { env: a.env })).stdout;
  ok(await runCli(['apply', '--auto-approve'], { env: a.env }));
  const after = await runCli(['plan', '--detailed-exitcode'], { env: a.env });
  expect(after.code, after.stdout + after.stderr).toBe(0);
  return { report, files, planText: text };
}

async function expectSameRouting(cases: Case[], before: Answer[]): Promise<void> {
  const after = await answers(cases);
  for (let i = 0; i < cases.length; i++) {
    const c = cases[i]!;
    const what = `${c.probe.method ?? 'GET'} ${c.probe.host}${c.probe.path}`;
    if (c.bucketLevel) {
      // Before: nginx's 301 to the slash form. After: orch's exact location answers from the pool.
      expect(before[i]!.status, what).toBe(301);
      expect(after[i]!.status, what).toBe(200);
      const viaRedirect = await followed(c, before[i]!);
      expect(after[i]!.pool, what).toBe(viaRedirect.pool);
    } else {
      expect(after[i], what).toEqual(before[i]);
    }
  }
}

describe('import a hand-written tree served by nginx, apply: requests are routed as before', () => {
  let a: Adoption | undefined;
  let cases: Case[];
  let before: Answer[];
  const labels = {
    PORT_A_1: 'backend-a',
    PORT_A_2: 'backend-a',
    PORT_B_1: 'backend-b',
    PORT_B_2: 'backend-b-replica',
    PORT_L_1: 'legacy-1',
    PORT_L_2: 'legacy-2',
    PORT_DIRECT: 'direct',
  };

  beforeAll(async () => {
    const s = await setUp('hand-written', labels, ['PORT_API', 'PORT_LEGACY']);
    a = s.a;
    const api = (path: string, extra: Partial<Probe> = {}): Case => ({
      probe: { port: s.ports['PORT_API']!, host: 'api.test', path, ...extra },
    });
    const legacy = (host: string, path: string): Case => ({ probe: { port: s.ports['PORT_LEGACY']!, host, path } });
    cases = [
      api('/photos/2024/a.jpg'),
      api('/photos'), // exact location in the hand tree too: routed the same, no redirect
      api('/photos?list-type=2'),
      api('/docs/guide.html'),
      { ...api('/docs'), bucketLevel: true },
      api('/direct/x.bin'),
      api('/old/page'), // rewrite ... permanent, carried verbatim
      api('/photos/script.php'), // regex location wins over the prefix route: 403
      api('/teapot/cup'), // error_page / named location, carried verbatim
      api('/teapot/missing'), // upstream 404 -> @teapot -> 418
      api('/anything/else'), // default pool
      api('/', { method: 'HEAD' }),
      api('/photos/a', { headers: { 'x-block': '1' } }), // server-level if, carried
      api('/photos/a', { host: 'tenant.api.test' }), // regex server name, carried
      api('/photos/a', { host: 'API.TEST' }),
      api('/photos/a', { method: 'PUT' }),
      legacy('legacy-one.test', '/x'),
      legacy('legacy-two.test', '/y'),
    ];
    before = await answers(cases);
  });
  afterAll(() => tearDown(a));

  it('served as expected before the import (the test means something)', () => {
    const by = (i: number) => `${before[i]!.status} ${before[i]!.pool}`;
    expect([by(0), by(1), by(3), by(5), by(6), by(7), by(9), by(10), by(12), by(16), by(17)]).toEqual([
      '200 backend-a',
      '200 backend-a',
      '200 backend-b',
      '200 direct',
      '301 null',
      '403 null',
      '418 null',
      '200 backend-a',
      '418 null',
      '200 legacy-1',
      '200 legacy-2',
    ]);
    expect(before[4]!.status).toBe(301);
  });

  it('imports with one warning per unmapped construct, takes the files over, and routes every request as before', async () => {
    const { report, files, planText } = await adopt(a!, []);
    expect(report.files_to_move).toEqual(['pools/legacy.conf', 'vhosts/two.conf']);
    const carried = report.warnings.filter((w) => w.code === 'import.carried').map((w) => `${w.file?.replace(a!.tree, 'TREE')}:${w.line}`);
    // In source order; the included snippet's directives where its include was.
    expect(carried).toEqual([
      'TREE/vhosts/api.conf:10',
      'TREE/snippets/timeouts.conf:1',
      'TREE/snippets/timeouts.conf:2',
      'TREE/vhosts/api.conf:13',
      'TREE/vhosts/api.conf:29',
      'TREE/vhosts/api.conf:32',
      'TREE/vhosts/api.conf:35',
      'TREE/vhosts/api.conf:40',
    ]);
    // A regex server name and allow/deny in an order spec.ipRules cannot hold: dropped, said so
    // (an extra block may not set what orch renders from a modelled field).
    const dropped = report.warnings.filter((w) => w.code === 'import.dropped').map((w) => `${w.file?.replace(a!.tree, 'TREE')}:${w.line}`);
    expect(dropped).toEqual(
      expect.arrayContaining(['TREE/vhosts/api.conf:4', 'TREE/vhosts/api.conf:5', 'TREE/vhosts/api.conf:6', 'TREE/vhosts/api.conf:7']),
    );
    // Hand files with the name orch writes are adopted (replaced in place); the others are created.
    const adopted = files
      .filter((f) => f.adopt)
      .map((f) => f.path)
      .sort();
    expect(adopted).toEqual(['pools/backend-a.conf', 'pools/backend-b.conf', 'vhosts/api.conf']);
    expect(planText).toContain('not written by orch: apply takes it over');
    for (const p of ['pools/backend-a.conf', 'vhosts/api.conf', 'vhosts/legacy-one.test.conf']) {
      expect(readFileSync(join(a!.tree, p), 'utf8').startsWith('# managed-by: orch')).toBe(true);
    }
    await expectSameRouting(cases, before);
  });
});
