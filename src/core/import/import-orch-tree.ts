import { recoverDesiredState } from '../recover/recover-desired-state.js';
import type { NginxFeatures } from '../render/rendered-tree.js';
import type { ImportResult, SourceFile } from './import-result.js';

/**
 * orch's own managed directory, without its database: the sidecars hold every resource (disabled
 * routes included) and the manifest file and index each came from, so the manifests go back where
 * they were (layout `origin`) and render byte-identical files. A resource whose sidecar is missing
 * or corrupt is recovered from its `.conf` alone, with a warning saying what was lost.
 */
export function importOrchTree(files: readonly SourceFile[], features: NginxFeatures): ImportResult {
  const managed = files.filter((f) => /^(pools|vhosts)\/[^/]+\.(conf|meta\.json)$/.test(f.path));
  const recovered = recoverDesiredState(managed, features);
  return {
    source: 'orch',
    desired: recovered.desired,
    layout: 'origin',
    warnings: recovered.diagnostics,
    secrets: [],
    filesToMove: [],
  };
}
