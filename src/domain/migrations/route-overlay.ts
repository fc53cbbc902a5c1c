import type { Diagnostic } from '../diagnostics.js';
import type { DesiredRoute, DesiredState, Origin } from '../model/desired-state.js';
import { isActive, type MigrationRecord } from './migration-record.js';
import { servingPool, type MigrationRouting, type RouteMigration } from './routing.js';

/**
 * Where a bucket's route really points while a migration owns it — and after it finished, while
 * the Route manifest still names the old pool. Pure: the manifests' desired state, the migration
 * records of the state database and the routing nginx serves now (from the sidecars on disk) in;
 * the desired state with those routes rewritten, and what the operator should know, out.
 *
 * Rules, per virtual host and bucket:
 * - an active migration (pending ... switching, error) owns the route: it is served as the
 *   migration's routing says, whatever pool the manifest names (a manifest naming another pool
 *   gets a warning: the change waits until the migration is done or cancelled);
 * - a `cutover` the state asks for but nginx never served is only rendered while its freeze has
 *   not ended (`now` before `freezeUntil` minus a margin): after that, writes may have reached the
 *   source again, so the route stays on the source (the engine then goes back to copying);
 * - a done migration keeps the route on the destination while the manifest still names the
 *   source, and says what to change; a manifest naming any other pool is followed as written;
 * - cancelled migrations own nothing.
 */
export interface OverlayInput {
  desired: DesiredState;
  migrations: readonly MigrationRecord[];
  /** Routing nginx serves now, by `${virtualHost}/${bucket}` (from the deployed sidecars). */
  deployed: ReadonlyMap<string, MigrationRouting>;
  /** Epoch seconds. */
  now: number;
  positionOf?: (origin: Origin, field: Array<string | number>) => Diagnostic['source'] | undefined;
}

export interface OverlayResult {
  desired: DesiredState;
  diagnostics: Diagnostic[];
}

/** Seconds before the freeze ends after which an unserved cutover is no longer started. */
export const CUTOVER_MARGIN_SECONDS = 2;

export function routeKey(virtualHost: string, bucket: string): string {
  return `${virtualHost}/${bucket}`;
}

/** The migration that governs each route: the active one, else the most recently finished done one. */
function governing(migrations: readonly MigrationRecord[]): Map<string, MigrationRecord> {
  const out = new Map<string, MigrationRecord>();
  for (const m of migrations) {
    if (m.phase === 'cancelled') continue;
    const key = routeKey(m.virtualHost, m.bucket);
    const seen = out.get(key);
    if (!seen) {
      out.set(key, m);
      continue;
    }
    if (isActive(seen)) continue;
    if (isActive(m) || (m.finishedAt ?? '') > (seen.finishedAt ?? '')) out.set(key, m);
  }
  return out;
}

/** The routing to render for an active migration (see the cutover rule above). */
export function effectiveRouting(m: MigrationRecord, deployed: MigrationRouting | undefined, now: number): MigrationRouting {
  if (m.routing !== 'cutover') return m.routing;
  if (m.routingLive === 'cutover' || m.routingLive === 'destination' || deployed === 'cutover' || deployed === 'destination')
    return 'cutover';
  if (m.freezeUntil !== null && now < m.freezeUntil - CUTOVER_MARGIN_SECONDS) return 'cutover';
  return 'freeze';
}

export function overlayMigrations(input: OverlayInput): OverlayResult {
  const byRoute = governing(input.migrations);
  if (byRoute.size === 0) return { desired: input.desired, diagnostics: [] };
  const diagnostics: Diagnostic[] = [];
  const at = (origin: Origin, field: Array<string | number>) => {
    const source = input.positionOf?.(origin, field);
    return { ...(source ? { source } : {}), document: { kind: origin.kind, name: origin.name }, field: field.join('.') };
  };
  const seenRoutes = new Set<string>();

  const virtualHosts = input.desired.virtualHosts.map((v) => {
    let changed = false;
    const routes = v.routes.map((r): DesiredRoute => {
      if (r.bucket === null) return r;
      const key = routeKey(v.name, r.bucket);
      const m = byRoute.get(key);
      if (!m) return r;
      seenRoutes.add(key);
      if (isActive(m)) {
        const routing = effectiveRouting(m, input.deployed.get(key), input.now);
        const annotation: RouteMigration = {
          name: m.name,
          routing,
          from: m.from,
          to: m.to,
          freezeUntil: routing === 'freeze' || routing === 'cutover' ? m.freezeUntil : null,
          manifestPool: r.pool,
        };
        if (r.pool !== m.from && r.pool !== m.to) {
          diagnostics.push({
            severity: 'warning',
            code: 'migration.route-owned',
            message: `route ${r.name} names pool ${r.pool}, but migration ${m.name} (phase ${m.phase}) owns bucket ${r.bucket} of ${v.name}: the route keeps serving ${servingPool(annotation)} until the migration is done or cancelled`,
            hint: `Set spec.pool back to ${m.from} (the migration moves the bucket to ${m.to} by itself), or cancel the migration with 'orch migrate cancel ${m.name}'.`,
            ...at(r.origin, ['spec', 'pool']),
          });
        }
        // Served from the source as the route is deployed: nothing to annotate (a migration that only
        // copies changes no file), only the pool is held on the source.
        if (routing === 'source') {
          if (r.pool === m.from) return r;
          changed = true;
          return { ...r, pool: m.from };
        }
        changed = true;
        return { ...r, pool: servingPool(annotation), migration: annotation };
      }
      // done
      if (r.pool !== m.from) return r;
      diagnostics.push({
        severity: 'warning',
        code: 'migration.route-stale',
        message: `migration ${m.name} moved bucket ${r.bucket} of ${v.name} to pool ${m.to}${m.finishedAt ? ` (done ${m.finishedAt})` : ''}, but route ${r.name} still names pool ${m.from}: orch keeps serving ${m.to}`,
        hint: `Change spec.pool of route ${r.name} to ${m.to}; the Migration document ${m.name} can then be removed. Traffic is not flipped back.`,
        ...at(r.origin, ['spec', 'pool']),
      });
      changed = true;
      return {
        ...r,
        pool: m.to,
        migration: { name: m.name, routing: 'destination', from: m.from, to: m.to, freezeUntil: null, manifestPool: r.pool },
      };
    });
    return changed ? { ...v, routes } : v;
  });

  for (const [key, m] of byRoute) {
    if (!isActive(m) || seenRoutes.has(key)) continue;
    diagnostics.push({
      severity: 'error',
      code: 'migration.route-missing',
      message: `migration ${m.name} (phase ${m.phase}) moves bucket ${m.bucket} of virtual host ${m.virtualHost}, but the manifests have no route for that bucket any more: removing it would cut clients off mid-migration`,
      hint: `Keep the Route for /${m.bucket}/ until the migration is done, or cancel it first with 'orch migrate cancel ${m.name}'.`,
      document: { kind: 'Migration', name: m.name },
    });
  }
  return { desired: { ...input.desired, virtualHosts }, diagnostics };
}
