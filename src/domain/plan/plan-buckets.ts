import type { Diagnostic, SourcePosition } from '../diagnostics.js';
import { factsOf, type MigrationFact, type PoolListing } from '../buckets/bucket-facts.js';
import type { DesiredRoute, DesiredState, Origin } from '../model/desired-state.js';
import type { BucketChange } from './plan-types.js';

/** A virtual host as deployed now (its sidecar on disk): which pool serves each bucket today. */
export interface DeployedVirtualHost {
  defaultPool: string | null;
  routes: ReadonlyArray<Pick<DesiredRoute, 'path' | 'bucket' | 'pool' | 'enabled'>>;
}

export interface BucketPlanInput {
  desired: DesiredState;
  /** By virtual host name; absent: the virtual host is not deployed yet. */
  deployed: ReadonlyMap<string, DeployedVirtualHost>;
  /** By pool; null for an offline plan (`--no-refresh`): no bucket is checked. */
  listings: ReadonlyMap<string, PoolListing> | null;
  migrations: readonly MigrationFact[];
  /** Resolves a manifest field to its file:line:column, for diagnostics. */
  positionOf?: (origin: Origin, field: ReadonlyArray<string | number>) => SourcePosition | undefined;
}

/** A bucket route that moves its bucket to another pool than the one serving it today. */
export interface BucketMove {
  route: DesiredRoute;
  bucket: string;
  /** The pool serving the bucket today: the deployed route's, else the default pool. */
  from: string;
  to: string;
}

function nanioPools(desired: DesiredState): Set<string> {
  return new Set(desired.pools.filter((p) => p.type === 'nanio').map((p) => p.name));
}

/** Enabled bucket routes (`/photos/`) to nanio pools, in virtual host then path order. */
function bucketRoutes(desired: DesiredState, nanio = nanioPools(desired)): Array<DesiredRoute & { bucket: string }> {
  return desired.virtualHosts.flatMap((v) =>
    v.routes.filter((r): r is DesiredRoute & { bucket: string } => r.enabled && r.bucket !== null && nanio.has(r.pool)),
  );
}

/**
 * Moves that need the orphan guard: the bucket leaves a nanio pool for another pool that is not
 * the virtual host's default pool (routing to the default pool is always allowed), with neither
 * `allowOrphan` nor a Migration for it. Whether the old pool holds objects is checked by the
 * caller (one small listing per move), then passed to planBuckets.
 */
export function guardedMoves(input: Omit<BucketPlanInput, 'listings'>): BucketMove[] {
  const nanio = nanioPools(input.desired);
  const vhosts = new Map(input.desired.virtualHosts.map((v) => [v.name, v]));
  const migrating = new Set(input.migrations.map((m) => `${m.virtualHost}\u0000${m.bucket}`));
  const moves: BucketMove[] = [];
  for (const route of bucketRoutes(input.desired, nanio)) {
    const vhost = vhosts.get(route.virtualHost)!;
    const deployed = input.deployed.get(route.virtualHost);
    const deployedRoute = deployed?.routes.find((r) => r.enabled && r.path === route.path) ?? null;
    const from = deployedRoute?.pool ?? (deployed ? deployed.defaultPool : vhost.defaultPool);
    if (from === null || from === route.pool || !nanio.has(from)) continue;
    if (route.pool === vhost.defaultPool || route.allowOrphan) continue;
    if (migrating.has(`${route.virtualHost}\u0000${route.bucket}`)) continue;
    moves.push({ route, bucket: route.bucket, from, to: route.pool });
  }
  return moves;
}

export interface BucketPlan {
  creates: BucketChange[];
  diagnostics: Diagnostic[];
}

/**
 * What the buckets need for the desired routes, from what a refresh saw on the pools:
 *
 * - a bucket route to a nanio pool where the bucket does not exist: "create bucket B on pool P"
 *   (apply creates it before the route goes live);
 * - a guarded move away from a pool that holds objects of the bucket: an error, with the two ways
 *   on (a Migration, or `allowOrphan: true`);
 * - a pool that could not be listed: a warning, and nothing is assumed about its buckets (no
 *   create, no refusal).
 *
 * `hasObjects`: `${pool}/${bucket}` -> the pool holds at least one object of the bucket, for the
 * guarded moves whose source pool lists the bucket.
 */
export function planBuckets(
  input: BucketPlanInput,
  hasObjects: ReadonlyMap<string, boolean>,
  moves: readonly BucketMove[] = guardedMoves(input),
): BucketPlan {
  const diagnostics: Diagnostic[] = [];
  const creates: BucketChange[] = [];
  if (input.listings === null) return { creates, diagnostics };
  const listings = input.listings;
  const at = (origin: Origin, field: Array<string | number>) => {
    const source = input.positionOf?.(origin, field);
    return { ...(source ? { source } : {}), document: { kind: origin.kind, name: origin.name }, field: field.join('.') };
  };

  const seen = new Set<string>();
  for (const route of bucketRoutes(input.desired)) {
    const listing = listings.get(route.pool);
    if (!listing || listing.status !== 'ok' || listing.buckets.has(route.bucket)) continue;
    const key = `${route.pool}/${route.bucket}`;
    if (seen.has(key)) continue;
    seen.add(key);
    creates.push({
      action: 'create',
      bucket: route.bucket,
      pool: route.pool,
      virtualHost: route.virtualHost,
      route: route.name,
      origin: route.origin,
    });
  }

  for (const move of moves) {
    const listing = listings.get(move.from);
    const { route } = move;
    // Without credentials nothing was checked; the plan says so once (refresh), not per route.
    if (listing?.status === 'no-credentials') continue;
    if (!listing || listing.status !== 'ok') {
      diagnostics.push({
        severity: 'warning',
        code: 'bucket.move-unchecked',
        message: `route ${route.name} moves bucket ${move.bucket} from pool ${move.from} to ${move.to}, and pool ${move.from} could not be listed: orch cannot tell whether objects stay behind`,
        hint: `If ${move.from} holds objects of ${move.bucket}, add a Migration or set allowOrphan: true on the route.`,
        ...at(route.origin, ['spec', 'pool']),
      });
      continue;
    }
    const facts = factsOf(listing, move.bucket);
    if (facts === null) continue;
    const holds = facts.hasObjects ?? hasObjects.get(`${move.from}/${move.bucket}`) ?? (facts.objects === null ? null : facts.objects > 0);
    if (holds === false) continue;
    if (holds === null) {
      diagnostics.push({
        severity: 'warning',
        code: 'bucket.move-unchecked',
        message: `route ${route.name} moves bucket ${move.bucket} from pool ${move.from} to ${move.to}, and orch could not count its objects on ${move.from}: it cannot tell whether objects stay behind`,
        hint: `If ${move.from} holds objects of ${move.bucket}, add a Migration or set allowOrphan: true on the route.`,
        ...at(route.origin, ['spec', 'pool']),
      });
      continue;
    }
    diagnostics.push({
      severity: 'error',
      code: 'bucket.would-orphan',
      message: `route ${route.name} moves bucket ${move.bucket} from pool ${move.from}, which holds its objects, to pool ${move.to} without a Migration: the objects would stay behind on ${move.from}, unreachable through the gateway`,
      hint: `Either add a Migration (virtualHost: ${route.virtualHost}, bucket: ${move.bucket}, from: ${move.from}, to: ${move.to}) to move the objects, or set allowOrphan: true on route ${route.name} to acknowledge that they stay on ${move.from} ('orch buckets orphans' lists them, 'orch buckets purge-orphans' deletes them).`,
      ...at(route.origin, ['spec', 'pool']),
    });
  }

  for (const listing of [...listings.values()].sort((a, b) => (a.pool < b.pool ? -1 : 1))) {
    if (listing.status === 'ok' || listing.status === 'no-credentials') continue;
    diagnostics.push({
      severity: 'warning',
      code: 'refresh.pool-unavailable',
      message: `buckets on pool ${listing.pool} were not checked: ${listing.message ?? listing.status}; the plan assumes nothing about them`,
      hint:
        listing.status === 'access-denied'
          ? `Check the credentials of pool ${listing.pool}.`
          : `Check that the members of pool ${listing.pool} are up and reachable from this machine; or plan offline with --no-refresh.`,
      document: { kind: 'Pool', name: listing.pool },
    });
  }
  creates.sort((a, b) => (a.pool !== b.pool ? (a.pool < b.pool ? -1 : 1) : a.bucket < b.bucket ? -1 : a.bucket > b.bucket ? 1 : 0));
  return { creates, diagnostics };
}

/** The nanio pools a plan refresh lists: the pools of bucket routes, and the pools guarded moves leave. */
export function poolsToList(input: Omit<BucketPlanInput, 'listings'>, moves: readonly BucketMove[] = guardedMoves(input)): string[] {
  const nanio = nanioPools(input.desired);
  const out = new Set<string>(bucketRoutePools(input.desired));
  for (const m of moves) out.add(m.from);
  return [...out].filter((p) => nanio.has(p)).sort();
}

/** The nanio pools bucket routes point to. */
export function bucketRoutePools(desired: DesiredState): string[] {
  return [...new Set(bucketRoutes(desired).map((r) => r.pool))].sort();
}
