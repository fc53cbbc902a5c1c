import {
  MEMBER_DEFAULTS,
  MIGRATION_DEFAULTS,
  type DesiredMember,
  type DesiredMigration,
  type DesiredPool,
  type DesiredRoute,
  type DesiredState,
  type DesiredVirtualHost,
  type Origin,
} from '../model/desired-state.js';
import type { MigrationManifest, PoolManifest, PoolMember, RouteManifest, VirtualHostManifest } from '../model/manifest-types.js';
import type { Catalog } from './catalog.js';
import { listenPort } from './check-collisions.js';
import type { DiagnosticSink, ManifestDoc } from './report.js';
import { bucketFromPath, parseBandwidth, parseDurationMs } from './value-types.js';

/**
 * Builds the defaulted, sorted model from the documents that passed every check. Documents with
 * errors are left out, so the result is only meaningful to apply when there are no errors; it is
 * still returned then, for tools that show what the valid part describes.
 */
export function buildDesiredState(catalog: Catalog, sink: DiagnosticSink): DesiredState {
  const ok = <T extends { md: ManifestDoc }>(list: T[]): T[] => list.filter(({ md }) => !sink.hasFailed(md));
  const routesByVhost = new Map<string, DesiredRoute[]>();
  for (const { md, m } of ok(catalog.routes)) {
    const list = routesByVhost.get(m.spec.virtualHost) ?? [];
    list.push(desiredRoute(md, m));
    routesByVhost.set(m.spec.virtualHost, list);
  }
  return {
    pools: byName(ok(catalog.pools).map(({ md, m }) => desiredPool(md, m))),
    virtualHosts: byName(ok(catalog.virtualHosts).map(({ md, m }) => desiredVirtualHost(md, m, routesByVhost.get(m.metadata.name) ?? []))),
    migrations: byName(ok(catalog.migrations).map(({ md, m }) => desiredMigration(md, m))),
  };
}

/** Code-unit order, not locale order: the same on every machine. */
function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function byName<T extends { name: string }>(list: T[]): T[] {
  return list.sort((a, b) => compareText(a.name, b.name));
}

function originOf(md: ManifestDoc): Origin {
  return { file: md.doc.file, index: md.doc.index, kind: md.kind, name: md.name };
}

function desiredMember(member: PoolMember): DesiredMember {
  return {
    address: member.address,
    weight: member.weight ?? MEMBER_DEFAULTS.weight,
    maxFails: member.maxFails ?? MEMBER_DEFAULTS.maxFails,
    failTimeout: member.failTimeout ?? MEMBER_DEFAULTS.failTimeout,
    enabled: member.enabled ?? MEMBER_DEFAULTS.enabled,
    role: member.role ?? 'primary',
  };
}

function desiredPool(md: ManifestDoc, m: PoolManifest): DesiredPool {
  const { spec } = m;
  return {
    name: m.metadata.name,
    type: spec.type,
    description: spec.description ?? null,
    loadBalancing: spec.loadBalancing ?? 'round_robin',
    keepalive: spec.keepalive ?? null,
    members: spec.members.map(desiredMember),
    credentials: spec.credentials
      ? { accessKeyId: { ...spec.credentials.accessKeyId }, secretAccessKey: { ...spec.credentials.secretAccessKey } }
      : null,
    ...(spec.allowOrphan && spec.allowOrphan.length > 0 ? { allowOrphan: [...spec.allowOrphan] } : {}),
    origin: originOf(md),
  };
}

function desiredRoute(md: ManifestDoc, m: RouteManifest): DesiredRoute {
  const { spec } = m;
  return {
    name: m.metadata.name,
    virtualHost: spec.virtualHost,
    path: spec.path,
    bucket: bucketFromPath(spec.path),
    pool: spec.pool,
    keyPrefix: spec.keyPrefix ?? null,
    enabled: spec.enabled ?? true,
    allowOrphan: spec.allowOrphan ?? false,
    origin: originOf(md),
  };
}

function desiredVirtualHost(md: ManifestDoc, m: VirtualHostManifest, routes: DesiredRoute[]): DesiredVirtualHost {
  const { spec } = m;
  return {
    name: m.metadata.name,
    serverNames: [...spec.serverNames],
    port: listenPort(m),
    address: spec.address ?? null,
    tls: spec.tls ? { certificate: spec.tls.certificate, key: spec.tls.key, http2: spec.tls.http2 ?? false } : null,
    defaultPool: spec.defaultPool ?? null,
    ipRules: spec.ipRules ? { mode: spec.ipRules.mode, addresses: [...spec.ipRules.addresses] } : null,
    extraBlocks: (spec.extraBlocks ?? []).map((b) => ({ zone: b.zone, content: b.content })),
    ignoreBuckets: [...(spec.ignoreBuckets ?? [])],
    ...(spec.allowOrphan && spec.allowOrphan.length > 0 ? { allowOrphan: [...spec.allowOrphan] } : {}),
    ...(spec.clientIdentities && spec.clientIdentities.length > 0
      ? {
          clientIdentities: spec.clientIdentities.map((c) => ({
            accessKeyId: { ...c.accessKeyId },
            secretAccessKey: { ...c.secretAccessKey },
          })),
        }
      : {}),
    ...(spec.allowRefusingPools && spec.allowRefusingPools.length > 0 ? { allowRefusingPools: [...spec.allowRefusingPools] } : {}),
    ...(spec.proxyReadTimeout !== undefined ? { proxyReadTimeout: spec.proxyReadTimeout } : {}),
    ...(spec.proxySendTimeout !== undefined ? { proxySendTimeout: spec.proxySendTimeout } : {}),
    routes: routes.sort((a, b) => compareText(a.path, b.path)),
    origin: originOf(md),
  };
}

function desiredMigration(md: ManifestDoc, m: MigrationManifest): DesiredMigration {
  const { spec } = m;
  const freezeMs = spec.freezeBudget === undefined ? null : parseDurationMs(spec.freezeBudget);
  return {
    name: m.metadata.name,
    virtualHost: spec.virtualHost,
    bucket: spec.bucket,
    from: spec.from,
    to: spec.to,
    mode: spec.mode ?? MIGRATION_DEFAULTS.mode,
    concurrency: spec.concurrency ?? MIGRATION_DEFAULTS.concurrency,
    bandwidthLimit: spec.bandwidthLimit === undefined ? null : parseBandwidth(spec.bandwidthLimit),
    freezeBudgetSeconds: freezeMs === null ? MIGRATION_DEFAULTS.freezeBudgetSeconds : freezeMs / 1000,
    origin: originOf(md),
  };
}
