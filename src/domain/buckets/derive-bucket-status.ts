import type { DesiredVirtualHost } from '../model/desired-state.js';
import { bucketRouteOf, factsOf, type MigrationFact, type PoolListing } from './bucket-facts.js';

/**
 * - `routed`: an explicit route serves the bucket;
 * - `via-default`: no route, the virtual host's default pool serves it;
 * - `ignored`: no route, listed in the virtual host's `ignoreBuckets`;
 * - `migrating`: a Migration for it is declared or running;
 * - `orphaned`: routed elsewhere while objects remain on the default pool, the source of a
 *   completed migration still holds it, or objects sit on a pool that no longer serves the bucket
 *   (its route removed or moved, the default pool changed: see strandedBuckets);
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
  /** Pools (among the default, route and migration pools, and pools it was left on) where the bucket was seen. */
  pools: Array<{ pool: string; objects: number | null; bytes: number | null }>;
  migration: string | null;
  /** False when a pool this status depends on could not be listed: the status is a best guess. */
  checked: boolean;
  /** Pools holding objects of the bucket that no virtual host serves it from any more. */
  stranded: StrandedCopy[];
}

/** Objects of a bucket on a pool that serves it to no virtual host (counts null when only probed). */
export interface StrandedCopy {
  pool: string;
  objects: number | null;
  bytes: number | null;
}

/** A deployed virtual host as bucket serving sees it. */
type ServingHost = Pick<DesiredVirtualHost, 'name' | 'defaultPool' | 'routes'>;

/** The pool a virtual host sends a bucket to: its enabled bucket route's, else its default pool. */
export function servingPoolOf(vhost: ServingHost, bucket: string): string | null {
  return bucketRouteOf(vhost, bucket)?.pool ?? vhost.defaultPool;
}

/**
 * Whether a bucket on `pool` is served from there by some virtual host, or accounted for by a
 * migration (running: it owns the bucket; completed: its source is reported as such).
 */
export function servedFrom(allHosts: readonly ServingHost[], migrations: readonly MigrationFact[], pool: string, bucket: string): boolean {
  if (allHosts.some((v) => servingPoolOf(v, bucket) === pool)) return true;
  return migrations.some((m) => m.bucket === bucket && (m.from === pool || m.to === pool));
}

/**
 * Buckets with objects on a pool that serves them to no virtual host: what a removed route, a
 * route moved away (allowOrphan) or a default pool change left behind. `allHosts`: every deployed
 * virtual host (serving is gateway-wide: a pool may serve a bucket to another host). Only
 * listings of pools that were listed count; a bucket probed empty is not stranded.
 */
export function strandedBuckets(
  allHosts: readonly ServingHost[],
  migrations: readonly MigrationFact[],
  listings: ReadonlyMap<string, PoolListing>,
): Map<string, StrandedCopy[]> {
  const out = new Map<string, StrandedCopy[]>();
  for (const listing of [...listings.values()].sort((a, b) => (a.pool < b.pool ? -1 : 1))) {
    if (listing.status !== 'ok') continue;
    for (const [bucket, f] of listing.buckets) {
      const holds = f.objects !== null ? f.objects > 0 : f.hasObjects;
      if (holds !== true || servedFrom(allHosts, migrations, listing.pool, bucket)) continue;
      out.set(bucket, [...(out.get(bucket) ?? []), { pool: listing.pool, objects: f.objects, bytes: f.bytes }]);
    }
  }
  return out;
}

export interface StatusInput {
  /** Virtual hosts whose default pool is a nanio pool (only those are synced). */
  virtualHosts: ReadonlyArray<Pick<DesiredVirtualHost, 'name' | 'defaultPool' | 'ignoreBuckets' | 'routes'>>;
  listings: ReadonlyMap<string, PoolListing>;
  migrations: readonly MigrationFact[];
  /**
   * Buckets left on pools that no longer serve them (strandedBuckets). Each shows as `orphaned` in
   * the virtual hosts that route it, or, when none does, in every virtual host of the input.
   */
  stranded?: ReadonlyMap<string, readonly StrandedCopy[]>;
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
    const strandedHere = (bucket: string) => {
      // Copies on this host's default pool are the default pool orphans below, not strays.
      const copies = (input.stranded?.get(bucket) ?? []).filter((c) => c.pool !== def);
      if (copies.length === 0) return [];
      const routedSomewhere = input.virtualHosts.some((v) => bucketRouteOf(v, bucket) !== null);
      return !routedSomewhere || bucketRouteOf(vhost, bucket) !== null ? copies : [];
    };
    for (const b of input.stranded?.keys() ?? []) if (strandedHere(b).length > 0) names.add(b);

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
      const stranded = strandedHere(bucket).map((c) => ({ ...c }));
      for (const c of stranded) if (!pools.some((p) => p.pool === c.pool)) pools.push({ ...c });
      pools.sort((a, b) => (a.pool < b.pool ? -1 : a.pool > b.pool ? 1 : 0));
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
        stranded,
      });

      if (active) {
        rows.push(
          row('migrating', `migration ${active.name} (${active.progress}) moves it from ${active.from} to ${active.to}`, true, active.name),
        );
        continue;
      }
      if (stranded.length > 0) {
        const where = stranded
          .map((c) => `${c.objects === null ? 'objects' : `${c.objects} object${c.objects === 1 ? '' : 's'}`} left on pool ${c.pool}`)
          .join(', ');
        const servedBy = route ? `route ${route.name} -> ${route.pool}` : `the default pool ${def}`;
        rows.push(row('orphaned', `${where}, which no longer serves it; served by ${servedBy}`));
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

/**
 * Every bucket with objects on a pool that does not serve it (default pool copies of routed
 * buckets, and copies left on pools that no longer serve the bucket): what `orch buckets orphans`
 * lists. Sources of completed migrations are listed by `orch migrations orphaned`.
 */
export function orphanRows(rows: readonly BucketRow[]): BucketRow[] {
  return rows.filter((r) => r.status === 'orphaned' && r.migration === null);
}

/** Routed buckets with objects on the default pool: what `orch buckets purge-orphans` purges. */
export function defaultPoolOrphans(rows: readonly BucketRow[]): BucketRow[] {
  return rows.filter(
    (r) =>
      r.status === 'orphaned' &&
      r.route !== null &&
      r.route.pool !== r.defaultPool &&
      r.migration === null &&
      orphanCopies(r).some((c) => c.pool === r.defaultPool),
  );
}

/** Where an orphan row's objects sit: the pools that no longer serve it, and the default pool when it holds some. */
export function orphanCopies(row: BucketRow): StrandedCopy[] {
  const out: StrandedCopy[] = [];
  const onDefault = row.pools.find((p) => p.pool === row.defaultPool);
  if (row.route !== null && row.route.pool !== row.defaultPool && onDefault && onDefault.objects !== 0) out.push({ ...onDefault });
  for (const c of row.stranded) if (!out.some((o) => o.pool === c.pool)) out.push(c);
  return out;
}
