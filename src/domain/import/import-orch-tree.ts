import { recoverDesiredState } from '../rebuild/recover-desired-state.js';
import { STATUS_FILE_PATH } from '../render/render-status.js';
import { CONF_MARKER, type NginxFeatures } from '../render/rendered-tree.js';
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
  const warnings = [...recovered.diagnostics];
  for (const f of managed) {
    if (!f.path.endsWith('.conf') || f.path === STATUS_FILE_PATH || f.content.startsWith(CONF_MARKER)) continue;
    if (recovered.resources.some((r) => r.confPath === f.path)) continue; // reported by the recovery
    warnings.push({
      severity: 'warning',
      code: 'import.not-orch',
      message: `${f.path} does not carry orch's marker: it is not part of orch's tree and is not imported.`,
      hint: 'Import it separately with --from nginx, or leave it: orch never touches a file without its marker.',
      source: { file: f.path, line: 1, column: 1 },
    });
  }
  return {
    source: 'orch',
    desired: recovered.desired,
    layout: 'origin',
    warnings,
    secrets: [],
    filesToMove: [],
    refusals: [],
    routing: null,
  };
}
