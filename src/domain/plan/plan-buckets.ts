import type { Diagnostic, SourcePosition } from '../diagnostics.js';
import { factsOf, type MigrationFact, type PoolListing } from '../buckets/bucket-facts.js';
import type { DesiredRoute, DesiredState, DesiredVirtualHost, Origin } from '../model/desired-state.js';
import type { BucketChange } from './plan-types.js';

/** A virtual host as deployed now (its sidecar on disk): which pool serves each bucket today. */
export interface DeployedVirtualHost {
  defaultPool: string | null;
  routes: ReadonlyArray<Pick<DesiredRoute, 'path' | 'bucket' | 'pool' | 'enabled'> & { name?: string }>;
}

export interface BucketPlanInput {
  desired: DesiredState;
  /** By virtual host name; absent: the virtual host is not deployed yet. */
  deployed: ReadonlyMap<string, DeployedVirtualHost>;
  /** By pool; null for an offline plan (`--no-refresh`): no bucket is checked. */
  listings: ReadonlyMap<string, PoolListing> | null;
  migrations: readonly MigrationFact[];
  /**
   * Virtual hosts deployed (a sidecar on disk) that the manifests no longer have: every bucket
   * they served stops being served by them.
   */
  removedHosts?: ReadonlyMap<string, DeployedVirtualHost>;
  /** nanio pools deployed (a sidecar on disk) that the manifests no longer have. */
  removedPools?: ReadonlySet<string>;
  /** Resolves a manifest field to its file:line:column, for diagnostics. */
  positionOf?: (origin: Origin, field: ReadonlyArray<string | number>) => SourcePosition | undefined;
}

/** Why a bucket leaves the pool that serves it today. */
export type MoveCause = 'route-moved' | 'route-removed' | 'default-pool-changed' | 'virtual-host-removed';

/** A bucket whose serving pool changes: its objects stay on `from` unless a Migration moves them. */
export interface BucketMove {
  virtualHost: string;
  bucket: string;
  /** The pool serving the bucket today: the deployed route's, else the deployed default pool. */
  from: string;
  /** The pool that would serve it; null when no pool would (no route and no default pool). */
  to: string | null;
  cause: MoveCause;
  /** The desired route for the bucket (route-moved), else null. */
  route: DesiredRoute | null;
  /** The deployed route's name when the route was removed or disabled. */
  removedRoute: string | null;
  /** `to` is the virtual host's default pool. */
  toDefault: boolean;
}

/** A virtual host whose default pool changes: every bucket it served from the old one moves. */
export interface DefaultPoolChange {
  virtualHost: string;
  from: string;
  to: string | null;
  /** The virtual host itself is removed from the manifests. */
  removed?: boolean;
}

function nanioPools(desired: DesiredState): Set<string> {
  return new Set(desired.pools.filter((p) => p.type === 'nanio').map((p) => p.name));
}

/** The nanio pools a bucket can leave: those of the manifests and those removed from them. */
function leavablePools(input: Omit<BucketPlanInput, 'listings'>): Set<string> {
  return new Set([...nanioPools(input.desired), ...(input.removedPools ?? [])]);
}

/** Whether a virtual host of the manifests still serves `bucket` from `pool` (an alias host, a shared default pool). */
function stillServed(desired: DesiredState, pool: string, bucket: string): boolean {
  return desired.virtualHosts.some((v) => servingPool(v, bucket) === pool);
}

/** `bucket` listed in spec.allowOrphan of pool `pool` (a pool of the manifests). */
function poolAcknowledged(desired: DesiredState, pool: string, bucket: string): boolean {
  return desired.pools.some((p) => p.name === pool && (p.allowOrphan ?? []).includes(bucket));
}

/** Enabled bucket routes (`/photos/`) to nanio pools, in virtual host then path order. */
function bucketRoutes(desired: DesiredState, nanio = nanioPools(desired)): Array<DesiredRoute & { bucket: string }> {
  return desired.virtualHosts.flatMap((v) =>
    v.routes.filter((r): r is DesiredRoute & { bucket: string } => r.enabled && r.bucket !== null && nanio.has(r.pool)),
  );
}

/** The pool a virtual host sends a bucket to: its enabled bucket route's, else its default pool. */
function servingPool(v: DeployedVirtualHost, bucket: string): string | null {
  return v.routes.find((r) => r.enabled && r.bucket === bucket)?.pool ?? v.defaultPool;
}

/**
 * Whether leaving `bucket` behind was acknowledged: `allowOrphan: true` on the bucket's route
 * (enabled or not: a disabled route that keeps the flag acknowledges its removal), or the bucket
 * listed in the virtual host's `spec.allowOrphan`.
 */
function acknowledged(vhost: DesiredVirtualHost, bucket: string, desired?: DesiredState, from?: string): boolean {
  if ((vhost.allowOrphan ?? []).includes(bucket)) return true;
  if (desired && from !== undefined && poolAcknowledged(desired, from, bucket)) return true;
  return vhost.routes.some((r) => r.bucket === bucket && r.allowOrphan);
}

interface GuardPlan {
  moves: BucketMove[];
  defaultPoolChanges: DefaultPoolChange[];
}

/**
 * Every change that takes a bucket away from the nanio pool serving it today, with neither
 * `allowOrphan` nor a Migration for it:
 *
 * - a bucket route re-pointed to another pool (the virtual host's default pool included);
 * - a deployed bucket route removed or disabled (the default pool, or nothing, would serve it);
 * - a virtual host's default pool changed: every bucket without a route moves with it (which
 *   buckets that is, only the old pool's listing tells: see DefaultPoolChange).
 *
 * Whether the old pool holds objects is checked by the caller (the old pool's objects of the
 * bucket are counted), then passed to planBuckets.
 */
export function guardPlan(input: Omit<BucketPlanInput, 'listings'>): GuardPlan {
  const nanio = leavablePools(input);
  const migrating = new Set(input.migrations.map((m) => `${m.virtualHost}\u0000${m.bucket}`));
  const moves: BucketMove[] = [];
  const defaultPoolChanges: DefaultPoolChange[] = [];
  for (const vhost of input.desired.virtualHosts) {
    // Not deployed yet: the buckets sit on the default pool the manifests name (an adopted pool).
    const before: DeployedVirtualHost = input.deployed.get(vhost.name) ?? { defaultPool: vhost.defaultPool, routes: [] };
    const after: DeployedVirtualHost = { defaultPool: vhost.defaultPool, routes: vhost.routes };
    const exempt = (bucket: string, from: string) =>
      migrating.has(`${vhost.name}\u0000${bucket}`) || acknowledged(vhost, bucket, input.desired, from);
    const buckets = new Set<string>();
    for (const r of [...before.routes, ...vhost.routes]) if (r.enabled && r.bucket !== null) buckets.add(r.bucket);
    for (const bucket of [...buckets].sort()) {
      const from = servingPool(before, bucket);
      const to = servingPool(after, bucket);
      if (from === null || from === to || !nanio.has(from) || exempt(bucket, from)) continue;
      const route = vhost.routes.find((r) => r.enabled && r.bucket === bucket) ?? null;
      const removed = route === null ? (before.routes.find((r) => r.enabled && r.bucket === bucket) ?? null) : null;
      const cause: MoveCause = route !== null ? 'route-moved' : removed !== null ? 'route-removed' : 'default-pool-changed';
      moves.push({
        virtualHost: vhost.name,
        bucket,
        from,
        to,
        cause,
        route,
        removedRoute: removed === null ? null : (removed.name ?? removed.path),
        toDefault: to !== null && to === vhost.defaultPool,
      });
    }
    if (
      input.deployed.has(vhost.name) &&
      before.defaultPool !== null &&
      before.defaultPool !== vhost.defaultPool &&
      nanio.has(before.defaultPool)
    ) {
      defaultPoolChanges.push({ virtualHost: vhost.name, from: before.defaultPool, to: vhost.defaultPool });
    }
  }
  // A virtual host removed from the manifests: what it served from a nanio pool is served by
  // nothing, unless another virtual host serves the same bucket from the same pool.
  for (const [name, gone] of [...(input.removedHosts ?? new Map<string, DeployedVirtualHost>())].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const seen = new Set<string>();
    for (const r of gone.routes) {
      if (!r.enabled || r.bucket === null || seen.has(r.bucket) || !nanio.has(r.pool)) continue;
      seen.add(r.bucket);
      if (stillServed(input.desired, r.pool, r.bucket) || poolAcknowledged(input.desired, r.pool, r.bucket)) continue;
      moves.push({
        virtualHost: name,
        bucket: r.bucket,
        from: r.pool,
        to: null,
        cause: 'virtual-host-removed',
        route: null,
        removedRoute: r.name ?? r.path,
        toDefault: false,
      });
    }
    if (gone.defaultPool !== null && nanio.has(gone.defaultPool)) {
      defaultPoolChanges.push({ virtualHost: name, from: gone.defaultPool, to: null, removed: true });
    }
  }
  return { moves, defaultPoolChanges };
}

/** The route moves of guardPlan (kept for callers that only look at routes). */
export function guardedMoves(input: Omit<BucketPlanInput, 'listings'>): BucketMove[] {
  return guardPlan(input).moves;
}

/**
 * The buckets a default pool change moves, once the old default pool was listed: every bucket
 * there that the virtual host does not route explicitly (and whose leaving is not acknowledged
 * or migrated).
 */
export function defaultPoolMoves(
  input: Omit<BucketPlanInput, 'listings'>,
  change: DefaultPoolChange,
  bucketsOnOld: Iterable<string>,
): BucketMove[] {
  if (change.removed) {
    // Every bucket of the old default pool the removed host did not route elsewhere.
    const gone = input.removedHosts?.get(change.virtualHost);
    return [...bucketsOnOld].sort().flatMap((bucket): BucketMove[] => {
      if (gone?.routes.some((r) => r.enabled && r.bucket === bucket)) return [];
      if (stillServed(input.desired, change.from, bucket) || poolAcknowledged(input.desired, change.from, bucket)) return [];
      return [
        {
          virtualHost: change.virtualHost,
          bucket,
          from: change.from,
          to: null,
          cause: 'virtual-host-removed',
          route: null,
          removedRoute: null,
          toDefault: false,
        },
      ];
    });
  }
  const vhost = input.desired.virtualHosts.find((v) => v.name === change.virtualHost);
  if (!vhost) return [];
  const migrating = new Set(input.migrations.filter((m) => m.virtualHost === vhost.name).map((m) => m.bucket));
  const deployed = input.deployed.get(vhost.name);
  const out: BucketMove[] = [];
  for (const bucket of [...bucketsOnOld].sort()) {
    if (vhost.routes.some((r) => r.enabled && r.bucket === bucket)) continue; // routed: a route move, if any
    if (deployed?.routes.some((r) => r.enabled && r.bucket === bucket)) continue; // served by a route today, not by the old default
    if (migrating.has(bucket) || acknowledged(vhost, bucket, input.desired, change.from)) continue;
    out.push({
      virtualHost: vhost.name,
      bucket,
      from: change.from,
      to: change.to,
      cause: 'default-pool-changed',
      route: null,
      removedRoute: null,
      toDefault: true,
    });
  }
  return out;
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
 * - a guarded move (see guardPlan) away from a pool that holds objects of the bucket: an error
 *   with the object count and the ways on (a Migration, or `allowOrphan`);
 * - a pool that could not be listed: a warning, and nothing is assumed about its buckets (no
 *   create, no refusal).
 *
 * `hasObjects`: `${pool}/${bucket}` -> the pool holds at least one object of the bucket, for the
 * guarded moves whose source pool lists the bucket without a count.
 */
export function planBuckets(
  input: BucketPlanInput,
  hasObjects: ReadonlyMap<string, boolean>,
  guard: GuardPlan | BucketMove[] = guardPlan(input),
): BucketPlan {
  const diagnostics: Diagnostic[] = [];
  const creates: BucketChange[] = [];
  if (input.listings === null) return { creates, diagnostics };
  const listings = input.listings;
  const { moves: routeMoves, defaultPoolChanges } = Array.isArray(guard) ? { moves: guard, defaultPoolChanges: [] } : guard;
  const at = (origin: Origin | { kind: string; name: string; removed: true }, field: Array<string | number>) => {
    // A document removed from the manifests has no position: the diagnostic names it.
    if ('removed' in origin) return { document: { kind: origin.kind, name: origin.name } };
    const source = input.positionOf?.(origin, field);
    return { ...(source ? { source } : {}), document: { kind: origin.kind, name: origin.name }, field: field.join('.') };
  };
  const vhostOrigin = (name: string) =>
    input.desired.virtualHosts.find((v) => v.name === name)?.origin ?? { kind: 'VirtualHost', name, removed: true as const };

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

  const moves = [...routeMoves];
  for (const change of defaultPoolChanges) {
    const listing = listings.get(change.from);
    if (listing?.status === 'no-credentials') continue;
    if (!listing || listing.status !== 'ok') {
      diagnostics.push({
        severity: 'warning',
        code: 'bucket.move-unchecked',
        message: change.removed
          ? `virtual host ${change.virtualHost} is removed from the manifests, and its default pool ${change.from} could not be listed: orch cannot tell which buckets' objects stay behind`
          : `virtual host ${change.virtualHost} changes its default pool from ${change.from} to ${change.to ?? 'none'}, and pool ${change.from} could not be listed: orch cannot tell which buckets' objects stay behind`,
        hint: change.removed
          ? `If ${change.from} holds buckets of ${change.virtualHost}, list them in spec.allowOrphan of pool ${change.from}.`
          : `If ${change.from} holds buckets of ${change.virtualHost}, add a Migration per bucket, or list them in spec.allowOrphan of virtual host ${change.virtualHost}.`,
        ...at(vhostOrigin(change.virtualHost), ['spec', 'defaultPool']),
      });
      continue;
    }
    moves.push(...defaultPoolMoves(input, change, listing.buckets.keys()));
  }

  for (const move of moves) {
    const listing = listings.get(move.from);
    const { route } = move;
    const origin = route?.origin ?? vhostOrigin(move.virtualHost);
    const field = route ? ['spec', 'pool'] : ['spec', 'defaultPool'];
    const what = describeMove(move);
    const unchecked = (why: string) =>
      diagnostics.push({
        severity: 'warning',
        code: 'bucket.move-unchecked',
        message: `${what}, and ${why}: orch cannot tell whether objects stay behind`,
        hint: `If ${move.from} holds objects of ${move.bucket}, add a Migration, or acknowledge with allowOrphan (${acknowledgeHow(move)}).`,
        ...at(origin, field),
      });
    // Without credentials nothing was checked; the plan says so once (refresh), not per route.
    if (listing?.status === 'no-credentials') continue;
    if (!listing || listing.status !== 'ok') {
      unchecked(`pool ${move.from} could not be listed`);
      continue;
    }
    const facts = factsOf(listing, move.bucket);
    if (facts === null) continue;
    const holds = facts.objects !== null ? facts.objects > 0 : (facts.hasObjects ?? hasObjects.get(`${move.from}/${move.bucket}`) ?? null);
    if (holds === false) continue;
    if (holds === null) {
      unchecked(`orch could not count its objects on ${move.from}`);
      continue;
    }
    const count =
      facts.objects === null
        ? 'its objects'
        : `its ${facts.objects} object${facts.objects === 1 ? '' : 's'}${facts.bytes === null ? '' : ` (${facts.bytes} bytes)`}`;
    const target = move.to ?? 'nothing';
    const poolRemoved = input.removedPools?.has(move.from) === true;
    diagnostics.push({
      severity: 'error',
      code: 'bucket.would-orphan',
      message: `${what}: pool ${move.from}${poolRemoved ? ' (removed from the manifests)' : ''} holds ${count}, which would stay behind there, unreachable through the gateway`,
      hint: wayOut(move, poolRemoved, target),
      ...at(origin, field),
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

/** The nanio pools a plan refresh lists: the pools of bucket routes, the pools moves leave, old default pools. */
export function poolsToList(input: Omit<BucketPlanInput, 'listings'>, guard: GuardPlan | BucketMove[] = guardPlan(input)): string[] {
  const nanio = leavablePools(input);
  const { moves, defaultPoolChanges } = Array.isArray(guard) ? { moves: guard, defaultPoolChanges: [] } : guard;
  const out = new Set<string>(bucketRoutePools(input.desired));
  for (const m of moves) out.add(m.from);
  for (const c of defaultPoolChanges) out.add(c.from);
  return [...out].filter((p) => nanio.has(p)).sort();
}

/**
 * Per pool, the buckets whose objects a plan counts (the buckets guarded moves take away from
 * it), given the bucket names the pool listed. Default pool changes count every bucket of the old
 * default pool the virtual host does not route.
 */
export function bucketsToCount(
  input: Omit<BucketPlanInput, 'listings'>,
  guard: GuardPlan,
  pool: string,
  names: readonly string[],
): string[] {
  const out = new Set(guard.moves.filter((m) => m.from === pool).map((m) => m.bucket));
  for (const c of guard.defaultPoolChanges) if (c.from === pool) for (const m of defaultPoolMoves(input, c, names)) out.add(m.bucket);
  return [...out].sort();
}

/** The ways out of a refused move, as the hint says them. */
function wayOut(move: BucketMove, poolRemoved: boolean, target: string): string {
  if (move.cause === 'virtual-host-removed') {
    return `Either keep virtual host ${move.virtualHost} in the manifests until a Migration has moved bucket ${move.bucket} to a pool another virtual host serves it from, or acknowledge that its objects stay on ${move.from} with ${acknowledgeHow(move)} ('orch buckets orphans' then lists them).`;
  }
  if (poolRemoved) {
    return `Either keep pool ${move.from} in the manifests until a Migration (virtualHost: ${move.virtualHost}, bucket: ${move.bucket}, from: ${move.from}, to: ${move.to ?? '<pool>'}) has moved the objects, then remove it; or acknowledge that they stay on ${move.from} with ${acknowledgeHow(move)} (orch then keeps pool ${move.from}'s members and sealed credentials in its state database: 'orch buckets orphans' lists them until 'orch buckets forget-pool ${move.from}'). Nothing moves to ${target} until then.`;
  }
  return `Either add a Migration (virtualHost: ${move.virtualHost}, bucket: ${move.bucket}, from: ${move.from}, to: ${move.to ?? '<pool>'}) to move the objects${move.to === null ? ' and a route to that pool' : ''}, or acknowledge that they stay on ${move.from} with ${acknowledgeHow(move)} ('orch buckets orphans' then lists them). Nothing moves to ${target} until then.`;
}

/** The move in words: what changes, for the operator. */
function describeMove(m: BucketMove): string {
  const to = m.to === null ? 'no pool (the virtual host has no default pool)' : `pool ${m.to}`;
  switch (m.cause) {
    case 'virtual-host-removed':
      return `virtual host ${m.virtualHost} is removed from the manifests: bucket ${m.bucket} (${m.removedRoute !== null ? `route ${m.removedRoute}` : `its default pool`}) would no longer be served from pool ${m.from} by any virtual host`;
    case 'route-moved':
      return `route ${m.route!.name} moves bucket ${m.bucket} from pool ${m.from} to ${to}${m.toDefault ? ' (the default pool)' : ''} without a Migration`;
    case 'route-removed':
      return `route ${m.removedRoute} of bucket ${m.bucket} (virtual host ${m.virtualHost}) is removed or disabled: ${m.to === null ? 'no pool would serve the bucket' : `the default pool ${m.to} would serve the bucket`} instead of pool ${m.from}, without a Migration`;
    case 'default-pool-changed':
      return `virtual host ${m.virtualHost} changes its default pool from ${m.from} to ${m.to ?? 'none'}: bucket ${m.bucket} (no route) would be served by ${to} instead of pool ${m.from}, without a Migration`;
  }
}

/** How to acknowledge a move, in manifest terms. */
function acknowledgeHow(m: BucketMove): string {
  if (m.cause === 'virtual-host-removed') return `${m.bucket} in spec.allowOrphan of pool ${m.from}`;
  if (m.cause === 'route-moved')
    return `allowOrphan: true on route ${m.route!.name}, or ${m.bucket} in spec.allowOrphan of virtual host ${m.virtualHost}`;
  if (m.cause === 'route-removed')
    return `${m.bucket} in spec.allowOrphan of virtual host ${m.virtualHost} (or keep route ${m.removedRoute} with enabled: false and allowOrphan: true)`;
  return `${m.bucket} in spec.allowOrphan of virtual host ${m.virtualHost}`;
}

/** The nanio pools bucket routes point to. */
export function bucketRoutePools(desired: DesiredState): string[] {
  return [...new Set(bucketRoutes(desired).map((r) => r.pool))].sort();
}
