import { describe, expect, it } from 'vitest';
import type { BucketFacts, MigrationFact, PoolListing } from '../../src/domain/buckets/bucket-facts.js';
import {
  defaultPoolOrphans,
  deriveBucketStatuses,
  orphanCopies,
  orphanRows,
  strandedBuckets,
  type BucketStatus,
} from '../../src/domain/buckets/derive-bucket-status.js';
import { route, virtualHost } from '../helpers/desired-builders.js';

/** `{ hot: { photos: 3 } }`: pool hot lists bucket photos with 3 objects (null: not counted). */
function listings(spec: Record<string, Record<string, number | null> | 'unreachable'>): Map<string, PoolListing> {
  return new Map(
    Object.entries(spec).map(([pool, buckets]) => [
      pool,
      buckets === 'unreachable'
        ? { pool, status: 'unreachable', message: 'down', buckets: new Map() }
        : {
            pool,
            status: 'ok',
            message: null,
            buckets: new Map<string, BucketFacts>(
              Object.entries(buckets).map(([b, n]) => [
                b,
                { objects: n, bytes: n === null ? null : n * 10, hasObjects: n === null ? null : n > 0 },
              ]),
            ),
          },
    ]),
  );
}

const s3 = virtualHost('s3', {
  defaultPool: 'hot',
  ignoreBuckets: ['tmp'],
  routes: [
    route('s3', '/photos/', 'cold'),
    route('s3', '/videos/', 'hot'),
    route('s3', '/archive/', 'cold'),
    route('s3', '/logs/', 'hot'),
    route('s3', '/off/', 'cold', { enabled: false }),
  ],
});

function statuses(l: Map<string, PoolListing>, migrations: MigrationFact[] = []): Record<string, BucketStatus | string> {
  return Object.fromEntries(
    deriveBucketStatuses({ virtualHosts: [s3], listings: l, migrations }).map((r) => [r.bucket, r.checked ? r.status : `${r.status}?`]),
  );
}

describe('deriveBucketStatuses', () => {
  it.each<[string, Parameters<typeof listings>[0], MigrationFact[], Record<string, string>]>([
    [
      'every plain status',
      { hot: { plain: 2, tmp: 1, videos: 1, logs: 1 }, cold: { photos: 5 } },
      [],
      { archive: 'missing', logs: 'routed', photos: 'routed', plain: 'via-default', tmp: 'ignored', videos: 'routed' },
    ],
    [
      'a routed bucket with objects left on the default pool is orphaned; an empty copy is not',
      { hot: { photos: 3, archive: 0 }, cold: { photos: 5, archive: 1 } },
      [],
      { archive: 'routed', photos: 'orphaned', videos: 'missing', logs: 'missing' },
    ],
    [
      'a declared or running migration wins over everything',
      { hot: { logs: 4 }, cold: { photos: 1, archive: 0 } },
      [{ name: 'm', virtualHost: 's3', bucket: 'logs', from: 'hot', to: 'cold', progress: 'running' }],
      { archive: 'routed', logs: 'migrating', photos: 'routed', videos: 'missing' },
    ],
    [
      'the source of a completed migration still holding the bucket is orphaned',
      { hot: { videos: 1, logs: 1 }, cold: { photos: 1, archive: 0 }, old: { archive: 7 } },
      [{ name: 'done', virtualHost: 's3', bucket: 'archive', from: 'old', to: 'cold', progress: 'completed' }],
      { archive: 'orphaned', logs: 'routed', photos: 'routed', videos: 'routed' },
    ],
    [
      'a completed migration whose source was cleaned is just routed',
      { hot: { videos: 1, logs: 1 }, cold: { photos: 1, archive: 0 }, old: {} },
      [{ name: 'done', virtualHost: 's3', bucket: 'archive', from: 'old', to: 'cold', progress: 'completed' }],
      { archive: 'routed', logs: 'routed', photos: 'routed', videos: 'routed' },
    ],
    [
      'an unreachable route pool: never "missing", marked unchecked',
      { hot: { videos: 1, logs: 1, plain: 1 }, cold: 'unreachable' },
      [],
      { archive: 'routed?', logs: 'routed', photos: 'routed?', plain: 'via-default', videos: 'routed' },
    ],
    [
      'an unreachable default pool: only routed buckets are known',
      { hot: 'unreachable', cold: { photos: 1, archive: 1 } },
      [],
      { archive: 'routed?', logs: 'routed?', photos: 'routed?', videos: 'routed?' },
    ],
  ])('%s', (_name, spec, migrations, expected) => {
    expect(statuses(listings(spec), migrations)).toEqual(expected);
  });

  it('reports the pools holding each bucket with counts, and skips virtual hosts without a default pool', () => {
    const rows = deriveBucketStatuses({
      virtualHosts: [s3, virtualHost('cdn', { routes: [route('cdn', '/x/', 'cold')] })],
      listings: listings({ hot: { photos: 3 }, cold: { photos: 5 } }),
      migrations: [],
    });
    expect(rows.every((r) => r.virtualHost === 's3')).toBe(true);
    expect(rows.find((r) => r.bucket === 'photos')).toMatchObject({
      status: 'orphaned',
      detail: 'routed to cold; 3 objects left on the default pool hot',
      route: { name: 's3-photos', path: '/photos/', pool: 'cold' },
      pools: [
        { pool: 'cold', objects: 5, bytes: 50 },
        { pool: 'hot', objects: 3, bytes: 30 },
      ],
    });
  });

  it('orphans to purge: default-pool copies of routed buckets only', () => {
    const rows = deriveBucketStatuses({
      virtualHosts: [s3],
      listings: listings({ hot: { photos: 3 }, cold: { photos: 5, archive: 1 }, old: { archive: 7 } }),
      migrations: [{ name: 'done', virtualHost: 's3', bucket: 'archive', from: 'old', to: 'cold', progress: 'completed' }],
    });
    expect(rows.filter((r) => r.status === 'orphaned').map((r) => r.bucket)).toEqual(['archive', 'photos']);
    // The completed migration's source (pool old) is not the default pool: not purged by purge-orphans.
    expect(defaultPoolOrphans(rows).map((r) => r.bucket)).toEqual(['photos']);
  });

  it('objects left on a pool that no longer serves the bucket are orphans: route removed, moved to the default pool, default pool changed', () => {
    // Deployed now: s3 routes photos to hot (its default); archive's route was removed (it sits on
    // old); videos moved from old to the default pool; a second host serves logs from old.
    const now = virtualHost('s3', { defaultPool: 'hot', routes: [route('s3', '/photos/', 'cold')] });
    const other = virtualHost('other', { defaultPool: 'hot', routes: [route('other', '/logs/', 'old')] });
    const l = listings({ hot: { videos: 1, plain: 2 }, cold: { photos: 4 }, old: { archive: 7, videos: 3, logs: 5, empty: 0 } });
    const stranded = strandedBuckets([now, other], [], l);
    expect(Object.fromEntries([...stranded].map(([b, c]) => [b, c.map((x) => `${x.pool}:${x.objects}`)]))).toEqual({
      archive: ['old:7'],
      videos: ['old:3'],
    });
    const rows = deriveBucketStatuses({ virtualHosts: [now], listings: l, migrations: [], stranded });
    const byBucket = Object.fromEntries(rows.map((r) => [r.bucket, r]));
    expect(byBucket['archive']).toMatchObject({
      status: 'orphaned',
      detail: '7 objects left on pool old, which no longer serves it; served by the default pool hot',
    });
    expect(byBucket['videos']).toMatchObject({ status: 'orphaned', stranded: [{ pool: 'old', objects: 3, bytes: 30 }] });
    expect(byBucket['plain']!.status).toBe('via-default');
    expect(byBucket['logs']).toBeUndefined(); // served from old by the other host
    expect(orphanRows(rows).map((r) => [r.bucket, orphanCopies(r).map((c) => c.pool)])).toEqual([
      ['archive', ['old']],
      ['videos', ['old']],
    ]);
    // Not purged by purge-orphans (not on the default pool).
    expect(defaultPoolOrphans(rows).map((r) => r.bucket)).toEqual([]);
    // A running migration owns its bucket on both pools: not a stray.
    const migrating = strandedBuckets(
      [now],
      [{ name: 'm', virtualHost: 's3', bucket: 'archive', from: 'old', to: 'hot', progress: 'running' }],
      l,
    );
    expect(migrating.has('archive')).toBe(false);
  });
});
