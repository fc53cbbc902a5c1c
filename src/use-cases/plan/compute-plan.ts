import { migrationFacts, type PoolListing } from '../../domain/buckets/bucket-facts.js';
import { hasErrors, type Diagnostic, type SourcePosition } from '../../domain/diagnostics.js';
import { statusListenerClaims } from '../../domain/plan/status-listener.js';
import { ValidationError } from '../../domain/errors.js';
import type { DesiredMigration, DesiredPool, DesiredState, DesiredVirtualHost, Origin } from '../../domain/model/desired-state.js';
import { makePlan, sha256, type Inventory, type ObservedTree } from '../../domain/plan/make-plan.js';
import {
  bucketRoutePools,
  bucketsToCount,
  guardPlan,
  planBuckets,
  poolsToList,
  type BucketPlanInput,
  type DeployedVirtualHost,
} from '../../domain/plan/plan-buckets.js';
import { fingerprintOf, type PlanInputs } from '../../domain/plan/plan-inputs.js';
import type { KnownMigration, Plan, RefreshReport } from '../../domain/plan/plan-types.js';
import { readPoolSidecar, readVirtualHostSidecar } from '../../domain/rebuild/read-sidecar.js';
import { nginxFeaturesFor } from '../../domain/render/rendered-tree.js';
import { withSealedCredentials, withSealedIdentities } from '../../domain/render/render-sidecars.js';
import { renderTree } from '../../domain/render/render-tree.js';
import { listPools } from '../buckets/list-pools.js';
import { PoolAccessError } from '../../domain/buckets/pool-access-error.js';
import { checkClientIdentities, prepareIdentityCredentials } from '../buckets/client-identities.js';
import { removedPoolsToKeep, type RemovedPoolRecord } from '../buckets/removed-pools.js';
import { loadManifests, type LoadedManifests } from './load-manifests.js';
import { placePoolDiagnostics, positionResolver } from './manifest-positions.js';
import { preparePoolCredentials, type PoolAccess, type PoolAccessPorts } from '../buckets/pool-access.js';
import type { Settings } from '../../config/settings.js';
import { withStableOrigins } from '../../domain/manifests/origin-names.js';
import { orchVersion } from '../../config/version.js';
import type { MigrationRecord } from '../../domain/migrations/migration-record.js';
import { overlayMigrations, routeKey } from '../../domain/migrations/route-overlay.js';
import type { MigrationRouting } from '../../domain/migrations/routing.js';
import { preflightMigrations } from '../migrations/preflight.js';
import type { ManifestLoader } from '../../ports/manifest-loader.js';
import type { ManagedTree } from '../../ports/managed-tree.js';
import type { Nginx } from '../../ports/nginx.js';
import type { Clock } from '../../ports/clock.js';

/** What the state database contributes to a plan (implemented by the SQLite adapter). */
export interface StateView {
  inventory: Inventory;
  generation: number | null;
  knownMigrations: ReadonlySet<string>;
  /** The migration engine's records: active ones own their bucket's route (see route-overlay.ts). */
  migrations: readonly MigrationRecord[];
}

export const EMPTY_STATE: StateView = { inventory: null, generation: null, knownMigrations: new Set(), migrations: [] };

/**
 * A plan and what it was computed from: plain data (no getters, nothing computed on access).
 * The fingerprint of its inputs is a separate step, planIdentity(), for the callers that need it.
 */
export interface PlanResult {
  plan: Plan;
  manifests: LoadedManifests;
  nginxVersion: string | null;
  /** How to reach the nanio pools (apply creates the plan's buckets through it). */
  poolAccess: PoolAccess;
  /**
   * The nanio pools this plan removes from the gateway while they hold objects (or could not be
   * listed): apply keeps their records in the state database (see removed-pools.ts).
   */
  removedPools: RemovedPoolRecord[];
  /** The texts the plan was computed from, as read: planIdentity() hashes them. */
  sources: PlanSources;
}

/** What a plan was computed from, before hashing (see PlanInputs for the hashed form). */
export interface PlanSources {
  orchVersion: string;
  /** Manifest texts, named relative to the manifests directory (as in the generated files). */
  manifests: { path: string; text: string }[];
  /** The managed tree on disk as the plan saw it. */
  files: { path: string; content: string }[];
  stateGeneration: number | null;
  settings: Record<string, string>;
  /** Pool -> hash of the encrypted credentials its sidecar will carry. */
  credentials: Record<string, string>;
}

/** What a plan reads: the manifests, the managed tree, nginx's version, the pools (refresh), the clock. */
export interface PlanPorts extends PoolAccessPorts {
  settings: Settings;
  /** Where the manifests (settings.manifests) are read and validated from. */
  manifests: ManifestLoader;
  tree: Pick<ManagedTree, 'read'>;
  nginx: Pick<Nginx, 'version'>;
  clock: Clock;
}

export interface PlanOptions {
  /**
   * Refresh from S3: list the buckets of the pools the routes point to, to plan bucket creations
   * and refuse route changes that would strand objects. `orch plan` and `orch apply` turn it on
   * (`orch plan --no-refresh` plans offline); off by default for every other caller.
   */
  refresh?: boolean;
  /**
   * false for a migration's routing generation: it starts no migration, so Migration documents the
   * state does not know yet are not checked (a new Migration of the bucket being cancelled would
   * otherwise refuse the very cancel its `migration.bucket-busy` hint asks for). Default true.
   */
  startsMigrations?: boolean;
}

/** Settings that change what is rendered or where it lands: part of a plan's fingerprint. */
export function fingerprintSettings(settings: Settings): Record<string, string> {
  return { nginxDir: settings.nginxDir, statusListen: settings.statusListen };
}

export async function computePlan(ports: PlanPorts, state: StateView, opts: PlanOptions = {}): Promise<PlanResult> {
  const { settings } = ports;
  const manifests = loadManifests(ports.manifests, settings.manifests);
  const version = await ports.nginx.version();
  const observed = ports.tree.read();
  // Only needed to point at a manifest (a diagnostic): from the validation cache, they are made on first use.
  const documents = () => manifests.validation.documents;
  // Routes owned by migrations are served as the migration says, not as the manifest names them.
  const overlay = overlayMigrations({
    desired: manifests.validation.desired,
    migrations: state.migrations ?? [],
    deployed: deployedRoutings(observed),
    now: Math.floor(ports.clock.now() / 1000),
    positionOf: positionResolver(documents),
  });
  const desired = overlay.desired;

  const poolSidecars = new Map<string, string>();
  const vhostSidecars = new Map<string, string>();
  for (const f of observed.files) {
    const m = /^(pools|vhosts)\/(.+)\.meta\.json$/.exec(f.path);
    if (m && f.managed) (m[1] === 'pools' ? poolSidecars : vhostSidecars).set(m[2]!, f.content);
  }
  const credentials = preparePoolCredentials(ports, settings, desired.pools, poolSidecars);
  // Client identities are sealed like pool credentials, into their virtual host's sidecar.
  const identitySeals = prepareIdentityCredentials(ports.secrets, credentials.keyring, desired.virtualHosts, vhostSidecars);
  // Rendered with origin paths relative to the manifests directory, not to the working directory.
  const stableFile = ports.manifests.originNames(settings.manifests);
  const features = nginxFeaturesFor(version);
  const stable = withStableOrigins(desired, stableFile);
  const tree = stable.restoreLineMaps(
    withSealedIdentities(
      withSealedCredentials(renderTree(stable.desired, features), stable.desired, credentials.sealed),
      identitySeals.sealed,
    ),
  );

  const removed = removedPools(ports, settings, desired, poolSidecars);
  const buckets = opts.refresh
    ? await refreshBuckets(
        desired,
        observed,
        withRemovedPools(credentials.access, removed),
        positionResolver(documents),
        credentials.resealed,
      )
    : null;
  // What the removed pools still hold: every bucket counted (a pool is removed rarely).
  const removedListings =
    opts.refresh && removed !== null
      ? await listPools(removed.access, [...removed.names], (_pool, names) => ({ count: names, probe: [] }))
      : null;
  const keep = removedPoolsToKeep(removed?.pools ?? [], desired.pools, removedListings, new Date(ports.clock.now()).toISOString());
  const identities = opts.refresh ? await checkClientIdentities(ports, desired, positionResolver(documents), identitySeals.resolve) : null;
  const toStart = opts.startsMigrations === false ? [] : desired.migrations.filter((m) => !state.knownMigrations.has(m.name));
  const preflight = await preflightMigrations({
    desired: manifests.validation.desired,
    toStart,
    records: state.migrations ?? [],
    access: opts.refresh ? credentials.access : null,
    maxParallel: settings.maxParallelMigrations,
    positionOf: positionResolver(documents),
  });
  const diagnostics = [
    ...manifests.validation.diagnostics,
    ...overlay.diagnostics,
    ...placePoolDiagnostics(credentials.diagnostics, desired.pools, documents),
    ...placeIdentityDiagnostics(identitySeals.diagnostics, desired, positionResolver(documents)),
    ...(buckets?.diagnostics ?? []),
    ...(identities?.diagnostics ?? []),
    ...keep.diagnostics,
    ...preflight.diagnostics,
    ...statusListenerClaims(desired, settings.statusListen, positionResolver(documents)),
  ];
  // A route change that would strand a bucket's objects is refused like a manifest error.
  if (hasErrors(diagnostics)) {
    const errors = diagnostics.filter((d) => d.severity === 'error').length;
    throw new ValidationError(diagnostics, `${errors} error${errors === 1 ? '' : 's'}: the plan is refused; nothing was written.`);
  }

  const origins = new Map<string, Origin>();
  for (const p of desired.pools) origins.set(`Pool/${p.name}`, p.origin);
  for (const v of desired.virtualHosts) origins.set(`VirtualHost/${v.name}`, v.origin);

  const plan = makePlan({
    desired: tree,
    observed,
    inventory: state.inventory,
    migrations: preflight.start,
    knownMigrations: state.knownMigrations,
    knownMigrationRecords: knownMigrationRecords(desired.migrations, state.migrations ?? []),
    diagnostics,
    origins,
    buckets: buckets?.creates ?? [],
    refresh: buckets?.refresh ?? { performed: false, pools: [] },
  });

  return {
    plan,
    manifests,
    nginxVersion: version,
    poolAccess: credentials.access,
    removedPools: keep.kept,
    sources: {
      orchVersion: orchVersion(),
      // Named relative to the manifests directory, as in the generated files: a plan saved in CI
      // (at the repository root) is applied on the gateway from another working directory.
      manifests: manifests.sources.map((s) => ({ path: stableFile(s.path), text: s.text })),
      files: observed.files.map((f) => ({ path: f.path, content: f.content })),
      stateGeneration: state.generation,
      settings: fingerprintSettings(settings),
      credentials: { ...credentials.fingerprint, ...identitySeals.fingerprint },
    },
  };
}

export interface PlanIdentity {
  inputs: PlanInputs;
  fingerprint: string;
}

/**
 * The inputs of a plan (every text hashed) and their fingerprint: what a saved plan carries and
 * apply checks. Hashing every input costs ~0.1 s at fleet size, so only saved plans, JSON output
 * and apply call it; computed from the texts the plan read, so it names exactly what was planned.
 */
export function planIdentity(result: PlanResult): PlanIdentity {
  const { sources, plan } = result;
  const inputs: PlanInputs = {
    orchVersion: sources.orchVersion,
    nginxVersion: result.nginxVersion,
    manifests: Object.fromEntries(sources.manifests.map((s) => [s.path, sha256(s.text)])),
    files: Object.fromEntries(sources.files.map((f) => [f.path, sha256(f.content)])),
    stateGeneration: sources.stateGeneration,
    settings: sources.settings,
  };
  if (Object.keys(sources.credentials).length > 0) inputs.credentials = sources.credentials;
  if (plan.buckets.length > 0) inputs.buckets = Object.fromEntries(plan.buckets.map((b) => [`${b.pool}/${b.bucket}`, b.action]));
  if (result.removedPools.length > 0) inputs.removedPools = Object.fromEntries(result.removedPools.map((r) => [r.pool, describeKept(r)]));
  return { inputs, fingerprint: fingerprintOf(inputs) };
}

/** What a plan keeps of a removed pool, in a saved plan's inputs: the objects it saw there. */
function describeKept(record: RemovedPoolRecord): string {
  if (record.buckets === null) return 'not listed';
  return record.buckets.map((b) => `${b.bucket}: ${b.objects} object${b.objects === 1 ? '' : 's'}, ${b.bytes} bytes`).join('; ');
}

/**
 * The refresh: lists the buckets of the pools the bucket routes point to, of the pools guarded
 * moves leave and of old default pools; counts the objects of the buckets that would leave a pool.
 */
async function refreshBuckets(
  desired: DesiredState,
  observed: ObservedTree,
  access: PoolAccess & { removed: ReadonlySet<string> },
  positionOf: BucketPlanInput['positionOf'],
  resealed: ReadonlyMap<string, { refs: string; hadCopy: boolean }>,
) {
  // Nothing can be listed without credentials: no bucket is checked (a fleet of thousands plans
  // as fast as offline), and the plan says which pools were not checked.
  if (!desired.pools.some((p) => access.usable.has(p.name))) {
    const refresh: RefreshReport = {
      performed: true,
      pools: bucketRoutePools(desired).map((pool) => ({ pool, status: 'no-credentials', message: access.problems.get(pool) ?? null })),
    };
    return { creates: [], diagnostics: [], refresh };
  }
  const base = {
    desired,
    deployed: deployedVirtualHosts(observed, desired),
    removedHosts: removedVirtualHosts(observed, desired),
    removedPools: access.removed,
    migrations: migrationFacts(desired.migrations, []),
    ...(positionOf ? { positionOf } : {}),
  };
  const guard = guardPlan(base);
  // The buckets moves take away from a pool are counted (the refusal says how many objects).
  const listings: Map<string, PoolListing> = await listPools(access, poolsToList(base, guard), (pool, names) => ({
    count: bucketsToCount(base, guard, pool, names),
    probe: [],
  }));
  const result = planBuckets({ ...base, listings }, new Map(), guard);
  // Pools about to get newly sealed credentials, not listed above, are probed (one ListBuckets, a
  // short timeout, no retry: a member that does not answer must not hold the plan): a refused
  // credential is never sealed. Not answering is not a refusal.
  const probed = await Promise.all(
    [...resealed.keys()]
      .filter((pool) => !listings.has(pool))
      .map(async (pool) => {
        let storage = null;
        try {
          storage = await access.open(pool, { timeoutMs: PROBE_TIMEOUT_MS, retries: 0 });
          await storage.listBuckets();
          return [pool, null] as const;
        } catch (e) {
          if (e instanceof PoolAccessError && e.problem === 'access-denied') return [pool, e.message.replace(/\.$/, '')] as const;
          if (e instanceof PoolAccessError) return [pool, null] as const;
          throw e;
        } finally {
          storage?.close();
        }
      }),
  );
  const refusals = new Map<string, string>(probed.flatMap(([pool, message]) => (message === null ? [] : [[pool, message]])));
  for (const l of listings.values()) if (l.status === 'access-denied' && resealed.has(l.pool)) refusals.set(l.pool, l.message ?? '');
  for (const [pool, { refs, hadCopy }] of resealed) {
    const refused = refusals.get(pool);
    if (refused === undefined) continue;
    const l = { message: refused };
    const origin = desired.pools.find((p) => p.name === pool)!.origin;
    const source = positionOf?.(origin, ['spec', 'credentials']);
    result.diagnostics.push({
      severity: 'error',
      code: 'credentials.refused',
      message: `${l.message ?? `pool ${pool} refused orch's credentials`}: the credentials read from ${refs} are not sealed into the sidecar of pool ${pool}${hadCopy ? ', which keeps its previous copy' : ''}`,
      hint: `Fix the values of ${refs} (the access key must exist on every member of pool ${pool} and the secret must match it), then run the command again.`,
      ...(source ? { source } : {}),
      document: { kind: 'Pool', name: pool },
      field: 'spec.credentials',
    });
  }
  const refresh: RefreshReport = {
    performed: true,
    pools: [...listings.values()].map((l) => ({ pool: l.pool, status: l.status, message: l.message })),
  };
  return { ...result, refresh };
}

/** The sealing warnings of client identities, placed on their manifest field. */
function placeIdentityDiagnostics(
  diagnostics: readonly Diagnostic[],
  desired: DesiredState,
  positionOf: (origin: Origin, field: ReadonlyArray<string | number>) => SourcePosition | undefined,
): Diagnostic[] {
  return diagnostics.map((d) => {
    const v = desired.virtualHosts.find((x) => x.name === d.document?.name);
    const source =
      v && d.field
        ? positionOf(
            v.origin,
            d.field.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p)),
          )
        : undefined;
    return source ? { ...d, source } : d;
  });
}

/** How long the probe of newly sealed credentials waits for a member (it never retries). */
const PROBE_TIMEOUT_MS = 5000;

/** The state's records of the Migration documents the manifests name (started by an earlier apply). */
function knownMigrationRecords(desired: readonly DesiredMigration[], records: readonly MigrationRecord[]): KnownMigration[] {
  const byName = new Map(records.map((r) => [r.name, r]));
  const out: KnownMigration[] = [];
  for (const m of desired) {
    const r = byName.get(m.name);
    if (r) out.push({ name: r.name, virtualHost: r.virtualHost, bucket: r.bucket, from: r.from, to: r.to, phase: r.phase });
  }
  return out;
}

/** The migration routing each route is served with now (`vhost/bucket` -> routing), from the deployed sidecars. */
function deployedRoutings(observed: ObservedTree): Map<string, MigrationRouting> {
  const out = new Map<string, MigrationRouting>();
  for (const v of deployedSidecars(observed, (_name, content) => content.includes('"migration"'))) {
    for (const r of v.routes) if (r.bucket !== null && r.migration) out.set(routeKey(v.name, r.bucket), r.migration.routing);
  }
  return out;
}

/** The virtual host sidecars on disk that `want` selects (by name and content), read; unreadable ones skipped. */
function deployedSidecars(observed: ObservedTree, want: (name: string, content: string) => boolean): DesiredVirtualHost[] {
  const out: DesiredVirtualHost[] = [];
  for (const f of observed.files) {
    const m = /^vhosts\/(.+)\.meta\.json$/.exec(f.path);
    if (!m || !f.managed || !want(m[1]!, f.content)) continue;
    let json: unknown;
    try {
      json = JSON.parse(f.content);
    } catch {
      continue;
    }
    const read = readVirtualHostSidecar(json);
    if (read.ok) out.push(read.value);
  }
  return out;
}

/** The virtual hosts deployed (a sidecar on disk) that the manifests no longer have. */
function removedVirtualHosts(observed: ObservedTree, desired: DesiredState): Map<string, DeployedVirtualHost> {
  const wanted = new Set(desired.virtualHosts.map((v) => v.name));
  return new Map(
    deployedSidecars(observed, (name) => !wanted.has(name)).map((v) => [v.name, { defaultPool: v.defaultPool, routes: v.routes }]),
  );
}

/**
 * The nanio pools deployed (a sidecar on disk) that the manifests no longer have, as their
 * sidecars describe them (members, credential references, sealed copy): the plan lists them to
 * count what a removal leaves behind.
 */
function removedPools(ports: PoolAccessPorts, settings: Settings, desired: DesiredState, sidecars: ReadonlyMap<string, string>) {
  const wanted = new Set(desired.pools.map((p) => p.name));
  const pools: Array<{ pool: DesiredPool; sidecar: string }> = [];
  for (const [name, text] of sidecars) {
    if (wanted.has(name)) continue;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      continue;
    }
    const read = readPoolSidecar(json);
    if (read.ok && read.value.type === 'nanio') pools.push({ pool: read.value, sidecar: text });
  }
  return pools.length === 0
    ? null
    : {
        names: new Set(pools.map((p) => p.pool.name)),
        pools,
        access: preparePoolCredentials(
          ports,
          settings,
          pools.map((p) => p.pool),
          sidecars,
        ).access,
      };
}

/** One PoolAccess over the manifests' pools and the removed ones. */
function withRemovedPools(
  access: PoolAccess,
  removed: { names: ReadonlySet<string>; access: PoolAccess } | null,
): PoolAccess & { removed: ReadonlySet<string> } {
  if (removed === null) return { usable: access.usable, problems: access.problems, open: (p, o) => access.open(p, o), removed: new Set() };
  return {
    usable: new Set([...access.usable, ...removed.access.usable]),
    problems: new Map([...access.problems, ...removed.access.problems]),
    open: (pool, overrides) => (removed.names.has(pool) ? removed.access.open(pool, overrides) : access.open(pool, overrides)),
    removed: removed.names,
  };
}

/** The virtual hosts as deployed (their sidecars on disk), for those the desired state has. */
function deployedVirtualHosts(observed: ObservedTree, desired: DesiredState): Map<string, DeployedVirtualHost> {
  // Every virtual host of the manifests: a deployed route may be gone from them (a removed route
  // moves its bucket too), and a default pool may have changed.
  const wanted = new Set(desired.virtualHosts.map((v) => v.name));
  return new Map(
    deployedSidecars(observed, (name) => wanted.has(name)).map((v) => [v.name, { defaultPool: v.defaultPool, routes: v.routes }]),
  );
}
