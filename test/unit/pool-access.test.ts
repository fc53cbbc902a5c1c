import { describe, expect, it } from 'vitest';
import { resolveSettings } from '../../src/config/settings.js';
import { PoolAccessError } from '../../src/domain/buckets/pool-access-error.js';
import type { DesiredPool } from '../../src/domain/model/desired-state.js';
import type { PoolCredentials } from '../../src/domain/model/manifest-types.js';
import type {
  BucketStats,
  ObjectEntry,
  PoolEndpoint,
  PoolStorage,
  PoolStorageFactory,
  PoolStorageOptions,
} from '../../src/ports/pool-storage.js';
import type { Secrets } from '../../src/ports/secrets.js';
import { listPools } from '../../src/use-cases/buckets/list-pools.js';
import { preparePoolCredentials } from '../../src/use-cases/buckets/pool-access.js';

// The bucket use cases on fakes of their ports: secrets from a map, pools as maps of buckets.

const settings = resolveSettings({
  flags: {},
  env: { ORCH_S3_TIMEOUT: '7', ORCH_S3_RETRIES: '1' },
  configPath: null,
  candidates: [],
  readFile: () => null,
});

function envSecrets(env: Record<string, string>): Secrets {
  const resolve = (ref: { env: string } | { file: string }) =>
    'env' in ref && env[ref.env]
      ? { ok: true as const, value: env[ref.env]! }
      : { ok: false as const, problem: `environment variable ${'env' in ref ? ref.env : ref.file} is not set` };
  return {
    keyring: () => null,
    resolvePoolCredentials: (refs) => ({ accessKeyId: resolve(refs.accessKeyId), secretAccessKey: resolve(refs.secretAccessKey) }),
    keyMaterial: () => [],
  };
}

function pool(name: string, type: 'nanio' | 'http', members: Array<[string, boolean]>, credentials: PoolCredentials | null): DesiredPool {
  return {
    name,
    type,
    description: null,
    loadBalancing: 'round_robin',
    keepalive: null,
    members: members.map(([address, enabled]) => ({ address, weight: 1, maxFails: 1, failTimeout: '10s', enabled, role: 'primary' })),
    credentials,
    origin: { file: 'pools.yaml', index: 0, kind: 'Pool', name },
  };
}

const refs = (prefix: string): PoolCredentials => ({
  accessKeyId: { env: `${prefix}_ACCESS` },
  secretAccessKey: { env: `${prefix}_SECRET` },
});

/** Pools as maps of buckets (bucket -> objects); a pool given as a PoolAccessError fails every call. */
class FakePools implements PoolStorageFactory {
  readonly opened: Array<{ endpoint: PoolEndpoint; options: PoolStorageOptions }> = [];
  closed = 0;
  constructor(private readonly pools: Record<string, Record<string, ObjectEntry[]> | PoolAccessError>) {}

  open(endpoint: PoolEndpoint, options: PoolStorageOptions): Promise<PoolStorage> {
    this.opened.push({ endpoint, options });
    const p = this.pools[endpoint.pool];
    const buckets = (): Record<string, ObjectEntry[]> => {
      if (p === undefined) throw new PoolAccessError(endpoint.pool, 'error', `no pool ${endpoint.pool}`);
      if (p instanceof PoolAccessError) throw p;
      return p;
    };
    const stats = (b: string): BucketStats => ({
      objects: (buckets()[b] ?? []).length,
      bytes: (buckets()[b] ?? []).reduce((n, o) => n + o.size, 0),
    });
    return Promise.resolve({
      pool: endpoint.pool,
      listBuckets: async () => Object.keys(buckets()).sort(),
      bucketStats: async (b) => stats(b),
      hasObjects: async (b) => stats(b).objects > 0,
      createBucket: async () => 'created' as const,
      listObjects: async (b, onPage) => onPage(buckets()[b] ?? []),
      listObjectsDetailed: async (b, onPage) => onPage((buckets()[b] ?? []).map((o) => ({ ...o, etag: 'e' }))),
      deleteObjects: async () => [],
      close: () => void this.closed++,
    });
  }
}

describe('pool access on its ports', () => {
  const pools = [
    pool(
      'hot',
      'nanio',
      [
        ['10.0.0.1:9000', true],
        ['10.0.0.2:9000', false],
        ['10.0.0.3:9000', true],
      ],
      refs('HOT'),
    ),
    pool('cold', 'nanio', [['10.0.1.1:9000', true]], refs('COLD')),
    pool('bare', 'nanio', [['10.0.2.1:9000', true]], null),
    pool('web', 'http', [['10.0.3.1:80', true]], null),
  ];

  it("opens clients on the enabled members with the resolved credentials and the settings' options; names what is missing", async () => {
    const factory = new FakePools({ hot: {} });
    const { access } = preparePoolCredentials(
      { secrets: envSecrets({ HOT_ACCESS: 'AK', HOT_SECRET: 'SK' }), poolStorage: factory },
      settings,
      pools,
      new Map(),
    );
    expect([...access.usable]).toEqual(['hot']);
    expect(access.problems.get('bare')).toBe('pool bare has no credentials in its manifest');
    expect(access.problems.get('cold')).toMatch(/COLD_ACCESS is not set/);
    expect(access.problems.has('web')).toBe(false);

    await access.open('hot', { concurrency: 16 });
    expect(factory.opened).toEqual([
      {
        endpoint: { pool: 'hot', members: ['10.0.0.1:9000', '10.0.0.3:9000'], credentials: { accessKeyId: 'AK', secretAccessKey: 'SK' } },
        options: { timeoutMs: 7000, retries: 1, concurrency: 16 },
      },
    ]);
    const refused = await access.open('cold').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(PoolAccessError);
    expect((refused as Error).message).toMatch(/COLD_ACCESS is not set/);
    expect(factory.opened).toHaveLength(1);
  });

  it('listPools: counts and probes what is asked, reports a failing pool and one without credentials, closes every client', async () => {
    const factory = new FakePools({
      hot: {
        photos: [
          { key: 'a', size: 3 },
          { key: 'b', size: 4 },
        ],
        logs: [],
        empty: [],
      },
      cold: new PoolAccessError('cold', 'unreachable', 'pool cold: no member answered.'),
    });
    const secrets = envSecrets({ HOT_ACCESS: 'AK', HOT_SECRET: 'SK', COLD_ACCESS: 'AK2', COLD_SECRET: 'SK2' });
    const { access } = preparePoolCredentials({ secrets, poolStorage: factory }, settings, pools, new Map());
    const listings = await listPools(access, ['hot', 'cold', 'bare'], (p) =>
      p === 'hot' ? { count: ['photos'], probe: ['logs'] } : { count: [], probe: [] },
    );

    expect(listings.get('hot')).toEqual({
      pool: 'hot',
      status: 'ok',
      message: null,
      buckets: new Map([
        ['empty', { objects: null, bytes: null, hasObjects: null }],
        ['logs', { objects: null, bytes: null, hasObjects: false }],
        ['photos', { objects: 2, bytes: 7, hasObjects: true }],
      ]),
    });
    expect(listings.get('cold')).toMatchObject({ status: 'unreachable', message: 'pool cold: no member answered', buckets: new Map() });
    expect(listings.get('bare')).toMatchObject({ status: 'no-credentials', message: 'pool bare has no credentials in its manifest' });
    expect(factory.closed).toBe(2);
  });
});
