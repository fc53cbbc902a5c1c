import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { docs, Gateway, type CliResult, type RunOptions } from './gateway.js';
import { NanioMember, type NanioUser } from './nanio.js';
import { s3Client, S3RVER_ACCESS_KEY, startMembers } from './s3-servers.js';
import { makeBody, type SeedObject } from './s3-workload.js';

/**
 * A ready environment for live bucket migration tests (issue 6): a real nginx under a private
 * prefix applied by the BUILT orch CLI (`npm run build` first), two nanio pools `old` and `new`,
 * each backed by its own real s3rver (child process, own directory), credentials given to orch as
 * environment references and sealed at rest with a generated key, a VirtualHost on a free loopback
 * port, a bucket Route `/<bucket>/ -> old`, and the bucket created and seeded on `old`.
 *
 *   const env = await MigrationEnv.start({ seed: { count: 200, sizes: [100, 4096] } });
 *   try { ... env.writeManifest('migrations/photos.yaml', MigrationEnv.migrationYaml({...})); ... }
 *   finally { await env.close(); }
 *
 * `start()` cleans everything up itself when it fails; `close()` is idempotent.
 */

export type PoolName = 'old' | 'new';

/** A pool as the tests see it: its members' addresses on one data directory. */
export interface EnvPool {
  /** The first member's address. */
  address: string;
  /** Every member's address (nanio's `new` pool has two on one data directory). */
  addresses: string[];
  /** The pool's data directory. */
  dir: string;
  kill(): Promise<void>;
}

/**
 * The user every gateway client signs with: accepted by both pools (clients keep their credentials
 * across a migration), unlike orch's own credentials, which differ per pool.
 */
export const CLIENT_USER: NanioUser = { accessKeyId: 'AKIACLIENTUSER000001', secretAccessKey: 'client-secret-for-both-pools' };

export interface SeedSpec {
  /** Objects to seed on `old` (keys `seed/00000`, ... ; write ids `s.00000`, ...). */
  count: number;
  /** Their sizes, cycled over (bytes). Default [100, 4096, 65536]. */
  sizes?: number[];
  /** PUTs in flight while seeding. Default 16. */
  concurrency?: number;
}

export interface MigrationEnvOptions {
  /** The bucket routed and migrated. Default `photos`. */
  bucket?: string;
  /** VirtualHost name. Default `s3`. */
  vhost?: string;
  /** Server name of the virtual host. Default `s3.test`. */
  serverName?: string;
  /** Seeded objects on `old`; a number is a count with the default sizes. Default 50. */
  seed?: SeedSpec | number;
  /** The virtual host's default pool (none by default). */
  defaultPool?: PoolName;
  /** Extra environment for every CLI run (ORCH_* settings, fault injection, ...). */
  env?: Record<string, string>;
  /** Apply the manifests with `orch apply --auto-approve` in start(). Default true. */
  apply?: boolean;
  /**
   * The pool server: `s3rver` (default; never verifies signatures) or real `nanio` (SigV4
   * verified, orch's credentials differ per pool, `new` has two members on one data directory;
   * use with `describe.skipIf(skipWithoutNanio())`).
   */
  server?: 's3rver' | 'nanio';
  /**
   * nanio only: members per pool, all on the pool's one data directory (default old 1, new 2). One
   * nanio process handles one request at a time while it writes (it fsyncs the object and its
   * metadata on its event loop): a pool's write rate grows with its members, as in production.
   */
  members?: Partial<Record<PoolName, number>>;
}

export interface MigrationYamlOptions {
  name?: string;
  bucket?: string;
  vhost?: string;
  from?: PoolName;
  to?: PoolName;
  mode?: 'copy' | 'sync';
  concurrency?: number;
  bandwidthLimit?: string;
  /** e.g. `10s`. */
  freezeBudget?: string;
}

/** A CLI child the test can watch and kill (e.g. SIGKILL in a given phase). */
export interface CliChild {
  child: ChildProcess;
  pid: number;
  /** Resolves when the process has exited (never rejects for a non-zero exit or a signal). */
  done: Promise<CliResult>;
  /** stdout + stderr so far. */
  output(): string;
  /** Resolves with the first match of `re` in stdout + stderr so far (or later); rejects after `timeoutMs` or if the process exits first. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Sends `signal` (default SIGKILL) and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<CliResult>;
}

export class MigrationEnv {
  readonly seeded: SeedObject[] = [];
  private readonly poolClients = new Map<PoolName, S3Client>();
  private readonly gatewayClients: S3Client[] = [];
  private readonly children = new Set<ChildProcess>();
  private closed = false;
  /** Credential env references and the secret key file, for every CLI run. */
  private secretEnv: Record<string, string> = {};

  private constructor(
    readonly gw: Gateway,
    readonly members: Record<PoolName, EnvPool>,
    readonly bucket: string,
    readonly vhost: string,
    readonly serverName: string,
    readonly port: number,
    private readonly extraEnv: Record<string, string>,
    readonly server: 's3rver' | 'nanio',
    private readonly orchUsers: Record<PoolName, NanioUser>,
  ) {}

  /** The gateway's S3 endpoint (`http://127.0.0.1:PORT`). */
  get endpoint(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The temp root (everything lives under it). */
  get root(): string {
    return this.gw.root;
  }

  get stateDir(): string {
    return this.gw.stateDir;
  }

  /** Manifest file names written by start(): pools, virtual host and route (relative to manifests/). */
  static readonly files = { pools: 'pools.yaml', vhost: 'vhosts/s3.yaml', route: 'routes/bucket.yaml' } as const;

  static async start(opts: MigrationEnvOptions = {}): Promise<MigrationEnv> {
    const gw = await Gateway.start({ pools: {}, vhostPorts: 1 });
    let env: MigrationEnv | null = null;
    let pools: Record<PoolName, EnvPool> | null = null;
    const server = opts.server ?? 's3rver';
    const orchUsers: Record<PoolName, NanioUser> =
      server === 'nanio'
        ? {
            old: { accessKeyId: 'AKIAORCHOLDPOOL00001', secretAccessKey: `old-${randomBytes(12).toString('hex')}` },
            new: { accessKeyId: 'AKIAORCHNEWPOOL00001', secretAccessKey: `new-${randomBytes(12).toString('hex')}` },
          }
        : {
            old: { accessKeyId: S3RVER_ACCESS_KEY, secretAccessKey: `old-secret-${randomBytes(8).toString('hex')}` },
            new: { accessKeyId: S3RVER_ACCESS_KEY, secretAccessKey: `new-secret-${randomBytes(8).toString('hex')}` },
          };
    try {
      pools =
        server === 'nanio'
          ? await startNanio(join(gw.root, 'nanio'), orchUsers, { old: 1, new: 2, ...opts.members })
          : await startS3rver(join(gw.root, 's3'));
      env = new MigrationEnv(
        gw,
        pools,
        opts.bucket ?? 'photos',
        opts.vhost ?? 's3',
        opts.serverName ?? 's3.test',
        gw.ports[0]!,
        opts.env ?? {},
        server,
        orchUsers,
      );
      env.writeSecrets();
      env.writeManifest(MigrationEnv.files.pools, docs(env.poolYaml('old'), env.poolYaml('new')));
      env.writeManifest(MigrationEnv.files.vhost, env.vhostYaml(opts.defaultPool));
      env.writeManifest(MigrationEnv.files.route, env.routeYaml('old'));
      await env.poolClient('old').send(new CreateBucketCommand({ Bucket: env.bucket }));
      const seed: SeedSpec = typeof opts.seed === 'number' ? { count: opts.seed } : (opts.seed ?? { count: 50 });
      await env.seedObjects(seed);
      if (opts.apply ?? true) await env.apply();
      return env;
    } catch (e) {
      if (env) await env.close();
      else {
        await Promise.all(Object.values(pools ?? {}).map((m) => m.kill()));
        await gw.stop();
      }
      throw e;
    }
  }

  // -- manifests ----------------------------------------------------------------------------------

  poolYaml(pool: PoolName): string {
    const P = pool.toUpperCase();
    return `apiVersion: orch/v1
kind: Pool
metadata:
  name: ${pool}
spec:
  type: nanio
  members:
${this.members[pool].addresses.map((a) => `    - address: ${a}\n`).join('')}  credentials:
    accessKeyId: { env: ${P}_ACCESS_KEY }
    secretAccessKey: { env: ${P}_SECRET_KEY }
`;
  }

  vhostYaml(defaultPool?: PoolName): string {
    return `apiVersion: orch/v1
kind: VirtualHost
metadata:
  name: ${this.vhost}
spec:
  serverNames: [${this.serverName}]
  address: 127.0.0.1
  port: ${this.port}
${defaultPool ? `  defaultPool: ${defaultPool}\n` : ''}`;
  }

  /** The bucket's Route manifest pointing at `pool`. */
  routeYaml(pool: PoolName): string {
    return `apiVersion: orch/v1
kind: Route
metadata:
  name: ${this.vhost}-${this.bucket}
spec:
  virtualHost: ${this.vhost}
  path: /${this.bucket}/
  pool: ${pool}
`;
  }

  /** A Migration manifest (defaults: this bucket and virtual host, old -> new, name `<bucket>-to-new`). */
  migrationYaml(o: MigrationYamlOptions = {}): string {
    return MigrationEnv.migrationYaml({ bucket: this.bucket, vhost: this.vhost, ...o });
  }

  static migrationYaml(o: MigrationYamlOptions = {}): string {
    const bucket = o.bucket ?? 'photos';
    const to = o.to ?? 'new';
    const opt = (k: string, v: string | number | undefined) => (v === undefined ? '' : `  ${k}: ${v}\n`);
    return `apiVersion: orch/v1
kind: Migration
metadata:
  name: ${o.name ?? `${bucket}-to-${to}`}
spec:
  virtualHost: ${o.vhost ?? 's3'}
  bucket: ${bucket}
  from: ${o.from ?? 'old'}
  to: ${to}
${opt('mode', o.mode)}${opt('concurrency', o.concurrency)}${opt('bandwidthLimit', o.bandwidthLimit)}${opt('freezeBudget', o.freezeBudget)}`;
  }

  /** Writes `manifests/<rel>` of the CLI's workspace. */
  writeManifest(rel: string, yaml: string): void {
    this.gw.writeManifest(rel, yaml);
  }

  removeManifest(rel: string): void {
    this.gw.removeManifest(rel);
  }

  // -- the CLI ------------------------------------------------------------------------------------

  /** The environment every CLI run gets (ORCH_* for this gateway, credentials, secret key, extras). */
  cliEnv(extra: Record<string, string> = {}): Record<string, string> {
    return { ...this.secretEnv, ...this.extraEnv, ...extra };
  }

  /** Runs the built CLI to its end. */
  cli(args: string[], opts: RunOptions = {}): Promise<CliResult> {
    return this.gw.orch(args, { ...opts, env: this.cliEnv(opts.env) });
  }

  /** `orch apply --auto-approve`; throws with the output unless it exits 0. */
  async apply(extraArgs: string[] = []): Promise<CliResult> {
    const r = await this.cli(['apply', '--auto-approve', ...extraArgs]);
    if (r.code !== 0) throw new Error(`orch apply failed (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
    return r;
  }

  /** Starts the CLI as a child the test can watch (`waitFor`) and kill (`kill('SIGKILL')`). */
  spawnCli(args: string[], opts: RunOptions = {}): CliChild {
    const { child, done } = this.gw.spawnOrch(args, { timeoutMs: 300_000, ...opts, env: this.cliEnv(opts.env) });
    this.children.add(child);
    let out = '';
    let exited = false;
    const waiters = new Set<() => void>();
    const onData = (d: Buffer | string) => {
      out += d.toString();
      for (const w of waiters) w();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    const settled = done.finally(() => {
      exited = true;
      this.children.delete(child);
      for (const w of waiters) w();
    });
    return {
      child,
      pid: child.pid ?? -1,
      done: settled,
      output: () => out,
      waitFor: (re, timeoutMs = 60_000) =>
        new Promise((resolve, reject) => {
          const check = () => {
            const m = out.match(re);
            if (m) {
              cleanup();
              resolve(m);
            } else if (exited) {
              cleanup();
              reject(new Error(`orch ${args.join(' ')} exited before printing ${re}:\n${out}`));
            }
          };
          const timer = setTimeout(() => {
            cleanup();
            reject(new Error(`orch ${args.join(' ')} did not print ${re} within ${timeoutMs} ms:\n${out}`));
          }, timeoutMs);
          const cleanup = () => {
            clearTimeout(timer);
            waiters.delete(check);
          };
          waiters.add(check);
          check();
        }),
      kill: async (signal = 'SIGKILL') => {
        if (!exited) child.kill(signal);
        return settled;
      },
    };
  }

  // -- S3 -----------------------------------------------------------------------------------------

  /**
   * An SDK client whose endpoint is the gateway, with the SDK's DEFAULT retry settings (standard
   * mode, 3 attempts) unless `overrides` say otherwise, and the field notes' settings (path style,
   * us-east-1, checksums only when required). Destroyed by close().
   */
  gatewayClient(overrides: Partial<S3ClientConfig> = {}): S3Client {
    const c = new S3Client({
      endpoint: this.endpoint,
      forcePathStyle: true,
      region: 'us-east-1',
      credentials: this.server === 'nanio' ? CLIENT_USER : { accessKeyId: S3RVER_ACCESS_KEY, secretAccessKey: 'S3RVER' },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      ...overrides,
    });
    this.gatewayClients.push(c);
    return c;
  }

  /** A client talking to a pool's (first) member directly with orch's credentials for that pool, cached. */
  poolClient(pool: PoolName): S3Client {
    let c = this.poolClients.get(pool);
    if (!c) {
      c = s3Client(`http://${this.members[pool].address}`, this.server === 'nanio' ? this.orchUsers[pool] : undefined);
      this.poolClients.set(pool, c);
    }
    return c;
  }

  /** key -> size and ETag of every object of `bucket` on `pool`, listed directly; empty when the bucket does not exist. */
  async listPool(pool: PoolName, bucket = this.bucket): Promise<Map<string, { size: number; etag?: string }>> {
    const out = new Map<string, { size: number; etag?: string }>();
    let token: string | undefined;
    try {
      do {
        const page = await this.poolClient(pool).send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
        for (const o of page.Contents ?? []) out.set(o.Key!, { size: o.Size ?? 0, ...(o.ETag ? { etag: o.ETag } : {}) });
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    } catch (e) {
      if ((e as { name?: string }).name === 'NoSuchBucket') return out;
      throw e;
    }
    return out;
  }

  /** Stops CLI children still running, destroys clients, kills the S3 servers and nginx, removes the temp dirs. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const c of this.children) {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    }
    for (const c of [...this.poolClients.values(), ...this.gatewayClients]) c.destroy();
    await Promise.all([this.members.old.kill(), this.members.new.kill()]);
    await this.gw.stop();
  }

  // -- internals ----------------------------------------------------------------------------------

  private writeSecrets(): void {
    const dir = join(this.gw.root, 'secrets');
    mkdirSync(dir, { recursive: true });
    const key = randomBytes(32);
    const keyFile = join(dir, 'orch.key');
    writeFileSync(keyFile, `${createHash('sha256').update(key).digest('hex').slice(0, 8)}:${key.toString('base64')}\n`, { mode: 0o600 });
    this.secretEnv = {
      OLD_ACCESS_KEY: this.orchUsers.old.accessKeyId,
      OLD_SECRET_KEY: this.orchUsers.old.secretAccessKey,
      NEW_ACCESS_KEY: this.orchUsers.new.accessKeyId,
      NEW_SECRET_KEY: this.orchUsers.new.secretAccessKey,
      ORCH_SECRET_KEY_FILE: keyFile,
    };
  }

  private async seedObjects(spec: SeedSpec): Promise<void> {
    const sizes = spec.sizes ?? [100, 4096, 65536];
    const objs: SeedObject[] = [];
    for (let i = 0; i < spec.count; i++) {
      const n = String(i).padStart(5, '0');
      const writeId = `s.${n}`;
      const body = makeBody(writeId, sizes[i % sizes.length]!);
      objs.push({ key: `seed/${n}`, writeId, size: body.length });
    }
    const c = this.poolClient('old');
    let next = 0;
    await Promise.all(
      Array.from({ length: Math.min(spec.concurrency ?? 16, objs.length) }, async () => {
        while (next < objs.length) {
          const o = objs[next++]!;
          await c.send(new PutObjectCommand({ Bucket: this.bucket, Key: o.key, Body: makeBody(o.writeId, o.size) }));
        }
      }),
    );
    this.seeded.push(...objs);
  }
}

async function startS3rver(root: string): Promise<Record<PoolName, EnvPool>> {
  const m = await startMembers(root, { old: 1, new: 1 });
  const pool = (name: PoolName): EnvPool => {
    const member = m[name]![0]!;
    return { address: member.address, addresses: [member.address], dir: member.dir, kill: () => member.kill() };
  };
  return { old: pool('old'), new: pool('new') };
}

/**
 * Real nanio: `old` one member, `new` two members on one data directory; each pool accepts orch's
 * own user for it and the clients' user (CLIENT_USER).
 */
async function startNanio(
  root: string,
  orch: Record<PoolName, NanioUser>,
  counts: Record<PoolName, number>,
): Promise<Record<PoolName, EnvPool>> {
  const started: NanioMember[] = [];
  const pool = async (name: PoolName, n: number): Promise<EnvPool> => {
    const dir = join(root, name);
    const members: NanioMember[] = [];
    for (let i = 0; i < n; i++) {
      const m = new NanioMember(dir, { users: [orch[name], CLIENT_USER] });
      started.push(m);
      members.push(await m.start());
    }
    return {
      address: members[0]!.address,
      addresses: members.map((m) => m.address),
      dir,
      kill: async () => {
        await Promise.all(members.map((m) => m.kill()));
      },
    };
  };
  try {
    return { old: await pool('old', counts.old), new: await pool('new', counts.new) };
  } catch (e) {
    await Promise.all(started.map((m) => m.kill()));
    throw e;
  }
}
