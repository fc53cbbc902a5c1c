import { afterAll, describe, expect, it } from 'vitest';
import { checkContract, formatViolations, summarize } from '../helpers/contract-checker.js';
import { MigrationEnv } from '../helpers/migration-env.js';
import { keysOf, readFinalState, startWorkload } from '../helpers/s3-workload.js';
import { sleep, WatchProcess } from '../helpers/watch-daemon.js';

/**
 * `orch watch` alone drives a migration to done: the Migration manifest appears, the daemon's
 * reconcile starts it, its supervisor copies, freezes, verifies and switches — with a client
 * workload through the gateway the whole time, checked against the migration contract.
 */
describe.sequential('orch watch drives a migration by itself', () => {
  let env: MigrationEnv | null = null;
  let watch: WatchProcess | null = null;

  afterAll(async () => {
    await watch?.stop();
    await env?.close();
  });

  it('a Migration manifest saved, then done with nothing but the daemon running', async () => {
    env = await MigrationEnv.start({ seed: { count: 120, sizes: [100, 4096, 70_000] } });
    const e = env;
    watch = await WatchProcess.start(e.gw, [], e.cliEnv({ ORCH_MIGRATION_TICK: '1' }));
    await watch.waitIdle(1, 60_000);
    const before = await e.listPool('old');
    const wl = startWorkload({
      bucket: e.bucket,
      client: () => e.gatewayClient(),
      clients: 3,
      opsPerSecond: 8,
      seed: e.seeded,
      multipart: false,
      rngSeed: 7,
    });

    e.writeManifest('migrations/photos.yaml', e.migrationYaml({ name: 'photos-to-new', mode: 'copy', freezeBudget: '10s' }));
    type M = { name: string; phase: string; objectsCopied: number; objectsTotal: number | null };
    const done = await watch.waitStatus(
      (s) => (s.migrations as M[]).some((m) => m.name === 'photos-to-new' && m.phase === 'done'),
      180_000,
      'the migration done',
    );
    const m = (done.migrations as M[]).find((x) => x.name === 'photos-to-new')!;
    expect(m.objectsCopied).toBeGreaterThanOrEqual(before.size - 20);
    await sleep(7000);
    const history = await wl.stop();

    const r = await e.cli(['migrations', '--json']);
    const json = JSON.parse(r.stdout) as {
      migrations: Array<{ phase: string; freezes: Array<{ started_at: string; ended_at: string; outcome: string }>; driver: unknown }>;
    };
    const mig = json.migrations[0]!;
    expect(mig.phase).toBe('done');
    const switched = mig.freezes.find((f) => f.outcome === 'switched')!;
    const flip = Date.parse(switched.ended_at) - history.timeOrigin;
    const hist = JSON.parse((await e.cli(['history', '--json'])).stdout) as { generations: Array<{ created_at: string; command: string }> };
    expect(
      hist.generations
        .filter((g) => g.command.includes('migration photos-to-new'))
        .map((g) => g.command.replace(/^.*: /, '').replace(/\)$/, ''))
        .reverse(),
    ).toEqual(['freeze', 'cutover', 'destination']);
    const report = checkContract({
      history,
      final: await readFinalState(e.gatewayClient(), e.bucket, keysOf(history)),
      source: { before, after: await e.listPool('old') },
      options: {
        freezeBudgetMs: 10_000,
        routeFlippedAt: flip,
        cutoverTimes: mig.freezes.flatMap((f) => [
          Date.parse(f.started_at) - history.timeOrigin,
          Date.parse(f.ended_at) - history.timeOrigin,
        ]),
        reloadTimes: hist.generations.map((g) => Date.parse(g.created_at) - history.timeOrigin),
      },
    });
    console.log(`watch-driven migration: ${summarize(report)}`);
    expect(formatViolations(report)).toBe('');

    const metrics = await watch.metrics();
    expect(metrics).toMatch(/^orch_migration_phase\{migration="photos-to-new",phase="done"\} 1$/m);
    expect(metrics).toMatch(/^orch_migration_objects_copied_total\{migration="photos-to-new"\} [1-9]\d*$/m);
    const stopped = await watch.stop();
    expect(stopped.code).toBe(0);
    watch = null;
  }, 300_000);
});
