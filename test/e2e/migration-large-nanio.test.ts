import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { describe, expect, it } from 'vitest';
import { MigrationEnv } from '../helpers/migration-env.js';
import type { MigrationJson } from '../helpers/migration-run.js';
import { skipWithoutNanio } from '../helpers/nanio.js';
import { makeBody } from '../helpers/s3-workload.js';

const MiB = 1024 * 1024;

/** A multipart upload (8 MiB parts): its ETag is `<md5>-N`, never comparable with a single PUT's. */
async function putMultipart(c: S3Client, bucket: string, key: string, body: Buffer): Promise<void> {
  await new Upload({ client: c, params: { Bucket: bucket, Key: key, Body: body }, partSize: 8 * MiB, queueSize: 2 }).done();
}

/**
 * Large objects on real nanio (which refuses a range past an object's end instead of clamping it):
 * a bucket whose objects of 17, 40 and 150 MiB are already on the destination with the same size
 * but ETags that cannot be compared (multipart at the source, single PUT at the destination) and
 * no copy record. orch must hash both sides by ranged reads within each object, find them equal,
 * and finish, without an AbortSignal listener warning.
 */
describe.skipIf(skipWithoutNanio())('migration of large objects on nanio', () => {
  it('17/40/150 MiB objects already on the destination, no copy record: hashed in ranges, done', async () => {
    const e = await MigrationEnv.start({ server: 'nanio', seed: 2 });
    try {
      const old = e.poolClient('old');
      const dst = e.poolClient('new');
      await dst.send(new CreateBucketCommand({ Bucket: e.bucket }));
      for (const [i, size] of [17 * MiB, 40 * MiB, 150 * MiB].entries()) {
        const key = `large/${i}`;
        const body = makeBody(`large.${i}`, size);
        await putMultipart(old, e.bucket, key, body);
        await dst.send(new PutObjectCommand({ Bucket: e.bucket, Key: key, Body: body }));
      }
      const before = await e.listPool('old');
      const onDst = await e.listPool('new');
      for (const [key, o] of onDst) {
        expect(before.get(key)?.size).toBe(o.size);
        expect(before.get(key)?.etag).not.toBe(o.etag); // not comparable: orch must hash
      }
      e.writeManifest('migrations/photos.yaml', e.migrationYaml({ name: 'large-to-new', freezeBudget: '10s' }));
      await e.apply();
      const started = Date.now();
      const run = await e.cli(['migrate', 'run', 'large-to-new'], { timeoutMs: 240_000 });
      const out = `${run.stdout}\n${run.stderr}`;
      expect(run.code, out).toBe(0);
      expect(out).not.toMatch(/MaxListenersExceeded/);
      const r = await e.cli(['migrations', '--json', '--log', '100']);
      const [m] = (JSON.parse(r.stdout) as { migrations: MigrationJson[] }).migrations;
      expect(m).toMatchObject({ phase: 'done', routing: 'destination' });
      const log = m!.log.map((l) => l.message).join('\n');
      // The first pass compared the three large objects (hashing), copied only the small seeds.
      expect(log).toMatch(/pass 1: 2 copied, 3 compared, 0 deleted/);
      const after = await e.listPool('new');
      expect([...after.keys()].sort()).toEqual([...before.keys()].sort());
      for (const [key, o] of after) expect(o.size).toBe(before.get(key)!.size);
      // The large objects were found equal, not copied again: their destination ETags are unchanged.
      for (const [key, o] of onDst) expect(after.get(key)!.etag).toBe(o.etag);
      console.log(`large objects on nanio: done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    } finally {
      await e.close();
    }
  }, 300_000);
});
