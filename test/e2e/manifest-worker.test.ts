import { spawnSync } from 'node:child_process';
import { appendFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT, runCli } from '../helpers/cli.js';
// @ts-expect-error plain ESM helper of the benchmark, without types
import { generateFleet } from '../bench/fleet.mjs';

/**
 * `orch plan` and `orch validate` read the manifests with a worker thread started by bin/run.js
 * (src/use-cases/plan/manifest-preload.ts, parallel-manifests.ts). Through the BUILT CLI, the output with
 * the worker must be byte for byte the output without it (ORCH_MANIFEST_WORKER=0, the reference
 * path), on valid and broken manifest sets, and on a generated fleet large enough to be split
 * between the threads. Then the protocol's cases, in-process against the built modules: the
 * main thread listing before the worker, the worker doing the work, a wrong guess of the path,
 * another working directory: always the reference result.
 */
describe('manifest worker', () => {
  let work: string;
  const sets: Array<{ name: string; dir: string }> = [];

  beforeAll(() => {
    work = mkdtempSync(join(tmpdir(), 'orch-manifest-worker-'));
    const fleet = join(work, 'fleet');
    generateFleet({ dir: fleet, virtualHosts: 60, routesPerHost: 10, pools: 30, basePort: 21000 });
    const broken = join(work, 'fleet-broken');
    cpSync(fleet, broken, { recursive: true });
    // Errors of several kinds spread over the chunks: syntax, schema, values, references, duplicates.
    writeFileSync(join(broken, 'routes', 'aaa-syntax.yaml'), 'apiVersion: orch/v1\nkind: Route\nmetadata: [\n');
    appendFileSync(join(broken, 'pools', 'nanio-003.yaml'), 'bogus: 1\n');
    writeFileSync(join(broken, 'vhosts', 'zz-dup.yaml'), 'apiVersion: orch/v1\nkind: VirtualHost\nmetadata:\n  name: v0001\nspec:\n  serverNames: [bad_name!]\n  defaultPool: nope\n');
    writeFileSync(join(broken, 'routes', 'mmm.yaml'), 'apiVersion: orch/v1\nkind: Route\nmetadata:\n  name: r1\nspec:\n  virtualHost: v0002\n  path: /x/\n  pool: missing\n---\napiVersion: orch/v1\nkind: Route\nmetadata:\n  name: r1\nspec:\n  virtualHost: v0002\n  path: /x/\n  pool: nanio-001\n');
    sets.push(
      { name: 'examples/gateway', dir: join(REPO_ROOT, 'examples/gateway') },
      { name: 'examples/sandbox', dir: join(REPO_ROOT, 'examples/sandbox') },
      { name: 'examples/broken', dir: join(REPO_ROOT, 'examples/broken') },
      { name: 'test/fixtures/bad (all at once)', dir: join(REPO_ROOT, 'test/fixtures/bad') },
      { name: 'generated fleet', dir: fleet },
      { name: 'generated fleet with errors', dir: broken },
    );
  });
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  const SETS = ['examples/gateway', 'examples/sandbox', 'examples/broken', 'test/fixtures/bad (all at once)', 'generated fleet', 'generated fleet with errors'];
  const VALID = new Set(['examples/gateway', 'examples/sandbox', 'generated fleet']);
  for (const [i, name] of SETS.entries()) {
    it(`changes nothing in the output of validate and plan: ${name}`, { timeout: 300_000 }, async () => {
      const { dir } = sets[i]!;
      expect(sets[i]!.name).toBe(name);
      const env = { ORCH_MANIFESTS: dir, ORCH_NGINX_DIR: join(work, 'nginx'), ORCH_STATE_DIR: join(work, 'state') };
      for (const args of [['validate'], ['validate', '--json'], ['plan', '--json', '--no-refresh', '--detailed-exitcode']]) {
        const [withWorker, reference] = await Promise.all([runCli(args, { env: { ...env, ORCH_MANIFEST_WORKER: '1' } }), runCli(args, { env: { ...env, ORCH_MANIFEST_WORKER: '0' } })]);
        expect(withWorker, `${name}: ${args.join(' ')}`).toEqual(reference);
        // Not two identical crashes: the expected outcome (plan: every file to create).
        expect(reference.code, `${name}: ${args.join(' ')}: ${reference.stderr}`).toBe(VALID.has(name) ? (args[0] === 'plan' ? 2 : 0) : 1);
        if (!VALID.has(name)) for (const code of ['yaml.syntax', 'schema.unknown-field']) expect(reference.stdout + reference.stderr, name).toContain(code);
      }
      // The manifest path given as a flag.
      const byFlag = ['validate', `--manifests=${dir}`, '--json'];
      const noState = { ORCH_STATE_DIR: join(work, 'state') };
      expect(await runCli(byFlag, { env: { ...noState, ORCH_MANIFEST_WORKER: '1' } }), name).toEqual(await runCli(byFlag, { env: { ...noState, ORCH_MANIFEST_WORKER: '0' } }));
    });
  }

  /** Runs a script against the built modules in a fresh process; returns its JSON output. */
  function probe(script: string, cwd = REPO_ROOT): Record<string, unknown> {
    const file = join(work, `probe-${Math.random().toString(36).slice(2)}.mjs`);
    writeFileSync(file, script);
    const r = spawnSync(process.execPath, [file], { cwd, encoding: 'utf8', env: { ...process.env, DIST: join(REPO_ROOT, 'dist'), ORCH_MANIFEST_WORKER: '1', ORCH_MANIFEST_CACHE: '0' } });
    if (r.status !== 0) throw new Error(`probe failed (${r.status}):\n${r.stderr}`);
    return JSON.parse(r.stdout) as Record<string, unknown>;
  }

  const PRELUDE = `
    const dist = process.env.DIST;
    const pre = await import(dist + '/use-cases/plan/manifest-preload.js');
    const lm = await import(dist + '/use-cases/plan/load-manifests.js');
    const pm = await import(dist + '/use-cases/plan/parallel-manifests.js');
    const src = await import(dist + '/adapters/fs/read-manifest-sources.js');
    const parse = await import(dist + '/domain/manifests/parse-manifests.js');
    const val = await import(dist + '/domain/manifests/validate-manifests.js');
    const { ValidationError } = await import(dist + '/domain/errors.js');
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
    const digest = (sources, v) => JSON.stringify({
      sources,
      diagnostics: v.diagnostics,
      desired: v.desired,
      documents: v.documents.map((d) => ({ file: d.file, index: d.index, value: d.value, at: d.at([]), name: d.at(['metadata', 'name']), spec: d.at(['spec'], 'key') })),
    });
    const load = (target, cwd) => {
      try {
        const r = lm.loadManifests(target, cwd);
        return digest(r.sources, r.validation);
      } catch (e) {
        if (!(e instanceof ValidationError)) throw e;
        return 'errors ' + JSON.stringify(e.diagnostics);
      }
    };
    const reference = (target, cwd) => {
      const sources = src.readManifestSources(target, cwd);
      const v = val.validateManifests(parse.parseManifestSources(sources));
      return v.diagnostics.some((d) => d.severity === 'error') ? 'errors ' + JSON.stringify(v.diagnostics) : digest(sources, v);
    };
    const waitListed = async () => {
      for (let i = 0; i < 600 && pre.preloadState() !== pre.STATE_LISTED; i++) await sleep(50);
      return pre.preloadState();
    };
  `;

  it('gives the reference result when the main thread lists before the worker has started', { timeout: 300_000 }, () => {
    for (const { dir } of sets) {
      const out = probe(`${PRELUDE}
        pre.preloadManifests(['validate', '-m', ${JSON.stringify(dir)}]);
        const got = load(${JSON.stringify(dir)});
        console.log(JSON.stringify({ same: got === reference(${JSON.stringify(dir)}), stats: pm.lastParallelLoadStats }));
      `);
      expect(out.same, dir).toBe(true);
      expect((out.stats as { readBy: string }).readBy, dir).toBe('main');
    }
  });

  it('gives the reference result with the work done by the worker', { timeout: 300_000 }, () => {
    for (const { dir } of sets) {
      const out = probe(`${PRELUDE}
        pre.preloadManifests(['plan', '--manifests=' + ${JSON.stringify(dir)}]);
        const state = await waitListed();
        await sleep(3000);
        const got = load(${JSON.stringify(dir)});
        console.log(JSON.stringify({ state, same: got === reference(${JSON.stringify(dir)}), stats: pm.lastParallelLoadStats }));
      `);
      expect(out.state, dir).toBe(2);
      expect(out.same, dir).toBe(true);
      const stats = out.stats as { readBy: string; chunksByWorker: number; chunksRedone: number };
      expect(stats.readBy, dir).toBe('worker');
      expect(stats.chunksByWorker, dir).toBeGreaterThan(0);
      expect(stats.chunksRedone, dir).toBe(0);
    }
  });

  it('reads the manifests itself when the worker guessed another path or the working directory differs', { timeout: 300_000 }, () => {
    const gateway = join(REPO_ROOT, 'examples/gateway');
    const fleet = join(work, 'fleet-broken');
    const out = probe(`${PRELUDE}
      pre.preloadManifests(['plan', '-m', 'examples/sandbox']);
      await waitListed();
      const wrongGuess = load(${JSON.stringify(gateway)}) === reference(${JSON.stringify(gateway)});
      const afterWrongGuess = pm.lastParallelLoadStats;
      pre.preloadManifests(['plan', '-m', ${JSON.stringify(fleet)}]);
      await waitListed();
      const otherCwd = load(${JSON.stringify(fleet)}, '/') === reference(${JSON.stringify(fleet)}, '/');
      console.log(JSON.stringify({ wrongGuess, afterWrongGuess, otherCwd, afterOtherCwd: pm.lastParallelLoadStats }));
    `);
    expect(out).toEqual({ wrongGuess: true, afterWrongGuess: null, otherCwd: true, afterOtherCwd: null });
  });

  it('gives the reference output with the validation cache, cold and warm, with and without the worker', { timeout: 300_000 }, async () => {
    const state = join(work, 'cached-state');
    mkdirSync(state, { recursive: true });
    for (const { name, dir } of [sets[0]!, sets[5]!, sets[4]!]) {
      rmSync(join(state, 'cache'), { recursive: true, force: true });
      const env = { ORCH_MANIFESTS: dir, ORCH_NGINX_DIR: join(work, 'nginx'), ORCH_STATE_DIR: state, ORCH_MANIFEST_CACHE: '1' };
      const args = ['plan', '--json', '--no-refresh', '--detailed-exitcode'];
      const reference = await runCli(args, { env: { ...env, ORCH_MANIFEST_WORKER: '0', ORCH_MANIFEST_CACHE: '0' } });
      expect(existsSync(join(state, 'cache'))).toBe(false);
      const cold = await runCli(args, { env: { ...env, ORCH_MANIFEST_WORKER: '0' } });
      expect(readdirSync(join(state, 'cache')).filter((f) => /^manifests-[0-9a-f]{64}\.bin$/.test(f)).length, name).toBe(1);
      const warm = await runCli(args, { env: { ...env, ORCH_MANIFEST_WORKER: '0' } });
      const warmWorker = await runCli(args, { env: { ...env, ORCH_MANIFEST_WORKER: '1' } });
      const validate = await runCli(['validate'], { env: { ...env, ORCH_MANIFEST_WORKER: '1' } });
      expect(cold, name).toEqual(reference);
      expect(warm, name).toEqual(reference);
      expect(warmWorker, name).toEqual(reference);
      expect(validate, name).toEqual(await runCli(['validate'], { env: { ...env, ORCH_MANIFEST_WORKER: '0', ORCH_MANIFEST_CACHE: '0' } }));
      // The worker's cache key (the main thread takes it instead of hashing again) is the main
      // thread's: runs with and without the worker share one entry, whichever wrote it.
      const entries = () => readdirSync(join(state, 'cache')).filter((f) => /^manifests-[0-9a-f]{64}\.bin$/.test(f));
      expect(entries(), name).toHaveLength(1);
      rmSync(join(state, 'cache'), { recursive: true, force: true });
      expect(await runCli(args, { env: { ...env, ORCH_MANIFEST_WORKER: '1' } }), name).toEqual(reference);
      const written = entries();
      expect(written, name).toHaveLength(1);
      expect(await runCli(args, { env: { ...env, ORCH_MANIFEST_WORKER: '0' } }), name).toEqual(reference);
      expect(entries(), name).toEqual(written);
    }
  });

  it('throws what the reference path throws for a missing manifest path', async () => {
    const env = { ORCH_MANIFESTS: join(work, 'nope') };
    const [withWorker, reference] = await Promise.all([runCli(['validate'], { env: { ...env, ORCH_MANIFEST_WORKER: '1' } }), runCli(['validate'], { env: { ...env, ORCH_MANIFEST_WORKER: '0' } })]);
    expect(withWorker).toEqual(reference);
    expect(withWorker.code).toBe(1);
    expect(withWorker.stderr).toContain('does not exist');
  });
});
