import type { StateStore } from '../../ports/state-store.js';
import { migrationFacts, type MigrationFact } from '../../domain/buckets/bucket-facts.js';
import { isOrchError } from '../../domain/errors.js';
import type { DesiredState } from '../../domain/model/desired-state.js';
import { recoverDesiredState } from '../../domain/rebuild/recover-desired-state.js';
import { nginxFeaturesFor } from '../../domain/render/rendered-tree.js';
import { loadManifests } from '../plan/load-manifests.js';
import type { Settings } from '../../config/settings.js';
import type { ManifestLoader } from '../../ports/manifest-loader.js';
import type { ManagedTree } from '../../ports/managed-tree.js';

/**
 * The gateway as it serves now: pools and virtual hosts (routes included) read back from the
 * sidecars in the managed directory, not from the manifests. Bucket commands work on this: a
 * route in a manifest that was not applied yet serves nothing.
 */
export interface DeployedGateway {
  desired: DesiredState;
  /** Pool name -> its sidecar's JSON text (the encrypted credentials live there). */
  poolSidecars: Map<string, string>;
  /** Virtual host name -> its sidecar's JSON text (the sealed client identities live there). */
  vhostSidecars: Map<string, string>;
}

export function readDeployedGateway(managed: Pick<ManagedTree, 'read'>): DeployedGateway {
  const tree = managed.read();
  // Features only matter to tell a hand-edited .conf apart, which bucket commands do not report.
  const recovered = recoverDesiredState(tree.files, nginxFeaturesFor(null));
  const poolSidecars = new Map<string, string>();
  const vhostSidecars = new Map<string, string>();
  for (const f of tree.files) {
    const m = /^(pools|vhosts)\/(.+)\.meta\.json$/.exec(f.path);
    if (m && f.managed) (m[1] === 'pools' ? poolSidecars : vhostSidecars).set(m[2]!, f.content);
  }
  return { desired: recovered.desired, poolSidecars, vhostSidecars };
}

/**
 * Migrations the state database records, plus Migration documents of the manifests when they
 * load (a gateway may run bucket commands without the manifests at hand).
 */
export function knownMigrations(
  settings: Settings,
  store: StateStore,
  loader: ManifestLoader,
): { facts: MigrationFact[]; manifests: DesiredState | null } {
  let manifests: DesiredState | null = null;
  try {
    manifests = loadManifests(loader, settings.manifests).validation.desired;
  } catch (e) {
    if (!isOrchError(e)) throw e;
  }
  return { facts: migrationFacts(manifests?.migrations ?? [], store.migrations()), manifests };
}
