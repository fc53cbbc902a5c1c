import { describe, expect, it } from 'vitest';
import type { BucketFacts, MigrationFact, PoolListing } from '../../src/domain/buckets/bucket-facts.js';
import type { DesiredRoute, DesiredState } from '../../src/domain/model/desired-state.js';
import {
  bucketsToCount,
  guardedMoves,
  guardPlan,
  planBuckets,
  poolsToList,
  type DeployedVirtualHost,
} from '../../src/domain/plan/plan-buckets.js';
import { desiredState, pool, route, virtualHost } from '../helpers/desired-builders.js';

function state(routes: DesiredRoute[], defaultPool = 'hot'): DesiredState {
  return desiredState({
    pools: [pool('hot'), pool('cold'), pool('new'), pool('files', { type: 'http' })],
    virtualHosts: [virtualHost('s3', { defaultPool, routes })],
  });
}

/** pool -> bucket -> has objects (null: not probed). */
function listings(spec: Record<string, Record<string, boolean | null> | PoolListing['status']>): Map<string, PoolListing> {
  return new Map(
    Object.entries(spec).map(([p, b]) => [
      p,
      typeof b === 'string'
        ? { pool: p, status: b, message: `${p} is ${b}`, buckets: new Map() }
        : {
            pool: p,
            status: 'ok',
            message: null,
            buckets: new Map<string, BucketFacts>(
              Object.entries(b).map(([k, has]) => [k, { objects: null, bytes: null, hasObjects: has }]),
            ),
          },
    ]),
  );
}

/** pool -> bucket -> object count. */
function counted(spec: Record<string, Record<string, number>>): Map<string, PoolListing> {
  return new Map(
    Object.entries(spec).map(([p, b]) => [
      p,
      {
        pool: p,
        status: 'ok' as const,
        message: null,
        buckets: new Map<string, BucketFacts>(Object.entries(b).map(([k, n]) => [k, { objects: n, bytes: n * 10, hasObjects: n > 0 }])),
      },
    ]),
  );
}

const deployedWith = (routes: DeployedVirtualHost['routes'], defaultPool = 'hot') => new Map([['s3', { defaultPool, routes }]]);
const codes = (r: ReturnType<typeof planBuckets>) => r.diagnostics.map((d) => `${d.severity} ${d.code}`);
const migration = (bucket: string): MigrationFact => ({
  name: 'm',
  virtualHost: 's3',
  bucket,
  from: 'hot',
  to: 'cold',
  progress: 'declared',
});

describe('planBuckets', () => {
  it('plans "create bucket B on pool P" for a bucket route to a nanio pool that lacks it, once per pool and bucket', () => {
    const desired = state([
      route('s3', '/photos/', 'cold'),
      route('s3', '/logs/', 'hot'),
      route('s3', '/off/', 'cold', { enabled: false }),
    ]);
    const r = planBuckets(
      {
        desired,
        deployed: deployedWith([{ path: '/photos/', bucket: 'photos', pool: 'cold', enabled: true }]),
        listings: listings({ cold: {}, hot: { logs: true } }),
        migrations: [],
      },
      new Map(),
    );
    expect(r.creates).toEqual([
      expect.objectContaining({ action: 'create', bucket: 'photos', pool: 'cold', virtualHost: 's3', route: 's3-photos' }),
    ]);
    expect(r.diagnostics).toEqual([]);
  });

  it('offline (no listings): nothing is planned or refused', () => {
    const desired = state([route('s3', '/photos/', 'cold')]);
    expect(planBuckets({ desired, deployed: new Map(), listings: null, migrations: [] }, new Map())).toEqual({
      creates: [],
      diagnostics: [],
    });
  });

  it('refuses moving a bucket away from the pool holding its objects, pointing at the route, with both ways on', () => {
    const desired = state([route('s3', '/photos/', 'cold')]);
    const r = planBuckets(
      {
        desired,
        deployed: deployedWith([]),
        listings: listings({ hot: { photos: true }, cold: { photos: null } }),
        migrations: [],
        positionOf: (o, f) => ({ file: o.file, line: 7, column: f.length }),
      },
      new Map(),
    );
    expect(r.diagnostics).toEqual([
      expect.objectContaining({
        severity: 'error',
        code: 'bucket.would-orphan',
        source: { file: 'manifests/routes/s3-photos.yaml', line: 7, column: 2 },
        document: { kind: 'Route', name: 's3-photos' },
        field: 'spec.pool',
      }),
    ]);
    expect(r.diagnostics[0]!.hint).toContain('add a Migration (virtualHost: s3, bucket: photos, from: hot, to: cold)');
    expect(r.diagnostics[0]!.hint).toContain('allowOrphan: true on route s3-photos');
  });

  it.each<[string, DesiredRoute[], ReturnType<typeof deployedWith>, Parameters<typeof listings>[0], MigrationFact[], string[]]>([
    [
      'allowOrphan acknowledges the objects stay behind',
      [route('s3', '/photos/', 'cold', { allowOrphan: true })],
      deployedWith([]),
      { hot: { photos: true }, cold: { photos: null } },
      [],
      [],
    ],
    [
      'a Migration for the bucket moves them',
      [route('s3', '/photos/', 'cold')],
      deployedWith([]),
      { hot: { photos: true }, cold: { photos: null } },
      [migration('photos')],
      [],
    ],
    [
      'routing back to the default pool strands the objects on the route pool too',
      [route('s3', '/photos/', 'hot')],
      deployedWith([{ path: '/photos/', bucket: 'photos', pool: 'cold', enabled: true }]),
      { hot: { photos: null }, cold: { photos: true } },
      [],
      ['error bucket.would-orphan'],
    ],
    [
      'routing back to the default pool with allowOrphan on the route',
      [route('s3', '/photos/', 'hot', { allowOrphan: true })],
      deployedWith([{ path: '/photos/', bucket: 'photos', pool: 'cold', enabled: true }]),
      { hot: { photos: null }, cold: { photos: true } },
      [],
      [],
    ],
    [
      'a route removed: the default pool would serve the bucket, its objects stay on the route pool',
      [],
      deployedWith([{ path: '/photos/', bucket: 'photos', pool: 'cold', enabled: true }]),
      { cold: { photos: true } },
      [],
      ['error bucket.would-orphan'],
    ],
    [
      'a route disabled is a route removed',
      [route('s3', '/photos/', 'cold', { enabled: false })],
      deployedWith([{ path: '/photos/', bucket: 'photos', pool: 'cold', enabled: true }]),
      { cold: { photos: true } },
      [],
      ['error bucket.would-orphan'],
    ],
    [
      'a route disabled with allowOrphan: acknowledged',
      [route('s3', '/photos/', 'cold', { enabled: false, allowOrphan: true })],
      deployedWith([{ path: '/photos/', bucket: 'photos', pool: 'cold', enabled: true }]),
      { cold: { photos: true } },
      [],
      [],
    ],
    [
      'a route removed from an empty bucket strands nothing',
      [],
      deployedWith([{ path: '/photos/', bucket: 'photos', pool: 'cold', enabled: true }]),
      { cold: { photos: false } },
      [],
      [],
    ],
    [
      'a route removed with a Migration for the bucket',
      [],
      deployedWith([{ path: '/photos/', bucket: 'photos', pool: 'cold', enabled: true }]),
      { cold: { photos: true } },
      [migration('photos')],
      [],
    ],
    [
      'an empty bucket on the old pool strands nothing',
      [route('s3', '/photos/', 'cold')],
      deployedWith([]),
      { hot: { photos: false }, cold: { photos: null } },
      [],
      [],
    ],
    [
      'the deployed route pool is the current one: cold -> new with objects on cold',
      [route('s3', '/photos/', 'new')],
      deployedWith([{ path: '/photos/', bucket: 'photos', pool: 'cold', enabled: true }]),
      { cold: { photos: true }, new: { photos: null } },
      [],
      ['error bucket.would-orphan'],
    ],
    [
      'the route does not move: nothing to check',
      [route('s3', '/photos/', 'cold')],
      deployedWith([{ path: '/photos/', bucket: 'photos', pool: 'cold', enabled: true }]),
      { cold: { photos: null } },
      [],
      [],
    ],
    [
      'the old pool unreachable: a warning, no refusal',
      [route('s3', '/photos/', 'cold')],
      deployedWith([]),
      { hot: 'unreachable', cold: { photos: null } },
      [],
      ['warning bucket.move-unchecked', 'warning refresh.pool-unavailable'],
    ],
    [
      'the old pool without credentials: silent (the refresh says it)',
      [route('s3', '/photos/', 'cold')],
      deployedWith([]),
      { hot: 'no-credentials', cold: { photos: null } },
      [],
      [],
    ],
    [
      'credentials refused on the route pool: a warning, no create',
      [route('s3', '/photos/', 'cold')],
      deployedWith([{ path: '/photos/', bucket: 'photos', pool: 'cold', enabled: true }]),
      { cold: 'access-denied' },
      [],
      ['warning refresh.pool-unavailable'],
    ],
  ])('%s', (_name, routes, deployed, spec, migrations, expected) => {
    const r = planBuckets({ desired: state(routes), deployed, listings: listings(spec), migrations }, new Map());
    expect(codes(r)).toEqual(expected);
    expect(r.creates).toEqual([]);
  });

  it('a removed route is refused with the object count, at the virtual host, with the ways on', () => {
    const desired = state([]);
    const deployed = deployedWith([{ name: 's3-photos', path: '/photos/', bucket: 'photos', pool: 'cold', enabled: true }]);
    const guard = guardPlan({ desired, deployed, migrations: [] });
    expect(guard.moves.map((m) => `${m.cause} ${m.bucket} ${m.from}->${m.to}`)).toEqual(['route-removed photos cold->hot']);
    expect(poolsToList({ desired, deployed, migrations: [] })).toEqual(['cold']);
    expect(bucketsToCount({ desired, deployed, migrations: [] }, guard, 'cold', ['photos', 'other'])).toEqual(['photos']);
    const r = planBuckets({ desired, deployed, listings: counted({ cold: { photos: 7 } }), migrations: [] }, new Map(), guard);
    expect(r.diagnostics).toEqual([
      expect.objectContaining({ severity: 'error', code: 'bucket.would-orphan', document: { kind: 'VirtualHost', name: 's3' } }),
    ]);
    expect(r.diagnostics[0]!.message).toContain('route s3-photos of bucket photos (virtual host s3) is removed or disabled');
    expect(r.diagnostics[0]!.message).toContain('pool cold holds its 7 objects');
    expect(r.diagnostics[0]!.hint).toContain('Migration (virtualHost: s3, bucket: photos, from: cold, to: hot)');
    expect(r.diagnostics[0]!.hint).toContain('photos in spec.allowOrphan of virtual host s3');
  });

  it('a default pool change refuses every unrouted bucket with objects on the old default pool, with counts', () => {
    const deployed = deployedWith([{ path: '/logs/', bucket: 'logs', pool: 'hot', enabled: true }], 'hot');
    const desired = state([route('s3', '/logs/', 'hot')], 'cold');
    const input = { desired, deployed, migrations: [] };
    const guard = guardPlan(input);
    expect(guard.moves).toEqual([]);
    expect(guard.defaultPoolChanges).toEqual([{ virtualHost: 's3', from: 'hot', to: 'cold' }]);
    expect(poolsToList(input, guard)).toEqual(['hot']);
    // logs keeps its route to hot: not counted, not moved.
    expect(bucketsToCount(input, guard, 'hot', ['logs', 'photos', 'empty'])).toEqual(['empty', 'photos']);
    const r = planBuckets({ ...input, listings: counted({ hot: { logs: 5, photos: 3, empty: 0 } }) }, new Map(), guard);
    expect(codes(r)).toEqual(['error bucket.would-orphan']);
    expect(r.diagnostics[0]!.message).toContain('virtual host s3 changes its default pool from hot to cold: bucket photos');
    expect(r.diagnostics[0]!.message).toContain('3 objects');
    expect(r.diagnostics[0]!.field).toBe('spec.defaultPool');

    // Acknowledged per bucket in the virtual host, or migrated: nothing refused, nothing counted.
    const ack = state([route('s3', '/logs/', 'hot')], 'cold');
    ack.virtualHosts[0]!.allowOrphan = ['photos'];
    const ackInput = { desired: ack, deployed, migrations: [] };
    expect(bucketsToCount(ackInput, guardPlan(ackInput), 'hot', ['logs', 'photos'])).toEqual([]);
    expect(codes(planBuckets({ ...ackInput, listings: counted({ hot: { logs: 5, photos: 3 } }) }, new Map()))).toEqual([]);
    expect(
      codes(planBuckets({ ...input, migrations: [migration('photos')], listings: counted({ hot: { photos: 3 } }) }, new Map())),
    ).toEqual([]);
    // The old default pool unreachable: a warning at the virtual host.
    expect(codes(planBuckets({ ...input, listings: listings({ hot: 'unreachable' }) }, new Map()))).toEqual([
      'warning bucket.move-unchecked',
      'warning refresh.pool-unavailable',
    ]);
  });

  it('a virtual host not deployed yet: the default pool of the manifests is the current pool', () => {
    const desired = state([route('s3', '/photos/', 'cold')]);
    expect(guardedMoves({ desired, deployed: new Map(), migrations: [] }).map((m) => `${m.from}->${m.to}`)).toEqual(['hot->cold']);
    expect(poolsToList({ desired, deployed: new Map(), migrations: [] })).toEqual(['cold', 'hot']);
    // The probe result passed by the caller counts when the listing did not probe.
    const l = listings({ hot: { photos: null }, cold: { photos: null } });
    expect(codes(planBuckets({ desired, deployed: new Map(), listings: l, migrations: [] }, new Map([['hot/photos', true]])))).toEqual([
      'error bucket.would-orphan',
    ]);
    expect(codes(planBuckets({ desired, deployed: new Map(), listings: l, migrations: [] }, new Map()))).toEqual([
      'warning bucket.move-unchecked',
    ]);
  });

  it('a virtual host removed from the manifests: its routed buckets and its default pool buckets are refused with counts; pool allowOrphan or another host serving them lets it through', () => {
    // s3 stays (default hot); old (default cold, route /photos/ -> hot, /docs/ -> cold) is gone.
    const desired = state([]);
    const removedHosts = new Map([
      [
        'old',
        {
          defaultPool: 'cold',
          routes: [
            { name: 'old-photos', path: '/photos/', bucket: 'photos', pool: 'new', enabled: true },
            { name: 'old-logs', path: '/logs/', bucket: 'logs', pool: 'hot', enabled: true },
          ],
        },
      ],
    ]);
    const input = { desired, deployed: deployedWith([], 'hot'), removedHosts, migrations: [] };
    const guard = guardPlan(input);
    // logs on hot is still served by s3 (its default pool hot): not a move.
    expect(guard.moves.map((m) => `${m.cause} ${m.virtualHost} ${m.bucket} ${m.from}->${m.to}`)).toEqual([
      'virtual-host-removed old photos new->null',
    ]);
    expect(guard.defaultPoolChanges).toEqual([{ virtualHost: 'old', from: 'cold', to: null, removed: true }]);
    expect(poolsToList(input, guard)).toEqual(['cold', 'new']);
    expect(bucketsToCount(input, guard, 'cold', ['archive', 'photos'])).toEqual(['archive']);
    const r = planBuckets({ ...input, listings: counted({ new: { photos: 4 }, cold: { archive: 2, empty: 0 } }) }, new Map(), guard);
    expect(codes(r)).toEqual(['error bucket.would-orphan', 'error bucket.would-orphan']);
    const [photos, archive] = r.diagnostics;
    expect(photos!.document).toEqual({ kind: 'VirtualHost', name: 'old' });
    expect(photos!.source).toBeUndefined();
    expect(photos!.message).toBe(
      'virtual host old is removed from the manifests: bucket photos (route old-photos) would no longer be served from pool new by any virtual host: pool new holds its 4 objects (40 bytes), which would stay behind there, unreachable through the gateway',
    );
    expect(photos!.hint).toContain('keep virtual host old in the manifests until a Migration has moved bucket photos');
    expect(photos!.hint).toContain('photos in spec.allowOrphan of pool new');
    expect(archive!.message).toContain('bucket archive (its default pool) would no longer be served from pool cold');
    expect(archive!.message).toContain('pool cold holds its 2 objects');

    // Acknowledged on the pools that keep the objects: nothing refused, nothing counted.
    const ack = state([]);
    ack.pools.find((p) => p.name === 'new')!.allowOrphan = ['photos'];
    ack.pools.find((p) => p.name === 'cold')!.allowOrphan = ['archive'];
    const ackInput = { ...input, desired: ack };
    expect(guardPlan(ackInput).moves).toEqual([]);
    expect(bucketsToCount(ackInput, guardPlan(ackInput), 'cold', ['archive'])).toEqual([]);
    expect(codes(planBuckets({ ...ackInput, listings: counted({ new: { photos: 4 }, cold: { archive: 2 } }) }, new Map()))).toEqual([]);
    // Another virtual host serving the bucket from the same pool: nothing is stranded.
    const alias = state([route('s3', '/photos/', 'new')]);
    const aliasDeployed = deployedWith([{ name: 's3-photos', path: '/photos/', bucket: 'photos', pool: 'new', enabled: true }]);
    expect(guardPlan({ ...input, desired: alias, deployed: aliasDeployed }).moves).toEqual([]);
  });

  it('a pool removed from the manifests: a bucket moved off it is refused with the count, the hint says to keep the pool until migrated', () => {
    // photos was routed to 'gone' (deployed); the manifests drop the pool and route photos to cold.
    const desired = state([route('s3', '/photos/', 'cold')]);
    const deployed = deployedWith([{ name: 's3-photos', path: '/photos/', bucket: 'photos', pool: 'gone', enabled: true }]);
    const input = { desired, deployed, removedPools: new Set(['gone']), migrations: [] };
    const guard = guardPlan(input);
    expect(guard.moves.map((m) => `${m.cause} ${m.bucket} ${m.from}->${m.to}`)).toEqual(['route-moved photos gone->cold']);
    expect(poolsToList(input, guard)).toEqual(['cold', 'gone']);
    const r = planBuckets({ ...input, listings: counted({ gone: { photos: 5 }, cold: { photos: 0 } }) }, new Map(), guard);
    expect(codes(r)).toEqual(['error bucket.would-orphan']);
    expect(r.diagnostics[0]!.message).toContain('pool gone (removed from the manifests) holds its 5 objects');
    expect(r.diagnostics[0]!.hint).toContain('keep pool gone in the manifests until a Migration');
    expect(r.diagnostics[0]!.hint).toContain("'orch buckets orphans' lists them until 'orch buckets forget-pool gone'");
    // Without the removed pool known, nothing was guarded before (the pool was not a nanio pool of the manifests).
    expect(guardPlan({ desired, deployed, migrations: [] }).moves).toEqual([]);
    // Acknowledged on the route: let through.
    const ack = state([route('s3', '/photos/', 'cold', { allowOrphan: true })]);
    expect(guardPlan({ ...input, desired: ack }).moves).toEqual([]);
  });

  it('http pools and paths that are not buckets are out of scope', () => {
    const desired = desiredState({
      pools: [pool('hot'), pool('files', { type: 'http' })],
      virtualHosts: [
        virtualHost('cdn', { defaultPool: 'files', routes: [route('cdn', '/assets/', 'files')] }),
        virtualHost('s3', { defaultPool: 'hot', routes: [route('s3', '/a/b/', 'hot')] }),
      ],
    });
    expect(poolsToList({ desired, deployed: new Map(), migrations: [] })).toEqual([]);
  });
});
