import type { DesiredMigration, DesiredVirtualHost } from '../model/desired-state.js';

/** What orch saw of one bucket on one pool. Counts are null unless they were asked for. */
export interface BucketFacts {
  objects: number | null;
  bytes: number | null;
  /** At least one object; null when not checked (and not counted). */
  hasObjects: boolean | null;
}

export type PoolListingStatus = 'ok' | 'unreachable' | 'access-denied' | 'error' | 'no-credentials';

/** The buckets of one nanio pool, as listed (ListBuckets on a member) — or why they are unknown. */
export interface PoolListing {
  pool: string;
  status: PoolListingStatus;
  /** Why the pool could not be listed (names the pool and members, never a credential). */
  message: string | null;
  /** Only meaningful when status is `ok`. */
  buckets: ReadonlyMap<string, BucketFacts>;
}

export type MigrationProgress = 'declared' | 'running' | 'completed';

/** A migration of a bucket, from a Migration document and/or the state database. */
export interface MigrationFact {
  name: string;
  virtualHost: string;
  bucket: string;
  from: string;
  to: string;
  progress: MigrationProgress;
}

/** Migration documents, with the progress the state database records for them (by name). */
export function migrationFacts(
  declared: readonly DesiredMigration[],
  recorded: ReadonlyArray<{ name: string; virtualHost: string; bucket: string; from: string; to: string; completed: boolean }>,
): MigrationFact[] {
  const out = new Map<string, MigrationFact>();
  for (const m of declared)
    out.set(m.name, { name: m.name, virtualHost: m.virtualHost, bucket: m.bucket, from: m.from, to: m.to, progress: 'declared' });
  for (const r of recorded) {
    out.set(r.name, {
      name: r.name,
      virtualHost: r.virtualHost,
      bucket: r.bucket,
      from: r.from,
      to: r.to,
      progress: r.completed ? 'completed' : 'running',
    });
  }
  return [...out.values()].sort((a, b) => (a.name < b.name ? -1 : 1));
}

/** The enabled route of a virtual host for a bucket (`/photos/`), if any. */
export function bucketRouteOf(vhost: Pick<DesiredVirtualHost, 'routes'>, bucket: string): DesiredVirtualHost['routes'][number] | null {
  return vhost.routes.find((r) => r.enabled && r.bucket === bucket) ?? null;
}

export function factsOf(listing: PoolListing | undefined, bucket: string): BucketFacts | null {
  if (!listing || listing.status !== 'ok') return null;
  return listing.buckets.get(bucket) ?? null;
}
