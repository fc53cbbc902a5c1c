import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fileManifestLoader } from '../../src/adapters/manifests/file-manifest-loader.js';
import { loadManifests } from '../../src/use-cases/plan/load-manifests.js';
import { withStableOrigins } from '../../src/domain/manifests/origin-names.js';
import { originNamesFor } from '../../src/adapters/fs/read-manifest-sources.js';
import { renderTree } from '../../src/domain/render/render-tree.js';
import { nginxFeaturesFor } from '../../src/domain/render/rendered-tree.js';
import { REPO_ROOT, runCli, STACK_LINE } from '../helpers/cli.js';

/**
 * `orch plan` end to end, through the built CLI, on the realistic example: from an empty
 * directory every file is created; with the rendered files in place nothing changes; after one
 * route is edited exactly that virtual host's files change, with a readable diff.
 */
describe('orch plan on examples/gateway', () => {
  let work: string;
  let manifests: string;
  let env: Record<string, string>;

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'orch-plan-e2e-'));
    manifests = join(work, 'manifests');
    cpSync(join(REPO_ROOT, 'examples/gateway'), manifests, { recursive: true });
    env = { ORCH_MANIFESTS: manifests, ORCH_NGINX_DIR: join(work, 'nginx'), ORCH_STATE_DIR: join(work, 'state') };
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('validates', async () => {
    const r = await runCli(['validate'], { env });
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/Manifests are valid: 12 documents in 11 files \(3 pools, 3 virtual hosts, 5 routes, 1 migration\)/);
    expect(r.code).toBe(0);
  });

  it('shows every file as created from an empty directory', async () => {
    const r = await runCli(['plan', '--detailed-exitcode', '--json'], { env });
    expect(r.code).toBe(2);
    const plan = JSON.parse(r.stdout);
    expect(plan.format_version).toBe('1.1');
    expect(plan.summary).toEqual({ add: 6, change: 0, destroy: 0, migrations_to_start: 1, buckets_to_create: 0 });
    const files = plan.changes.flatMap((c: { files: Array<{ path: string; action: string }> }) => c.files);
    expect(files).toHaveLength(12);
    expect(files.every((f: { action: string }) => f.action === 'create')).toBe(true);
    expect(plan.migrations[0]).toMatchObject({
      name: 'photos-to-2026',
      bucket: 'photos',
      from: 'pool-2025',
      to: 'pool-2026',
      mode: 'copy',
    });

    const text = await runCli(['plan'], { env });
    expect(text.code).toBe(0);
    expect(text.stdout).toContain('+ VirtualHost/s3-main will be created');
    expect(text.stdout).toContain('+++ b/vhosts/s3-main.conf');
    expect(text.stdout).toContain('Plan: 6 to add, 0 to change, 0 to destroy. 1 migration to start.');
  });

  it('shows no change with the rendered files in place, then exactly one vhost after a route edit', async () => {
    // Put the rendered tree on disk the way apply would (apply itself is tested with a live nginx).
    // There is no state database: as in CI, the plan is a preview against the files (--no-state);
    // without the flag, orch's files and no state stop the plan.
    const { validation } = loadManifests(fileManifestLoader(), manifests);
    const tree = renderTree(
      withStableOrigins(validation.desired, originNamesFor(manifests, process.cwd())).desired,
      nginxFeaturesFor('1.22.1'),
    );
    for (const f of tree.files) {
      const p = join(work, 'nginx', f.path);
      mkdirSync(dirname(p), { recursive: true });
      writeFileSync(p, f.content);
    }
    const lost = await runCli(['plan'], { env });
    expect(lost.code).toBe(1);
    expect(lost.stderr).toContain('is missing, but orch has applied here before');
    expect(lost.stderr).toContain('orch plan --no-state');
    // Plans render for the installed nginx version; the example has no version-dependent line
    // except http2, which is the same for every version below 1.25.1. The Migration would still
    // show as "to start" (nothing has started it): take it out for the no-change check.
    rmSync(join(manifests, 'migrations'), { recursive: true });
    const same = await runCli(['plan', '--no-state', '--detailed-exitcode'], { env });
    expect(same.stdout).toContain('No changes.');
    expect(same.code).toBe(0);
    // Wherever orch runs (the daemon in `/`, an operator in a checkout, a relative manifests
    // path): the generated files name their manifests relative to the manifests directory.
    expect(tree.files.find((f) => f.path === 'vhosts/s3-main.conf')!.content.split('\n')[0]).toContain(
      'generated from vhosts/s3-main.yaml (VirtualHost/s3-main)',
    );
    for (const [cwd, m] of [
      ['/', manifests],
      [work, 'manifests'],
      [manifests, '.'],
      [join(manifests, 'routes'), '..'],
    ] as const) {
      const elsewhere = await runCli(['plan', '--no-state', '--detailed-exitcode', '-m', m], { env, cwd });
      expect(elsewhere.stdout, `from ${cwd} with -m ${m}`).toContain('No changes.');
      expect(elsewhere.code).toBe(0);
    }

    const route = join(manifests, 'routes/s3-main/backups.yaml');
    writeFileSync(route, readFileSync(route, 'utf8').replace('pool: pool-2025', 'pool: pool-2026'));
    const edited = await runCli(['plan', '--no-state', '--detailed-exitcode', '--json'], { env });
    expect(edited.code).toBe(2);
    const plan = JSON.parse(edited.stdout);
    expect(plan.summary).toEqual({ add: 0, change: 1, destroy: 0, migrations_to_start: 0, buckets_to_create: 0 });
    expect(plan.changes).toHaveLength(1);
    expect(plan.changes[0].resource).toEqual({ kind: 'VirtualHost', name: 's3-main' });
    expect(plan.changes[0].files.map((f: { path: string }) => f.path)).toEqual(['vhosts/s3-main.conf', 'vhosts/s3-main.meta.json']);
    const diff: string = plan.changes[0].files[0].diff;
    expect(diff).toContain('-        proxy_pass http://pool-2025;');
    expect(diff).toContain('+        proxy_pass http://pool-2026;');
    // Only the backups locations changed: two proxy_pass lines.
    expect(diff.split('\n').filter((l) => l.startsWith('+') && !l.startsWith('+++'))).toHaveLength(2);

    const text = await runCli(['plan', '--no-state', '--no-diff'], { env });
    expect(text.stdout).toContain('~ VirtualHost/s3-main will be updated');
    expect(text.stdout).toContain('5 resources unchanged.');
    expect(text.stdout).toContain('Plan: 0 to add, 1 to change, 0 to destroy.');
  });

  it('reports hand-written files as unmanaged and never deletes them', async () => {
    writeFileSync(join(work, 'nginx/vhosts/hand.conf'), 'server { listen 8081; }\n');
    const r = await runCli(['plan', '--no-state', '--json'], { env });
    const plan = JSON.parse(r.stdout);
    expect(plan.unmanaged).toEqual(['vhosts/hand.conf']);
    expect(plan.changes.some((c: { action: string }) => c.action === 'delete')).toBe(false);
  });

  it('saves a plan with a fingerprint', async () => {
    const out = join(work, 'saved.plan');
    const r = await runCli(['plan', '--no-state', '--out', out], { env });
    expect(r.code).toBe(0);
    const saved = JSON.parse(readFileSync(out, 'utf8'));
    expect(saved.kind).toBe('orch-saved-plan');
    expect(saved.fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(Object.keys(saved.inputs.manifests)).toHaveLength(10);
    // Named relative to the manifests directory: the same from any working directory.
    expect(Object.keys(saved.inputs.manifests)).toContain('vhosts/s3-main.yaml');
    const elsewhere = join(work, 'elsewhere.plan');
    expect((await runCli(['plan', '--no-state', '--out', elsewhere], { env, cwd: '/' })).code).toBe(0);
    expect(JSON.parse(readFileSync(elsewhere, 'utf8')).fingerprint).toBe(saved.fingerprint);
  });
});

describe('orch plan with the validation cache (state directory present)', () => {
  let work: string;
  let env: Record<string, string>;
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('plans from the cache exactly as without it: no change, then a drifted file with its diff', async () => {
    work = mkdtempSync(join(tmpdir(), 'orch-plan-cache-'));
    const manifests = join(work, 'manifests');
    cpSync(join(REPO_ROOT, 'examples/gateway'), manifests, { recursive: true });
    rmSync(join(manifests, 'migrations'), { recursive: true });
    mkdirSync(join(work, 'state'));
    env = { ORCH_MANIFESTS: manifests, ORCH_NGINX_DIR: join(work, 'nginx'), ORCH_STATE_DIR: join(work, 'state') };
    const { validation } = loadManifests(fileManifestLoader(), manifests);
    for (const f of renderTree(
      withStableOrigins(validation.desired, originNamesFor(manifests, process.cwd())).desired,
      nginxFeaturesFor('1.22.1'),
    ).files) {
      mkdirSync(dirname(join(work, 'nginx', f.path)), { recursive: true });
      writeFileSync(join(work, 'nginx', f.path), f.content);
    }
    const entries = () => readdirSync(join(work, 'state', 'cache')).filter((n) => /^manifests-[0-9a-f]{64}\.bin$/.test(n));

    const first = await runCli(['plan', '--no-state', '--detailed-exitcode'], { env });
    expect(first.stdout).toContain('No changes.');
    expect(first.code).toBe(0);
    expect(entries()).toHaveLength(1);
    const second = await runCli(['plan', '--no-state', '--detailed-exitcode'], { env });
    expect(second).toEqual(first);
    // The bundle keys its entries on the build's identity (dist/bundle/build-id), as the compiled modules do.
    const dist = (p: string) => import(pathToFileURL(join(REPO_ROOT, 'dist', p)).href);
    const [{ buildIdentity }, { cacheKey }, { readManifestSources }] = await Promise.all([
      dist('adapters/manifests/build-identity.js'),
      dist('adapters/manifests/validation-cache.js'),
      dist('adapters/fs/read-manifest-sources.js'),
    ]);
    expect(entries()).toEqual([`manifests-${cacheKey(buildIdentity(), readManifestSources(manifests)) as string}.bin`]);

    // Drift on disk: the plan shows the diff, with the cache as without it.
    const conf = join(work, 'nginx', 'vhosts', 's3-main.conf');
    writeFileSync(conf, readFileSync(conf, 'utf8').replace('proxy_pass http://pool-2025;', 'proxy_pass http://pool-2026;'));
    const sidecar = join(work, 'nginx', 'vhosts', 'cdn.meta.json');
    writeFileSync(sidecar, readFileSync(sidecar, 'utf8').replace(/.$/s, ' ')); // same length
    const cached = await runCli(['plan', '--no-state', '--detailed-exitcode', '--json'], { env });
    const uncached = await runCli(['plan', '--no-state', '--detailed-exitcode', '--json'], { env: { ...env, ORCH_MANIFEST_CACHE: '0' } });
    expect(cached).toEqual(uncached);
    expect(cached.code).toBe(2);
    const plan = JSON.parse(cached.stdout);
    expect(plan.summary).toMatchObject({ add: 0, change: 2, destroy: 0 });
    expect(plan.changes.flatMap((c: { files: Array<{ path: string }> }) => c.files.map((f) => f.path))).toEqual([
      'vhosts/cdn.meta.json',
      'vhosts/s3-main.conf',
    ]);
    expect(plan.changes[1].files[0].diff).toContain('+        proxy_pass http://pool-2025;');
    const text = await runCli(['plan', '--no-state'], { env });
    expect(text).toEqual(await runCli(['plan', '--no-state'], { env: { ...env, ORCH_MANIFEST_CACHE: '0' } }));
  });
});

describe('orch error output', () => {
  it('exits 1 with a positioned message and no stack trace on a bad manifest', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'orch-bad-'));
    writeFileSync(
      join(dir, 'p.yaml'),
      'apiVersion: orch/v1\nkind: Pool\nmetadata:\n  name: "a;b"\nspec:\n  type: nanio\n  members: [{address: "10.0.0.1:9000"}]\n',
    );
    const r = await runCli(['plan', '-m', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/p\.yaml:4:\d+: error: /);
    expect(r.stderr).not.toMatch(STACK_LINE);
    const j = await runCli(['plan', '-m', dir, '--json']);
    expect(j.code).toBe(1);
    const body = JSON.parse(j.stdout);
    expect(body.error.code).toBe('validation.failed');
    expect(body.error.diagnostics[0]).toMatchObject({ severity: 'error', line: 4 });
    rmSync(dir, { recursive: true, force: true });
  });

  it('names a missing manifest path', async () => {
    const r = await runCli(['validate', '-m', '/nonexistent/manifests']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('Manifest path /nonexistent/manifests does not exist.');
    expect(r.stderr).not.toMatch(STACK_LINE);
  });

  it('rejects an unknown flag with exit 1 and a hint', async () => {
    const r = await runCli(['plan', '--bogus']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/Nonexistent flag|Unexpected argument/);
    expect(r.stderr).not.toMatch(STACK_LINE);
  });
});
