import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseListObjectsV2, PoolS3Client } from '../../src/adapters/s3/pool-s3-client.js';
import type { ListedEntry } from '../../src/ports/pool-storage.js';
import { PoolAccessError } from '../../src/domain/buckets/pool-access-error.js';
import { s3Client, S3RVER_ACCESS_KEY, seedOnDisk, startMembers, type S3Member } from '../helpers/s3-servers.js';

/**
 * PoolS3Client's own ListObjectsV2 (signed by our SigV4 signer, XML read without a library)
 * against the SDK's ListObjectsV2Command on a real s3rver bucket of several pages, awkward keys
 * included (XML-escaped characters, which s3rver writes as named and numeric entities, unicode,
 * spaces): the same pages, field by field.
 */
const credentials = { accessKeyId: S3RVER_ACCESS_KEY, secretAccessKey: 'S3RVER' };
const opts = { timeoutMs: 5000, retries: 1, concurrency: 4, backoffMs: 20 };

// Keys s3rver can store (not `//`, which its router answers 404): XML's five special characters
// (s3rver escapes `'` and `` ` `` as numeric entities), literal entity text, unicode, whitespace.
const AWKWARD = [
  'a&b',
  'x<y>z',
  'quote"d',
  "apos'trophe",
  'back`tick',
  'literal &amp; entity',
  'literal &#x27; numeric',
  '&lt;already&gt;',
  'sp ace/and  two',
  'ünïcødé/日本語/😀 emoji',
  'plus+percent%41~tilde!*()',
  'tab\there',
  'semi;colon,comma=equals?question#hash',
  'trailing space ',
  ' leading space',
  '</Key><Key>injected',
  ']]>cdata-end',
];

let root: string;
let member: S3Member;
let sdk: S3Client;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'orch-listing-'));
  member = (await startMembers(root, { pool: 1 })).pool![0]!;
  sdk = s3Client(`http://${member.address}`);
  await sdk.send(new CreateBucketCommand({ Bucket: 'many' }));
  await sdk.send(new CreateBucketCommand({ Bucket: 'empty' }));
  // 2,600 plain keys on disk (three pages of 1,000), the awkward ones through S3 (with their ETags).
  seedOnDisk(
    join(root, 'pool'),
    'many',
    Array.from({ length: 2600 }, (_, i) => `obj/${String(i).padStart(5, '0')}`),
    'x',
  );
  for (const [i, key] of AWKWARD.entries()) {
    const body = Buffer.from(`body of ${key}`.repeat(i + 1));
    await sdk.send(new PutObjectCommand({ Bucket: 'many', Key: key, Body: body, ContentLength: body.length }));
  }
});

afterAll(async () => {
  sdk?.destroy();
  await member?.kill();
  rmSync(root, { recursive: true, force: true });
});

/** Every page as the SDK lists it, in the detailed listing's shape. */
async function sdkPages(bucket: string): Promise<ListedEntry[][]> {
  const pages: ListedEntry[][] = [];
  let token: string | undefined;
  do {
    const out = await sdk.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    pages.push(
      (out.Contents ?? []).map((o) => ({
        key: o.Key!,
        size: o.Size!,
        etag: (o.ETag ?? '').replace(/"/g, ''),
        ...(o.LastModified ? { lastModified: o.LastModified } : {}),
      })),
    );
    token = out.IsTruncated ? out.NextContinuationToken : undefined;
  } while (token);
  return pages;
}

describe('PoolS3Client ListObjectsV2 without the SDK', () => {
  it('lists a bucket of several pages with awkward keys exactly as the SDK does, page by page, field by field', async () => {
    const expected = await sdkPages('many');
    expect(expected.length).toBeGreaterThanOrEqual(3);
    const client = await PoolS3Client.open({ pool: 'p', members: [member.address], credentials }, opts);
    const pages: ListedEntry[][] = [];
    try {
      await client.listObjectsDetailed('many', (page) => pages.push(page));
    } finally {
      client.close();
    }
    expect(pages.map((p) => p.length)).toEqual(expected.map((p) => p.length));
    const flat = pages.flat();
    const want = expected.flat();
    expect(flat.length).toBe(2600 + AWKWARD.length);
    for (const [i, o] of flat.entries()) {
      const e = want[i]!;
      expect(o.key).toBe(e.key);
      expect(o.size).toBe(e.size);
      expect(o.etag).toBe(e.etag);
      expect(o.etag).toMatch(/^[0-9a-f]{32}$/);
      expect(o.lastModified?.getTime()).toBe(e.lastModified?.getTime());
    }
    // Every awkward key came back as stored.
    const keys = new Set(flat.map((o) => o.key));
    for (const k of AWKWARD) expect(keys.has(k), k).toBe(true);
  });

  it('listObjects, bucketStats and hasObjects agree with the SDK; a missing bucket is reported', async () => {
    const want = (await sdkPages('many')).flat();
    const client = await PoolS3Client.open({ pool: 'p', members: [member.address], credentials }, opts);
    try {
      const plain: Array<{ key: string; size: number }> = [];
      await client.listObjects('many', (page) => plain.push(...page));
      expect(plain).toEqual(want.map((o) => ({ key: o.key, size: o.size })));
      expect(await client.bucketStats('many')).toEqual({ objects: want.length, bytes: want.reduce((n, o) => n + o.size, 0) });
      expect(await client.hasObjects('many')).toBe(true);
      expect(await client.hasObjects('empty')).toBe(false);
      expect(await client.bucketStats('empty')).toEqual({ objects: 0, bytes: 0 });
      expect(await client.bucketStats('missing')).toEqual({ objects: 0, bytes: 0 });
      const err = await client.listObjectsDetailed('missing', () => {}).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(PoolAccessError);
      expect((err as Error).message).toBe('bucket missing does not exist on pool p.');
    } finally {
      client.close();
    }
  });
});

describe('parseListObjectsV2', () => {
  it('decodes named, decimal and hex entities (astral ones too), CDATA, and reads line ends as XML does', () => {
    const xml =
      '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name><KeyCount>3</KeyCount>' +
      '<IsTruncated>true</IsTruncated><NextContinuationToken>tok&amp;en+/=</NextContinuationToken>' +
      '<Contents><Key>a&amp;b&lt;c&gt;d&quot;e&apos;f&#39;g&#x60;h&#x1F600;i&#233;</Key><LastModified>2026-01-02T03:04:05.678Z</LastModified><ETag>&quot;0123456789abcdef0123456789abcdef&quot;</ETag><Size>12</Size><Owner><ID>x</ID></Owner><StorageClass>STANDARD</StorageClass></Contents>' +
      '<Contents><Key><![CDATA[raw <&> text]]>&amp;more</Key><Size>0</Size><ETag>"abc-2"</ETag></Contents>' +
      '<Contents><Key>line\r\nbreak&#13;kept</Key><Size>7</Size><ETag>e</ETag><LastModified>not a date</LastModified></Contents>' +
      '</ListBucketResult>';
    const page = parseListObjectsV2(xml);
    expect(page.isTruncated).toBe(true);
    expect(page.nextContinuationToken).toBe('tok&en+/=');
    expect(page.contents).toEqual([
      {
        key: `a&b<c>d"e'f'g\`h😀ié`,
        size: 12,
        etag: '0123456789abcdef0123456789abcdef',
        lastModified: new Date('2026-01-02T03:04:05.678Z'),
      },
      { key: 'raw <&> text&more', size: 0, etag: 'abc-2' },
      { key: 'line\nbreak\rkept', size: 7, etag: 'e' },
    ]);
  });

  it('a last page, an empty bucket; a 2xx answer that is not a listing is an error', () => {
    expect(parseListObjectsV2('<ListBucketResult><Name>b</Name><IsTruncated>false</IsTruncated></ListBucketResult>')).toEqual({
      contents: [],
      isTruncated: false,
    });
    expect(() => parseListObjectsV2('<html>hello</html>')).toThrow('not a ListObjectsV2 answer');
  });
});
