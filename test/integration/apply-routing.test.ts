import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_LINE } from '../helpers/cli.js';
import { docs, Gateway, poolYaml, routeYaml, tokenOf, vhostYaml } from '../helpers/gateway.js';

/**
 * `orch apply` against a real nginx: requests through nginx reach the pool the manifests name,
 * bucket-level requests (no trailing slash) are proxied rather than redirected, a moved route is
 * served after the next apply, `plan --detailed-exitcode` agrees with the disk, and a saved plan
 * applies only while its inputs are unchanged.
 */
describe.sequential('apply: routing through a real nginx', () => {
  let gw: Gateway;
  let s3Port: number;
  let filesPort: number;

  const pools = () =>
    docs(poolYaml('hot', gw.membersOf('hot')), poolYaml('archive', gw.membersOf('archive')), poolYaml('cold', gw.membersOf('cold')));
  const photosRoute = (pool: string) => routeYaml('s3-photos', { virtualHost: 's3', path: '/photos/', pool });

  beforeAll(async () => {
    gw = await Gateway.start({ pools: { hot: 2, archive: 1, cold: 1, static: 1 }, vhostPorts: 2 });
    [s3Port, filesPort] = gw.ports as [number, number];
    gw.setManifests({
      'pools.yaml': pools(),
      'pools/static.yaml': poolYaml('static', gw.membersOf('static'), 'http'),
      'vhosts/s3.yaml': vhostYaml('s3', { serverNames: ['s3.test', 'localhost'], port: s3Port, defaultPool: 'hot' }),
      'vhosts/files.yaml': vhostYaml('files', { serverNames: ['files.test'], port: filesPort, defaultPool: 'static' }),
      'routes/photos.yaml': photosRoute('archive'),
      'routes/logs.yaml': routeYaml('s3-logs', { virtualHost: 's3', path: '/logs/', pool: 'cold' }),
    });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('plans every file from an empty directory (exit 2), then applies them', async () => {
    const plan = await gw.orch(['plan', '--detailed-exitcode']);
    expect(plan.code, plan.stderr).toBe(2);
    const r = await gw.orch(['apply', '--auto-approve']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(/Apply complete: generation 1\./);
    expect(r.stderr).not.toMatch(STACK_LINE);
    const state = gw.readState();
    expect(state.generation).toBe(1);
    // The reload was confirmed: the status location already answers the committed generation.
    expect(await gw.served()).toBe(tokenOf(1, state.fingerprint));
    // The inventory is exactly what is on disk.
    expect(state.inventory).toEqual(gw.snapshot());
  });

  it('routes buckets to their pools and everything else to the default pool', async () => {
    const photos = await gw.request(s3Port, 's3.test', '/photos/2024/cat.jpg');
    expect(photos).toMatchObject({ status: 200, pool: 'archive', uri: '/photos/2024/cat.jpg' });
    // SigV4 signs host:port: the upstream must see the port (proxy_set_header Host $http_host).
    expect(photos?.host).toBe(`s3.test:${s3Port}`);
    const logs = await gw.request(s3Port, 's3.test', '/logs/app.log');
    expect(logs).toMatchObject({ status: 200, pool: 'cold', uri: '/logs/app.log' });
    const other = await gw.request(s3Port, 's3.test', '/other-bucket/key.txt');
    expect(other).toMatchObject({ status: 200, pool: 'hot', uri: '/other-bucket/key.txt' });
    // A second server name of the same virtual host.
    expect(await gw.request(s3Port, 'localhost', '/photos/x')).toMatchObject({ status: 200, pool: 'archive' });
    // Another virtual host, with an http pool.
    expect(await gw.request(filesPort, 'files.test', '/assets/site.css')).toMatchObject({
      status: 200,
      pool: 'static',
      uri: '/assets/site.css',
    });
  });

  it('proxies bucket-level requests without a trailing slash (no 301)', async () => {
    const list = await gw.request(s3Port, 's3.test', '/photos?list-type=2');
    expect(list?.status).toBe(200);
    expect(list).toMatchObject({ pool: 'archive', uri: '/photos?list-type=2' });
    for (const method of ['HEAD', 'PUT', 'DELETE']) {
      const a = await gw.request(s3Port, 's3.test', '/photos', method);
      expect(a?.status, method).toBe(200);
      expect(a?.headers['x-upstream-pool'], method).toBe('archive');
    }
    // A bucket whose name only starts like a routed one is not captured by its route.
    expect(await gw.request(s3Port, 's3.test', '/photosphere/k')).toMatchObject({ status: 200, pool: 'hot' });
    expect(await gw.request(s3Port, 's3.test', '/photosphere?list-type=2')).toMatchObject({ status: 200, pool: 'hot' });
  });

  it('plan --detailed-exitcode exits 0 right after apply, and 2 after an edit', async () => {
    const clean = await gw.orch(['plan', '--detailed-exitcode']);
    expect(clean.code, clean.stderr + clean.stdout).toBe(0);
    expect(clean.stdout).toContain('No changes.');
    gw.writeManifest('routes/photos.yaml', photosRoute('cold'));
    const dirty = await gw.orch(['plan', '--detailed-exitcode', '--json']);
    expect(dirty.code, dirty.stderr).toBe(2);
    const plan = JSON.parse(dirty.stdout) as {
      changes: Array<{ resource: { kind: string; name: string }; files: Array<{ path: string }> }>;
    };
    // Moving one route rewrites exactly that virtual host's two files.
    expect(plan.changes.map((c) => `${c.resource.kind}/${c.resource.name}`)).toEqual(['VirtualHost/s3']);
    expect(plan.changes[0]!.files.map((f) => f.path)).toEqual(['vhosts/s3.conf', 'vhosts/s3.meta.json']);
  });

  it('serves the moved route as soon as apply returns', async () => {
    const before = gw.snapshot();
    const r = await gw.orch(['apply', '--auto-approve', '--json']);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const result = JSON.parse(r.stdout) as {
      generation: number;
      files_written: number;
      files_deleted: number;
      nginx_tests: number;
      reloads: number;
    };
    // One nginx -t (the main configuration with the new generation, before the switch), one reload.
    expect(result).toMatchObject({ generation: 2, files_written: 3, files_deleted: 0, nginx_tests: 1, reloads: 1 });
    const after = gw.snapshot();
    const changed = Object.keys(after).filter((p) => after[p] !== before[p]);
    expect(changed.sort()).toEqual(['vhosts/_orch-status.conf', 'vhosts/s3.conf', 'vhosts/s3.meta.json']);
    // Checked once, without retrying: apply confirmed the reload before returning.
    expect(await gw.request(s3Port, 's3.test', '/photos/2024/cat.jpg')).toMatchObject({ status: 200, pool: 'cold' });
    expect(await gw.request(s3Port, 's3.test', '/photos?list-type=2')).toMatchObject({
      status: 200,
      pool: 'cold',
      uri: '/photos?list-type=2',
    });
    expect(await gw.request(s3Port, 's3.test', '/other/k')).toMatchObject({ status: 200, pool: 'hot' });
    const plan = await gw.orch(['plan', '--detailed-exitcode']);
    expect(plan.code).toBe(0);
  });

  it('applies a saved plan, then refuses one whose manifest changed (exit 4, naming it)', async () => {
    const planFile = join(gw.root, 'move-photos.plan');
    gw.writeManifest('routes/photos.yaml', photosRoute('archive'));
    const saved = await gw.orch(['plan', '--out', planFile]);
    expect(saved.code, saved.stderr).toBe(0);
    const applied = await gw.orch(['apply', planFile]);
    expect(applied.code, applied.stderr + applied.stdout).toBe(0);
    expect(await gw.request(s3Port, 's3.test', '/photos/a')).toMatchObject({ status: 200, pool: 'archive' });
    expect(gw.readState().generation).toBe(3);

    // A saved plan, then an edit of another manifest before applying it.
    gw.writeManifest('routes/photos.yaml', photosRoute('hot'));
    const stalePlan = join(gw.root, 'stale.plan');
    expect((await gw.orch(['plan', '--out', stalePlan])).code).toBe(0);
    gw.writeManifest('routes/logs.yaml', routeYaml('s3-logs', { virtualHost: 's3', path: '/logs/', pool: 'hot' }));
    const before = gw.snapshot();
    const token = await gw.served();
    const refused = await gw.orch(['apply', stalePlan]);
    expect(refused.code, refused.stderr + refused.stdout).toBe(4);
    expect(refused.stderr).toContain('manifest routes/logs.yaml'); // relative to the manifests directory
    expect(refused.stderr).not.toMatch(STACK_LINE);
    expect(gw.snapshot()).toEqual(before);
    expect(await gw.served()).toBe(token);
    expect(await gw.request(s3Port, 's3.test', '/photos/a')).toMatchObject({ pool: 'archive' });

    // A saved plan is also refused after a managed file was edited on disk.
    const fresh = join(gw.root, 'fresh.plan');
    expect((await gw.orch(['plan', '--out', fresh])).code).toBe(0);
    gw.writeManaged('vhosts/files.conf', `${gw.readManaged('vhosts/files.conf')}# edited by hand\n`);
    const edited = gw.snapshot();
    const refused2 = await gw.orch(['apply', fresh]);
    expect(refused2.code, refused2.stderr).toBe(4);
    expect(refused2.stderr).toContain('file on disk vhosts/files.conf was edited outside orch');
    expect(gw.snapshot()).toEqual(edited);

    // Stale because orch itself applied since: the files changed with that generation, not by hand.
    expect((await gw.orch(['apply', '--auto-approve', '--overwrite-drift'])).code).toBe(0);
    const mine = join(gw.root, 'mine.plan');
    expect((await gw.orch(['plan', '--out', mine])).code).toBe(0);
    gw.writeManifest('routes/logs.yaml', routeYaml('s3-logs', { virtualHost: 's3', path: '/logs/', pool: 'archive' }));
    expect((await gw.orch(['apply', '--auto-approve'])).code).toBe(0);
    const refused3 = await gw.orch(['apply', mine]);
    expect(refused3.code, refused3.stderr).toBe(4);
    expect(refused3.stderr).toMatch(/state generation moved \(\d+ -> \d+\)/);
    expect(refused3.stderr).toMatch(/managed files? changed with generation \d+/);
    expect(refused3.stderr).not.toContain('file on disk');
  });
});
