import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { STACK_LINE } from '../helpers/cli.js';
import { docs, Gateway, poolYaml, routeYaml, vhostYaml } from '../helpers/gateway.js';
import { parsePrometheusText, sampleValue } from '../helpers/watch-prom-parser.js';
import { sleep, WatchProcess } from '../helpers/watch-daemon.js';

/**
 * `orch suspend` / `orch resume` against a running `orch watch --drift correct` and a real nginx:
 * suspended, the daemon reverts neither a hand edit nor a manifest change, says so in /status,
 * /metrics and `orch status`; resumed, it reconciles again. `orch status` shows the daemon of its
 * own state directory only.
 */
describe.sequential('orch suspend / resume with a running orch watch', () => {
  let gw: Gateway;
  let port: number;
  let w: WatchProcess | null = null;
  const photos = (pool: string) => routeYaml('s3-photos', { virtualHost: 's3', path: '/photos/', pool });
  const served = async (path: string) => (await gw.request(port, 's3.test', path))?.pool ?? null;

  beforeAll(async () => {
    gw = await Gateway.start({ pools: { hot: 1, archive: 1 }, vhostPorts: 1 });
    port = gw.ports[0]!;
    gw.setManifests({
      'pools.yaml': docs(poolYaml('hot', gw.membersOf('hot')), poolYaml('archive', gw.membersOf('archive'))),
      'vhosts/s3.yaml': vhostYaml('s3', { serverNames: ['s3.test'], port, defaultPool: 'hot' }),
      'routes/photos.yaml': photos('archive'),
    });
  });
  afterEach(async () => {
    if (w) await w.stop();
    w = null;
  });
  afterAll(async () => {
    await gw?.orch(['resume']);
    await gw?.stop();
  });

  it('suspended: nothing reconciled, said everywhere; resumed: the manifests win again', async () => {
    w = await WatchProcess.start(gw, ['--drift', 'correct']);
    await w.waitStatus((s) => s.ready, 30_000, 'ready');
    expect(await served('/photos/a')).toBe('archive');
    const listen = `127.0.0.1:${w.port}`;

    const suspend = await gw.orch(['suspend', '--reason', 'rolling back by hand']);
    expect(suspend.code, suspend.stderr).toBe(0);
    expect(suspend.stdout).toContain("it reconciles nothing until you run 'orch resume'.");

    // A hand edit and a manifest change while suspended: a trigger (SIGHUP) reconciles nothing.
    const edited = `${gw.readManaged('vhosts/s3.conf')}# edited by hand\n`;
    gw.writeManaged('vhosts/s3.conf', edited);
    gw.writeManifest('routes/photos.yaml', photos('hot'));
    const generation = gw.readState().generation;
    const n0 = (await w.status()).reconciles;
    w.signal('SIGHUP');
    const logged = await w.waitLog((l) => l.event === 'watch.suspended');
    expect(logged).toMatchObject({ level: 'warn', reason: 'rolling back by hand' });
    await sleep(1500);
    const s = (await w.status()) as unknown as { reconciles: number; suspended: { reason: string; by: string } | null; stateDir: string };
    expect(s.reconciles).toBe(n0);
    expect(s.suspended).toMatchObject({ reason: 'rolling back by hand' });
    expect(s.suspended!.by).toMatch(/@/);
    expect(gw.readManaged('vhosts/s3.conf')).toBe(edited);
    expect(gw.readState().generation).toBe(generation);
    expect(await served('/photos/a')).toBe('archive');
    expect(sampleValue(parsePrometheusText(await w.metrics()), 'orch_suspended')).toBe(1);

    // orch status: the daemon of this state directory, and the suspension.
    const status = await gw.orch(['status'], { env: { ORCH_WATCH_LISTEN: listen } });
    expect(status.stdout).toMatch(/orch watch: {4}pid \d+, mode apply, ready/);
    expect(status.stdout).toContain('suspended since');
    expect(status.stdout).toContain('(rolling back by hand): nothing is reconciled until: orch resume');
    const json = JSON.parse((await gw.orch(['status', '--json'], { env: { ORCH_WATCH_LISTEN: listen } })).stdout) as {
      daemon: { running: { pid: number } | null; suspended: unknown };
    };
    expect(json.daemon.running?.pid).toBe(w.child.pid);
    expect(json.daemon.suspended).toMatchObject({ reason: 'rolling back by hand' });

    // Another state directory's status never reports this daemon as its own.
    // (A gateway of its own: with this one's managed directory and no state, status would stop on a lost state.)
    const other = await gw.orch(['status', '--state-dir', join(gw.work, 'other-state'), '--nginx-dir', join(gw.work, 'other-nginx')], {
      env: { ORCH_WATCH_LISTEN: listen },
    });
    expect(other.code, other.stdout + other.stderr).toBe(0);
    expect(other.stdout).toContain('not running for this state directory');
    expect(other.stdout).not.toMatch(/orch watch: {4}pid/);

    const resume = await gw.orch(['resume']);
    expect(resume.code).toBe(0);
    expect(resume.stdout).toContain('orch watch is resumed');
    w.signal('SIGHUP');
    const after = await w.waitStatus((x) => x.reconciles > n0 && x.last_reconcile?.outcome === 'applied', 30_000, 'an applied reconcile');
    expect(after.last_reconcile!.generation).toBe(generation! + 1);
    expect(gw.readManaged('vhosts/s3.conf')).not.toContain('# edited by hand');
    expect(await served('/photos/a')).toBe('hot');
    await w.waitLog((l) => l.event === 'watch.resumed');
    expect(sampleValue(parsePrometheusText(await w.metrics()), 'orch_suspended')).toBe(0);
    const again = await gw.orch(['resume', '--json']);
    expect(JSON.parse(again.stdout)).toMatchObject({ resumed: false, was: null });
  });

  it('a damaged suspension file counts as suspended (never a silent revert); bad reasons are refused', async () => {
    writeFileSync(join(gw.stateDir, 'watch-suspended.json'), '{not json');
    const status = await gw.orch(['status']);
    expect(status.stdout).toContain("is not JSON; run 'orch resume' to end it");
    const bad = await gw.orch(['suspend', '--reason', 'two\nlines']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('one line');
    expect(bad.stderr).not.toMatch(STACK_LINE);
    expect((await gw.orch(['resume'])).stdout).toContain('orch watch is resumed');
  });
});
