import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../helpers/cli.js';
import { s3Client, startMembers, type S3Member } from '../helpers/s3-servers.js';

/**
 * A copy pass of objects below the multipart threshold (buffered and streamed) never loads the AWS
 * SDK: loading it costs ~0.3 s, and once one of its clients has sent a request, large streams in
 * the process trigger many more full garbage collections. Checked in a child node process (the
 * built modules under dist/, as the CLI runs them) started with a module resolution hook that
 * records every module resolved under @aws-sdk, @smithy or @aws-crypto, plus the CommonJS module
 * cache at the end. A control run with a low multipart threshold (multipart uploads are SDK
 * commands) shows that the hook does see the SDK when it is loaded.
 */
const MiB = 1024 * 1024;
const SDK_PATH = /[\\/]node_modules[\\/]@(aws-sdk|smithy|aws-crypto)[\\/]/;
const DIST = join(REPO_ROOT, 'dist');

const HOOK = `
import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const out = await next(specifier, context);
  if (${SDK_PATH}.test(out.url) || /^@(aws-sdk|smithy|aws-crypto)\\//.test(specifier)) appendFileSync(process.env.SDK_LOADS, out.url + '\\n');
  return out;
}
`;

const CHILD = `
import { createRequire } from 'node:module';
const a = JSON.parse(process.argv[2]);
const imp = (p) => import(new URL(p, a.dist).href);
const [{ listAll, ObjectCopier }, { PoolS3Client }, { diffObjects }] = await Promise.all([
  imp('adapters/s3/object-copier.js'),
  imp('adapters/s3/pool-s3-client.js'),
  imp('domain/migrations/object-diff.js'),
]);
const credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };
const opts = { timeoutMs: 10000, retries: 1, concurrency: 4 };
const source = await PoolS3Client.open({ pool: 'old', members: [a.source], credentials }, opts);
const destination = await PoolS3Client.open({ pool: 'new', members: [a.destination], credentials }, opts);
const [src, dst] = await Promise.all([listAll(source, a.bucket), listAll(destination, a.bucket)]);
const diff = diffObjects({ source: src, destination: dst, records: new Map(), baseline: new Map(), mode: 'sync' });
const copier = new ObjectCopier(source, destination, a.bucket, { concurrency: 4, bandwidthLimit: null, partSize: a.partSize, multipartThreshold: a.multipartThreshold });
const records = [];
const { failures } = await copier.copy(diff.copy, (r) => records.push(r));
source.close();
destination.close();
const cjs = Object.keys(createRequire(import.meta.url).cache).filter((p) => ${SDK_PATH}.test(p));
process.stdout.write(JSON.stringify({ listed: src.length, copied: records.length, failures, cjs }) + '\\n');
`;

let root: string;
let members: Record<string, S3Member[]>;
let src: S3Client;
let dst: S3Client;

/** The objects of each bucket: 20 small, one buffered (below the 5 MiB part size), one streamed. */
const OBJECTS = [
  ...Array.from({ length: 20 }, (_, i) => ({ key: `small/${i}`, size: 1000 + i })),
  { key: 'buffered.bin', size: 3 * MiB },
  { key: 'streamed.bin', size: 12 * MiB + 7 },
];

beforeAll(async () => {
  // The child runs the build: it must be the build of these sources.
  for (const f of ['sigv4', 'pool-s3-client', 'object-copier', 'object-reads', 'object-compare', 'object-metadata', 'copy-errors']) {
    const built = join(DIST, 'adapters/s3', `${f}.js`);
    if (!existsSync(built) || statSync(built).mtimeMs < statSync(join(REPO_ROOT, 'src/adapters/s3', `${f}.ts`)).mtimeMs) {
      throw new Error(`dist/adapters/s3/${f}.js is missing or older than its source: run npm run build first`);
    }
  }
  root = mkdtempSync(join(tmpdir(), 'orch-nosdk-'));
  members = await startMembers(root, { old: 1, new: 1 });
  src = s3Client(`http://${members.old![0]!.address}`);
  dst = s3Client(`http://${members.new![0]!.address}`);
  writeFileSync(join(root, 'hook.mjs'), HOOK);
  writeFileSync(join(root, 'child.mjs'), CHILD);
  for (const bucket of ['plain', 'control']) {
    await src.send(new CreateBucketCommand({ Bucket: bucket }));
    await dst.send(new CreateBucketCommand({ Bucket: bucket }));
    for (const o of OBJECTS) {
      const body = Buffer.alloc(o.size, o.key);
      await src.send(new PutObjectCommand({ Bucket: bucket, Key: o.key, Body: body, ContentLength: body.length }));
    }
  }
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

async function copyInChild(
  bucket: string,
  multipartThreshold: number,
): Promise<{ out: { listed: number; copied: number; failures: unknown[]; cjs: string[] }; sdkLoads: string[] }> {
  const loads = join(root, `loads-${bucket}.txt`);
  const register = `data:text/javascript,import{register}from'node:module';register(${JSON.stringify(pathToFileURL(join(root, 'hook.mjs')).href)});`;
  const args = JSON.stringify({
    dist: `${pathToFileURL(DIST).href}/`,
    source: members.old![0]!.address,
    destination: members.new![0]!.address,
    bucket,
    partSize: 5 * MiB,
    multipartThreshold,
  });
  const child = spawn(process.execPath, ['--import', register, join(root, 'child.mjs'), args], {
    env: { ...process.env, SDK_LOADS: loads },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const code = await new Promise<number | null>((r) => child.once('close', r));
  if (code !== 0) throw new Error(`child exited ${code}: ${stderr.slice(-2000)}`);
  const sdkLoads = existsSync(loads) ? readFileSync(loads, 'utf8').split('\n').filter(Boolean) : [];
  return { out: JSON.parse(stdout.trim().split('\n').pop()!), sdkLoads };
}

async function sizesAt(c: S3Client, bucket: string): Promise<Record<string, number>> {
  const out = await c.send(new ListObjectsV2Command({ Bucket: bucket }));
  return Object.fromEntries((out.Contents ?? []).map((o) => [o.Key!, o.Size!]));
}

describe('a copy pass below the multipart threshold', () => {
  it('lists, copies small, buffered and streamed objects, and never loads the SDK', async () => {
    const { out, sdkLoads } = await copyInChild('plain', 128 * MiB);
    expect(out.failures).toEqual([]);
    expect(out.listed).toBe(OBJECTS.length);
    expect(out.copied).toBe(OBJECTS.length);
    expect(sdkLoads).toEqual([]);
    expect(out.cjs).toEqual([]);
    expect(await sizesAt(dst, 'plain')).toEqual(Object.fromEntries(OBJECTS.map((o) => [o.key, o.size])));
  });

  it('control: with a multipart object (SDK commands), the same hook sees the SDK loaded', async () => {
    const { out, sdkLoads } = await copyInChild('control', 8 * MiB);
    expect(out.failures).toEqual([]);
    expect(out.copied).toBe(OBJECTS.length);
    expect(sdkLoads.some((u) => u.includes('@aws-sdk/client-s3'))).toBe(true);
    expect(out.cjs.length).toBeGreaterThan(0);
    expect(await sizesAt(dst, 'control')).toEqual(Object.fromEntries(OBJECTS.map((o) => [o.key, o.size])));
  });
});
