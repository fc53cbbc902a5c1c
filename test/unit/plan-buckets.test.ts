import { describe, expect, it } from 'vitest';
import type { BucketFacts, MigrationFact, PoolListing } from '../../src/domain/buckets/bucket-facts.js';
import type { DesiredRoute, DesiredState } from '../../src/domain/model/desired-state.js';
import { guardedMoves, planBuckets, poolsToList, type DeployedVirtualHost } from '../../src/domain/plan/plan-buckets.js';
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
      'routing to the default pool is always allowed',
      [route('s3', '/photos/', 'hot')],
      deployedWith([{ path: '/photos/', bucket: 'photos', pool: 'cold', enabled: true }]),
      { hot: { photos: null }, cold: { photos: true } },
      [],
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
