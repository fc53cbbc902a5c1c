import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MigrationEnv } from '../helpers/migration-env.js';
import type { MigrationJson } from '../helpers/migration-run.js';
import { skipWithoutNanio } from '../helpers/nanio.js';
import { listKeys } from '../helpers/s3-workload.js';
import { expectContract } from '../helpers/json-contract.js';

async function migrations(e: MigrationEnv): Promise<MigrationJson[]> {
  const r = await e.cli(['migrations', '--json', '--log', '100']);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { migrations: MigrationJson[] }).migrations;
}

/**
 * No resurrected deletes after a cancel: a first migration copies the bucket to the destination
 * and is cancelled (its copies stay there); clients then delete objects at the source; a second
 * Migration under another name moves the bucket. The deleted keys must not come back (checked on
 * the destination pool directly and through the gateway), while an object that was on the
 * destination before any migration (and that the source does not have) is kept, as copy mode says.
 */
describe.skipIf(skipWithoutNanio())('cancel, deletes at the source, a new migration (nanio)', () => {
  it('no deleted key comes back; what was on the destination before the first attempt is kept', async () => {
    const e = await MigrationEnv.start({ server: 'nanio', seed: { count: 60, sizes: [100, 5000] } });
    try {
      const client = e.gatewayClient();
      // On the destination before any migration, under a key the source does not have.
      await e.poolClient('new').send(new CreateBucketCommand({ Bucket: e.bucket }));
      await e.poolClient('new').send(new PutObjectCommand({ Bucket: e.bucket, Key: 'pre/existing', Body: 'kept' }));

      // First attempt: killed right after its first copy pass, then cancelled.
      e.writeManifest('migrations/photos.yaml', e.migrationYaml({ name: 'photos-first', freezeBudget: '10s' }));
      await e.apply();
      const killed = await e.cli(['migrate', 'run', 'photos-first'], { env: { ORCH_FAULT_INJECT: 'copy:pass' } });
      expect(killed.signal ?? killed.code, `${killed.stdout}\n${killed.stderr}`).toBe('SIGKILL');
      const cancel = await e.cli(['migrate', 'cancel', 'photos-first', '--json']);
      expect(cancel.code, `${cancel.stdout}\n${cancel.stderr}`).toBe(0);
      expect(expectContract('migrate', cancel.stdout)).toMatchObject({
        outcome: 'cancelled',
        migration: { name: 'photos-first', phase: 'cancelled' },
      });
      expect((await migrations(e)).find((m) => m.name === 'photos-first')).toMatchObject({ phase: 'cancelled', routing: 'source' });
      const copied = await e.listPool('new');
      const seeds = e.seeded.map((s) => s.key);
      for (const k of seeds) expect(copied.has(k), `${k} copied by the first attempt`).toBe(true);
      // The first attempt recorded what the destination held before it (kept for any later attempt).
      const recorded = join(e.stateDir, 'migrations', 'destinations', 'new', `${e.bucket}.baseline.json`);
      expect(JSON.parse(readFileSync(recorded, 'utf8'))).toMatchObject({
        migration: 'photos-first',
        objects: { 'pre/existing': expect.any(String) },
      });

      // Clients delete a third of the keys at the source (the bucket is served by the source again).
      const deleted = seeds.filter((_, i) => i % 3 === 0);
      for (const Key of deleted) await client.send(new DeleteObjectCommand({ Bucket: e.bucket, Key }));

      // A new Migration of the same bucket and pools, under another name.
      e.removeManifest('migrations/photos.yaml');
      e.writeManifest('migrations/photos-again.yaml', e.migrationYaml({ name: 'photos-again', freezeBudget: '10s' }));
      const plan = await e.cli(['plan']);
      expect(plan.stdout + plan.stderr).toMatch(/only objects that were there before the first one started are kept/);
      await e.apply();
      const run = await e.cli(['migrate', 'run', 'photos-again']);
      expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
      const again = (await migrations(e)).find((m) => m.name === 'photos-again')!;
      expect(again).toMatchObject({ phase: 'done', routing: 'destination' });
      expect(again.log.map((l) => l.message).join('\n')).toMatch(
        new RegExp(`${deleted.length} objects on new the source does not have were not there when migration photos-first started`),
      );

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
