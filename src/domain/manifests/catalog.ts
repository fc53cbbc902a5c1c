import type { Kind, MigrationManifest, PoolManifest, RouteManifest, VirtualHostManifest } from '../model/manifest-types.js';
import type { DiagnosticSink, ManifestDoc } from './report.js';

/** A typed view of a document that passed every per-document check. */
export interface Valid<M> {
  md: ManifestDoc;
  m: M;
}

/**
 * Every document by kind and name, for the checks that look across documents. `declared` holds
 * the first document of each name whatever its state, so a reference to a document that has its
 * own errors is not also reported as unknown; the typed lists hold only documents that passed the
 * per-document checks (schema and values), so the cross-document rules can trust their types.
 */
export interface Catalog {
  all: ManifestDoc[];
  declared: Record<Kind, Map<string, ManifestDoc>>;
  pools: Valid<PoolManifest>[];
  virtualHosts: Valid<VirtualHostManifest>[];
  routes: Valid<RouteManifest>[];
  migrations: Valid<MigrationManifest>[];
  pool(name: string): PoolManifest | null;
  virtualHost(name: string): VirtualHostManifest | null;
}

export function buildCatalog(all: ManifestDoc[], sink: DiagnosticSink): Catalog {
  const declared: Record<Kind, Map<string, ManifestDoc>> = {
    Pool: new Map(),
    VirtualHost: new Map(),
    Route: new Map(),
    Migration: new Map(),
  };
  for (const md of all) {
    if (md.name !== '' && !declared[md.kind].has(md.name)) declared[md.kind].set(md.name, md);
  }
  const valid = all.filter((md) => !sink.hasFailed(md));
  const ofKind = <M>(kind: Kind): Valid<M>[] => valid.filter((md) => md.kind === kind).map((md) => ({ md, m: md.value as unknown as M }));
  const pools = ofKind<PoolManifest>('Pool');
  const virtualHosts = ofKind<VirtualHostManifest>('VirtualHost');
  const poolByName = firstByName(pools);
  const vhostByName = firstByName(virtualHosts);
  return {
    all,
    declared,
    pools,
    virtualHosts,
    routes: ofKind<RouteManifest>('Route'),
    migrations: ofKind<MigrationManifest>('Migration'),
    pool: (name) => poolByName.get(name) ?? null,
    virtualHost: (name) => vhostByName.get(name) ?? null,
  };
}

function firstByName<M extends { metadata: { name: string } }>(list: Valid<M>[]): Map<string, M> {
  const map = new Map<string, M>();
  for (const { m } of list) if (!map.has(m.metadata.name)) map.set(m.metadata.name, m);
  return map;
}
