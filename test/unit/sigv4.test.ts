import { S3Client } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encodeKeyPath } from '../../src/adapters/s3/pool-s3-client.js';
import { canonicalQuery, SigV4Signer, uriEscape, type SigV4Credentials } from '../../src/adapters/s3/sigv4.js';

/**
 * Our SigV4 signer against the SDK's own S3 signer (as @aws-sdk/client-s3 configures it: path not
 * encoded twice, region us-east-1): byte-identical `authorization` and `x-amz-date` on thousands
 * of generated requests, awkward keys, query strings and headers included.
 */
interface SdkSigner {
  sign(r: unknown, o: { signingDate: Date }): Promise<{ headers: Record<string, string> }>;
}

async function sdkSigner(credentials: SigV4Credentials): Promise<{ signer: SdkSigner; close(): void }> {
  const client = new S3Client({
    endpoint: 'http://127.0.0.1:1',
    forcePathStyle: true,
    region: 'us-east-1',
    credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  const signer = await (client.config as unknown as { signer: () => Promise<SdkSigner> }).signer();
  return { signer, close: () => client.destroy() };
}

/** A small deterministic PRNG (mulberry32): the same requests on every run. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KEY_PIECES = [
  'a',
  'Z',
  '0',
  '-',
  '_',
  '.',
  '~',
  '/',
  '//',
  ' ',
  '  ',
  '+',
  '%',
  '%20',
  '%2F',
  '!',
  '*',
  "'",
  '(',
  ')',
  '&',
  '=',
  '?',
  '#',
  ';',
  ':',
  '@',
  ',',
  '$',
  '<',
  '>',
  '"',
  '\\',
  '^',
  '`',
  '{',
  '}',
  '|',
  '[',
  ']',
  'é',
  'ß',
  '日本',
  '😀',
  'Ω',
  '\u00a0',
  'tab\there',
  '..',
  '.',
];
const VALUE_PIECES = [
  'x',
  '1',
  '42',
  ' ',
  '+',
  '/',
  '=',
  '&',
  '%',
  '~',
  '!',
  "'",
  '()',
  '*',
  'ü',
  '😀',
  'a b',
  '==',
  'AbC/+=',
  '\u00e9\u00e8',
];
const HEADER_VALUES = [
  'text/plain',
  'application/json; charset=utf-8',
  '  leading and trailing  ',
  'inner   spaces\tand\ttabs',
  'bytes=0-1023',
  '"0123456789abcdef0123456789abcdef"',
  'max-age=60',
  'gzip',
  'attachment; filename="a b.txt"',
  'en-US',
  'Wed, 21 Oct 2026 07:28:00 GMT',
  'v',
  '',
];
const HEADER_NAMES = [
  'content-type',
  'content-length',
  'content-md5',
  'range',
  'if-match',
  'if-none-match',
  'content-encoding',
  'content-disposition',
  'content-language',
  'expires',
  'x-amz-meta-owner',
  'x-amz-meta-note',
  'X-Amz-Meta-Mixed',
  'Content-Type-Extra',
  'cache-control',
  'user-agent',
  'expect',
  'connection',
  'x-amzn-trace-id',
  'transfer-encoding',
  'proxy-authorization',
  'sec-fetch-mode',
  'referer',
  'te',
  'x-amz-copy-source',
  'x-amz-acl',
];
const QUERY_KEYS = [
  'uploadId',
  'partNumber',
  'list-type',
  'continuation-token',
  'max-keys',
  'prefix',
  'start-after',
  'uploads',
  'delete',
  'versionId',
  'x-id',
  'weird key',
  'k+k',
  'k=k',
  'ключ',
];
const METHODS = ['GET', 'PUT', 'POST', 'DELETE', 'HEAD'];
const PAYLOADS = () => [
  'UNSIGNED-PAYLOAD',
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  createHash('sha256').update('body').digest('hex'),
];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)]!;
}
function str(r: () => number, pieces: readonly string[], max: number): string {
  let s = '';
  const n = 1 + Math.floor(r() * max);
  for (let i = 0; i < n; i++) s += pick(r, pieces);
  return s;
}

interface Case {
  method: string;
  key: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  date: Date;
}

function generate(r: () => number): Case {
  const key = str(r, KEY_PIECES, 12);
  const query: Record<string, string> = {};
  const nq = Math.floor(r() * 4);
  for (let i = 0; i < nq; i++) {
    const k = pick(r, QUERY_KEYS);
    query[k] = r() < 0.2 ? '' : k === 'partNumber' ? String(1 + Math.floor(r() * 10000)) : str(r, VALUE_PIECES, 8);
  }
  const headers: Record<string, string> = { 'x-amz-content-sha256': pick(r, PAYLOADS()) };
  const nh = Math.floor(r() * 6);
  for (let i = 0; i < nh; i++) headers[pick(r, HEADER_NAMES)] = pick(r, HEADER_VALUES);
  // Any second in 2001..2099, so dates (and the signing key's day) vary too.
  const date = new Date(Date.UTC(2001, 0, 1) + Math.floor(r() * 99 * 365 * 86400) * 1000);
  return { method: pick(r, METHODS), key, query, headers, date };
}

async function compare(credentials: SigV4Credentials, cases: Case[]): Promise<void> {
  const { signer, close } = await sdkSigner(credentials);
  const ours = new SigV4Signer(credentials, 'us-east-1', 's3');
  try {
    for (const c of cases) {
      const path = `/bucket-1/${encodeKeyPath(c.key)}`;
      const headers = { ...c.headers, host: '127.0.0.1:9000' };
      const expected = await signer.sign(
        { method: c.method, protocol: 'http:', hostname: '127.0.0.1', port: 9000, path, query: { ...c.query }, headers: { ...headers } },
        { signingDate: c.date },
      );
      const got = ours.sign({ method: c.method, path, query: c.query, headers }, c.date);
      const sdk = Object.fromEntries(Object.entries(expected.headers).map(([k, v]) => [k.toLowerCase(), v]));
      const label = JSON.stringify(c);
      expect(got.authorization, label).toBe(sdk.authorization);
      expect(got['x-amz-date'], label).toBe(sdk['x-amz-date']);
      expect(got['x-amz-security-token'], label).toBe(sdk['x-amz-security-token']);
      expect(got['x-amz-content-sha256'], label).toBe(sdk['x-amz-content-sha256']);
    }
  } finally {
    close();
  }
}

describe('SigV4Signer', () => {
  it('signs 3,000 generated requests exactly as the SDK does', async () => {
    const r = rng(20260101);
    await compare(
      { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
      Array.from({ length: 3000 }, () => generate(r)),
    );
  });

  it('with a session token: signs it as x-amz-security-token, as the SDK does', async () => {
    const r = rng(7);
    await compare(
      { accessKeyId: 'ASIAEXAMPLE', secretAccessKey: 'secret/with+chars=', sessionToken: 'FwoGZXIvYXdzE//token+with/slashes==' },
      Array.from({ length: 500 }, () => generate(r)),
    );
  });

  it('hand-picked requests of the copier and the listing', async () => {
    const date = new Date(Date.UTC(2026, 4, 17, 23, 59, 59));
    const cases: Case[] = [
      {
        method: 'GET',
        key: "a b/c+d%e~f!*'()",
        query: {},
        headers: {
          'x-amz-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
          'range': 'bytes=0-16777215',
          'if-match': '"abc"',
        },
        date,
      },
      {
        method: 'PUT',
        key: 'dir//double/ünï©ødé 😀',
        query: { partNumber: '3', uploadId: 'up/id+with=odd&chars~' },
        headers: {
          'x-amz-content-sha256': 'UNSIGNED-PAYLOAD',
          'content-length': '67108864',
          'cache-control': 'no-cache',
          'content-type': 'application/octet-stream',
          'x-amz-meta-x': ' spaced  value ',
        },
        date,
      },
      {
        method: 'GET',
        key: '',
        query: { 'list-type': '2', 'continuation-token': 'AbC+/=dEf==', 'max-keys': '1' },
        headers: { 'x-amz-content-sha256': 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855' },
        date,
      },
      {
        method: 'POST',
        key: 'k',
        query: { uploads: '' },
        headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD', 'user-agent': 'orch', 'expect': '100-continue' },
        date,
      },
      { method: 'DELETE', key: 'x', query: { uploadId: '' }, headers: { 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' }, date },
    ];
    await compare({ accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, cases);
  });

  it('without an x-amz-content-sha256 header: signs (and sends) the empty payload hash, as the SDK does', async () => {
    const date = new Date(Date.UTC(2026, 0, 2, 3, 4, 5));
    const { signer, close } = await sdkSigner({ accessKeyId: 'A', secretAccessKey: 'B' });
    try {
      const expected = await signer.sign(
        { method: 'GET', protocol: 'http:', hostname: 'h', port: 1, path: '/b/k', query: {}, headers: { host: 'h:1' } },
        { signingDate: date },
      );
      const got = new SigV4Signer({ accessKeyId: 'A', secretAccessKey: 'B' }, 'us-east-1', 's3').sign(
        { method: 'GET', path: '/b/k', headers: { host: 'h:1' } },
        date,
      );
      expect(got.authorization).toBe(expected.headers.authorization);
      expect(got['x-amz-content-sha256']).toBe(expected.headers['x-amz-content-sha256']);
      expect(got['x-amz-date']).toBe('20260102T030405Z');
    } finally {
      close();
    }
  });

  it("drops a caller's own authorization, date and x-amz-date headers", () => {
    const s = new SigV4Signer({ accessKeyId: 'A', secretAccessKey: 'B' }, 'us-east-1', 's3');
    const date = new Date(Date.UTC(2026, 0, 2));
    const plain = s.sign({ method: 'GET', path: '/b/k', headers: { host: 'h' } }, date);
    const extra = s.sign(
      { method: 'GET', path: '/b/k', headers: { 'host': 'h', 'Authorization': 'x', 'date': 'y', 'X-Amz-Date': 'z' } },
      date,
    );
    expect(extra).toEqual(plain);
  });

  it('encodes like the SDK: RFC 3986, query sorted by encoded key', () => {
    expect(uriEscape("a b+c/d!*'()~")).toBe('a%20b%2Bc%2Fd%21%2A%27%28%29~');
    expect(canonicalQuery({ 'b': '2', 'a': '', 'a b': 'x y', 'X-Amz-Signature': 'dropped' })).toBe('a=&a%20b=x%20y&b=2');
  });
});
