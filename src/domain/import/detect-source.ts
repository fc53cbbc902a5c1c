import { CONF_MARKER, SIDECAR_MARKER } from '../render/rendered-tree.js';
import type { ImportSource, SourceFile } from './import-result.js';

/** First line of every file the reference tool (nanio-orchestrator) writes. */
export const REFERENCE_CONF_MARKER = '# managed by nanio-orchestrator';

function jsonObject(text: string): Record<string, unknown> | null {
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * Which tool wrote a directory: orch (its marker line, or `"managedBy": "orch"` sidecars), the
 * reference tool (its marker line, or `*.meta.json` with its `pool_id` / `vhost_id` fields), or
 * neither (hand-written nginx).
 */
export function detectSource(files: readonly SourceFile[]): { source: ImportSource; reason: string } {
  for (const f of files) {
    if (f.path.endsWith('.conf') && f.content.startsWith(CONF_MARKER)) return { source: 'orch', reason: `${f.path} carries orch's marker` };
    if (f.path.endsWith('.meta.json') && jsonObject(f.content)?.['managedBy'] === SIDECAR_MARKER)
      return { source: 'orch', reason: `${f.path} is an orch sidecar` };
  }
  for (const f of files) {
    if (f.path.endsWith('.conf') && f.content.startsWith(REFERENCE_CONF_MARKER))
      return { source: 'nanio-orchestrator', reason: `${f.path} carries nanio-orchestrator's marker` };
    const meta = f.path.endsWith('.meta.json') ? jsonObject(f.content) : null;
    if (meta && ('pool_id' in meta || 'vhost_id' in meta))
      return { source: 'nanio-orchestrator', reason: `${f.path} is a nanio-orchestrator sidecar` };
  }
  return { source: 'nginx', reason: "no file carries orch's or nanio-orchestrator's marker" };
}
