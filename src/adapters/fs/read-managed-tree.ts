import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ObservedFile, ObservedTree } from '../../domain/plan/make-plan.js';
import { CONF_MARKER, SIDECAR_MARKER } from '../../domain/render/rendered-tree.js';
import { STATUS_FILE_PATH } from '../../domain/render/render-status.js';
import { liveRoot, MANAGED_SUBDIRS } from './generations.js';

export { MANAGED_SUBDIRS };

/**
 * Reads pools/ and vhosts/ of the managed directory: every `*.conf` and `*.meta.json`, with
 * whether it carries orch's marker (the reload status file excepted). A missing directory is an empty tree. Other files (editor
 * backups, `.orig`) are not nginx's concern (nginx includes only `*.conf`) and are ignored. With
 * generations, the live one is resolved once: a read during a switch sees one generation.
 */
export function readManagedTree(nginxDir: string): ObservedTree {
  const root = liveRoot(nginxDir);
  const files: ObservedFile[] = [];
  for (const sub of MANAGED_SUBDIRS) {
    let names: string[];
    try {
      names = readdirSync(join(root, sub));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') continue;
      throw e;
    }
    for (const name of names.sort()) {
      if (!name.endsWith('.conf') && !name.endsWith('.meta.json')) continue;
      const path = `${sub}/${name}`;
      // The status file is apply's own machinery (rewritten every generation), not a resource.
      if (path === STATUS_FILE_PATH) continue;
      let content: string;
      try {
        content = readFileSync(join(root, sub, name), 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'EISDIR') continue;
        throw e;
      }
      files.push({ path, content, managed: carriesMarker(path, content) });
    }
  }
  return { files };
}

export function carriesMarker(path: string, content: string): boolean {
  if (path.endsWith('.conf')) return content.startsWith(CONF_MARKER);
  // Sidecar: orch writes `"managedBy": "orch"` as the first key. The opening bytes are enough
  // (and parsing 1,000 sidecars just for this cost ~30 ms of every plan); a hand-damaged sidecar
  // that keeps them is still orch's file, and drift detection reports the damage.
  return SIDECAR_OPENING.test(content);
}

const SIDECAR_OPENING = new RegExp(`^\\{\\s*"managedBy"\\s*:\\s*"${SIDECAR_MARKER}"\\s*[,}]`);
