import { readManagedTree } from '../adapters/fs/read-managed-tree.js';
import { nginxVersion } from '../adapters/nginx/nginx-cli.js';
import type { Origin } from '../core/model/desired-state.js';
import { makePlan, sha256, type Inventory } from '../core/plan/make-plan.js';
import { fingerprintOf, type PlanInputs } from '../core/plan/plan-inputs.js';
import type { Plan } from '../core/plan/plan-types.js';
import { nginxFeaturesFor } from '../core/render/rendered-tree.js';
import { renderTree } from '../core/render/render-tree.js';
import { loadManifests, type LoadedManifests } from './load-manifests.js';
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
}

/** Settings that change what is rendered or where it lands: part of a plan's fingerprint. */
export function fingerprintSettings(settings: Settings): Record<string, string> {
  return { nginxDir: settings.nginxDir, statusListen: settings.statusListen };
}

export async function computePlan(settings: Settings, state: StateView = EMPTY_STATE): Promise<PlanResult> {
  const manifests = loadManifests(settings.manifests);
  const version = await nginxVersion(settings.nginxBin);
  const desired = manifests.validation.desired;
  const tree = renderTree(desired, nginxFeaturesFor(version));
  const observed = readManagedTree(settings.nginxDir);

  const origins = new Map<string, Origin>();
  for (const p of desired.pools) origins.set(`Pool/${p.name}`, p.origin);
  for (const v of desired.virtualHosts) origins.set(`VirtualHost/${v.name}`, v.origin);

  const plan = makePlan({
    desired: tree,
    observed,
    inventory: state.inventory,
    migrations: desired.migrations,
    knownMigrations: state.knownMigrations,
    diagnostics: manifests.validation.diagnostics,
    origins,
  });

  // Hashing every input costs ~0.1 s at fleet size; only saved plans, JSON output and apply need it.
  // Computed from the texts already read, so a later access sees exactly what was planned.
  let inputs: PlanInputs | null = null;
  let fingerprint: string | null = null;
  const result: PlanResult = {
    plan,
    manifests,
    nginxVersion: version,
    get inputs(): PlanInputs {
      inputs ??= {
        orchVersion: orchVersion(),
        nginxVersion: version,
        manifests: Object.fromEntries(manifests.sources.map((s) => [s.path, sha256(s.text)])),
        files: Object.fromEntries(observed.files.map((f) => [f.path, sha256(f.content)])),
        stateGeneration: state.generation,
        settings: fingerprintSettings(settings),
      };
      return inputs;
    },
    get fingerprint(): string {
      fingerprint ??= fingerprintOf(result.inputs);
      return fingerprint;
    },
  };
  return result;
}
