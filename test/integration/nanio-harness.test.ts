import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListBucketsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NanioMember, skipWithoutNanio, type NanioUser } from '../helpers/nanio.js';
import { s3Client } from '../helpers/s3-servers.js';

/**
 * The real pool server the migration, bucket and gateway tests run on: what the harness promises
 * (two members on one data directory are one pool, SigV4 is verified, metadata comes back as
 * written, a range past the end is refused rather than clamped) checked against nanio itself.
 */
describe.skipIf(skipWithoutNanio())('nanio test harness (real pool server)', () => {
  const root = mkdtempSync(join(tmpdir(), 'orch-nanio-'));
  const user: NanioUser = { accessKeyId: 'AKIAORCHTEST0001', secretAccessKey: 'orch-test-secret-0001' };
  let a: NanioMember;
  let b: NanioMember;

  beforeAll(async () => {
    a = await new NanioMember(join(root, 'pool'), { users: [user] }).start();
    b = await new NanioMember(join(root, 'pool'), { users: [user] }).start();
  }, 60_000);

  afterAll(async () => {
    await a?.kill();
    await b?.kill();
    rmSync(root, { recursive: true, force: true });
  });

  it('two members on one data directory serve one pool, metadata as written', async () => {
    const ca = s3Client(a.endpoint, user);
    const cb = s3Client(b.endpoint, user);
    await ca.send(new CreateBucketCommand({ Bucket: 'photos' }));
    await ca.send(
      new PutObjectCommand({ Bucket: 'photos', Key: 'k', Body: 'hello', ContentType: 'text/x-orch', Metadata: { owner: 'ops' } }),
    );
    const head = await cb.send(new HeadObjectCommand({ Bucket: 'photos', Key: 'k' }));
    expect(head.ContentType).toBe('text/x-orch');
    expect(head.Metadata).toEqual({ owner: 'ops' });
  });

  it('verifies signatures: an unknown access key is refused', async () => {
    const wrong = s3Client(a.endpoint, { accessKeyId: 'AKIAUNKNOWN', secretAccessKey: 'nope' });
    await expect(wrong.send(new ListBucketsCommand({}))).rejects.toMatchObject({ name: 'InvalidAccessKeyId' });
    const badSecret = s3Client(a.endpoint, { accessKeyId: user.accessKeyId, secretAccessKey: 'wrong' });
    await expect(badSecret.send(new ListBucketsCommand({}))).rejects.toMatchObject({ name: 'SignatureDoesNotMatch' });
  });

  it('refuses a range that starts past the end instead of clamping it', async () => {
    const c = s3Client(a.endpoint, user);
    await expect(c.send(new GetObjectCommand({ Bucket: 'photos', Key: 'k', Range: 'bytes=10-20' }))).rejects.toMatchObject({
      $metadata: { httpStatusCode: expect.any(Number) as number },
    });
  });
});
