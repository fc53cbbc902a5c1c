import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { printedCommand } from '../helpers/gateway.js';
import { MigrationEnv } from '../helpers/migration-env.js';
import type { MigrationJson } from '../helpers/migration-run.js';
import { skipWithoutNanio } from '../helpers/nanio.js';
import { listKeys } from '../helpers/s3-workload.js';

async function migrations(e: MigrationEnv): Promise<MigrationJson[]> {
  const r = await e.cli(['migrations', '--json', '--log', '100']);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { migrations: MigrationJson[] }).migrations;
}

/**
 * No resurrected deletes after a cancel: a first migration copies the bucket to the destination
 * and is cancelled (its copies stay there); the state database is then lost and rebuilt from the
 * files (`orch rebuild-db`); clients delete objects at the source; a second
 * Migration under another name moves the bucket. The deleted keys must not come back (checked on
 * the destination pool directly and through the gateway), while an object that was on the
 * destination before any migration (and that the source does not have) is kept, as copy mode says.
 */
describe.skipIf(skipWithoutNanio())('cancel, deletes at the source, a new migration (nanio)', () => {
  it('no deleted key comes back (the database lost and rebuilt between the attempts); what was on the destination before the first attempt is kept', async () => {
    const e = await MigrationEnv.start({ server: 'nanio', seed: { count: 60, sizes: [100, 5000] } });
    try {
      const client = e.gatewayClient();
      // On the destination before any migration, under a key the source does not have.
      await e.poolClient('new').send(new CreateBucketCommand({ Bucket: e.bucket }));
      await e.poolClient('new').send(new PutObjectCommand({ Bucket: e.bucket, Key: 'pre/existing', Body: 'kept' }));

      // First attempt: killed right after its first copy pass, then cancelled.
      e.writeManifest('migrations/photos.yaml', e.migrationYaml({ name: 'photos-first', freezeBudget: '10s' }));
      // plan and apply name the migration that starts (issue 18, item 5).
      const firstPlan = await e.cli(['plan', '--no-diff']);
      expect(firstPlan.stdout).toContain(`+ start photos-first: bucket ${e.bucket} on `);
      expect(firstPlan.stdout).toMatch(/1 migration to start\./);
      const firstApply = await e.apply();
      expect(firstApply.stdout).toContain(`Started migration photos-first: bucket ${e.bucket} of `);
      expect(firstApply.stdout).toMatch(/\(copy mode\), phase pending\. 'orch watch' moves it on, or 'orch migrate run photos-first/);
      expect(firstApply.stdout).toMatch(/1 migration started/);
      // Started: the next plan does not start it again, and says where it is.
      const startedPlan = await e.cli(['plan', '--no-diff', '--no-refresh']);
      expect(startedPlan.code, startedPlan.stderr).toBe(0);
      expect(startedPlan.stdout).toContain('= photos-first: already started, phase pending');
      expect(startedPlan.stdout).not.toContain('+ start photos-first');
      // apply's hint, run exactly as printed (killed after its first copy pass).
      const runFirst = printedCommand(firstApply.stdout, /or '(orch migrate run photos-first[^']*)'/);
      const killed = await e.gw.orchAsPrinted(runFirst, { env: e.cliEnv({ ORCH_FAULT_INJECT: 'copy:pass' }) });
      // sh reports its child killed by SIGKILL as exit status 137 (128 + 9).
      expect(killed.signal ?? killed.code, `${killed.stdout}\n${killed.stderr}`).toBe(128 + 9);
      // A second Migration of the bucket meanwhile is refused, with the cancel of the first as its
      // hint. That command, run exactly as printed with the manifests as they are (the new Migration
      // declared, the first one's document gone), cancels it: its routing generation starts nothing.
      e.removeManifest('migrations/photos.yaml');
      e.writeManifest('migrations/photos-again.yaml', e.migrationYaml({ name: 'photos-again', freezeBudget: '10s' }));
      const busy = await e.cli(['plan', '--no-diff', '--no-refresh']);
      expect(busy.code, `${busy.stdout}\n${busy.stderr}`).toBe(1);
      expect(busy.stdout + busy.stderr).toContain('migration.bucket-busy');
      const cancelHint = printedCommand(busy.stdout + busy.stderr, /cancel it with '(orch migrate cancel photos-first[^']*)'/);
      const cancel = await e.gw.orchAsPrinted(cancelHint, { env: e.cliEnv(), timeoutMs: 60_000 });
      expect(cancel.code, `${cancel.stdout}\n${cancel.stderr}`).toBe(0);
      expect(cancel.stdout).toContain(`Migration photos-first is cancelled: bucket ${e.bucket} is served by pool old again.`);
      e.removeManifest('migrations/photos-again.yaml');
      e.writeManifest('migrations/photos.yaml', e.migrationYaml({ name: 'photos-first', freezeBudget: '10s' }));
      expect((await migrations(e)).find((m) => m.name === 'photos-first')).toMatchObject({ phase: 'cancelled', routing: 'source' });
      const cancelledPlan = await e.cli(['plan', '--no-diff', '--no-refresh']);
      expect(cancelledPlan.stdout, cancelledPlan.stderr).toContain('= 1 already finished, not started again: photos-first (cancelled)');
      const copied = await e.listPool('new');
      const seeds = e.seeded.map((s) => s.key);
      for (const k of seeds) expect(copied.has(k), `${k} copied by the first attempt`).toBe(true);
      // The first attempt recorded what the destination held before it (kept for any later attempt).
      const recorded = join(e.stateDir, 'migrations', 'destinations', 'new', `${e.bucket}.baseline.json`);
      expect(JSON.parse(readFileSync(recorded, 'utf8'))).toMatchObject({
        migration: 'photos-first',
        objects: { 'pre/existing': expect.any(String) },
      });

      // The database is lost after the cancel and rebuilt from the files (rebuild-db): the baseline
      // of the destination lives in a file beside the state files, so the retry still knows it.
      rmSync(join(e.stateDir, 'orch.db'), { force: true });
      for (const x of ['-wal', '-shm']) rmSync(join(e.stateDir, `orch.db${x}`), { force: true });
      const rebuilt = await e.cli(['rebuild-db']);
      expect(rebuilt.code, `${rebuilt.stdout}\n${rebuilt.stderr}`).toBe(0);
      expect((await migrations(e)).find((m) => m.name === 'photos-first')).toMatchObject({ phase: 'cancelled' });

      // Clients delete a third of the keys at the source (the bucket is served by the source again).
      const deleted = seeds.filter((_, i) => i % 3 === 0);
      for (const Key of deleted) await client.send(new DeleteObjectCommand({ Bucket: e.bucket, Key }));

      // A new Migration of the same bucket and pools, under another name.
      e.removeManifest('migrations/photos.yaml');
      e.writeManifest('migrations/photos-again.yaml', e.migrationYaml({ name: 'photos-again', freezeBudget: '10s' }));
      const plan = await e.cli(['plan']);
      expect(plan.stdout + plan.stderr).toMatch(/only objects that were there before the first one started are kept/);
      expect(plan.stdout).toContain(`+ start photos-again: bucket ${e.bucket} on `);
      const again = await e.apply();
      expect(again.stdout).toContain(`Started migration photos-again: bucket ${e.bucket} of `);
      // apply's hint, run exactly as printed, moves it on to the end.
      const run = await e.gw.orchAsPrinted(printedCommand(again.stdout, /or '(orch migrate run photos-again[^']*)'/), { env: e.cliEnv() });
      expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
      expect(run.stdout).toContain(`Migration photos-again is done: bucket ${e.bucket} is served by pool new.`);
      const second = (await migrations(e)).find((m) => m.name === 'photos-again')!;
      expect(second).toMatchObject({ phase: 'done', routing: 'destination' });
      expect(second.log.map((l) => l.message).join('\n')).toMatch(
        new RegExp(`${deleted.length} objects on new the source does not have were not there when migration photos-first started`),
      );

      // Done: the plan names it as finished, in text, JSON and Markdown; it is not started again.
      const views = await Promise.all([
        e.cli(['plan', '--no-diff', '--no-refresh']),
        e.cli(['plan', '--no-refresh', '--json']),
        e.cli(['plan', '--no-refresh', '--format', 'markdown']),
      ]);
      expect(views[0].stdout, views[0].stderr).toContain('= 1 already finished, not started again: photos-again (done)');
      const json = JSON.parse(views[1].stdout) as { migrations: unknown[]; known_migrations: unknown[] };
      expect(json.migrations).toEqual([]);
      expect(json.known_migrations).toEqual([
        { name: 'photos-again', virtual_host: expect.any(String), bucket: e.bucket, from: 'old', to: 'new', phase: 'done' },
      ]);
      expect(views[2].stdout).toContain('**Migrations already started** (not started again)');
      expect(views[2].stdout.replace(/\\/g, '')).toContain('- 1 already finished, not started again: photos-again (done)');

      // On the destination pool directly: no deleted key; the pre-existing object kept.
      const after = await e.listPool('new');
      for (const k of deleted) expect(after.has(k), `${k} deleted at the source came back on the destination`).toBe(false);
      expect(after.has('pre/existing')).toBe(true);
      expect([...after.keys()].sort()).toEqual([...seeds.filter((k) => !deleted.includes(k)), 'pre/existing'].sort());
      // Through the gateway (now on the destination): GETs answer 404, listings do not name them.
      for (const Key of deleted) {
        await expect(client.send(new GetObjectCommand({ Bucket: e.bucket, Key }))).rejects.toMatchObject({ name: 'NoSuchKey' });
      }
      const listed = await listKeys(client, e.bucket);
      for (const k of deleted) expect(listed).not.toContain(k);
      // Done: the destination's baseline is forgotten; the source pool's data is orphaned, never pre-existing.
      expect(existsSync(recorded)).toBe(false);
      const orphaned = JSON.parse(
        readFileSync(join(e.stateDir, 'migrations', 'destinations', 'old', `${e.bucket}.baseline.json`), 'utf8'),
      ) as {
        objects: object;
      };
      expect(orphaned.objects).toEqual({});
    } finally {
      await e.close();
    }
  }, 180_000);
});
