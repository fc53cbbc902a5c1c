import { CreateBucketCommand, HeadObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getEventListeners } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listAll, ObjectCopier } from '../../src/adapters/s3/object-copier.js';
import { PoolS3Client } from '../../src/adapters/s3/pool-s3-client.js';
import { diffObjects, type CopyRecord } from '../../src/domain/migrations/object-diff.js';
import { NanioMember, skipWithoutNanio, type NanioUser } from '../helpers/nanio.js';
import { s3Client } from '../helpers/s3-servers.js';
import { makeBody } from '../helpers/s3-workload.js';

/**
 * The copy engine against real nanio (SigV4 verified, ranges never clamped, metadata kept as
 * written): two pools with their own credentials, the destination of two members on one data
 * directory.
 */
const MiB = 1024 * 1024;
const SRC: NanioUser = { accessKeyId: 'AKIACOPIERSRC0000001', secretAccessKey: 'copier-src-secret-1' };
const DST: NanioUser = { accessKeyId: 'AKIACOPIERDST0000001', secretAccessKey: 'copier-dst-secret-1' };
const s3opts = { timeoutMs: 10_000, retries: 1, concurrency: 4, backoffMs: 20 };

/** Everything a client reads back besides the bytes. */
const META = {
  ContentType: 'image/x-orch',
  ContentEncoding: 'identity',
  ContentDisposition: 'attachment; filename="a b.bin"',
  CacheControl: 'max-age=60',
  Metadata: { 'owner': 'ops', 'write-id': 'w-1' },
};

describe.skipIf(skipWithoutNanio())('object copier on nanio', () => {
  const root = mkdtempSync(join(tmpdir(), 'orch-copier-nanio-'));
  let members: NanioMember[] = [];
  let src: S3Client;
  let dst: S3Client;
  let source: PoolS3Client;
  let destination: PoolS3Client;
  let bucketNo = 0;

  beforeAll(async () => {
    members = [
      await new NanioMember(join(root, 'src'), { users: [SRC] }).start(),
      await new NanioMember(join(root, 'dst'), { users: [DST] }).start(),
      await new NanioMember(join(root, 'dst'), { users: [DST] }).start(),
    ];
    src = s3Client(members[0]!.endpoint, SRC);
    dst = s3Client(members[1]!.endpoint, DST);
    source = await PoolS3Client.open({ pool: 'src', members: [members[0]!.address], credentials: SRC }, s3opts);
    destination = await PoolS3Client.open({ pool: 'dst', members: [members[1]!.address, members[2]!.address], credentials: DST }, s3opts);
  }, 60_000);

  afterAll(async () => {
    source?.close();
    destination?.close();
    src?.destroy();
    dst?.destroy();
    await Promise.all(members.map((m) => m.kill()));
    rmSync(root, { recursive: true, force: true });
  });

  async function bucket(): Promise<string> {
    const name = `copy-${++bucketNo}`;
    await src.send(new CreateBucketCommand({ Bucket: name }));
    await dst.send(new CreateBucketCommand({ Bucket: name }));
    return name;
  }

  const copier = (b: string, signal?: AbortSignal) =>
    new ObjectCopier(source, destination, b, {
      concurrency: 4,
      bandwidthLimit: null,
      multipartThreshold: 48 * MiB,
      ...(signal ? { signal } : {}),
    });

  it('carries Content-Type/-Encoding/-Disposition, Cache-Control and every x-amz-meta-* on the buffered, streamed and multipart paths', async () => {
    const b = await bucket();
    const sizes = { small: 1000, streamed: 17 * MiB, multipart: 50 * MiB };
    for (const [key, size] of Object.entries(sizes)) {
      await src.send(new PutObjectCommand({ Bucket: b, Key: key, Body: makeBody(key, size), ...META }));
    }
    const records: CopyRecord[] = [];
    const { failures } = await copier(b).copy(await listAll(source, b), (r) => records.push(r));
    expect(failures).toEqual([]);
    expect(records.map((r) => r.key).sort()).toEqual(['multipart', 'small', 'streamed']);
    for (const key of Object.keys(sizes)) {
      const h = await dst.send(new HeadObjectCommand({ Bucket: b, Key: key }));
      expect({
        key,
        type: h.ContentType,
        enc: h.ContentEncoding,
        disp: h.ContentDisposition,
        cache: h.CacheControl,
        meta: h.Metadata,
      }).toEqual({
        key,
        type: META.ContentType,
        enc: META.ContentEncoding,
        disp: META.ContentDisposition,
        cache: META.CacheControl,
        meta: META.Metadata,
      });
    }
  }, 120_000);

  it('a metadata-only overwrite (same bytes: same ETag, new Last-Modified) is found by the next diff and copied: the destination returns the new metadata', async () => {
    const b = await bucket();
    const body = makeBody('meta', 4000);
    await src.send(new PutObjectCommand({ Bucket: b, Key: 'k', Body: body, ...META }));
    const records = new Map<string, CopyRecord>();
    const first = await copier(b).copy(await listAll(source, b), (r) => records.set(r.key, r));
    expect(first.failures).toEqual([]);
    const before = (await listAll(source, b))[0]!;
    // The client writes the same bytes with new metadata, in the same second or later.
    await src.send(
      new PutObjectCommand({ Bucket: b, Key: 'k', Body: body, ...META, ContentType: 'text/x-new', Metadata: { owner: 'dev' } }),
    );
    const after = (await listAll(source, b))[0]!;
    expect(after.etag).toBe(before.etag); // nanio: the ETag is the content's MD5, unchanged
    const diff = diffObjects({ source: [after], destination: await listAll(destination, b), records, baseline: new Map(), mode: 'sync' });
    expect(diff.copy).toEqual([]);
    expect(diff.compare).toEqual([expect.objectContaining({ hash: false, destinationMeta: records.get('k')!.meta })]);
    const checked = await copier(b).compare(diff.compare);
    expect(checked.different.map((o) => o.key)).toEqual(['k']);
    const again = await copier(b).copy(checked.different, (r) => records.set(r.key, r));
    expect(again.failures).toEqual([]);
    const h = await dst.send(new HeadObjectCommand({ Bucket: b, Key: 'k' }));
    expect({ type: h.ContentType, meta: h.Metadata }).toEqual({ type: 'text/x-new', meta: { owner: 'dev' } });
    // Nothing left once both sides agree (a HEAD may still confirm a copy read in the write's second).
    const last = diffObjects({
      source: await listAll(source, b),
      destination: await listAll(destination, b),
      records,
      baseline: new Map(),
      mode: 'sync',
    });
    expect(last.copy).toEqual([]);
    const confirm = await copier(b).compare(last.compare);
    expect(confirm.different).toEqual([]);
  }, 60_000);

  it('hashes objects over one part with ranges inside the object (nanio refuses a range past the end), and leaks no abort listener', async () => {
    const b = await bucket();
    const pairs = [];
    for (const [i, size] of [17 * MiB, 40 * MiB + 123].entries()) {
      const key = `large/${i}`;
      const body = makeBody(key, size);
      await new Upload({ client: src, params: { Bucket: b, Key: key, Body: body }, partSize: 8 * MiB }).done();
      await dst.send(new PutObjectCommand({ Bucket: b, Key: key, Body: body }));
    }
    const s = await listAll(source, b);
    const d = await listAll(destination, b);
    for (let i = 0; i < s.length; i++) pairs.push({ source: s[i]!, destination: d[i]!, hash: true, destinationMeta: null });
    expect(s.every((o) => o.etag.includes('-'))).toBe(true); // multipart: not comparable with a single PUT's

    const outer = new AbortController();
    for (let round = 0; round < 12; round++) {
      const out = await copier(b, outer.signal).compare(pairs);
      expect(out.failures).toEqual([]);
      expect(out.equal.map((r) => r.key)).toEqual(['large/0', 'large/1']);
      expect(out.different).toEqual([]);
    }
    // One migration's signal is handed to every pass: nothing may stay attached to it.
    expect(getEventListeners(outer.signal, 'abort')).toHaveLength(0);

    // A listing that no longer tells the size (the object was rewritten since): the ranges follow
    // the size the first answer gives, never past it.
    const stale = pairs.map((p) => ({ ...p, source: { ...p.source, size: p.source.size + 20 * MiB } }));
    const out = await copier(b, outer.signal).compare(stale);
    expect(out.failures).toEqual([]);
    expect(out.equal.map((r) => r.key)).toEqual(['large/0', 'large/1']);
    expect(getEventListeners(outer.signal, 'abort')).toHaveLength(0);
  }, 180_000);
});
