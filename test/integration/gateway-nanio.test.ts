import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { STACK_LINE } from '../helpers/cli.js';
import { expectContract } from '../helpers/json-contract.js';
import { Gateway, type CliResult, type RunOptions } from '../helpers/gateway.js';
import { NanioMember, skipWithoutNanio, type NanioUser } from '../helpers/nanio.js';
import { s3Client } from '../helpers/s3-servers.js';

/**
 * The gateway's bucket model on real nanio pools (SigV4 verified), applied by the built orch into
 * a real nginx: every change that would strand a bucket's objects is refused with the count (a
 * route removed, a route moved to the default pool, the default pool changed), allowOrphan lets
 * each through and `orch buckets orphans` then lists the objects left behind; credentials a pool
 * refuses are never sealed.
 */
describe.skipIf(skipWithoutNanio())('gateway on real nanio pools: no stranding, no refused credential sealed', () => {
  let gw: Gateway;
  let port: number;
  let hot: NanioMember;
  let cold: NanioMember;
  /** A third member: pool spare (removed while it holds objects), then pool fresh (a Migration's target). */
  let fresh: NanioMember;
  let direct: Record<'hot' | 'cold' | 'fresh', S3Client>;
  const hotUser: NanioUser = { accessKeyId: 'AKIAHOTORCH0001', secretAccessKey: `hot-${randomBytes(12).toString('hex')}` };
  const coldUser: NanioUser = { accessKeyId: 'AKIACOLDORCH001', secretAccessKey: `cold-${randomBytes(12).toString('hex')}` };
  const freshUser: NanioUser = { accessKeyId: 'AKIAFRESHORCH01', secretAccessKey: `fresh-${randomBytes(12).toString('hex')}` };
  const clientUser: NanioUser = { accessKeyId: 'AKIACLIENTID0001', secretAccessKey: `client-${randomBytes(12).toString('hex')}` };
  const secretKey = randomBytes(32).toString('base64');
  const env = () => ({
    HOT_ACCESS_KEY: hotUser.accessKeyId,
    HOT_SECRET_KEY: hotUser.secretAccessKey,
    COLD_ACCESS_KEY: coldUser.accessKeyId,
    COLD_SECRET_KEY: coldUser.secretAccessKey,
    FRESH_ACCESS_KEY: freshUser.accessKeyId,
    FRESH_SECRET_KEY: freshUser.secretAccessKey,
    ORCH_SECRET_KEY: secretKey,
    CLIENT_ACCESS_KEY: clientUser.accessKeyId,
    CLIENT_SECRET_KEY: clientUser.secretAccessKey,
  });
  const outputs: string[] = [];

  const run = async (args: string[], opts: RunOptions = {}): Promise<CliResult> => {
    const r = await gw.orch(args, { ...opts, env: { ...env(), ...(opts.env ?? {}) } });
    outputs.push(r.stdout, r.stderr);
    return r;
  };

  /**
   * hot and cold; `spare` and `fresh`: pools on the third member (with its own keys);
   * `hotAllowOrphan`: Pool spec.allowOrphan of hot.
   */
  const pools = (opts: { spare?: boolean; fresh?: boolean; hotAllowOrphan?: string[] } = {}) =>
    (['hot', 'cold', ...(opts.spare ? ['spare'] : []), ...(opts.fresh ? ['fresh'] : [])] as const)
      .map((name) => {
        const keys = name === 'spare' || name === 'fresh' ? 'FRESH' : name.toUpperCase();
        const ack = name === 'hot' && opts.hotAllowOrphan ? `  allowOrphan: [${opts.hotAllowOrphan.join(', ')}]\n` : '';
        return `apiVersion: orch/v1
kind: Pool
metadata:
  name: ${name}
spec:
  type: nanio
  members:
    - address: ${(name === 'hot' ? hot : name === 'cold' ? cold : fresh).address}
  credentials:
    accessKeyId: { env: ${keys}_ACCESS_KEY }
    secretAccessKey: { env: ${keys}_SECRET_KEY }
${ack}`;
      })
      .join('---\n');
  const vhost = (defaultPool: string, allowOrphan: string[] = [], extra = '') => `apiVersion: orch/v1
kind: VirtualHost
metadata:
  name: s3
spec:
  serverNames: [s3.test]
  address: 127.0.0.1
  port: ${port}
  defaultPool: ${defaultPool}
${allowOrphan.length > 0 ? `  allowOrphan: [${allowOrphan.join(', ')}]\n` : ''}${extra}`;
  const identities = `  clientIdentities:
    - accessKeyId: { env: CLIENT_ACCESS_KEY }
      secretAccessKey: { env: CLIENT_SECRET_KEY }
`;

  /** Restarts a member on its port from an options file (as an operator installs node-config's output). */
  async function restartFrom(member: NanioMember, optionsFile: string): Promise<NanioMember> {
    const p = member.port;
    await member.kill();
    const next = new NanioMember(member.dataDir, { optionsFile });
    next.port = p;
    return next.start();
  }
  const route = (bucket: string, pool: string, extra = '') => `apiVersion: orch/v1
kind: Route
metadata:
  name: s3-${bucket}
spec:
  virtualHost: s3
  path: /${bucket}/
  pool: ${pool}
${extra}`;

  async function seed(c: S3Client, bucket: string, n: number) {
    await c.send(new CreateBucketCommand({ Bucket: bucket })).catch(() => undefined);
    for (let i = 0; i < n; i++) await c.send(new PutObjectCommand({ Bucket: bucket, Key: `k${i}`, Body: `body-${i}` }));
  }

  // `file:line:col: error: ...`, or `error: Kind/name: ...` for a document no longer in the manifests.
  const errorsOf = (r: CliResult) => r.stderr.split('\n').filter((l) => /(^|: )error: /.test(l));

  beforeAll(async () => {
    gw = await Gateway.start({ pools: {}, vhostPorts: 1 });
    port = gw.ports[0]!;
    hot = await new NanioMember(join(gw.root, 'nanio-hot'), { users: [hotUser] }).start();
    cold = await new NanioMember(join(gw.root, 'nanio-cold'), { users: [coldUser] }).start();
    fresh = await new NanioMember(join(gw.root, 'nanio-fresh'), { users: [freshUser] }).start();
    direct = { hot: s3Client(hot.endpoint, hotUser), cold: s3Client(cold.endpoint, coldUser), fresh: s3Client(fresh.endpoint, freshUser) };
    gw.setManifests({ 'pools.yaml': pools(), 'vhost.yaml': vhost('hot'), 'routes/photos.yaml': route('photos', 'cold') });
    const first = await run(['apply', '--auto-approve']);
    expect(first.code, first.stderr + first.stdout).toBe(0);
    await seed(direct.cold, 'photos', 3);
    await seed(direct.hot, 'docs', 2);
  }, 120_000);

  afterAll(async () => {
    direct?.hot.destroy();
    direct?.cold.destroy();
    direct?.fresh.destroy();
    await fresh?.kill();
    await hot?.kill();
    await cold?.kill();
    await gw?.stop();
  });

  it('refuses a removed route, a route moved to the default pool and a default pool change, with the object counts', async () => {
    const before = gw.snapshot();

    gw.removeManifest('routes/photos.yaml');
    const removed = await run(['plan']);
    expect(removed.code, removed.stdout + removed.stderr).toBe(1);
    expect(errorsOf(removed), removed.stderr).toHaveLength(1);
    expect(removed.stderr).toContain('route s3-photos of bucket photos (virtual host s3) is removed or disabled');
    expect(removed.stderr).toContain('pool cold holds its 3 objects');
    expect(removed.stderr).toContain('[bucket.would-orphan]');
    expect(removed.stderr).toContain('photos in spec.allowOrphan of virtual host s3');
    expect(removed.stderr).not.toMatch(STACK_LINE);
    const removedApply = await run(['apply', '--auto-approve']);
    expect(removedApply.code).toBe(1);
    expect(removedApply.stderr).toContain('pool cold holds its 3 objects');

    gw.writeManifest('routes/photos.yaml', route('photos', 'hot'));
    const toDefault = await run(['plan']);
    expect(toDefault.code).toBe(1);
    expect(toDefault.stderr).toMatch(
      /routes\/photos\.yaml:\d+:\d+: error: Route\/s3-photos spec\.pool: route s3-photos moves bucket photos from pool cold to pool hot \(the default pool\) without a Migration: pool cold holds its 3 objects/,
    );
    expect((await run(['apply', '--auto-approve'])).code).toBe(1);

    gw.writeManifest('routes/photos.yaml', route('photos', 'cold'));
    gw.writeManifest('vhost.yaml', vhost('cold'));
    const defaultChanged = await run(['plan']);
    expect(defaultChanged.code).toBe(1);
    expect(errorsOf(defaultChanged)).toHaveLength(1);
    expect(defaultChanged.stderr).toMatch(
      /vhost\.yaml:\d+:\d+: error: VirtualHost\/s3 spec\.defaultPool: virtual host s3 changes its default pool from hot to cold: bucket docs \(no route\) would be served by pool cold instead of pool hot, without a Migration: pool hot holds its 2 objects/,
    );
    expect((await run(['apply', '--auto-approve'])).code).toBe(1);
    expect(gw.snapshot()).toEqual(before);
  }, 180_000);

  it('allowOrphan lets each through, and orch buckets orphans then lists the objects left behind', async () => {
    // The route removed, acknowledged in the virtual host: photos is served by hot, its 3 objects stay on cold.
    gw.removeManifest('routes/photos.yaml');
    gw.writeManifest('vhost.yaml', vhost('hot', ['photos']));
    const a = await run(['apply', '--auto-approve']);
    expect(a.code, a.stdout + a.stderr).toBe(0);
    let orphans = JSON.parse((await run(['buckets', 'orphans', '--json'])).stdout) as { orphans: unknown[] };
    expect(orphans.orphans).toEqual([
      { virtual_host: 's3', bucket: 'photos', pool: 'cold', default_pool: 'hot', route_pool: null, objects: 3, bytes: 3 * 6 },
    ]);
    const text = await run(['buckets']);
    expect(text.stdout).toMatch(/s3\s+photos\s+orphaned\s+\(default hot\)\s+cold\s+objects left on pool cold, which no longer serves it/);
    const counted = await run(['buckets', '--counts']);
    expect(counted.stdout).toMatch(
      /s3\s+photos\s+orphaned\s+.*3 objects left on pool cold, which no longer serves it; served by the default pool hot/,
    );

    // A route back to the pool holding the objects: nothing is left behind any more.
    gw.writeManifest('routes/photos.yaml', route('photos', 'cold'));
    expect((await run(['apply', '--auto-approve'])).code).toBe(0);
    expect(JSON.parse((await run(['buckets', 'orphans', '--json'])).stdout).orphans).toEqual([]);

    // Moved to the default pool with allowOrphan on the route.
    gw.writeManifest('routes/photos.yaml', route('photos', 'hot', '  allowOrphan: true\n'));
    const b = await run(['apply', '--auto-approve']);
    expect(b.code, b.stdout + b.stderr).toBe(0);
    orphans = JSON.parse((await run(['buckets', 'orphans', '--json'])).stdout) as { orphans: unknown[] };
    expect(orphans.orphans).toEqual([
      { virtual_host: 's3', bucket: 'photos', pool: 'cold', default_pool: 'hot', route_pool: 'hot', objects: 3, bytes: 18 },
    ]);

    // The default pool changed, docs acknowledged: its 2 objects stay on hot; photos is served by
    // cold again (the default pool), where its objects are.
    gw.removeManifest('routes/photos.yaml');
    gw.writeManifest('vhost.yaml', vhost('cold', ['docs']));
    const c = await run(['apply', '--auto-approve']);
    expect(c.code, c.stdout + c.stderr).toBe(0);
    orphans = JSON.parse((await run(['buckets', 'orphans', '--json'])).stdout) as { orphans: unknown[] };
    expect(orphans.orphans).toEqual([
      { virtual_host: 's3', bucket: 'docs', pool: 'hot', default_pool: 'cold', route_pool: null, objects: 2, bytes: 12 },
    ]);
    // Through the gateway, photos' objects are served again (by cold, the new default pool).
    const viaGateway = s3Client(`http://127.0.0.1:${port}`, coldUser);
    try {
      const got = await viaGateway.send(new GetObjectCommand({ Bucket: 'photos', Key: 'k1' }));
      expect(await got.Body!.transformToString()).toBe('body-1');
    } finally {
      viaGateway.destroy();
    }
  }, 180_000);

  it('a virtual host or a pool removed from the manifests: refused with the counts; acknowledged, orch buckets orphans lists what stayed', async () => {
    // A second virtual host serves what hot holds (its default pool): docs (2 objects, left there
    // by the test above) and legacy (2).
    await seed(direct.hot, 'legacy', 2);
    const oldHost = `apiVersion: orch/v1
kind: VirtualHost
metadata:
  name: old
spec:
  serverNames: [old.test]
  address: 127.0.0.1
  port: ${port}
  defaultPool: hot
`;
    gw.writeManifest('old.yaml', oldHost);
    const served = await run(['apply', '--auto-approve']);
    expect(served.code, served.stdout + served.stderr).toBe(0);

    // Removed: nothing would serve docs or legacy from hot any more. Refused at plan (and, through
    // the same plan, at apply: below for the pool).
    const before = gw.snapshot();
    gw.removeManifest('old.yaml');
    const removed = await run(['plan']);
    expect(removed.code, removed.stdout + removed.stderr).toBe(1);
    expect(errorsOf(removed), removed.stderr).toHaveLength(2);
    for (const bucket of ['docs', 'legacy']) {
      expect(removed.stderr).toContain(
        `error: VirtualHost/old: virtual host old is removed from the manifests: bucket ${bucket} (its default pool) would no longer be served from pool hot by any virtual host: pool hot holds its 2 objects (12 bytes)`,
      );
      expect(removed.stderr).toContain(`acknowledge that its objects stay on hot with ${bucket} in spec.allowOrphan of pool hot`);
    }
    expect(removed.stderr).not.toMatch(STACK_LINE);
    expect(gw.snapshot()).toEqual(before);

    // Acknowledged on the pool that keeps them: applied, and orch buckets orphans lists them.
    gw.writeManifest('pools.yaml', pools({ hotAllowOrphan: ['docs', 'legacy'] }));
    const acknowledged = await run(['apply', '--auto-approve']);
    expect(acknowledged.code, acknowledged.stdout + acknowledged.stderr).toBe(0);
    expect(gw.snapshot()['vhosts/old.conf']).toBeUndefined();

    // A pool removed while its bucket goes to the default pool: spare (its own member) serves attic.
    gw.writeManifest('pools.yaml', pools({ hotAllowOrphan: ['docs', 'legacy'], spare: true }));
    gw.writeManifest('routes/attic.yaml', route('attic', 'spare'));
    const spare = await run(['apply', '--auto-approve']);
    expect(spare.code, spare.stdout + spare.stderr).toBe(0);
    await seed(direct.fresh, 'attic', 1);
    gw.writeManifest('pools.yaml', pools({ hotAllowOrphan: ['docs', 'legacy'] }));
    gw.removeManifest('routes/attic.yaml');
    const poolGone = await run(['apply', '--auto-approve']);
    expect(poolGone.code, poolGone.stdout + poolGone.stderr).toBe(1);
    expect(errorsOf(poolGone)).toHaveLength(1);
    expect(poolGone.stderr).toContain(
      'route s3-attic of bucket attic (virtual host s3) is removed or disabled: the default pool cold would serve the bucket instead of pool spare, without a Migration: pool spare (removed from the manifests) holds its 1 object (6 bytes)',
    );
    expect(poolGone.stderr).toContain('keep pool spare in the manifests until a Migration');
    expect(gw.snapshot()['pools/spare.conf']).toBeDefined();
    gw.writeManifest('vhost.yaml', vhost('cold', ['docs', 'attic']));
    // The plan says that orch keeps the removed pool's record, and why.
    const planFile = join(gw.root, 'spare-removed.plan');
    const keeps = await run(['plan', '--out', planFile]);
    expect(keeps.code, keeps.stdout + keeps.stderr).toBe(0);
    expect(keeps.stdout).toContain(
      'pool spare is removed from the manifests and still holds 1 object of bucket attic: orch keeps its members and sealed credentials in the state database',
    );
    // What the saved plan keeps is part of its fingerprint: an object written on spare since makes it stale.
    await seed(direct.fresh, 'attic', 2);
    const stale = await run(['apply', planFile]);
    expect(stale.code, stale.stdout + stale.stderr).toBe(4);
    expect(stale.stderr).toContain(
      'is stale: removed pool spare: the plan kept its record (attic: 1 object, 6 bytes), apply now keeps its record (attic: 2 objects, 12 bytes).',
    );
    expect(gw.snapshot()['pools/spare.conf']).toBeDefined();
    await direct.fresh.send(new DeleteObjectCommand({ Bucket: 'attic', Key: 'k1' }));
    const letGo = await run(['apply', '--auto-approve']);
    expect(letGo.code, letGo.stdout + letGo.stderr).toBe(0);
    expect(gw.snapshot()['pools/spare.conf']).toBeUndefined();
    // A copy of the record beside the database (owner-only, credentials sealed) survives its loss:
    // rebuild-db recovers it (the dry run says so, writing nothing).
    const copy = join(gw.stateDir, 'removed-pools.json');
    expect(statSync(copy).mode & 0o777).toBe(0o600);
    const copyText = readFileSync(copy, 'utf8');
    expect(copyText).toContain('"pool":"spare"');
    for (const u of [hotUser, coldUser, freshUser]) expect(copyText).not.toContain(u.secretAccessKey);
    const preview = await run(['rebuild-db', '--dry-run']);
    expect(preview.code, preview.stdout + preview.stderr).toBe(0);
    expect(preview.stdout).toContain('removed pool spare: its record (members, sealed credentials) from removed-pools.json');

    // Its sidecar is gone from the managed directory; the state database keeps it (sealed), so
    // orch buckets orphans still lists what the removed pool holds.
    const stillHeld = [
      { virtual_host: 's3', bucket: 'attic', pool: 'spare', default_pool: 'cold', route_pool: null, objects: 1, bytes: 6 },
      { virtual_host: 's3', bucket: 'docs', pool: 'hot', default_pool: 'cold', route_pool: null, objects: 2, bytes: 12 },
      { virtual_host: 's3', bucket: 'legacy', pool: 'hot', default_pool: 'cold', route_pool: null, objects: 2, bytes: 12 },
    ];
    const orphans = JSON.parse((await run(['buckets', 'orphans', '--json'])).stdout) as { orphans: unknown[] };
    expect(orphans.orphans).toEqual(stillHeld);
    // Without the variables, from the sealed copy (a daemon, another shell).
    const sealedOnly = await run(['buckets', 'orphans', '--json'], { env: { FRESH_ACCESS_KEY: '', FRESH_SECRET_KEY: '' } });
    expect((JSON.parse(sealedOnly.stdout) as { orphans: unknown[] }).orphans).toEqual(stillHeld);

    // The text names the command that deletes each copy, pasted as printed.
    const text = (await run(['buckets', 'orphans'])).stdout;
    expect(text).toContain('  orch buckets purge-orphans s3 attic --pool spare --dry-run\n');
    expect(text).toContain('  orch buckets purge-orphans s3 docs --pool hot --dry-run\n');

    // Purged there with --pool (a dry run first); never a pool that serves the bucket.
    const live = await run(['buckets', 'purge-orphans', 's3', 'photos', '--pool', 'cold', '--yes']);
    expect(live.code).toBe(1);
    expect(live.stderr).toContain('the default pool cold serves it, so its objects there are live');
    const dry = await run(['buckets', 'purge-orphans', 's3', 'attic', '--pool', 'spare', '--dry-run', '--json']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(expectContract<Record<string, unknown>>('buckets-purge-orphans', dry.stdout)).toMatchObject({
      dry_run: true,
      pool: 'spare',
      route_pool: 'cold',
      listed: { objects: 1, bytes: 6, sample: ['k0'] },
      deleted: 0,
    });
    const purged = await run(['buckets', 'purge-orphans', 's3', 'attic', '--pool', 'spare', '--yes']);
    expect(purged.code, purged.stderr).toBe(0);
    expect(purged.stdout).toContain('1 object (6 B) of bucket attic on pool spare, which no longer serves it; s3 serves attic from cold');
    expect(purged.stdout).toContain('Deleted 1 object of attic on spare; 0 left there.');
    await expect(direct.fresh.send(new GetObjectCommand({ Bucket: 'attic', Key: 'k0' }))).rejects.toThrow();
    expect(JSON.parse((await run(['buckets', 'orphans', '--json'])).stdout).orphans).toEqual(stillHeld.slice(1));

    // Forgotten on request: orch no longer lists the removed pool.
    const forgot = await run(['buckets', 'forget-pool', 'spare']);
    expect(forgot.code, forgot.stderr).toBe(0);
    expect(forgot.stdout).toContain('Forgot removed pool spare');
    expect(existsSync(copy)).toBe(false);
    expect(JSON.parse((await run(['buckets', 'orphans', '--json'])).stdout).pools.map((p: { pool: string }) => p.pool)).not.toContain(
      'spare',
    );
    const unknown = await run(['buckets', 'purge-orphans', 's3', 'attic', '--pool', 'spare', '--dry-run']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain(`Refusing to purge attic on s3: no pool spare is deployed in ${gw.nginxDir} or recorded as removed.`);
    const again = await run(['buckets', 'forget-pool', 'spare']);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('No removed pool spare is recorded in the state database.');
    expect(again.stderr).not.toMatch(STACK_LINE);
  }, 180_000);

  it('never seals credentials a pool refuses: apply fails naming the pool and the member, the sealed copy stays', async () => {
    const sidecar = join(gw.nginxDir, 'pools', 'hot.meta.json');
    const sealedBefore = readFileSync(sidecar, 'utf8');
    expect(sealedBefore).toContain('"encrypted"');
    const wrong = { HOT_ACCESS_KEY: 'AKIAWRONGWRONG01', HOT_SECRET_KEY: 'not-the-secret-at-all' };
    const plan = await run(['plan'], { env: wrong });
    expect(plan.code).toBe(1);
    expect(plan.stderr).toContain(
      `pool hot refused orch's credentials (ListBuckets: HTTP 403 InvalidAccessKeyId from member ${hot.address})`,
    );
    expect(plan.stderr).toContain(
      'the credentials read from environment variable HOT_ACCESS_KEY and environment variable HOT_SECRET_KEY are not sealed',
    );
    expect(plan.stderr).toContain('[credentials.refused]');
    const apply = await run(['apply', '--auto-approve'], { env: wrong });
    expect(apply.code).toBe(1);
    expect(apply.stderr).toContain('[credentials.refused]');
    expect(readFileSync(sidecar, 'utf8')).toBe(sealedBefore);
    // A right access key with a wrong secret: refused the same way.
    const badSecret = await run(['apply', '--auto-approve'], { env: { HOT_SECRET_KEY: 'wrong-secret' } });
    expect(badSecret.code).toBe(1);
    expect(badSecret.stderr).toContain('SignatureDoesNotMatch');
    expect(readFileSync(sidecar, 'utf8')).toBe(sealedBefore);
    // The sealed copy still works: without the variables, orch decrypts it and reaches the pool.
    const buckets = await run(['buckets', '--json'], { env: { HOT_ACCESS_KEY: '', HOT_SECRET_KEY: '' } });
    expect(buckets.code, buckets.stderr).toBe(0);
    expect(JSON.parse(buckets.stdout).pools).toContainEqual({ pool: 'hot', status: 'ok', message: null });
  }, 180_000);

  it('a large multipart upload through the gateway to nanio completes with the default proxy timeouts', async () => {
    // ORCH_TEST_MULTIPART_MIB sizes it (default 1024: 1 GiB in 64 MiB parts), streamed, never held in memory.
    const mib = Number(process.env['ORCH_TEST_MULTIPART_MIB'] ?? 1024);
    const conf = readFileSync(join(gw.nginxDir, 'vhosts', 's3.conf'), 'utf8');
    expect(conf).toContain('    proxy_read_timeout 600s;\n');
    expect(conf).toContain('    proxy_send_timeout 600s;\n');
    const viaGateway = s3Client(`http://127.0.0.1:${port}`, coldUser);
    const MIB = 1024 * 1024;
    const PART = 64 * MIB;
    const chunk = randomBytes(MIB);
    /** The i-th MiB sent: the random chunk with its index in the first 4 bytes. */
    const mibAt = (i: number) => {
      const c = Buffer.from(chunk);
      c.writeUInt32BE(i, 0);
      return c;
    };
    /** `length` bytes of the object from `offset`, as sent. */
    const sentBytes = (offset: number, length: number) =>
      Buffer.concat(
        Array.from({ length: Math.ceil((offset + length) / MIB) - Math.floor(offset / MIB) }, (_, k) =>
          mibAt(Math.floor(offset / MIB) + k),
        ),
      ).subarray(offset % MIB, (offset % MIB) + length);
    // The MD5 of every part as sent: nanio hashes what it receives, so the multipart ETag it
    // answers (md5 of the part md5s, "-N") proves every byte crossed the gateway unchanged,
    // without reading the whole object back.
    const partMd5s: Buffer[] = [];
    let part = createHash('md5');
    let inPart = 0;
    async function* body() {
      for (let i = 0; i < mib; i++) {
        const c = mibAt(i);
        part.update(c);
        inPart += c.length;
        if (inPart === PART) {
          partMd5s.push(part.digest());
          part = createHash('md5');
          inPart = 0;
        }
        yield c;
      }
      if (inPart > 0) partMd5s.push(part.digest());
    }
    const started = Date.now();
    try {
      const upload = new Upload({
        client: viaGateway,
        params: { Bucket: 'photos', Key: 'large/multipart.bin', Body: Readable.from(body()) },
        partSize: PART,
        queueSize: 2,
      });
      await upload.done();
      const uploadedMs = Date.now() - started;
      const head = await viaGateway.send(new HeadObjectCommand({ Bucket: 'photos', Key: 'large/multipart.bin' }));
      expect(head.ContentLength).toBe(mib * MIB);
      const expectedEtag =
        partMd5s.length === 1
          ? `"${partMd5s[0]!.toString('hex')}"`
          : `"${createHash('md5').update(Buffer.concat(partMd5s)).digest('hex')}-${partMd5s.length}"`;
      expect(head.ETag).toBe(expectedEtag);
      // Read back through the gateway where parts join, and the end of the object.
      const size = mib * MIB;
      for (const [offset, length] of [
        [Math.min(PART, size) - 16, 32],
        [size - 64, 64],
      ] as const) {
        const start = Math.max(0, offset);
        const end = Math.min(size, offset + length);
        const got = await viaGateway.send(
          new GetObjectCommand({ Bucket: 'photos', Key: 'large/multipart.bin', Range: `bytes=${start}-${end - 1}` }),
        );
        expect(Buffer.from(await got.Body!.transformToByteArray()).equals(sentBytes(start, end - start))).toBe(true);
      }
      console.log(
        `multipart upload of ${mib} MiB (${partMd5s.length} parts) through the gateway to nanio: ${uploadedMs} ms; checked: ${Date.now() - started - uploadedMs} ms`,
      );
    } finally {
      viaGateway.destroy();
    }
  }, 600_000);

  it('client identities: plan fails while a pool does not know one; node-config members accept it; clients keep their key', async () => {
    // docs is routed to hot (where its objects are), the rest is served by cold (the default pool).
    gw.writeManifest('vhost.yaml', vhost('cold', ['docs'], identities));
    gw.writeManifest('routes/docs.yaml', route('docs', 'hot'));
    const unknown = await run(['plan']);
    expect(unknown.code, unknown.stdout + unknown.stderr).toBe(1);
    for (const [pool, member] of [
      ['cold', cold],
      ['hot', hot],
    ] as const) {
      expect(unknown.stderr).toContain(
        `pool ${pool} refuses client identity ${clientUser.accessKeyId} of virtual host s3 (ListBuckets: HTTP 403 InvalidAccessKeyId from member ${member.address})`,
      );
    }
    expect(unknown.stderr).toMatch(/vhost\.yaml:\d+:\d+: error: VirtualHost\/s3 spec\.clientIdentities\.0\.accessKeyId: pool cold refuses/);
    expect(unknown.stderr).toContain('[identity.refused]');
    expect((await run(['apply', '--auto-approve'])).code).toBe(1);

    // The members, restarted from what orch node-config writes, accept orch's keys and the client's.
    for (const name of ['hot', 'cold'] as const) {
      const out = join(gw.root, `node-config-${name}`);
      const r = await run(['node-config', name, '0', '--out', out]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout + r.stderr).not.toContain(clientUser.secretAccessKey);
      const options = join(out, 'nanio-options.toml');
      if (name === 'hot') hot = await restartFrom(hot, options);
      else cold = await restartFrom(cold, options);
    }
    const known = await run(['apply', '--auto-approve']);
    expect(known.code, known.stdout + known.stderr).toBe(0);
    const report = JSON.parse((await run(['buckets', '--json'])).stdout) as { identities: Array<Record<string, unknown>> };
    expect(report.identities).toEqual(
      ['cold', 'hot'].map((pool) => ({
        virtual_host: 's3',
        index: 0,
        access_key_id: clientUser.accessKeyId,
        pool,
        status: 'ok',
        message: null,
      })),
    );
    const bucketsText = (await run(['buckets'])).stdout;
    expect(bucketsText).toContain('client identities: 2 checks on 2 pools, all accepted');
    expect(bucketsText).toContain(`  ${clientUser.accessKeyId} (virtual host s3): accepted by cold, hot`);

    // Sealed at rest like pool credentials: the virtual host's sidecar holds the references and
    // the values encrypted (the access key id too), never a value in clear.
    const vhostSidecar = readFileSync(join(gw.nginxDir, 'vhosts', 's3.meta.json'), 'utf8');
    expect((JSON.parse(vhostSidecar) as { clientIdentities: unknown }).clientIdentities).toEqual([
      {
        accessKeyId: { env: 'CLIENT_ACCESS_KEY' },
        secretAccessKey: { env: 'CLIENT_SECRET_KEY' },
        encrypted: { keyId: expect.any(String), accessKeyId: expect.any(String), secretAccessKey: expect.any(String) },
      },
    ]);
    expect(vhostSidecar).not.toContain(clientUser.accessKeyId);
    // Without the variables (a daemon, another shell), the sealed copy is what the identity is
    // checked with: orch status reports the deployed gateway's check.
    const status = await run(['status', '--json'], { env: { CLIENT_ACCESS_KEY: '', CLIENT_SECRET_KEY: '' } });
    expect(status.code, status.stderr).toBe(0);
    expect(expectContract<{ client_identities: unknown }>('status', status.stdout).client_identities).toEqual(report.identities);

    // A client with its own key reads and writes through the gateway, on both pools.
    const client = s3Client(`http://127.0.0.1:${port}`, clientUser);
    try {
      const docs = await client.send(new GetObjectCommand({ Bucket: 'docs', Key: 'k0' }));
      expect(await docs.Body!.transformToString()).toBe('body-0');
      await client.send(new PutObjectCommand({ Bucket: 'photos', Key: 'by-client', Body: 'client write' }));
      const back = await client.send(new GetObjectCommand({ Bucket: 'photos', Key: 'by-client' }));
      expect(await back.Body!.transformToString()).toBe('client write');
    } finally {
      client.destroy();
    }

    // A pool that forgets the identity (back to orch's key only): the plan names it; acknowledged, a warning.
    const oldCold = join(gw.root, 'cold-orch-only.toml');
    writeFileSync(
      oldCold,
      `[[users]]\naccess_key = ${JSON.stringify(coldUser.accessKeyId)}\nsecret_key = ${JSON.stringify(coldUser.secretAccessKey)}\n`,
      { mode: 0o600 },
    );
    cold = await restartFrom(cold, oldCold);
    const forgot = await run(['plan']);
    expect(forgot.code).toBe(1);
    expect(forgot.stderr).toContain(`pool cold refuses client identity ${clientUser.accessKeyId}`);
    expect(forgot.stderr).not.toContain('pool hot refuses');
    const refusal = `! client identity ${clientUser.accessKeyId} of s3 on pool cold: refused — ListBuckets: HTTP 403 InvalidAccessKeyId from member ${cold.address}`;
    expect((await run(['buckets'])).stdout).toContain(refusal);
    const statusText = (await run(['status'])).stdout;
    expect(statusText).toContain('client identities: 2 checks on 2 pools, 1 not accepted');
    expect(statusText).toContain(`  ${clientUser.accessKeyId} (virtual host s3): accepted by hot\n`);
    expect(statusText).toContain(refusal);
    gw.writeManifest('vhost.yaml', vhost('cold', ['docs'], `${identities}  allowRefusingPools: [cold]\n`));
    const acknowledged = await run(['plan', '--detailed-exitcode']);
    // Nothing to render: the identities and their check live in the manifests, not in nginx files.
    expect(acknowledged.code, acknowledged.stdout + acknowledged.stderr).toBe(0);
    expect(acknowledged.stdout).toMatch(
      /warning: .*pool cold refuses client identity AKIACLIENTID0001 .*acknowledged in spec\.allowRefusingPools/,
    );
    cold = await restartFrom(cold, join(gw.root, 'node-config-cold', 'nanio-options.toml'));
    gw.writeManifest('vhost.yaml', vhost('cold', ['docs'], identities));
  }, 180_000);

  it('after a migration between two pools that both know the identity, clients keep reading and writing with their key', async () => {
    gw.writeManifest(
      'migrations/docs.yaml',
      `apiVersion: orch/v1
kind: Migration
metadata:
  name: docs-to-cold
spec:
  virtualHost: s3
  bucket: docs
  from: hot
  to: cold
`,
    );
    const applied = await run(['apply', '--auto-approve']);
    expect(applied.code, applied.stdout + applied.stderr).toBe(0);
    const migrated = await run(['migrate', 'run', 'docs-to-cold'], { timeoutMs: 300_000 });
    expect(migrated.code, migrated.stdout + migrated.stderr).toBe(0);
    const status = JSON.parse((await run(['migrations', '--json'])).stdout) as { migrations: Array<{ phase: string; routing: string }> };
    expect(status.migrations[0]).toMatchObject({ phase: 'done', routing: 'destination' });
    const client = s3Client(`http://127.0.0.1:${port}`, clientUser);
    try {
      const read = await client.send(new GetObjectCommand({ Bucket: 'docs', Key: 'k1' }));
      expect(await read.Body!.transformToString()).toBe('body-1');
      await client.send(new PutObjectCommand({ Bucket: 'docs', Key: 'after-move', Body: 'written after the migration' }));
      // The write landed on cold, the pool the bucket moved to.
      const onCold = await direct.cold.send(new GetObjectCommand({ Bucket: 'docs', Key: 'after-move' }));
      expect(await onCold.Body!.transformToString()).toBe('written after the migration');
    } finally {
      client.destroy();
    }
  }, 300_000);

  it('a Migration to a pool that does not know the identity: plan and apply refused, nothing written; the printed node-config command and a restart let it through', async () => {
    // notes (2 objects) is routed to cold; pool fresh (the third member) knows only orch's key.
    await seed(direct.cold, 'notes', 2);
    gw.writeManifest('pools.yaml', pools({ hotAllowOrphan: ['docs', 'legacy'], fresh: true }));
    gw.writeManifest('routes/notes.yaml', route('notes', 'cold'));
    const added = await run(['apply', '--auto-approve']);
    expect(added.code, added.stdout + added.stderr).toBe(0);

    const before = gw.snapshot();
    gw.writeManifest(
      'migrations/notes.yaml',
      `apiVersion: orch/v1
kind: Migration
metadata:
  name: notes-to-fresh
spec:
  virtualHost: s3
  bucket: notes
  from: cold
  to: fresh
`,
    );
    const plan = await run(['plan']);
    expect(plan.code, plan.stdout + plan.stderr).toBe(1);
    expect(errorsOf(plan), plan.stderr).toHaveLength(1);
    expect(plan.stderr).toContain(
      `error: VirtualHost/s3 spec.clientIdentities.0.accessKeyId: pool fresh refuses client identity ${clientUser.accessKeyId} of virtual host s3 (ListBuckets: HTTP 403 InvalidAccessKeyId from member ${fresh.address})`,
    );
    const printed = `orch node-config fresh ${fresh.address} --out ./node-config/fresh/${fresh.address}`;
    expect(plan.stderr).toContain(`'${printed}', then install ./node-config/fresh/${fresh.address}/nanio-options.toml`);
    expect(plan.stderr).toContain(`restart nanio there ('systemctl restart nanio')`);
    const apply = await run(['apply', '--auto-approve']);
    expect(apply.code).toBe(1);
    expect(apply.stderr).toContain(`pool fresh refuses client identity ${clientUser.accessKeyId}`);
    expect(gw.snapshot()).toEqual(before);
    const started = JSON.parse((await run(['migrations', '--json'])).stdout) as { migrations: Array<{ name: string }> };
    expect(started.migrations.map((m) => m.name)).not.toContain('notes-to-fresh');

    // The printed command, pasted as is (in the working directory), then the member restarted from its output.
    const [, ...args] = printed.split(' ');
    const written = await run(args);
    expect(written.code, written.stderr).toBe(0);
    fresh = await restartFrom(fresh, join(gw.work, 'node-config', 'fresh', fresh.address, 'nanio-options.toml'));
    const accepted = await run(['plan']);
    expect(accepted.code, accepted.stdout + accepted.stderr).toBe(0);
    expect(accepted.stdout).toContain('notes-to-fresh');
    const applied = await run(['apply', '--auto-approve']);
    expect(applied.code, applied.stdout + applied.stderr).toBe(0);
    const migrated = await run(['migrate', 'run', 'notes-to-fresh'], { timeoutMs: 300_000 });
    expect(migrated.code, migrated.stdout + migrated.stderr).toBe(0);

    // Clients keep their key: read what moved, write, and the write lands on fresh.
    const client = s3Client(`http://127.0.0.1:${port}`, clientUser);
    try {
      const read = await client.send(new GetObjectCommand({ Bucket: 'notes', Key: 'k1' }));
      expect(await read.Body!.transformToString()).toBe('body-1');
      await client.send(new PutObjectCommand({ Bucket: 'notes', Key: 'after-move', Body: 'on fresh' }));
      const onFresh = await direct.fresh.send(new GetObjectCommand({ Bucket: 'notes', Key: 'after-move' }));
      expect(await onFresh.Body!.transformToString()).toBe('on fresh');
    } finally {
      client.destroy();
    }
  }, 300_000);

  it('no secret value in anything orch printed or wrote (managed tree, state directory, nginx logs)', () => {
    const written = Object.values(gw.snapshot()).join('\n');
    // Every file of the state directory (database, backups, contents, caches) and of nginx's prefix, as bytes.
    const files = [gw.stateDir, gw.prefix, gw.nginxDir].flatMap((dir) =>
      (readdirSync(dir, { recursive: true }) as string[]).map((f) => join(dir, f)).filter((f) => statSync(f).isFile()),
    );
    expect(files.some((f) => f.endsWith('orch.db'))).toBe(true);
    const bytes = files.map((f) => readFileSync(f));
    for (const secret of [
      hotUser.secretAccessKey,
      coldUser.secretAccessKey,
      freshUser.secretAccessKey,
      clientUser.secretAccessKey,
      'not-the-secret-at-all',
      'wrong-secret',
    ]) {
      expect(outputs.join('\n')).not.toContain(secret);
      expect(written).not.toContain(secret);
      const found = files.filter((_, i) => bytes[i]!.includes(secret));
      expect(found, `${secret.slice(0, 6)}… found in ${found.join(', ')}`).toEqual([]);
    }
  });
});
