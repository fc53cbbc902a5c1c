import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ABORT_GRACE_MS, listAll, ObjectCopier, type CopierOptions } from '../../src/adapters/s3/object-copier.js';
import { PoolS3Client } from '../../src/adapters/s3/pool-s3-client.js';
import { resetSpliceForTests, SpliceError, spliceAvailability } from '../../src/adapters/s3/splice-relay.js';
import { diffObjects, type CopyRecord, type ListedObject } from '../../src/domain/migrations/object-diff.js';
import { freePorts } from '../helpers/ports.js';
import { S3RVER_ACCESS_KEY, seedOnDisk, startMembers, type S3Member } from '../helpers/s3-servers.js';

/**
 * The migration copy engine against real S3 servers: s3rver child processes as two pools (the
 * source with two members sharing its storage, the destination with one), real sockets, real
 * bytes. Every copied object is read back and compared by sha256.
 */
const MiB = 1024 * 1024;
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('hex');
// s3rver never checks the secret: a distinctive one shows that no message ever carries it.
const SECRET = 'copier-secret-value-Zq9';
const credentials = { accessKeyId: S3RVER_ACCESS_KEY, secretAccessKey: SECRET };
const s3opts = { timeoutMs: 5000, retries: 1, concurrency: 4, backoffMs: 20 };

let root: string;
let members: Record<string, S3Member[]>;
let src: S3Client;
let dst: S3Client;
let bucketNo = 0;

async function put(c: S3Client, bucket: string, key: string, body: Buffer, extra: Record<string, unknown> = {}): Promise<void> {
  await c.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: body.length, ...extra }));
}
async function get(c: S3Client, bucket: string, key: string): Promise<Buffer | null> {
  try {
    const out = await c.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return Buffer.from(await out.Body!.transformToByteArray());
  } catch (e) {
    if ((e as { name?: string }).name === 'NoSuchKey') return null;
    throw e;
  }
}
/** A fresh bucket on both pools. */
async function buckets(): Promise<string> {
  const name = `copy-${++bucketNo}`;
  await src.send(new CreateBucketCommand({ Bucket: name }));
  await dst.send(new CreateBucketCommand({ Bucket: name }));
  return name;
}
async function pools(
  opts: { srcMembers?: string[]; dstMembers?: string[]; s3?: Partial<typeof s3opts> } = {},
): Promise<{ source: PoolS3Client; destination: PoolS3Client; close(): void }> {
  const o = { ...s3opts, ...opts.s3 };
  const source = await PoolS3Client.open({ pool: 'old', members: opts.srcMembers ?? members.old!.map((m) => m.address), credentials }, o);
  const destination = await PoolS3Client.open(
    { pool: 'new', members: opts.dstMembers ?? members.new!.map((m) => m.address), credentials },
    o,
  );
  return { source, destination, close: () => (source.close(), destination.close()) };
}

/** listAll both sides, diff, copy what the diff says; returns the records and failures. */
async function copyPass(bucket: string, opts: Partial<CopierOptions> = {}, records = new Map<string, CopyRecord>()) {
  const p = await pools();
  try {
    const [s, d] = await Promise.all([listAll(p.source, bucket), listAll(p.destination, bucket)]);
    const diff = diffObjects({ source: s, destination: d, records, baseline: new Map(), mode: 'sync' });
    const copier = copierOf(p.source, p.destination, bucket, { concurrency: 8, bandwidthLimit: null, ...opts });
    const { failures } = await copier.copy(diff.copy, (r) => records.set(r.key, r));
    return { diff, records, failures, source: s };
  } finally {
    p.close();
  }
}

/**
 * A small real HTTP server speaking the part of the S3 protocol a copy uses (GET with Range, PUT,
 * multipart upload), storing objects by their raw request path: s3rver cannot store keys with `//`
 * (its router answers 404), so this one shows what the copier sends on the wire for them. Unlike
 * s3rver it verifies every request's SigV4 signature as received (path, query, signed headers,
 * payload hash against the body), with the SDK's signer: 403 SignatureDoesNotMatch otherwise.
 */
async function rawPathS3(opts: { getBytesPerSecond?: number } = {}): Promise<{
  address: string;
  objects: Map<string, Buffer>;
  started: string[];
  requests: string[];
  refused: string[];
  close(): Promise<void>;
}> {
  const objects = new Map<string, Buffer>();
  const uploads = new Map<string, Map<number, Buffer>>();
  const started: string[] = [];
  const requests: string[] = [];
  const refused: string[] = [];
  const signerClient = new S3Client({
    endpoint: 'http://127.0.0.1:1',
    forcePathStyle: true,
    region: 'us-east-1',
    credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const signer = await (
    signerClient.config as unknown as {
      signer: () => Promise<{ sign(r: unknown, o: unknown): Promise<{ headers: Record<string, string> }> }>;
    }
  ).signer();
  async function verified(req: import('node:http').IncomingMessage, body: Buffer): Promise<boolean> {
    const m = /^AWS4-HMAC-SHA256 Credential=[^,]+, SignedHeaders=([^,]+), Signature=([0-9a-f]{64})$/.exec(req.headers.authorization ?? '');
    const d = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(String(req.headers['x-amz-date'] ?? ''));
    if (!m || !d) return false;
    const payload = String(req.headers['x-amz-content-sha256'] ?? '');
    if (payload !== 'UNSIGNED-PAYLOAD' && payload !== createHash('sha256').update(body).digest('hex')) return false;
    const names = m[1]!.split(';');
    const url = new URL(req.url!, 'http://x');
    const [hostname, port] = String(req.headers.host).split(':');
    const again = await signer.sign(
      {
        method: req.method,
        protocol: 'http:',
        hostname,
        port: Number(port),
        path: req.url!.split('?')[0],
        query: Object.fromEntries(url.searchParams),
        headers: Object.fromEntries(names.map((n) => [n, String(req.headers[n])])),
      },
      { signingDate: new Date(Date.UTC(+d[1]!, +d[2]! - 1, +d[3]!, +d[4]!, +d[5]!, +d[6]!)) },
    );
    return again.headers.authorization === req.headers.authorization;
  }
  const server: Server = createServer((req, res) => {
    started.push(`${req.method} ${req.url}`);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url!, 'http://x');
      const path = req.url!.split('?')[0]!;
      requests.push(`${req.method} ${path}`);
      if (!(await verified(req, body))) {
        refused.push(`${req.method} ${req.url}`);
        return res.writeHead(403, { 'content-type': 'application/xml' }).end('<Error><Code>SignatureDoesNotMatch</Code></Error>');
      }
      const etag = (b: Buffer) => `"${md5(b)}"`;
      const q = url.searchParams;
      if (req.method === 'GET') {
        const obj = objects.get(path);
        if (!obj) return res.writeHead(404, { 'content-type': 'application/xml' }).end('<Error><Code>NoSuchKey</Code></Error>');
        const m = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? '');
        if (!m && opts.getBytesPerSecond) {
          // A slow member: 64 KiB at a time.
          res.writeHead(200, { 'etag': etag(obj), 'content-length': obj.length });
          const step = 64 * 1024;
          let at = 0;
          const timer = setInterval(
            () => {
              if (res.destroyed) return clearInterval(timer);
              res.write(obj.subarray(at, at + step));
              at += step;
              if (at >= obj.length) {
                clearInterval(timer);
                res.end();
              }
            },
            (step / opts.getBytesPerSecond) * 1000,
          );
          return;
        }
        if (!m) return res.writeHead(200, { 'etag': etag(obj), 'content-length': obj.length }).end(obj);
        const [a, b] = [Number(m[1]), Math.min(Number(m[2]), obj.length - 1)];
        return res
          .writeHead(206, { 'etag': etag(obj), 'content-length': b - a + 1, 'content-range': `bytes ${a}-${b}/${obj.length}` })
          .end(obj.subarray(a, b + 1));
      }
      if (req.method === 'POST' && q.has('uploads')) {
        const id = `u${uploads.size + 1}`;
        uploads.set(id, new Map());
        return res
          .writeHead(200, { 'content-type': 'application/xml' })
          .end(`<InitiateMultipartUploadResult><Bucket>b</Bucket><Key>k</Key><UploadId>${id}</UploadId></InitiateMultipartUploadResult>`);
      }
      if (req.method === 'PUT' && q.has('uploadId')) {
        uploads.get(q.get('uploadId')!)!.set(Number(q.get('partNumber')), body);
        return res.writeHead(200, { etag: etag(body) }).end();
      }
      if (req.method === 'POST' && q.has('uploadId')) {
        const parts = uploads.get(q.get('uploadId')!)!;
        const whole = Buffer.concat([...parts.entries()].sort((x, y) => x[0] - y[0]).map(([, b]) => b));
        objects.set(path, whole);
        // A multipart ETag, as S3 writes it: not comparable with a plain MD5.
        return res
          .writeHead(200, { 'content-type': 'application/xml' })
          .end(`<CompleteMultipartUploadResult><ETag>"${md5(whole)}-${parts.size}"</ETag></CompleteMultipartUploadResult>`);
      }
      if (req.method === 'PUT') {
        objects.set(path, body);
        return res.writeHead(200, { etag: etag(body) }).end();
      }
      return res.writeHead(405).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    address: `127.0.0.1:${(server.address() as { port: number }).port}`,
    objects,
    started,
    requests,
    refused,
    close: () =>
      new Promise<void>((r) => {
        signerClient.destroy();
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** The test's own direct client (seeding, reading back), retrying a request on a kept-alive socket the server just closed. */
function direct(address: string): S3Client {
  return new S3Client({
    endpoint: `http://${address}`,
    forcePathStyle: true,
    region: 'us-east-1',
    credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 3,
  });
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'orch-copier-'));
  members = await startMembers(root, { old: 2, new: 1 });
  src = direct(members.old![0]!.address);
  dst = direct(members.new![0]!.address);
});

afterAll(async () => {
  src?.destroy();
  dst?.destroy();
  await Promise.all(
    Object.values(members ?? {})
      .flat()
      .map((m) => m.kill()),
  );
  if (root) rmSync(root, { recursive: true, force: true });
});

/**
 * How streamed objects go in the copiers of the tests below: `false` through Node's HTTP client
 * (what the composition root asks for with ORCH_SPLICE=0, and the path where the relay is not
 * built), undefined by the splice relay where it is available (the copier's default).
 */
let useSplice: boolean | undefined;
function copierOf(...[source, destination, bucket, opts]: ConstructorParameters<typeof ObjectCopier>): ObjectCopier {
  return new ObjectCopier(source, destination, bucket, useSplice === undefined ? opts : { splice: useSplice, ...opts });
}
function splicePath(splice: boolean | undefined): void {
  useSplice = splice;
  resetSpliceForTests();
}

// Every test runs twice: streamed objects moved by the splice relay (the default where it is built:
// Linux, which CI is), then through Node's HTTP client (splice: false, the path elsewhere).
describe.each([
  { path: 'the splice relay', splice: undefined },
  { path: "Node's HTTP client", splice: false },
])('ObjectCopier, streamed objects through $path', ({ splice }) => {
  beforeAll(() => {
    splicePath(splice);
    // On Linux the relay must be built (npm ci builds it): a missing one is a failure, not a fallback.
    if (process.platform === 'linux') expect(spliceAvailability()).toEqual({ available: true, reason: 'built' });
  });
  afterAll(() => splicePath(undefined));

  it('copies small, medium, multipart and empty objects and awkward keys byte for byte, with their headers; the next diff finds all in sync', async () => {
    const bucket = await buckets();
    const objects: Record<string, Buffer> = {
      'small.txt': randomBytes(1024),
      'empty': Buffer.alloc(0),
      'medium.bin': randomBytes(3 * MiB + 17), // buffered (below the 5 MiB part size)
      'streamed.bin': randomBytes(8 * MiB + 3), // streamed (from the part size to the 12 MiB threshold)
      'multi/part.bin': randomBytes(13 * MiB + 5), // multipart: 3 parts of 5 MiB (the last one short)
      'exact/three-parts.bin': randomBytes(15 * MiB), // multipart: exactly 3 parts
      'a b/c d.txt': randomBytes(100),
      'x+y&z=1;2': randomBytes(200),
      'caf\u00e9/\u{1f600}.png': randomBytes(300),
      '100%25 done': randomBytes(400),
      // (Keys with `//` are tested against rawPathS3 below: s3rver's router answers 404 to them.)
      "sub/dir/key(1)!*'~,.txt": randomBytes(500),
      'big with spaces & unicode \u00fc.bin': randomBytes(6 * MiB + 1),
      'huge with spaces & unicode \u00fc.bin': randomBytes(12 * MiB),
    };
    const headers = { ContentType: 'text/plain; charset=utf-8', Metadata: { origin: 'test' }, CacheControl: 'max-age=60' };
    const withHeaders = ['small.txt', 'streamed.bin', 'multi/part.bin'];
    for (const [key, body] of Object.entries(objects)) await put(src, bucket, key, body, withHeaders.includes(key) ? headers : {});
    const progress: number[] = [];
    const first = await copyPass(bucket, {
      concurrency: 4,
      partSize: 5 * MiB,
      multipartThreshold: 12 * MiB,
      maxBufferedBytes: 16 * MiB,
      onProgress: (p) => progress.push(p.objects),
    });
    expect(first.failures).toEqual([]);
    expect(first.diff.copy.map((o) => o.key).sort()).toEqual(Object.keys(objects).sort());
    expect(progress.at(-1)).toBe(Object.keys(objects).length);

    const p = await pools();
    const after = new Map((await listAll(p.destination, bucket).finally(() => p.close())).map((o) => [o.key, o]));
    for (const [key, body] of Object.entries(objects)) {
      const copied = await get(dst, bucket, key);
      expect(copied, key).not.toBeNull();
      expect(copied!.length, key).toBe(body.length);
      expect(sha(copied!), key).toBe(sha(body));
      const r = first.records.get(key)!;
      expect(r, key).toMatchObject({ key, srcEtag: md5(body), srcSize: body.length });
      expect(r.dstEtag, key).toBe(after.get(key)!.etag);
    }
    for (const key of withHeaders) {
      const head = await dst.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      expect(head.ContentType, key).toBe('text/plain; charset=utf-8');
      expect(head.Metadata, key).toEqual({ origin: 'test' });
      expect(head.CacheControl, key).toBe('max-age=60');
    }

    // Resumable without recopying: with the records, nothing is left to copy or hash. Copies read
    // within SETTLE_SECONDS of their source's write have their metadata checked again (a HEAD: a
    // second write in the same second would keep Last-Modified), and all of it is equal.
    const second = await copyPass(bucket, {}, first.records);
    expect(second.diff.copy).toEqual([]);
    expect(second.diff.compare.filter((c) => c.hash)).toEqual([]);
    expect(second.diff.inSync.objects + second.diff.compare.length).toBe(Object.keys(objects).length);
    const p2 = await pools();
    try {
      const checked = await copierOf(p2.source, p2.destination, bucket, { concurrency: 4, bandwidthLimit: null }).compare(
        second.diff.compare,
      );
      expect(checked.failures).toEqual([]);
      expect(checked.different).toEqual([]);
      expect(checked.equal).toHaveLength(second.diff.compare.length);
    } finally {
      p2.close();
    }
  });

  it('keys with `//` reach the servers unchanged, buffered, streamed and multipart, byte for byte, every request signed as received', async () => {
    const [from, to] = [await rawPathS3(), await rawPathS3()];
    const small = randomBytes(1000);
    const mid = randomBytes(6 * MiB);
    const big = randomBytes(11 * MiB);
    from.objects.set('/bkt/a//double//slash', small);
    from.objects.set('/bkt/mid//streamed%25%2B%26%3D%3B%20', mid);
    from.objects.set('/bkt//leading/and//big', big);
    const p = await pools({ srcMembers: [from.address], dstMembers: [to.address] });
    try {
      const records: CopyRecord[] = [];
      const listed: ListedObject[] = [
        { key: 'a//double//slash', size: small.length, etag: md5(small) },
        { key: 'mid//streamed%+&=; ', size: mid.length, etag: md5(mid) },
        { key: '/leading/and//big', size: big.length, etag: md5(big) },
      ];
      const { failures } = await copierOf(p.source, p.destination, 'bkt', {
        concurrency: 2,
        bandwidthLimit: null,
        partSize: 5 * MiB,
        multipartThreshold: 10 * MiB,
      }).copy(listed, (r) => records.push(r));
      expect(failures).toEqual([]);
      expect(from.refused).toEqual([]);
      expect(to.refused).toEqual([]);
      expect(sha(to.objects.get('/bkt/a//double//slash')!)).toBe(sha(small));
      expect(sha(to.objects.get('/bkt/mid//streamed%25%2B%26%3D%3B%20')!)).toBe(sha(mid));
      expect(sha(to.objects.get('/bkt//leading/and//big')!)).toBe(sha(big));
      expect([...to.objects.keys()].sort()).toEqual([
        '/bkt//leading/and//big',
        '/bkt/a//double//slash',
        '/bkt/mid//streamed%25%2B%26%3D%3B%20',
      ]);
      expect(from.requests.filter((r) => r.startsWith('GET')).sort()).toEqual([
        'GET /bkt//leading/and//big',
        'GET /bkt//leading/and//big',
        'GET /bkt//leading/and//big',
        'GET /bkt/a//double//slash',
        'GET /bkt/mid//streamed%25%2B%26%3D%3B%20',
      ]);
      // Buffered and streamed: one PUT each; multipart: create, 3 parts, complete.
      expect(to.requests.filter((r) => r.includes('//leading')).length).toBe(5);
      expect(records.map((r) => r.key).sort()).toEqual(['/leading/and//big', 'a//double//slash', 'mid//streamed%+&=; ']);
      expect(records.find((r) => r.key === '/leading/and//big')!.dstEtag).toBe(`${md5(big)}-3`);
    } finally {
      p.close();
      await Promise.all([from.close(), to.close()]);
    }
  });

  it('records the version it read when the source changed between the listing and the GET; a deleted one is skipped silently', async () => {
    const bucket = await buckets();
    await put(src, bucket, 'changes', Buffer.from('version one'));
    await put(src, bucket, 'vanishes', Buffer.from('soon gone'));
    await put(src, bucket, 'stays', Buffer.from('stays'));
    const p = await pools();
    try {
      const listed = await listAll(p.source, bucket);
      const v2 = Buffer.from('version two, longer');
      await put(src, bucket, 'changes', v2);
      await src.send(new DeleteObjectCommand({ Bucket: bucket, Key: 'vanishes' }));
      const records = new Map<string, CopyRecord>();
      const { failures } = await copierOf(p.source, p.destination, bucket, { concurrency: 2, bandwidthLimit: null }).copy(listed, (r) =>
        records.set(r.key, r),
      );
      expect(failures).toEqual([]);
      expect([...records.keys()].sort()).toEqual(['changes', 'stays']);
      expect(records.get('changes')).toMatchObject({ srcEtag: md5(v2), srcSize: v2.length });
      expect((await get(dst, bucket, 'changes'))!.equals(v2)).toBe(true);
      expect(await get(dst, bucket, 'vanishes')).toBeNull();
      const again = diffObjects({
        source: await listAll(p.source, bucket),
        destination: await listAll(p.destination, bucket),
        records,
        baseline: new Map(),
        mode: 'sync',
      });
      expect(again.copy).toEqual([]);
      expect(again.compare.filter((c) => c.hash)).toEqual([]);
      expect(again.inSync.objects + again.compare.length).toBe(2);
    } finally {
      p.close();
    }
  });

  it('a multipart object overwritten mid-copy is never stitched from two versions: the copy starts again on the new one', async () => {
    const bucket = await buckets();
    const v1 = randomBytes(15 * MiB);
    const v2 = randomBytes(15 * MiB);
    await put(src, bucket, 'big', v1);
    const p = await pools();
    try {
      const listed = await listAll(p.source, bucket);
      let overwrite: Promise<void> | null = null;
      const records: CopyRecord[] = [];
      // One part at a time, 4 MiB/s: each 5 MiB part waits ~1.2 s for its tokens. The source is
      // overwritten (same size) as soon as the first part is uploaded, long before the second is read.
      const copier = copierOf(p.source, p.destination, bucket, {
        concurrency: 1,
        bandwidthLimit: 4 * MiB,
        partSize: 5 * MiB,
        multipartThreshold: 5 * MiB,
        onProgress: (pr) => {
          if (pr.bytes > 0) overwrite ??= put(src, bucket, 'big', v2);
        },
      });
      const { failures } = await copier.copy(listed, (r) => records.push(r));
      await overwrite;
      expect(failures).toEqual([]);
      const copied = await get(dst, bucket, 'big');
      expect(sha(copied!)).toBe(sha(v2));
      expect(records).toEqual([expect.objectContaining({ key: 'big', srcEtag: md5(v2), srcSize: v2.length, dstEtag: md5(v2) })]);
    } finally {
      p.close();
    }
  });

  it('compare hashes both sides: equal pairs come back as records, different ones as objects to copy', async () => {
    const bucket = await buckets();
    const same = randomBytes(7 * MiB + 3); // hashed in ranges of 5 MiB
    const a = randomBytes(2048);
    const b = randomBytes(2048);
    await put(src, bucket, 'same', same);
    await put(dst, bucket, 'same', same);
    await put(src, bucket, 'differs', a);
    await put(dst, bucket, 'differs', b);
    await put(src, bucket, 'dst-gone', a);
    await put(src, bucket, 'empty', Buffer.alloc(0));
    await put(dst, bucket, 'empty', Buffer.alloc(0));
    const p = await pools();
    try {
      const s = new Map((await listAll(p.source, bucket)).map((o) => [o.key, o]));
      const d = new Map((await listAll(p.destination, bucket)).map((o) => [o.key, o]));
      const pairs = ['differs', 'dst-gone', 'empty', 'same', 'src-gone'].map((key) => ({
        source: s.get(key) ?? { key, size: 2048, etag: 'x-2' },
        destination: d.get(key) ?? { key, size: 2048, etag: 'y-2' },
        hash: true,
        destinationMeta: null,
      }));
      const progress: number[] = [];
      const out = await copierOf(p.source, p.destination, bucket, {
        concurrency: 3,
        bandwidthLimit: null,
        partSize: 5 * MiB,
        onProgress: (x) => progress.push(x.objects),
      }).compare(pairs);
      expect(out.failures).toEqual([]);
      expect(out.equal).toEqual([
        expect.objectContaining({ key: 'empty', srcEtag: md5(Buffer.alloc(0)), srcSize: 0, dstEtag: md5(Buffer.alloc(0)) }),
        expect.objectContaining({ key: 'same', srcEtag: md5(same), srcSize: same.length, dstEtag: md5(same) }),
      ]);
      expect(out.different).toEqual([
        expect.objectContaining({ key: 'differs', size: 2048, etag: md5(a) }),
        expect.objectContaining({ key: 'dst-gone', size: 2048, etag: md5(a) }),
      ]);
      expect(progress.at(-1)).toBe(4);
    } finally {
      p.close();
    }
  });

  it('a bandwidth limit holds over all transfers: 4 MiB at 2 MiB/s takes about 2 s', async () => {
    const bucket = await buckets();
    for (let i = 0; i < 8; i++) await put(src, bucket, `obj-${i}`, randomBytes(MiB / 2));
    const unlimitedBucket = await buckets();
    for (let i = 0; i < 8; i++) await put(src, unlimitedBucket, `obj-${i}`, randomBytes(MiB / 2));
    const t0 = performance.now();
    const free = await copyPass(unlimitedBucket, { concurrency: 8 });
    const unlimitedMs = performance.now() - t0;
    const t1 = performance.now();
    const limited = await copyPass(bucket, { concurrency: 8, bandwidthLimit: 2 * MiB });
    const limitedMs = performance.now() - t1;
    expect(free.failures).toEqual([]);
    expect(limited.failures).toEqual([]);
    expect(limited.records.size).toBe(8);
    expect(limitedMs).toBeGreaterThanOrEqual(1800);
    expect(limitedMs).toBeLessThan(10_000);
    expect(limitedMs).toBeGreaterThan(unlimitedMs);
  });

  it('an abort mid-copy rejects promptly and leaves no half-written object at the destination', async () => {
    const bucket = await buckets();
    const bodies: Record<string, Buffer> = {
      'big-1': randomBytes(20 * MiB),
      'big-2': randomBytes(20 * MiB),
      'mid-streamed': randomBytes(8 * MiB),
    };
    for (let i = 0; i < 6; i++) bodies[`small-${i}`] = randomBytes(256 * 1024);
    for (const [k, v] of Object.entries(bodies)) await put(src, bucket, k, v);
    const p = await pools();
    try {
      const listed = await listAll(p.source, bucket);
      const ac = new AbortController();
      const records: CopyRecord[] = [];
      let abortedAt = 0;
      const copier = copierOf(p.source, p.destination, bucket, {
        concurrency: 4,
        bandwidthLimit: 8 * MiB, // 49.5 MiB: ~6 s unaborted
        partSize: 5 * MiB,
        multipartThreshold: 12 * MiB,
        signal: ac.signal,
        onProgress: (pr) => {
          if (pr.bytes >= 5 * MiB && !abortedAt) {
            abortedAt = performance.now();
            ac.abort();
          }
        },
      });
      const err = await copier
        .copy(listed, (r) => records.push(r))
        .then(
          () => null,
          (e: unknown) => e,
        );
      const rejectedAfterMs = performance.now() - abortedAt;
      expect(abortedAt).toBeGreaterThan(0);
      expect((err as Error)?.name).toBe('AbortError');
      expect(rejectedAfterMs).toBeLessThan(10_000); // prompt (a stuck copy never ends); generous for a loaded machine
      // Whatever is at the destination is a whole object, and exactly those were recorded.
      const there = await listAll(p.destination, bucket);
      expect(there.map((o) => o.key).sort()).toEqual(records.map((r) => r.key).sort());
      expect(there.map((o) => o.key)).not.toContain('big-1');
      expect(there.map((o) => o.key)).not.toContain('big-2');
      for (const o of there) expect(sha((await get(dst, bucket, o.key))!), o.key).toBe(sha(bodies[o.key]!));
      // And a pass after the abort finishes the job.
      const rest = await copyPass(bucket, { partSize: 5 * MiB, multipartThreshold: 12 * MiB }, new Map(records.map((r) => [r.key, r])));
      expect(rest.failures).toEqual([]);
      for (const [k, v] of Object.entries(bodies)) expect(sha((await get(dst, bucket, k))!), k).toBe(sha(v));
    } finally {
      p.close();
    }
  });

  it('an abort cuts a streamed PUT that does not finish within the grace period: prompt, nothing written, nothing recorded', async () => {
    const [from, to] = [await rawPathS3({ getBytesPerSecond: MiB }), await rawPathS3()];
    const body = randomBytes(8 * MiB); // streamed (part size 5 MiB, threshold 12 MiB); ~8 s at 1 MiB/s
    from.objects.set('/bkt/slow.bin', body);
    const p = await pools({ srcMembers: [from.address], dstMembers: [to.address] });
    try {
      const ac = new AbortController();
      const records: CopyRecord[] = [];
      setTimeout(() => ac.abort(), 500);
      const t0 = performance.now();
      const err = await copierOf(p.source, p.destination, 'bkt', {
        concurrency: 2,
        bandwidthLimit: null,
        partSize: 5 * MiB,
        multipartThreshold: 12 * MiB,
        signal: ac.signal,
      })
        .copy([{ key: 'slow.bin', size: body.length, etag: md5(body) }], (r) => records.push(r))
        .then(
          () => null,
          (e: unknown) => e,
        );
      const ms = performance.now() - t0;
      expect((err as Error)?.name).toBe('AbortError');
      expect(ms).toBeGreaterThanOrEqual(500 + ABORT_GRACE_MS - 100);
      // Prompt: the stuck PUT would otherwise never end; generous for a loaded CI machine.
      expect(ms).toBeLessThan(500 + ABORT_GRACE_MS + 10_000);
      expect(records).toEqual([]);
      // The PUT had started (streaming), never arrived whole: nothing stored.
      expect(to.started).toEqual(['PUT /bkt/slow.bin']);
      expect(to.requests).toEqual([]);
      expect(to.objects.size).toBe(0);
    } finally {
      p.close();
      await Promise.all([from.close(), to.close()]);
    }
  });

  it('fails over to the other member of the source pool when one is down', async () => {
    const bucket = await buckets();
    const bodies = Array.from({ length: 6 }, () => randomBytes(64 * 1024));
    for (let i = 0; i < bodies.length; i++) await put(src, bucket, `k${i}`, bodies[i]!);
    const [dead] = await freePorts(1);
    const p = await pools({ srcMembers: [`127.0.0.1:${dead}`, members.old![1]!.address] });
    try {
      const listed = await listAll(p.source, bucket);
      const records: CopyRecord[] = [];
      const { failures } = await copierOf(p.source, p.destination, bucket, { concurrency: 3, bandwidthLimit: null }).copy(listed, (r) =>
        records.push(r),
      );
      expect(failures).toEqual([]);
      expect(records).toHaveLength(6);
      for (let i = 0; i < bodies.length; i++) expect(sha((await get(dst, bucket, `k${i}`))!)).toBe(sha(bodies[i]!));
    } finally {
      p.close();
    }
  });

  it('an unreachable destination gives failures (safe to print), not a crash', async () => {
    const bucket = await buckets();
    for (let i = 0; i < 5; i++) await put(src, bucket, `k${i}`, randomBytes(1000));
    const [dead] = await freePorts(1);
    const p = await pools({ dstMembers: [`127.0.0.1:${dead}`], s3: { retries: 0, timeoutMs: 1000 } });
    try {
      const listed = await listAll(p.source, bucket);
      const records: CopyRecord[] = [];
      const { failures } = await copierOf(p.source, p.destination, bucket, { concurrency: 2, bandwidthLimit: null }).copy(listed, (r) =>
        records.push(r),
      );
      expect(records).toEqual([]);
      expect(failures.map((f) => f.key)).toEqual(['k0', 'k1', 'k2', 'k3', 'k4']);
      for (const f of failures) {
        expect(f.message).toMatch(/pool new is unreachable/);
        expect(f.message).not.toContain(SECRET);
      }
    } finally {
      p.close();
    }
  });

  it('onCopied throwing (the state could not be written) stops the copy and rejects with its error', async () => {
    const bucket = await buckets();
    for (let i = 0; i < 20; i++) await put(src, bucket, `k${String(i).padStart(2, '0')}`, randomBytes(1000));
    const p = await pools();
    try {
      const listed = await listAll(p.source, bucket);
      let calls = 0;
      const err = await copierOf(p.source, p.destination, bucket, { concurrency: 2, bandwidthLimit: null })
        .copy(listed, () => {
          if (++calls === 3) throw new Error('database is locked');
        })
        .then(
          () => null,
          (e: unknown) => e,
        );
      expect((err as Error).message).toBe('database is locked');
      expect(calls).toBeLessThan(10);
    } finally {
      p.close();
    }
  });

  it('listAll lists more than one page, sorted, with ETags; deleteAtDestination deletes in batches of 1,000', async () => {
    const bucket = await buckets();
    const keys = Array.from({ length: 1205 }, (_, i) => `d/${String(i).padStart(5, '0')}${i % 7 === 0 ? ' \u00e9' : ''}`);
    seedOnDisk(join(root, 'new'), bucket, keys, 'seeded');
    await put(dst, bucket, 'odd key +&=;%25', Buffer.from('x'));
    const p = await pools();
    try {
      const listed = await listAll(p.destination, bucket);
      expect(listed).toHaveLength(1206);
      expect(listed.map((o) => o.key)).toEqual([...listed.map((o) => o.key)].sort());
      expect(listed.find((o) => o.key === 'd/00000 \u00e9')).toMatchObject({
        key: 'd/00000 \u00e9',
        size: 6,
        etag: md5(Buffer.from('seeded')),
      } satisfies ListedObject);
      const keep = 'd/00001';
      const doomed = listed.map((o) => o.key).filter((k) => k !== keep);
      const { failures } = await copierOf(p.source, p.destination, bucket, { concurrency: 4, bandwidthLimit: null }).deleteAtDestination(
        doomed,
      );
      expect(failures).toEqual([]);
      expect((await listAll(p.destination, bucket)).map((o) => o.key)).toEqual([keep]);
    } finally {
      p.close();
    }
  });
});

// Linux: where the relay exists to be refused.
describe.runIf(process.platform === 'linux')('ObjectCopier when the system refuses the splice relay', () => {
  beforeAll(() => splicePath(undefined));

  it('a system that refuses splice(2) (the first relay fails as refused): that copy and the next go the Node path, the relay is off for the process', async () => {
    const bucket = await buckets();
    const bodies = [randomBytes(6 * MiB + 1), randomBytes(7 * MiB + 2)]; // both streamed (5 MiB parts, 12 MiB threshold)
    for (let i = 0; i < bodies.length; i++) await put(src, bucket, `big-${i}`, bodies[i]!);
    const p = await pools();
    // What a seccomp filter without splice does to the first relay: EPERM before a byte moved.
    let refusals = 0;
    p.destination.splicePut = async (_req, stream) => {
      refusals++;
      stream.close();
      throw new SpliceError('SOURCE', 'reading the source: Operation not permitted', 0, 1);
    };
    try {
      const listed = await listAll(p.source, bucket);
      const records: CopyRecord[] = [];
      const { failures } = await copierOf(p.source, p.destination, bucket, {
        concurrency: 1,
        bandwidthLimit: null,
        partSize: 5 * MiB,
        multipartThreshold: 12 * MiB,
      }).copy(listed, (r) => records.push(r));
      expect(failures).toEqual([]);
      expect(records.map((r) => r.key).sort()).toEqual(['big-0', 'big-1']);
      for (let i = 0; i < bodies.length; i++) expect(sha((await get(dst, bucket, `big-${i}`))!)).toBe(sha(bodies[i]!));
      expect(refusals).toBe(1);
      expect(spliceAvailability()).toEqual({
        available: false,
        reason: 'refused by this system (reading the source: Operation not permitted)',
      });
    } finally {
      p.close();
      splicePath(undefined);
    }
  });
});
