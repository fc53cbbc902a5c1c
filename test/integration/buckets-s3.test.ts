import { randomBytes, createHash } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { dirname, join } from 'node:path';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_LINE } from '../helpers/cli.js';
import { expectContract } from '../helpers/json-contract.js';
import { docs, Gateway, type CliResult, type RunOptions } from '../helpers/gateway.js';
import { CTRL_KEYS, onTerminal } from '../helpers/pty.js';
import { refusingS3Server, s3Client, S3RVER_ACCESS_KEY, seedOnDisk, startMembers, type S3Member } from '../helpers/s3-servers.js';

/**
 * The S3 side against real S3 servers: s3rver instances as the members of nanio pools, behind a
 * real nginx applied by the built orch. Bucket statuses, buckets created on apply, the orphan
 * guard, orphans listed and purged, S3 traffic through the gateway, a member or a pool down,
 * credentials refused, a plan without secrets, and no secret in anything orch wrote.
 *
 * s3rver does not verify signatures (and wants the access key id S3RVER): refused credentials
 * are tested against a tiny local HTTP server answering 403 InvalidAccessKeyId /
 * SignatureDoesNotMatch like a server that verifies them (nanio does).
 */
describe.sequential('buckets against real S3 servers behind a real nginx', () => {
  let gw: Gateway;
  let s3Port: number;
  let lockedPort: number;
  let members: Record<string, S3Member[]>;
  let refusing: Awaited<ReturnType<typeof refusingS3Server>>;
  const direct: Record<string, S3Client> = {};
  let gateway: S3Client;

  // Secret values: none of them may appear in anything orch writes or prints.
  const hotSecret = `hot-secret-${randomBytes(12).toString('hex')}`;
  const coldSecret = `cold-secret-${randomBytes(12).toString('hex')}`;
  let secretKeyB64 = '';
  let keyFile = '';
  let secretEnv: Record<string, string> = {};
  const savedPlan = () => join(gw.root, 'first.plan');
  /** Every output of every orch run of this file, for the final secret scan. */
  const outputs: string[] = [];

  const run = async (args: string[], opts: RunOptions = {}): Promise<CliResult> => {
    const r = await gw.orch(args, { ...opts, env: { ...secretEnv, ...(opts.env ?? {}) } });
    outputs.push(r.stdout, r.stderr);
    // DUMP_ORCH_OUTPUT=FILE appends every command with its output and duration, for reading them.
    if (process.env['DUMP_ORCH_OUTPUT'])
      appendFileSync(
        process.env['DUMP_ORCH_OUTPUT'],
        `\n$ orch ${args.join(' ')}  (exit ${r.code}, ${Math.round(r.ms)} ms)\n${r.stdout}${r.stderr}`,
      );
    return r;
  };
  const json = (r: CliResult) => {
    try {
      return JSON.parse(r.stdout);
    } catch {
      throw new Error(`not JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
    }
  };

  const poolsYaml = (extra = '') =>
    docs(
      pool(
        'hot',
        members.hot!.map((m) => m.address),
        { accessKeyId: 'env: HOT_ACCESS_KEY', secretAccessKey: `file: ${join(gw.root, 'secrets', 'hot.secret')}` },
      ),
      pool(
        'cold',
        members.cold!.map((m) => m.address),
        { accessKeyId: 'env: COLD_ACCESS_KEY', secretAccessKey: 'env: COLD_SECRET_KEY' },
      ),
    ) + extra;
  const vhost = `apiVersion: orch/v1
kind: VirtualHost
metadata:
  name: s3
spec:
  serverNames: [s3.test]
  address: 127.0.0.1
  port: PORT
  defaultPool: hot
  ignoreBuckets: [tmp-ignored]
`;
  const route = (name: string, bucket: string, poolName: string, extra = '') => `apiVersion: orch/v1
kind: Route
metadata:
  name: ${name}
spec:
  virtualHost: s3
  path: /${bucket}/
  pool: ${poolName}
${extra}`;

  /** bucket -> object count, per pool, read directly on a member (not through orch or nginx). */
  async function inventory(): Promise<Record<string, Record<string, number>>> {
    const out: Record<string, Record<string, number>> = {};
    for (const [poolName, c] of Object.entries(direct)) {
      out[poolName] = {};
      for (const b of (await c.send(new ListBucketsCommand({}))).Buckets ?? []) {
        let n = 0;
        let token: string | undefined;
        do {
          const page = await c.send(new ListObjectsV2Command({ Bucket: b.Name!, ContinuationToken: token }));
          n += page.KeyCount ?? 0;
          token = page.NextContinuationToken;
        } while (token);
        out[poolName]![b.Name!] = n;
      }
    }
    return out;
  }

  async function seed(c: S3Client, bucket: string, keys: string[], body = 'x'): Promise<void> {
    await c.send(new CreateBucketCommand({ Bucket: bucket }));
    for (let i = 0; i < keys.length; i += 64) {
      await Promise.all(keys.slice(i, i + 64).map((Key) => c.send(new PutObjectCommand({ Bucket: bucket, Key, Body: body }))));
    }
  }

  beforeAll(async () => {
    gw = await Gateway.start({ pools: {}, vhostPorts: 2 });
    [s3Port, lockedPort] = gw.ports as [number, number];
    members = await startMembers(join(gw.root, 's3'), { hot: 2, cold: 1 });
    refusing = await refusingS3Server('InvalidAccessKeyId');
    direct['hot'] = s3Client(`http://${members.hot![0]!.address}`);
    direct['cold'] = s3Client(`http://${members.cold![0]!.address}`);
    gateway = s3Client(`http://127.0.0.1:${s3Port}`);
    const secrets = join(gw.root, 'secrets');
    mkdirSync(secrets, { recursive: true });
    writeFileSync(join(secrets, 'hot.secret'), `${hotSecret}\n`, { mode: 0o600 });
    keyFile = join(secrets, 'orch.key');
    secretEnv = {
      HOT_ACCESS_KEY: S3RVER_ACCESS_KEY,
      COLD_ACCESS_KEY: S3RVER_ACCESS_KEY,
      COLD_SECRET_KEY: coldSecret,
      ORCH_SECRET_KEY_FILE: keyFile,
    };

    await seed(direct.hot!, 'plain', ['a.txt', 'b.txt']);
    await seed(direct.hot!, 'tmp-ignored', ['t.txt']);
    await seed(direct.hot!, 'photos', ['2024/cat.jpg', '2024/dog.jpg', 'index.html'], 'photo-bytes');
    await seed(direct.hot!, 'videos', ['v.mp4']);
    await seed(direct.hot!, 'logs', ['l.txt']);

    gw.setManifests({
      'pools.yaml': poolsYaml(),
      'vhosts/s3.yaml': vhost.replace('PORT', String(s3Port)),
      'routes/archive.yaml': route('s3-archive', 'archive', 'cold'),
      'routes/videos.yaml': route('s3-videos', 'videos', 'hot'),
      'routes/logs.yaml': route('s3-logs', 'logs', 'hot'),
    });
  });

  afterAll(async () => {
    for (const c of [...Object.values(direct), gateway]) c?.destroy();
    await Promise.all(
      Object.values(members ?? {})
        .flat()
        .map((m) => m.kill()),
    );
    await refusing?.close();
    await gw?.stop();
  });

  it('secret-key generate prints a key, or writes a 0600 key file and prints only its id', async () => {
    const printed = await run(['secret-key', 'generate']);
    expect(printed.code, printed.stderr).toBe(0);
    expect(printed.stdout.trim()).toMatch(/^[A-Za-z0-9+/]{43}=$/);
    expect(printed.stderr).toMatch(/key id [0-9a-f]{8}/);

    const written = await run(['secret-key', 'generate', '--out', keyFile]);
    expect(written.code, written.stderr).toBe(0);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    const [id, b64] = readFileSync(keyFile, 'utf8').trim().split(':') as [string, string];
    secretKeyB64 = b64;
    expect(id).toBe(createHash('sha256').update(Buffer.from(b64, 'base64')).digest('hex').slice(0, 8));
    expect(written.stdout).toContain(`Wrote key ${id}`);
    expect(written.stdout + written.stderr).not.toContain(b64);
    // An existing key file is never overwritten by accident.
    const again = await run(['secret-key', 'generate', '--out', keyFile]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('already exists');
    // --json: the key id and the file, never the key when it went to a file.
    const other = join(dirname(keyFile), 'other.key');
    const j = expectContract<{ key_id: string; key: string | null; file: string }>(
      'secret-key-generate',
      (await run(['secret-key', 'generate', '--out', other, '--json'])).stdout,
    );
    expect(j).toMatchObject({ key: null, file: other });
    expect(readFileSync(other, 'utf8').startsWith(`${j.key_id}:`)).toBe(true);
  });

  it('plans the bucket a new route needs, and encrypts credentials deterministically', async () => {
    const r = await run(['plan', '--json', '--detailed-exitcode']);
    expect(r.code, r.stderr + r.stdout).toBe(2);
    const plan = json(r);
    expect(plan.format_version).toBe('1.1');
    expect(plan.buckets).toEqual([
      expect.objectContaining({ action: 'create', bucket: 'archive', pool: 'cold', virtual_host: 's3', route: 's3-archive' }),
    ]);
    expect(plan.summary.buckets_to_create).toBe(1);
    expect(plan.refresh.performed).toBe(true);
    expect(plan.refresh.pools.map((p: { pool: string; status: string }) => `${p.pool}:${p.status}`).sort()).toEqual(['cold:ok', 'hot:ok']);
    expect(plan.diagnostics.filter((d: { severity: string }) => d.severity === 'error')).toEqual([]);
    // Same inputs, same plan: the encryption is deterministic (checked again after apply: no change).
    const again = await run(['plan', '--no-diff']);
    expect(again.stdout).toContain('+ create bucket archive on pool cold');
    expect(again.stdout).toMatch(/1 bucket to create\./);
    expect((await run(['plan', '--out', savedPlan()])).code).toBe(0);
    expect(JSON.parse(readFileSync(savedPlan(), 'utf8')).fingerprint).toBe(plan.fingerprint);
  });

  it('apply (of the saved plan) creates the bucket on its pool before the route goes live, then nothing is left to do', async () => {
    expect((await inventory()).cold).toEqual({});
    const r = await run(['apply', savedPlan()]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toContain('Created bucket archive on cold before the route went live.');
    expect((await inventory()).cold).toEqual({ archive: 0 });
    const sidecar = JSON.parse(gw.readManaged('pools/hot.meta.json'));
    expect(sidecar.credentials).toMatchObject({
      accessKeyId: { env: 'HOT_ACCESS_KEY' },
      encrypted: { keyId: expect.stringMatching(/^[0-9a-f]{8}$/) },
    });
    const db = new Database(gw.dbPath, { readonly: true });
    try {
      expect(db.prepare("SELECT subject FROM audit_log WHERE action = 'create-bucket'").all()).toEqual([{ subject: 'cold/archive' }]);
    } finally {
      db.close();
    }
    const plan = await run(['plan', '--detailed-exitcode']);
    expect(plan.code, plan.stdout + plan.stderr).toBe(0);
    expect(plan.stdout).toContain('No changes.');
  });

  it('orch buckets shows every status, with counts, and records the sync', async () => {
    // A declared Migration (nothing runs it in this test: it is only there for the status).
    gw.writeManifest('migrations/logs.yaml', MIGRATION);
    const r = await run(['buckets', '--counts', '--json']);
    gw.removeManifest('migrations/logs.yaml');
    expect(r.code, r.stderr).toBe(0);
    expectContract('buckets', r.stdout);
    const report = json(r);
    const status = Object.fromEntries(report.buckets.map((b: { bucket: string; status: string }) => [b.bucket, b.status]));
    expect(status).toEqual({
      'archive': 'routed',
      'logs': 'migrating',
      'photos': 'via-default',
      'plain': 'via-default',
      'tmp-ignored': 'ignored',
      'videos': 'routed',
    });
    const photos = report.buckets.find((b: { bucket: string }) => b.bucket === 'photos');
    expect(photos.pools).toEqual([{ pool: 'hot', objects: 3, bytes: 33 }]);
    expect(report.pools.every((p: { status: string }) => p.status === 'ok')).toBe(true);

    const text = await run(['buckets', '--vhost', 's3']);
    expect(text.stdout).toMatch(/s3\s+tmp-ignored\s+ignored/);
    expect(text.stdout).toMatch(/s3\s+archive\s+routed\s+\/archive\/ -> cold/);

    const db = new Database(gw.dbPath, { readonly: true });
    try {
      const rows = db
        .prepare('SELECT bucket, pool, object_count AS n FROM bucket_sync WHERE virtual_host = ? ORDER BY pool, bucket')
        .all('s3');
      expect(rows).toContainEqual({ bucket: 'photos', pool: 'hot', n: 3 });
      expect(rows).toContainEqual({ bucket: 'archive', pool: 'cold', n: 0 });
    } finally {
      db.close();
    }
  });

  it('refuses a route that would strand objects without a Migration or allowOrphan; a route that stays on the default pool is not a move', async () => {
    gw.writeManifest('routes/photos.yaml', route('s3-photos', 'photos', 'cold'));
    gw.writeManifest('routes/plain.yaml', route('s3-plain', 'plain', 'hot'));
    const before = gw.snapshot();
    const plan = await run(['plan']);
    expect(plan.code).toBe(1);
    expect(plan.stderr).toMatch(
      /routes\/photos\.yaml:\d+:\d+: error: .*moves bucket photos from pool hot to pool cold without a Migration: pool hot holds its 3 objects/,
    );
    expect(plan.stderr).toContain('add a Migration');
    expect(plan.stderr).toContain('allowOrphan: true');
    expect(plan.stderr).toContain('[bucket.would-orphan]');
    expect(plan.stderr).not.toContain('s3-plain');
    expect(plan.stderr).not.toMatch(STACK_LINE);
    const apply = await run(['apply', '--auto-approve', '--json']);
    expect(json(apply).error.diagnostics.map((d: { code: string }) => d.code)).toEqual(['bucket.would-orphan']);
    expect(apply.code).toBe(1);
    expect(gw.snapshot()).toEqual(before);
    expect((await inventory()).cold).toEqual({ archive: 0 });

    gw.writeManifest('routes/photos.yaml', route('s3-photos', 'photos', 'cold', '  allowOrphan: true\n'));
    const ok = await run(['apply', '--auto-approve']);
    expect(ok.code, ok.stderr + ok.stdout).toBe(0);
    expect(ok.stdout).toContain('Created bucket photos on cold');
    expect((await inventory()).cold).toEqual({ archive: 0, photos: 0 });
  });

  it('reports orphaned and missing buckets; a missing bucket is created again by apply alone', async () => {
    await direct.cold!.send(new DeleteBucketCommand({ Bucket: 'archive' }));
    const report = json(await run(['buckets', '--json']));
    const status = Object.fromEntries(report.buckets.map((b: { bucket: string; status: string }) => [b.bucket, b.status]));
    expect(status).toMatchObject({ photos: 'orphaned', archive: 'missing', plain: 'routed' });

    const plan = json(await run(['plan', '--json', '--detailed-exitcode']));
    expect(plan.summary).toEqual({ add: 0, change: 0, destroy: 0, migrations_to_start: 0, buckets_to_create: 1 });
    const generation = gw.readState().generation;
    const r = await run(['apply', '--auto-approve']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('Created bucket archive on cold.');
    expect(r.stdout).toContain('no nginx file changed');
    expect(gw.readState().generation).toBe(generation);
  });

  it('lists orphans with counts and purges only them, after a dry run, a guard and a confirmation', async () => {
    const orphans = expectContract<{ orphans: unknown[] }>('buckets-orphans', (await run(['buckets', 'orphans', '--json'])).stdout);
    expect(orphans.orphans).toEqual([
      { virtual_host: 's3', bucket: 'photos', pool: 'hot', default_pool: 'hot', route_pool: 'cold', objects: 3, bytes: 33 },
    ]);
    const text = await run(['buckets', 'orphans']);
    expect(text.stdout).toMatch(/s3\s+photos\s+hot \(default\)\s+cold\s+3\s+33 B/);
    expect(text.stdout).toContain('  orch buckets purge-orphans s3 photos --dry-run\n');

    const before = await inventory();
    const dry = await run(['buckets', 'purge-orphans', 's3', 'photos', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('3 objects (33 B) of bucket photos on the default pool hot');
    expect(dry.stdout).toContain('2024/cat.jpg');
    expect(dry.stdout).toContain('Dry run: nothing was deleted.');
    const unconfirmed = await run(['buckets', 'purge-orphans', 's3', 'photos']);
    expect(unconfirmed.code).toBe(1);
    expect(unconfirmed.stderr).toContain('without confirmation');
    const guarded = await run(['buckets', 'purge-orphans', 's3', 'photos', '--yes', '--max-objects', '2']);
    expect(guarded.code).toBe(1);
    expect(guarded.stderr).toContain('more than --max-objects 2');
    const live = await run(['buckets', 'purge-orphans', 's3', 'videos', '--yes']);
    expect(live.code).toBe(1);
    expect(live.stderr).toContain('points at the default pool hot itself');
    expect(await inventory()).toEqual(before);
    // Ctrl-C and Ctrl-D at the confirmation prompt (a terminal): cancelled, nothing deleted or recorded.
    for (const [key, send] of CTRL_KEYS) {
      const tree = gw.snapshot();
      const r = await onTerminal(
        ['buckets', 'purge-orphans', 's3', 'photos'],
        'Type the bucket name (photos)',
        send,
        gw.env(gw.work, secretEnv),
        gw.work,
      );
      outputs.push(r.output);
      expect(r.sent, `${key}: ${r.output}`).toBe(true);
      expect(r.code, `${key}: ${r.output}`).toBe(130);
      expect(r.output).toContain('2024/cat.jpg');
      expect(r.output).toContain('Cancelled; nothing was changed.');
      expect(r.output).not.toMatch(STACK_LINE);
      expect(r.output).not.toContain('Internal error');
      expect(await inventory()).toEqual(before);
      expect(gw.snapshot()).toEqual(tree);
    }

    const purge = await run(['buckets', 'purge-orphans', 's3', 'photos', '--yes', '--json']);
    expect(purge.code, purge.stderr).toBe(0);
    expect(expectContract('buckets-purge-orphans', purge.stdout)).toMatchObject({
      dry_run: false,
      virtual_host: 's3',
      bucket: 'photos',
      pool: 'hot',
      route_pool: 'cold',
      listed: { objects: 3, bytes: 33 },
      deleted: 3,
      failed: [],
      remaining: { objects: 0 },
    });
    const after = await inventory();
    expect(after.hot!.photos).toBe(0);
    // Nothing else was touched: every other bucket on every pool has the same objects.
    expect({ ...after, hot: { ...after.hot, photos: before.hot!.photos } }).toEqual(before);
    const db = new Database(gw.dbPath, { readonly: true });
    try {
      const audit = db.prepare("SELECT subject, details FROM audit_log WHERE action = 'purge-orphans'").all() as Array<{
        subject: string;
        details: string;
      }>;
      expect(audit).toEqual([{ subject: 'hot/photos', details: expect.stringContaining('3 of 3 objects (33 bytes) deleted on hot') }]);
    } finally {
      db.close();
    }
    const status = json(await run(['buckets', '--json'])).buckets.find((b: { bucket: string }) => b.bucket === 'photos');
    expect(status.status).toBe('routed');
  });

  it('serves S3 through the gateway on routed and default buckets', async () => {
    // ListBuckets and CreateBucket go to the default pool.
    const listed = (await gateway.send(new ListBucketsCommand({}))).Buckets!.map((b) => b.Name);
    expect(listed).toEqual(expect.arrayContaining(['plain', 'videos', 'photos']));
    await gateway.send(new CreateBucketCommand({ Bucket: 'made-through-gateway' }));
    expect((await inventory()).hot).toHaveProperty('made-through-gateway', 0);

    const keys = ['dir/with space.txt', 'unicodé/ファイル.txt', 'a+b&c=d.txt'];
    for (const [bucket, poolName] of [
      ['photos', 'cold'],
      ['plain', 'hot'],
    ] as const) {
      for (const Key of keys) {
        const body = `${bucket}:${Key}`;
        await gateway.send(new PutObjectCommand({ Bucket: bucket, Key, Body: body }));
        // It landed on the pool the route (or the default) names, under exactly that key.
        const head = await direct[poolName]!.send(new HeadObjectCommand({ Bucket: bucket, Key }));
        expect(head.ContentLength).toBe(Buffer.byteLength(body));
        const got = await gateway.send(new GetObjectCommand({ Bucket: bucket, Key }));
        expect(await got.Body!.transformToString()).toBe(body);
        expect((await gateway.send(new HeadObjectCommand({ Bucket: bucket, Key }))).ContentLength).toBe(Buffer.byteLength(body));
      }
      const listedKeys = (await gateway.send(new ListObjectsV2Command({ Bucket: bucket }))).Contents!.map((o) => o.Key);
      expect(listedKeys).toEqual(expect.arrayContaining(keys));
      // Paging on both: two keys a page.
      let pages = 0;
      let token: string | undefined;
      const seen: string[] = [];
      do {
        const page = await gateway.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 2, ContinuationToken: token }));
        seen.push(...(page.Contents ?? []).map((o) => o.Key!));
        token = page.NextContinuationToken;
        pages++;
      } while (token);
      expect(pages).toBeGreaterThan(1);
      expect(seen).toEqual(expect.arrayContaining(keys));
      for (const Key of keys) await gateway.send(new DeleteObjectCommand({ Bucket: bucket, Key }));
      await expect(direct[poolName]!.send(new HeadObjectCommand({ Bucket: bucket, Key: keys[0] }))).rejects.toMatchObject({
        $metadata: { httpStatusCode: 404 },
      });

      // Bucket-level requests with and without a trailing slash reach the bucket's pool (no 301).
      for (const path of [`/${bucket}?list-type=2`, `/${bucket}/?list-type=2`]) {
        const a = await raw(s3Port, 'GET', path);
        expect(a.status, path).toBe(200);
        expect(a.body).toContain('<ListBucketResult');
      }
      for (const path of [`/${bucket}`, `/${bucket}/`]) expect((await raw(s3Port, 'HEAD', path)).status, path).toBe(200);
    }
    // The routed bucket answers from cold, where photos/index.html was never written.
    expect((await raw(s3Port, 'GET', '/photos/index.html')).status).toBe(404);
    expect((await raw(s3Port, 'GET', '/plain/a.txt')).status).toBe(200);
  });

  it('lists more than 1,000 keys through the gateway and uploads multipart', async () => {
    const keys = Array.from({ length: 1005 }, (_, i) => `many/${String(i).padStart(4, '0')}`);
    // archive is routed to cold; plain is served by the default pool hot.
    for (const [bucket, poolName] of [
      ['archive', 'cold'],
      ['plain', 'hot'],
    ] as const) {
      seedOnDisk(members[poolName]![0]!.dir, bucket, keys, 'k');
      let token: string | undefined;
      let pages = 0;
      const seen: string[] = [];
      do {
        const page = await gateway.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'many/', ContinuationToken: token }));
        seen.push(...(page.Contents ?? []).map((o) => o.Key!));
        token = page.NextContinuationToken;
        pages++;
      } while (token);
      expect(pages, bucket).toBe(2);
      expect(seen.sort(), bucket).toEqual(keys);
    }

    // Two parts (5 MiB, the smallest part S3 allows, then 1 MiB).
    const body = randomBytes(6 * 1024 * 1024);
    for (const bucket of ['archive', 'plain']) {
      const upload = new Upload({
        client: gateway,
        params: { Bucket: bucket, Key: 'big/multi part.bin', Body: body },
        partSize: 5 * 1024 * 1024,
        queueSize: 2,
      });
      await upload.done();
      const got = await gateway.send(new GetObjectCommand({ Bucket: bucket, Key: 'big/multi part.bin' }));
      const bytes = Buffer.from(await got.Body!.transformToByteArray());
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(createHash('sha256').update(body).digest('hex'));
    }
  });

  it('a member down: sync fails over; a whole pool down: reported, the others still sync, the plan invents nothing', async () => {
    await members.hot![0]!.kill();
    const failover = await run(['buckets', '--json']);
    expect(failover.code, failover.stderr).toBe(0);
    expect(json(failover).pools.find((p: { pool: string }) => p.pool === 'hot').status).toBe('ok');

    await members.cold![0]!.kill();
    const r = await run(['buckets', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const report = json(r);
    const cold = report.pools.find((p: { pool: string }) => p.pool === 'cold');
    expect(cold.status).toBe('unreachable');
    expect(cold.message).toContain(`pool cold is unreachable`);
    expect(cold.message).toContain(`${members.cold![0]!.address}: connection refused`);
    // hot still synced; statuses that depend on cold say they are unchecked.
    expect(report.buckets.find((b: { bucket: string }) => b.bucket === 'plain')).toMatchObject({ status: 'routed', checked: true });
    expect(report.buckets.find((b: { bucket: string }) => b.bucket === 'archive')).toMatchObject({ status: 'routed', checked: false });

    const plan = await run(['plan', '--json', '--detailed-exitcode']);
    expect(plan.code, plan.stdout + plan.stderr).toBe(0);
    const p = json(plan);
    expect(p.buckets).toEqual([]);
    expect(p.diagnostics.map((d: { code: string }) => d.code)).toContain('refresh.pool-unavailable');
    const offline = await run(['plan', '--no-refresh', '--detailed-exitcode']);
    expect(offline.code).toBe(0);
    expect(offline.stdout).toContain('Buckets not checked: offline plan (--no-refresh).');

    // Orphans with a pool down: "no orphans" only for the pools listed; none listed: unknown, exit 1.
    const some = await run(['buckets', 'orphans']);
    expect(some.code, some.stderr).toBe(0);
    expect(some.stdout).toContain('No orphans on the 1 pool listed; 1 pool could not be listed (below).');
    await members.hot![1]!.kill();
    const none = await run(['buckets', 'orphans']);
    expect(none.code).toBe(1);
    expect(none.stdout).toContain('Orphans unknown: no pool could be listed');
    expect(none.stdout).not.toContain('No orphans');

    await Promise.all([members.hot![0]!.start(), members.hot![1]!.start(), members.cold![0]!.start()]);
  });

  it('credentials refused by a server: a clear error naming the pool; never sealed', async () => {
    gw.writeManifest(
      'pools.yaml',
      poolsYaml(
        `---\n${pool('locked', [refusing.address], { accessKeyId: 'env: LOCKED_ACCESS_KEY', secretAccessKey: 'env: LOCKED_SECRET_KEY' })}`,
      ),
    );
    gw.writeManifest(
      'vhosts/locked.yaml',
      vhost
        .replace('name: s3', 'name: locked')
        .replace('s3.test', 'locked.test')
        .replace('PORT', String(lockedPort))
        .replace('defaultPool: hot', 'defaultPool: locked'),
    );
    const lockedEnv = { LOCKED_ACCESS_KEY: S3RVER_ACCESS_KEY, LOCKED_SECRET_KEY: coldSecret };
    // Credentials the pool refuses are not sealed: the apply is refused, naming the pool and the member.
    const refused = await run(['apply', '--auto-approve'], { env: lockedEnv });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      `pool locked refused orch's credentials (ListBuckets: HTTP 403 InvalidAccessKeyId from member ${refusing.address})`,
    );
    expect(refused.stderr).toContain('[credentials.refused]');
    expect(existsSync(join(gw.nginxDir, 'pools', 'locked.meta.json'))).toBe(false);
    // Without the values, the pool is deployed with its references only (nothing to seal).
    const apply = await run(['apply', '--auto-approve']);
    expect(apply.code, apply.stderr + apply.stdout).toBe(0);
    expect(readFileSync(join(gw.nginxDir, 'pools', 'locked.meta.json'), 'utf8')).not.toContain('"encrypted"');
    for (const code of ['InvalidAccessKeyId', 'SignatureDoesNotMatch'] as const) {
      refusing.setCode(code);
      const r = await run(['buckets', '--vhost', 'locked', '--json'], { env: lockedEnv });
      expect(r.code, r.stderr).toBe(0);
      const locked = json(r).pools.find((p: { pool: string }) => p.pool === 'locked');
      expect(locked.status).toBe('access-denied');
      expect(locked.message).toContain(
        `pool locked refused orch's credentials (ListBuckets: HTTP 403 ${code} from member ${refusing.address})`,
      );
      if (code === 'InvalidAccessKeyId')
        expect((await run(['buckets', '--vhost', 'locked'], { env: lockedEnv })).stdout).toContain(`! pool locked: access-denied`);
    }
    gw.writeManifest('routes/secure.yaml', route('locked-secure', 'secure', 'locked').replace('virtualHost: s3', 'virtualHost: locked'));
    const plan = await run(['plan', '--json'], { env: lockedEnv });
    // Refused: the credentials would be sealed for the first time; the listing failure is said too.
    expect(plan.code).toBe(1);
    const diagnostics = json(plan).error.diagnostics as Array<{ code: string; message: string }>;
    expect(diagnostics.map((x) => x.code).sort()).toEqual(['credentials.refused', 'refresh.pool-unavailable']);
    expect(diagnostics.find((x) => x.code === 'refresh.pool-unavailable')!.message).toContain('buckets on pool locked were not checked');
    gw.removeManifest('routes/secure.yaml');
  });

  it('plans without secrets (CI): no spurious change, warnings instead; a wrong key is named', async () => {
    const ci = { HOT_ACCESS_KEY: '', COLD_ACCESS_KEY: '', COLD_SECRET_KEY: '', ORCH_SECRET_KEY_FILE: '' };
    gw.writeManifest('pools.yaml', poolsYaml());
    gw.removeManifest('vhosts/locked.yaml');
    expect((await run(['apply', '--auto-approve'])).code).toBe(0);
    const plan = await run(['plan', '--detailed-exitcode'], { env: ci });
    expect(plan.code, plan.stdout + plan.stderr).toBe(0);
    expect(plan.stdout).toMatch(
      /pools\.yaml:\d+:\d+: warning: Pool\/cold spec\.credentials: credentials of pool cold not verified \(environment variable COLD_ACCESS_KEY is not set; environment variable COLD_SECRET_KEY is not set\)/,
    );
    expect(plan.stdout).toContain('No changes.');

    const keyId = JSON.parse(gw.readManaged('pools/cold.meta.json')).credentials.encrypted.keyId;
    const other = randomBytes(32).toString('base64');
    const wrong = await run(['buckets', '--json'], { env: { ...ci, ORCH_SECRET_KEY: other } });
    expect(wrong.code, wrong.stderr).toBe(0);
    const cold = json(wrong).pools.find((p: { pool: string }) => p.pool === 'cold');
    expect(cold.status).toBe('no-credentials');
    expect(cold.message).toContain(`the credentials of pool cold are encrypted with key ${keyId}, which is not among the configured keys`);
    // With only the key (no references), orch decrypts the sidecar and still reaches the pools.
    const keyOnly = await run(['buckets', '--json'], { env: { ...ci, ORCH_SECRET_KEY: secretKeyB64 } });
    expect(json(keyOnly).pools.every((p: { status: string }) => p.status === 'ok')).toBe(true);
  });

  it('no secret value appears in anything orch wrote or printed', () => {
    const needles = [
      hotSecret,
      coldSecret,
      secretKeyB64,
      Buffer.from(hotSecret).toString('base64'),
      Buffer.from(coldSecret).toString('base64'),
    ];
    const haystacks: Array<[string, Buffer]> = outputs.map((o, i) => [`output #${i}`, Buffer.from(o)]);
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        // Symlinks (pools/, vhosts/, current in the managed directory) lead into generations/, walked as it is.
        else if (e.isFile() && p !== keyFile) haystacks.push([p, readFileSync(p)]);
      }
    };
    // Managed files (sidecars), the state directory (database, WAL, backups, journal, lock,
    // stored generations), the manifests and nginx's logs.
    walk(gw.nginxDir);
    walk(gw.stateDir);
    walk(gw.manifestsDir);
    walk(join(gw.prefix, 'logs'));
    expect(haystacks.length).toBeGreaterThan(40);
    const found = haystacks.flatMap(([where, bytes]) => needles.filter((n) => n !== '' && bytes.includes(n)).map(() => where));
    expect(found).toEqual([]);
    // The access key id is not a secret here (s3rver imposes S3RVER), but orch never prints it either.
    expect(outputs.join('\n')).not.toContain(S3RVER_ACCESS_KEY);
  });
});

const MIGRATION = `apiVersion: orch/v1
kind: Migration
metadata:
  name: logs-to-cold
spec:
  virtualHost: s3
  bucket: logs
  from: hot
  to: cold
`;

function pool(name: string, addresses: string[], creds: { accessKeyId: string; secretAccessKey: string }): string {
  return `apiVersion: orch/v1
kind: Pool
metadata:
  name: ${name}
spec:
  type: nanio
  members:
${addresses.map((a) => `    - address: ${a}`).join('\n')}
  credentials:
    accessKeyId: {${creds.accessKeyId}}
    secretAccessKey: {${creds.secretAccessKey}}
`;
}

function raw(port: number, method: string, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent: false, headers: { host: `s3.test:${port}` } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}
