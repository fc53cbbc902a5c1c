import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_LINE } from '../helpers/cli.js';
import { changedPaths, docs, Gateway, holdPort, poolYaml, routeYaml, sameFiles, vhostYaml, withoutStatus } from '../helpers/gateway.js';

/**
 * The guards of `orch apply` against a real nginx: staged validation, the writer lock, reload
 * confirmation, prune, dry run, drift, rollback and renames. Each test starts from the state the
 * previous one left (one gateway, run in order).
 */

interface PlanJson {
  changes: Array<{
    resource: { kind: string; name: string };
    action: string;
    files: Array<{ path: string; action: string; after_sha256: string | null }>;
  }>;
  unmanaged: string[];
  not_in_inventory: string[];
  drift: Array<{ path: string; kind: string }>;
}

const BAD_EXTRA = `  extraBlocks:
    - zone: top
      content: |
        add_header X-Gateway test always;
    - zone: proxy
      content: |
        proxy_read_timeout 60s;
        proxy_bogus_directive on;
`;

describe.sequential('apply: guards against a real nginx', () => {
  let gw: Gateway;
  let s3Port: number;
  let filesPort: number;
  let scratchPort: number;
  let busyPort: number;
  const HANDWRITTEN = 'vhosts/handwritten.conf';
  const GHOST = 'vhosts/ghost.conf';
  let unmanaged: string[] = [];

  const s3 = (extra = '') => vhostYaml('s3', { serverNames: ['s3.test'], port: s3Port, defaultPool: 'hot', extra });
  const photos = (pool: string) => routeYaml('s3-photos', { virtualHost: 's3', path: '/photos/', pool });
  const base = (): Record<string, string> => ({
    'pools.yaml': docs(poolYaml('hot', gw.membersOf('hot')), poolYaml('archive', gw.membersOf('archive'))),
    'pools/cold.yaml': poolYaml('cold', gw.membersOf('cold')),
    'vhosts/s3.yaml': s3(),
    'vhosts/files.yaml': vhostYaml('files', { serverNames: ['files.test'], port: filesPort, defaultPool: 'archive' }),
    'vhosts/scratch.yaml': vhostYaml('scratch', { serverNames: ['scratch.test'], port: scratchPort, defaultPool: 'cold' }),
    'routes/photos.yaml': photos('archive'),
  });

  async function apply(args: string[] = [], opts: Parameters<Gateway['orch']>[1] = {}) {
    const r = await gw.orch(['apply', '--auto-approve', ...args], opts);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    return r;
  }

  /** Files, state and nginx agree, and the disk is exactly `expected` (status file aside). */
  async function expectConsistent(expected: Record<string, string>) {
    const managedOnly = Object.fromEntries(Object.entries(expected).filter(([p]) => !unmanaged.includes(p)));
    const { landed, problems } = await gw.consistency({ expected: managedOnly }, { unmanaged });
    expect(problems).toEqual([]);
    expect(landed).toBe('expected');
  }

  /** Everything a failed or refused apply must leave alone. */
  async function observe() {
    return { snap: gw.snapshot(), workers: await gw.settledWorkerPids(), token: await gw.served(), generation: gw.readState().generation };
  }
  async function expectUntouched(before: Awaited<ReturnType<typeof observe>>, what: string) {
    expect(gw.snapshot(), `${what}: files`).toEqual(before.snap);
    expect(await gw.settledWorkerPids(), `${what}: nginx was not reloaded (same workers)`).toEqual(before.workers);
    expect(await gw.served(), `${what}: same generation served`).toBe(before.token);
    expect(gw.readState().generation, `${what}: no generation committed`).toBe(before.generation);
  }

  beforeAll(async () => {
    gw = await Gateway.start({ pools: { hot: 1, archive: 1, cold: 1 }, vhostPorts: 4 });
    [s3Port, filesPort, scratchPort, busyPort] = gw.ports as [number, number, number, number];
    gw.setManifests(base());
    await apply();
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('a bad extra block fails the staged nginx -t: exit 5, nothing changed, no reload, the manifest line named', async () => {
    const before = await observe();
    const yaml = s3(BAD_EXTRA);
    gw.writeManifest('vhosts/s3.yaml', yaml);
    const line = yaml.split('\n').findIndex((l) => l.includes('proxy_bogus_directive')) + 1;
    const r = await gw.orch(['apply', '--auto-approve']);
    expect(r.code, r.stderr + r.stdout).toBe(5);
    expect(r.stderr).toMatch(
      new RegExp(`manifests/vhosts/s3\\.yaml:${line}:\\d+: error: VirtualHost/s3 spec\\.extraBlocks\\[1\\]\\.content`),
    );
    expect(r.stderr).toContain('unknown directive "proxy_bogus_directive"');
    expect(r.stderr).toContain('nothing live was touched');
    expect(r.stderr).not.toMatch(STACK_LINE);
    await expectUntouched(before, 'staged nginx -t failure');
    expect(existsSync(join(gw.stateDir, 'staging')), 'staging removed').toBe(false);
    gw.writeManifest('vhosts/s3.yaml', s3());
  });

  it('--dry-run stages and validates only: nothing changed, no reload', async () => {
    gw.writeManifest('routes/photos.yaml', photos('cold'));
    const before = await observe();
    const r = await gw.orch(['apply', '--dry-run']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toContain('Dry run');
    await expectUntouched(before, 'dry run');
    expect(existsSync(join(gw.stateDir, 'staging'))).toBe(false);
    expect(await gw.request(s3Port, 's3.test', '/photos/a')).toMatchObject({ pool: 'archive' });
    gw.writeManifest('routes/photos.yaml', photos('archive'));
  });

  it('three concurrent applies are serialized; every generation is one complete set', async () => {
    const start = withoutStatus(gw.snapshot());
    const startGen = gw.readState().generation!;
    // Three workspaces, each the base with a different change.
    const changes: Record<string, Record<string, string>> = {
      w1: { 'routes/photos.yaml': photos('cold') },
      w2: { 'routes/photos.yaml': photos('hot') },
      w3: { 'routes/videos.yaml': routeYaml('s3-videos', { virtualHost: 's3', path: '/videos/', pool: 'cold' }) },
    };
    const expected: Record<string, Record<string, string>> = {};
    const ws: Record<string, string> = {};
    for (const [name, change] of Object.entries(changes)) {
      ws[name] = gw.workspace(join(gw.root, name));
      gw.setManifests({ ...base(), ...change }, ws[name]);
    }
    // What each apply must write, from its plan (created and changed files' hashes, deletions).
    await Promise.all(
      Object.keys(changes).map(async (name) => {
        const p = await gw.orch(['plan', '--json', '--detailed-exitcode'], { cwd: ws[name] });
        expect(p.code, p.stderr).toBe(2);
        const set = { ...start };
        for (const f of (JSON.parse(p.stdout) as PlanJson).changes.flatMap((c) => c.files)) {
          if (f.after_sha256 === null) delete set[f.path];
          else set[f.path] = f.after_sha256;
        }
        expected[name] = set;
      }),
    );
    const runs = Object.keys(changes).map((name) => ({
      name,
      run: gw.spawnOrch(['apply', '--auto-approve', '--json'], { cwd: ws[name] }),
    }));
    const results = await Promise.all(runs.map(async ({ name, run }) => ({ name, r: await run.done })));
    const generations: Record<number, string> = {};
    for (const { name, r } of results) {
      expect(r.code, `${name}: ${r.stderr}`).toBe(0);
      generations[(JSON.parse(r.stdout) as { generation: number }).generation] = name;
    }
    // One generation each, in some order: startGen+1..startGen+3.
    expect(Object.keys(generations).map(Number).sort()).toEqual([startGen + 1, startGen + 2, startGen + 3]);
    for (let g = startGen + 1; g <= startGen + 3; g++) {
      expect(
        sameFiles(withoutStatus(gw.generationFiles(g)), expected[generations[g]!]!),
        `generation ${g} (${generations[g]}) is exactly its set`,
      ).toBe(true);
    }
    const { landed, problems } = await gw.consistency(expected);
    expect(problems).toEqual([]);
    expect(landed, 'the last apply to commit is what is on disk').toBe(generations[startGen + 3]);
  });

  it('a waiting writer times out naming the holder (exit 3)', async () => {
    gw.setManifests(base());
    // A holder that stays in its reload for 8 s (a custom reload command): long enough for the
    // waiter to start, wait its 1 s and give up even on a heavily loaded machine.
    const reload = `sleep 8; ${['nginx', '-p', gw.prefix, '-c', gw.conf, '-e', gw.errorLog, '-s', 'reload'].join(' ')}`;
    const holder = gw.spawnOrch(['apply', '--auto-approve'], { env: { ORCH_RELOAD: 'command', ORCH_RELOAD_COMMAND: reload } });
    const lockFile = join(gw.stateDir, 'orch.lock');
    // Up to 30 s: a CLI start on a loaded CI machine can take several seconds. A holder left
    // running by a failure here would overlap the next tests, so it is always waited for.
    for (let i = 0; i < 1500 && !existsSync(lockFile); i++) await new Promise((r) => setTimeout(r, 20));
    if (!existsSync(lockFile)) {
      holder.child.kill('SIGKILL');
      await holder.done;
      expect.fail('the holder did not take the lock within 30 s');
    }
    const before = gw.snapshot();
    const [waiter, status] = await Promise.all([
      gw.orch(['apply', '--auto-approve', '--lock-timeout', '1'], { cwd: join(gw.root, 'w1') }),
      gw.orch(['status', '--json']),
    ]);
    expect(waiter.code, waiter.stderr + waiter.stdout).toBe(3);
    expect(waiter.stderr).toContain(`Another orch writer holds the lock: pid ${holder.child.pid} (apply)`);
    expect(waiter.stderr).not.toMatch(STACK_LINE);
    expect(JSON.parse(status.stdout)).toMatchObject({ lock_holder: { pid: holder.child.pid, command: 'apply' } });
    const h = await holder.done;
    expect(h.code, h.stderr).toBe(0);
    expect(changedPaths(before, gw.snapshot()).length).toBeGreaterThan(0);
    await expectConsistent(withoutStatus(gw.snapshot()));
    expect(existsSync(lockFile), 'released').toBe(false);
    expect((await gw.orch(['plan', '--detailed-exitcode'])).code).toBe(0);
  });

  it('a reload that cannot take effect (listen port in use) is detected (exit 6) and rolled back', async () => {
    const good = withoutStatus(gw.snapshot());
    const token = await gw.served();
    const generation = gw.readState().generation;
    const blocker = await holdPort(busyPort);
    try {
      gw.writeManifest('vhosts/scratch.yaml', vhostYaml('scratch', { serverNames: ['scratch.test'], port: busyPort, defaultPool: 'cold' }));
      // nginx -t does not bind ports: the validation passes, only the reload fails.
      const r = await gw.orch(['apply', '--auto-approve'], { env: { ORCH_RELOAD_TIMEOUT: '3' } });
      expect(r.code, r.stderr + r.stdout).toBe(6);
      expect(r.stderr).toContain('nginx did not load the new configuration');
      expect(r.stderr).toMatch(/Nothing live changed: orch switched back to generation \d+ and nginx serves it again/);
      expect(r.stderr).toMatch(/Address already in use/);
      expect(r.stderr).not.toMatch(STACK_LINE);
      expect(withoutStatus(gw.snapshot())).toEqual(good);
      expect(gw.readState().generation).toBe(generation);
      await expectConsistent(good);
      expect(await gw.served()).toBe(token);
      expect(await gw.request(scratchPort, 'scratch.test', '/k')).toMatchObject({ status: 200, pool: 'cold' });
      expect((await gw.orch(['plan', '--detailed-exitcode'])).code, 'the change is still to be made').toBe(2);
    } finally {
      await blocker.close();
    }
    gw.writeManifest('vhosts/scratch.yaml', base()['vhosts/scratch.yaml']!);
  });

  it('prune removes only the files of a deleted manifest; unmarked files are never touched', async () => {
    gw.writeManaged(HANDWRITTEN, '# written by hand: orch must never touch this file\n');
    gw.writeManaged(GHOST, '# managed-by: orch - a marked file that is not in the inventory\n');
    unmanaged = [HANDWRITTEN, GHOST];
    const plan = await gw.orch(['plan', '--json']);
    const pj = JSON.parse(plan.stdout) as PlanJson;
    expect(pj.unmanaged).toEqual([HANDWRITTEN]);
    expect(pj.not_in_inventory).toEqual([GHOST]);
    expect(pj.changes).toEqual([]);
    const text = await gw.orch(['plan']);
    expect(text.stdout).toMatch(/Not managed by orch \(left alone\): vhosts\/handwritten\.conf/);

    const before = gw.snapshot();
    gw.removeManifest('vhosts/scratch.yaml');
    await apply();
    const after = gw.snapshot();
    expect(changedPaths(before, after)).toEqual(['vhosts/_orch-status.conf', 'vhosts/scratch.conf', 'vhosts/scratch.meta.json']);
    expect(after[HANDWRITTEN]).toBe(before[HANDWRITTEN]);
    expect(after[GHOST]).toBe(before[GHOST]);
    expect(await gw.request(scratchPort, 'scratch.test', '/k'), 'the deleted vhost no longer listens').toBeNull();
    await expectConsistent(withoutStatus(after));
  });

  it("a clash with a file orch does not manage fails the one nginx -t (nginx's main configuration, before the switch): exit 5, no reload", async () => {
    const LOCAL = 'vhosts/zz-local.conf';
    gw.writeManaged(LOCAL, 'upstream extra {\n    server 127.0.0.1:9;\n}\n');
    unmanaged = [...unmanaged, LOCAL];
    expect((await gw.nginxT()).ok, 'valid on its own').toBe(true);
    const before = await observe();
    // orch's files alone would pass; with nginx's main configuration there are two "extra" upstreams.
    gw.writeManifest('pools/extra.yaml', poolYaml('extra', gw.membersOf('cold')));
    const r = await gw.orch(['apply', '--auto-approve']);
    expect(r.code, r.stderr + r.stdout).toBe(5);
    expect(r.stderr).toContain("rejected the new generation with nginx's main configuration; nothing live was touched");
    expect(r.stderr).toMatch(/duplicate upstream "extra"/);
    expect(r.stderr).not.toMatch(STACK_LINE);
    await expectUntouched(before, 'nginx -t failure with the main configuration');
    expect(gw.leftovers()).toEqual([]);
    expect(gw.journalExists()).toBe(false);
    expect((await gw.orch(['plan', '--detailed-exitcode'])).code, 'the change is still to be made').toBe(2);
    gw.removeManifest('pools/extra.yaml');
    gw.removeManagedFile(LOCAL);
    unmanaged = unmanaged.filter((p) => p !== LOCAL);
  });

  it('--max-delete stops a larger deletion; --allow-empty guards deleting everything', async () => {
    const before = await observe();
    gw.removeManifest('vhosts/files.yaml');
    gw.removeManifest('pools/cold.yaml');
    const r = await gw.orch(['apply', '--auto-approve', '--max-delete', '1']);
    expect(r.code, r.stderr + r.stdout).toBe(1);
    expect(r.stderr).toMatch(/would delete 2 resources \(Pool\/cold, VirtualHost\/files\), more than --max-delete 1/);
    await expectUntouched(before, '--max-delete');

    gw.setManifests({});
    const empty = await gw.orch(['apply', '--auto-approve', '--max-delete', '100']);
    expect(empty.code, empty.stderr).toBe(1);
    expect(empty.stderr).toContain('--allow-empty');
    await expectUntouched(before, 'empty manifests');

    const { 'vhosts/scratch.yaml': _scratch, ...rest } = base();
    gw.setManifests(rest);
  });

  it('drift: hand edits stop apply unless --overwrite-drift (all, or per file); orch drift shows them; a deleted file is recreated', async () => {
    const good = withoutStatus(gw.snapshot());
    const original = { s3: gw.readManaged('vhosts/s3.conf'), files: gw.readManaged('vhosts/files.conf') };
    gw.writeManaged('vhosts/s3.conf', original.s3.replace('server {', 'server {\n    # tuned by hand'));
    gw.writeManaged('vhosts/files.conf', `${original.files}# a note\n`);
    const edited = await observe();

    const drift = await gw.orch(['drift']);
    expect(drift.code).toBe(0);
    expect(drift.stdout).toContain('! vhosts/s3.conf was edited outside orch');
    expect(drift.stdout).toContain('! vhosts/files.conf was edited outside orch');
    expect(drift.stdout, 'a diff of last applied against disk').toMatch(/^\s+\+\s+# tuned by hand$/m);
    const plan = JSON.parse((await gw.orch(['plan', '--json'])).stdout) as PlanJson;
    expect(plan.drift.map((d) => [d.path, d.kind])).toEqual([
      ['vhosts/files.conf', 'modified'],
      ['vhosts/s3.conf', 'modified'],
    ]);

    const stopped = await gw.orch(['apply', '--auto-approve']);
    expect(stopped.code, stopped.stderr).toBe(1);
    expect(stopped.stderr).toContain(
      '2 managed files were edited outside orch and would be overwritten: vhosts/files.conf, vhosts/s3.conf',
    );
    expect(stopped.stderr).toContain('--overwrite-drift');
    expect(stopped.stderr).not.toMatch(STACK_LINE);
    await expectUntouched(edited, 'drift stop');
    // Permission for one file is not permission for the other.
    const one = await gw.orch(['apply', '--auto-approve', '--overwrite-drift-path', 'vhosts/s3.conf']);
    expect(one.code).toBe(1);
    expect(one.stderr).toContain('1 managed file was edited outside orch and would be overwritten: vhosts/files.conf');
    await expectUntouched(edited, 'drift stop (one path allowed)');

    await apply(['--overwrite-drift']);
    expect(gw.readManaged('vhosts/s3.conf')).toBe(original.s3);
    expect(gw.readManaged('vhosts/files.conf')).toBe(original.files);
    await expectConsistent(good);

    // A deleted managed file is reported, then recreated without any flag.
    gw.removeManagedFile('vhosts/files.meta.json');
    const d = await gw.orch(['drift']);
    expect(d.stdout).toContain('! vhosts/files.meta.json was deleted');
    await apply();
    await expectConsistent(good);
  });

  it('rollback restores the previous generation (served), also after a crashed rollback; history lists it', async () => {
    const previous = withoutStatus(gw.snapshot());
    const prevGen = gw.readState().generation!;
    gw.writeManifest('routes/photos.yaml', photos('hot'));
    await apply();
    const newer = withoutStatus(gw.snapshot());
    expect(await gw.request(s3Port, 's3.test', '/photos/a')).toMatchObject({ pool: 'hot' });

    // A rollback that dies right after its switch is undone by the next writer, like an apply.
    const crashed = await gw.orch(['rollback', '--auto-approve'], { env: { ORCH_FAULT_INJECT: 'after-switch' } });
    expect(crashed.signal).toBe('SIGKILL');
    expect(gw.journalExists()).toBe(true);

    const r = await gw.orch(['rollback', '--auto-approve']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toContain(`Restored generation ${prevGen} as generation ${prevGen + 2}`);
    await expectConsistent(previous);
    expect(await gw.request(s3Port, 's3.test', '/photos/a')).toMatchObject({ status: 200, pool: 'archive' });
    expect(await gw.request(s3Port, 's3.test', '/photos?list-type=2')).toMatchObject({ status: 200, pool: 'archive' });

    const h = await gw.orch(['history']);
    expect(h.code).toBe(0);
    expect(h.stdout).toMatch(new RegExp(`^\\s*${prevGen + 2}\\s.*rollback.*rollback to generation ${prevGen}$`, 'm'));
    expect(h.stdout).toMatch(new RegExp(`^\\s*${prevGen + 1}\\s.*apply`, 'm'));
    // The manifests still describe the newer generation: the plan shows the way back to it.
    const plan = await gw.orch(['plan', '--detailed-exitcode', '--json']);
    expect(plan.code).toBe(2);
    const files = (JSON.parse(plan.stdout) as PlanJson).changes.flatMap((c) => c.files);
    expect(files.map((f) => f.path).sort()).toEqual(changedPaths(previous, newer));
    gw.writeManifest('routes/photos.yaml', photos('archive'));
  });

  it('renaming a virtual host removes the old files', async () => {
    gw.removeManifest('vhosts/files.yaml');
    gw.writeManifest('vhosts/files2.yaml', vhostYaml('files2', { serverNames: ['files.test'], port: filesPort, defaultPool: 'archive' }));
    const before = gw.snapshot();
    await apply();
    const after = gw.snapshot();
    expect(changedPaths(before, after)).toEqual([
      'vhosts/_orch-status.conf',
      'vhosts/files.conf',
      'vhosts/files.meta.json',
      'vhosts/files2.conf',
      'vhosts/files2.meta.json',
    ]);
    expect(after['vhosts/files.conf']).toBeUndefined();
    expect(after['vhosts/files.meta.json']).toBeUndefined();
    expect(await gw.request(filesPort, 'files.test', '/k')).toMatchObject({ status: 200, pool: 'archive' });
    await expectConsistent(withoutStatus(after));
    expect((await gw.orch(['plan', '--detailed-exitcode'])).code).toBe(0);

    // A pool too: archive -> vault (with the virtual host and route that use it).
    gw.writeManifest('pools.yaml', docs(poolYaml('hot', gw.membersOf('hot')), poolYaml('vault', gw.membersOf('archive'))));
    gw.writeManifest('vhosts/files2.yaml', vhostYaml('files2', { serverNames: ['files.test'], port: filesPort, defaultPool: 'vault' }));
    gw.writeManifest('routes/photos.yaml', photos('vault'));
    await apply();
    const renamed = gw.snapshot();
    expect(Object.keys(renamed).filter((p) => p.startsWith('pools/'))).toEqual([
      'pools/cold.conf',
      'pools/cold.meta.json',
      'pools/hot.conf',
      'pools/hot.meta.json',
      'pools/vault.conf',
      'pools/vault.meta.json',
    ]);
    expect(gw.readManaged('vhosts/s3.conf')).toContain('proxy_pass http://vault;');
    expect(await gw.request(s3Port, 's3.test', '/photos/a')).toMatchObject({ status: 200, member: 'archive-1' });
    await expectConsistent(withoutStatus(renamed));
  });
});
