import { readManagedTree } from '../adapters/fs/read-managed-tree.js';
import { nginxVersion } from '../adapters/nginx/nginx-cli.js';
import { migrationFacts, type PoolListing } from '../core/buckets/bucket-facts.js';
import { hasErrors } from '../core/diagnostics.js';
import { ValidationError } from '../core/errors.js';
import type { DesiredState, Origin } from '../core/model/desired-state.js';
import { makePlan, sha256, type Inventory, type ObservedTree } from '../core/plan/make-plan.js';
import { bucketRoutePools, guardedMoves, planBuckets, poolsToList, type BucketPlanInput, type DeployedVirtualHost } from '../core/plan/plan-buckets.js';
import { fingerprintOf, type PlanInputs } from '../core/plan/plan-inputs.js';
import type { Plan, RefreshReport } from '../core/plan/plan-types.js';
import { readVirtualHostSidecar } from '../core/recover/read-sidecar.js';
import { nginxFeaturesFor } from '../core/render/rendered-tree.js';
import { withSealedCredentials } from '../core/render/render-sidecars.js';
import { renderTree } from '../core/render/render-tree.js';
import { listPools } from './list-pools.js';
import { loadManifests, type LoadedManifests } from './load-manifests.js';
import { placePoolDiagnostics, positionResolver } from './manifest-positions.js';
import { preparePoolCredentials, type Env, type PoolAccess } from './pool-access.js';
import type { Settings } from './settings.js';
import { orchVersion } from './version.js';

/** What the state database contributes to a plan (implemented by the SQLite adapter). */
export interface StateView {
  inventory: Inventory;
  generation: number | null;
  knownMigrations: ReadonlySet<string>;
}

export const EMPTY_STATE: StateView = { inventory: null, generation: null, knownMigrations: new Set() };

export interface PlanResult {
  plan: Plan;
  /** Computed on first access. */
  readonly inputs: PlanInputs;
  /** Computed on first access. */
  readonly fingerprint: string;
  manifests: LoadedManifests;
  nginxVersion: string | null;
  /** How to reach the nanio pools (apply creates the plan's buckets through it). */
  poolAccess: PoolAccess;
}

export interface PlanOptions {
  /**
   * Refresh from S3: list the buckets of the pools the routes point to, to plan bucket creations
   * and refuse route changes that would strand objects. `orch plan` and `orch apply` turn it on
   * (`orch plan --no-refresh` plans offline); off by default for every other caller.
   */
  refresh?: boolean;
  /** Where credential references and the secret key are read from. Default: process.env. */
  env?: Env;
}

/** Settings that change what is rendered or where it lands: part of a plan's fingerprint. */
export function fingerprintSettings(settings: Settings): Record<string, string> {
  return { nginxDir: settings.nginxDir, statusListen: settings.statusListen };
}

export async function computePlan(settings: Settings, state: StateView = EMPTY_STATE, opts: PlanOptions = {}): Promise<PlanResult> {
  const manifests = loadManifests(settings.manifests);
  const version = await nginxVersion(settings.nginxBin);
  const desired = manifests.validation.desired;
  const observed = readManagedTree(settings.nginxDir);

  const poolSidecars = new Map<string, string>();
  for (const f of observed.files) {
    const m = /^pools\/(.+)\.meta\.json$/.exec(f.path);
    if (m && f.managed) poolSidecars.set(m[1]!, f.content);
  }
  const credentials = preparePoolCredentials(settings, desired.pools, poolSidecars, opts.env ?? process.env);
  const tree = withSealedCredentials(renderTree(desired, nginxFeaturesFor(version)), desired, credentials.sealed);
  const documents = manifests.validation.documents;

  const buckets = opts.refresh ? await refreshBuckets(desired, observed, credentials.access, positionResolver(documents)) : null;
  const diagnostics = [...manifests.validation.diagnostics, ...placePoolDiagnostics(credentials.diagnostics, desired.pools, documents), ...(buckets?.diagnostics ?? [])];
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
    migrations: desired.migrations,
    knownMigrations: state.knownMigrations,
    diagnostics,
    origins,
    buckets: buckets?.creates ?? [],
    refresh: buckets?.refresh ?? { performed: false, pools: [] },
  });

  // Hashing every input costs ~0.1 s at fleet size; only saved plans, JSON output and apply need
  // it. Computed from the texts already read, so a later access sees exactly what was planned.
  let inputs: PlanInputs | null = null;
  let fingerprint: string | null = null;
  const computeInputs = (): PlanInputs => {
    const i: PlanInputs = {
      orchVersion: orchVersion(),
      nginxVersion: version,
      manifests: Object.fromEntries(manifests.sources.map((s) => [s.path, sha256(s.text)])),
      files: Object.fromEntries(observed.files.map((f) => [f.path, sha256(f.content)])),
      stateGeneration: state.generation,
      settings: fingerprintSettings(settings),
    };
    if (Object.keys(credentials.fingerprint).length > 0) i.credentials = credentials.fingerprint;
    if (plan.buckets.length > 0) i.buckets = Object.fromEntries(plan.buckets.map((b) => [`${b.pool}/${b.bucket}`, b.action]));
    return i;
  };
  const result: PlanResult = {
    plan,
    manifests,
    nginxVersion: version,
    poolAccess: credentials.access,
    get inputs(): PlanInputs {
      inputs ??= computeInputs();
      return inputs;
    },
    get fingerprint(): string {
      fingerprint ??= fingerprintOf(result.inputs);
      return fingerprint;
    },
  };
  return result;
}

/**
 * The refresh: lists the buckets of the pools the bucket routes point to and of the pools guarded
 * moves leave (one small listing per moved bucket tells whether objects would stay behind).
 */
async function refreshBuckets(desired: DesiredState, observed: ObservedTree, access: PoolAccess, positionOf: BucketPlanInput['positionOf']) {
  // Nothing can be listed without credentials: no bucket is checked (a fleet of thousands plans
  // as fast as offline), and the plan says which pools were not checked.
  if (!desired.pools.some((p) => access.usable.has(p.name))) {
    const refresh: RefreshReport = { performed: true, pools: bucketRoutePools(desired).map((pool) => ({ pool, status: 'no-credentials', message: access.problems.get(pool) ?? null })) };
    return { creates: [], diagnostics: [], refresh };
  }
  const base = { desired, deployed: deployedVirtualHosts(observed, desired), migrations: migrationFacts(desired.migrations, []), ...(positionOf ? { positionOf } : {}) };
  const moves = guardedMoves(base);
  const listings: Map<string, PoolListing> = await listPools(access, poolsToList(base, moves), (pool) => ({ count: [], probe: moves.filter((m) => m.from === pool).map((m) => m.bucket) }));
  const result = planBuckets({ ...base, listings }, new Map(), moves);
  const refresh: RefreshReport = {
    performed: true,
    pools: [...listings.values()].map((l) => ({ pool: l.pool, status: l.status, message: l.message })),
  };
  return { ...result, refresh };
}

/** The virtual hosts as deployed (their sidecars on disk), for those the desired state has. */
function deployedVirtualHosts(observed: ObservedTree, desired: DesiredState): Map<string, DeployedVirtualHost> {
  const wanted = new Set(desired.virtualHosts.filter((v) => v.routes.some((r) => r.bucket !== null)).map((v) => v.name));
  const out = new Map<string, DeployedVirtualHost>();
  for (const f of observed.files) {
    const m = /^vhosts\/(.+)\.meta\.json$/.exec(f.path);
    if (!m || !f.managed || !wanted.has(m[1]!)) continue;
    let json: unknown;
    try {
      json = JSON.parse(f.content);
    } catch {
      continue;
    }
    const read = readVirtualHostSidecar(json);
    if (read.ok) out.set(m[1]!, { defaultPool: read.value.defaultPool, routes: read.value.routes });
  }
  return out;
}
