import {
  MEMBER_DEFAULTS,
  type DesiredMember,
  type DesiredMigration,
  type DesiredPool,
  type DesiredRoute,
  type DesiredState,
  type DesiredVirtualHost,
  type Origin,
} from '../../src/domain/model/desired-state.js';

/**
 * Small builders for DesiredState values with sensible defaults; every field can be overridden.
 * Origins default to one document per resource in conventional manifest files.
 */

export function origin(kind: string, name: string, file: string, index = 0): Origin {
  return { file, index, kind, name };
}

export function member(address: string, overrides: Partial<DesiredMember> = {}): DesiredMember {
  return { address, ...MEMBER_DEFAULTS, role: 'primary', ...overrides };
}

export function pool(name: string, overrides: Partial<DesiredPool> = {}): DesiredPool {
  return {
    name,
    type: 'nanio',
    description: null,
    loadBalancing: 'round_robin',
    keepalive: null,
    members: [member('10.0.1.11:9000'), member('10.0.1.12:9000')],
    credentials: null,
    origin: origin('Pool', name, 'manifests/pools.yaml'),
    ...overrides,
  };
}

export function route(virtualHost: string, path: string, poolName: string, overrides: Partial<DesiredRoute> = {}): DesiredRoute {
  const bucket = /^\/([^/]+)\/$/.exec(path)?.[1] ?? null;
  const name = overrides.name ?? `${virtualHost}-${bucket ?? path.replace(/[^A-Za-z0-9]+/g, '-').replace(/^-|-$/g, '')}`;
  return {
    name,
    virtualHost,
    path,
    bucket,
    pool: poolName,
    keyPrefix: null,
    enabled: true,
    allowOrphan: false,
    origin: origin('Route', name, `manifests/routes/${name}.yaml`),
    ...overrides,
  };
}

export function virtualHost(name: string, overrides: Partial<DesiredVirtualHost> = {}): DesiredVirtualHost {
  return {
    name,
    serverNames: [`${name}.example.test`],
    port: overrides.tls ? 443 : 80,
    address: null,
    tls: null,
    defaultPool: null,
    ipRules: null,
    extraBlocks: [],
    ignoreBuckets: [],
    routes: [],
    origin: origin('VirtualHost', name, 'manifests/vhosts.yaml'),
    ...overrides,
  };
}

export function desiredState(overrides: Partial<DesiredState> = {}): DesiredState {
  return { pools: [], virtualHosts: [], migrations: [], ...overrides };
}

/** Migration m of bucket photos of virtual host vh, from pool old to new (copy mode, 10 s freeze budget). */
export function desiredMigration(overrides: Partial<DesiredMigration> = {}): DesiredMigration {
  return {
    name: 'm',
    virtualHost: 'vh',
    bucket: 'photos',
    from: 'old',
    to: 'new',
    mode: 'copy',
    concurrency: 4,
    bandwidthLimit: null,
    freezeBudgetSeconds: 10,
    origin: origin('Migration', 'm', 'migrations/m.yaml'),
    ...overrides,
  };
}
