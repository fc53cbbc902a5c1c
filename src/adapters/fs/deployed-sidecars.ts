import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readVirtualHostSidecar } from '../../domain/rebuild/read-sidecar.js';
import type { DeployedSidecars } from '../../ports/deployed-sidecars.js';
import { readManagedTree } from './read-managed-tree.js';

/** The sidecars of the managed nginx directory, read when asked (never cached: they change with every apply). */
export function fsDeployedSidecars(nginxDir: string): DeployedSidecars {
  return {
    pools() {
      const out = new Map<string, string>();
      for (const f of readManagedTree(nginxDir).files) {
        const m = /^pools\/(.+)\.meta\.json$/.exec(f.path);
        if (m && f.managed) out.set(m[1]!, f.content);
      }
      return out;
    },
    migrationRouting(virtualHost, bucket, migration) {
      try {
        const read = readVirtualHostSidecar(JSON.parse(readFileSync(join(nginxDir, 'vhosts', `${virtualHost}.meta.json`), 'utf8')));
        if (!read.ok) return 'source';
        const route = read.value.routes.find((r) => r.bucket === bucket);
        return route?.migration && route.migration.name === migration ? route.migration.routing : 'source';
      } catch {
        return 'source';
      }
    },
  };
}
