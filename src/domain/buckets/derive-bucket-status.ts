import type { DesiredVirtualHost } from '../model/desired-state.js';
import { bucketRouteOf, factsOf, type MigrationFact, type PoolListing } from './bucket-facts.js';

/**
 * - `routed`: an explicit route serves the bucket;
 * - `via-default`: no route, the virtual host's default pool serves it;
 * - `ignored`: no route, listed in the virtual host's `ignoreBuckets`;
 * - `migrating`: a Migration for it is declared or running;
 * - `orphaned`: routed elsewhere while objects remain on the default pool, or the source of a
 *   completed migration still holds it;
 * - `missing`: a route points at a pool where the bucket does not exist.
 */
export const BUCKET_STATUSES = ['routed', 'via-default', 'ignored', 'migrating', 'orphaned', 'missing'] as const;
export type BucketStatus = (typeof BUCKET_STATUSES)[number];

export interface BucketRow {
  virtualHost: string;
  bucket: string;
  status: BucketStatus;
  /** Why, in words (which pool holds what). */
  detail: string;
  route: { name: string; path: string; pool: string } | null;
  defaultPool: string;
  /** Pools (among the default, route and migration pools) where the bucket was seen. */
  pools: Array<{ pool: string; objects: number | null; bytes: number | null }>;
  migration: string | null;
  /** False when a pool this status depends on could not be listed: the status is a best guess. */
  checked: boolean;
}

export interface StatusInput {
  /** Virtual hosts whose default pool is a nanio pool (only those are synced). */
  virtualHosts: ReadonlyArray<Pick<DesiredVirtualHost, 'name' | 'defaultPool' | 'ignoreBuckets' | 'routes'>>;
  listings: ReadonlyMap<string, PoolListing>;
  migrations: readonly MigrationFact[];
}

/** One row per (virtual host, bucket), sorted. Pure. */
export function deriveBucketStatuses(input: StatusInput): BucketRow[] {
  const rows: BucketRow[] = [];
  for (const vhost of input.virtualHosts) {
    const def = vhost.defaultPool;
    if (def === null) continue;
    const defListing = input.listings.get(def);
    const names = new Set<string>();
    if (defListing?.status === 'ok') for (const b of defListing.buckets.keys()) names.add(b);
    for (const r of vhost.routes) if (r.enabled && r.bucket !== null) names.add(r.bucket);
    const migrations = input.migrations.filter((m) => m.virtualHost === vhost.name);
    for (const m of migrations) names.add(m.bucket);

    for (const bucket of [...names].sort()) {
      const route = bucketRouteOf(vhost, bucket);
      const forBucket = migrations.filter((m) => m.bucket === bucket);
      const active = forBucket.find((m) => m.progress !== 'completed') ?? null;
      const completed = forBucket.filter((m) => m.progress === 'completed');
      const poolNames = new Set<string>([def, ...(route ? [route.pool] : []), ...forBucket.flatMap((m) => [m.from, m.to])]);
      const pools = [...poolNames].sort().flatMap((pool) => {
        const f = factsOf(input.listings.get(pool), bucket);
        return f ? [{ pool, objects: f.objects, bytes: f.bytes }] : [];
      });
      const onDefault = factsOf(defListing, bucket);
      const row = (status: BucketRow['status'], detail: string, checked = true, migration: string | null = null): BucketRow => ({
        virtualHost: vhost.name,
        bucket,
        status,
        detail,
        route: route ? { name: route.name, path: route.path, pool: route.pool } : null,
        defaultPool: def,
        pools,
        migration,
        checked,
      });

      if (active) {
        rows.push(
          row('migrating', `migration ${active.name} (${active.progress}) moves it from ${active.from} to ${active.to}`, true, active.name),
        );
        continue;
      }
      if (route) {
        const routeListing = input.listings.get(route.pool);
        if (routeListing?.status === 'ok' && !routeListing.buckets.has(bucket)) {
          rows.push(row('missing', `route ${route.name} points at pool ${route.pool}, where the bucket does not exist`));
          continue;
        }
        if (route.pool !== def && onDefault !== null && (onDefault.hasObjects === true || (onDefault.objects ?? 0) > 0)) {
          const n = onDefault.objects === null ? 'objects' : `${onDefault.objects} object${onDefault.objects === 1 ? '' : 's'}`;
          rows.push(row('orphaned', `routed to ${route.pool}; ${n} left on the default pool ${def}`));
          continue;
        }
        const source = completed.find((m) => m.from !== route.pool && sourceStillHolds(input.listings.get(m.from), bucket));
        if (source) {
          rows.push(row('orphaned', `source of the completed migration ${source.name}: still on ${source.from}`, true, source.name));
          continue;
        }
        const unchecked = routeListing?.status !== 'ok' || (route.pool !== def && defListing?.status !== 'ok');
        rows.push(row('routed', `route ${route.name} -> ${route.pool}`, !unchecked));
        continue;
      }
      if (vhost.ignoreBuckets.includes(bucket)) {
        rows.push(row('ignored', 'listed in ignoreBuckets of the virtual host'));
        continue;
      }
      if (onDefault !== null) {
        rows.push(row('via-default', `no route: served by the default pool ${def}`));
        continue;
      }
      // Only known from a completed migration without a route: nothing serves it here.
    }
  }
  return rows.sort((a, b) =>
    a.virtualHost !== b.virtualHost ? (a.virtualHost < b.virtualHost ? -1 : 1) : a.bucket < b.bucket ? -1 : a.bucket > b.bucket ? 1 : 0,
  );
}

/** A completed migration's source still holds the bucket (unknown when the pool was not listed). */
function sourceStillHolds(listing: PoolListing | undefined, bucket: string): boolean {
  if (!listing || listing.status !== 'ok') return true;
  const f = listing.buckets.get(bucket);
  if (!f) return false;
  return f.hasObjects !== false && f.objects !== 0;
}

/** Routed buckets with objects on the default pool: what `orch buckets orphans` lists and purges. */
export function defaultPoolOrphans(rows: readonly BucketRow[]): BucketRow[] {
  return rows.filter((r) => r.status === 'orphaned' && r.route !== null && r.route.pool !== r.defaultPool && r.migration === null);
}
