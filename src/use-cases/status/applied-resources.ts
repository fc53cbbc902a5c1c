import { parseSidecarJson, readVirtualHostSidecar } from '../../domain/rebuild/read-sidecar.js';
import type { AppliedResource, MigrationFacts } from '../../domain/status/conditions.js';
import type { ManagedTree } from '../../ports/managed-tree.js';
import type { StateStore } from '../../ports/state-store.js';

/**
 * The pools, virtual hosts and routes of the live generation (from the inventory; routes from
 * their virtual host's sidecar), with the files that hold them and when those were last written.
 */
export function appliedResources(store: StateStore, tree: Pick<ManagedTree, 'readLive'>): AppliedResource[] {
  const when = new Map<number, string | null>();
  const at = (n: number) => {
    if (!when.has(n)) when.set(n, store.generation(n)?.createdAt ?? null);
    return when.get(n)!;
  };
  const byResource = new Map<string, { kind: string; name: string; files: string[]; generation: number; sidecar: string | null }>();
  for (const row of store.inventory()) {
    if (row.resourceKind !== 'Pool' && row.resourceKind !== 'VirtualHost') continue;
    const key = `${row.resourceKind}/${row.resourceName}`;
    const r = byResource.get(key) ?? { kind: row.resourceKind, name: row.resourceName, files: [], generation: 0, sidecar: null };
    r.files.push(row.path);
    r.generation = Math.max(r.generation, row.generation);
    if (row.role === 'sidecar') r.sidecar = row.path;
    byResource.set(key, r);
  }
  const out: AppliedResource[] = [];
  for (const r of byResource.values()) {
    const since = at(r.generation);
    if (r.kind === 'Pool') {
      out.push({ kind: 'Pool', name: r.name, files: r.files, pools: [r.name], since });
      continue;
    }
    // A virtual host depends on its default pool and its routes' pools, which its sidecar names.
    const text = r.sidecar ? tree.readLive(r.sidecar) : null;
    const parsed = text === null ? null : parseSidecarJson(text);
    const vhost = parsed?.ok ? readVirtualHostSidecar(parsed.value) : null;
    const v = vhost?.ok ? vhost.value : null;
    const routePools = v ? v.routes.map((x) => x.pool) : [];
    out.push({
      kind: 'VirtualHost',
      name: r.name,
      files: r.files,
      pools: [...new Set([...(v?.defaultPool ? [v.defaultPool] : []), ...routePools])],
      since,
    });
    for (const route of v?.routes ?? []) out.push({ kind: 'Route', name: route.name, files: r.files, pools: [route.pool], since });
  }
  return out;
}

/** Every migration the state database records, with what its conditions are derived from. */
export function migrationFacts(store: StateStore): MigrationFacts[] {
  return store.migrations().map((m) => {
    let lastError: string | null = null;
    let errorAt: string | null = null;
    try {
      const d = JSON.parse(m.document) as Record<string, unknown>;
      if (typeof d['lastError'] === 'string') lastError = d['lastError'];
      if (typeof d['errorAt'] === 'string') errorAt = d['errorAt'];
    } catch {
      // An unreadable state document: the phase from the row still says where it stands.
    }
    return { name: m.name, phase: m.phase, lastError, errorAt, updatedAt: m.updatedAt, finishedAt: m.finishedAt };
  });
}
