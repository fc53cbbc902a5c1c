import type { RouteMigration } from '../migrations/routing.js';
import type {
  ClientIdentity,
  ExtraBlock,
  IpRules,
  LoadBalancing,
  MemberRole,
  MigrationMode,
  PoolCredentials,
  PoolType,
} from './manifest-types.js';

/** Where a desired resource came from: a manifest file and the document's index in it. */
export interface Origin {
  file: string;
  index: number;
  kind: string;
  name: string;
}

export interface DesiredMember {
  address: string;
  weight: number;
  maxFails: number;
  failTimeout: string;
  enabled: boolean;
  role: MemberRole;
}

export interface DesiredPool {
  name: string;
  type: PoolType;
  description: string | null;
  loadBalancing: LoadBalancing;
  keepalive: number | null;
  members: DesiredMember[];
  credentials: PoolCredentials | null;
  /** Buckets whose objects may stay on this pool when nothing serves them from it any more (spec.allowOrphan). */
  allowOrphan?: string[];
  origin: Origin;
}

export interface DesiredRoute {
  name: string;
  virtualHost: string;
  path: string;
  /** The bucket name when the path is a bucket path (`/photos/`), else null. */
  bucket: string | null;
  pool: string;
  keyPrefix: string | null;
  enabled: boolean;
  allowOrphan: boolean;
  origin: Origin;
  /**
   * Set while a migration owns the route (and after it, while the manifest still names the old
   * pool): `pool` is then the pool actually served, and this says why. See src/domain/migrations.
   */
  migration?: RouteMigration | null;
}

export interface DesiredTls {
  certificate: string;
  key: string;
  http2: boolean;
}

export interface DesiredVirtualHost {
  name: string;
  serverNames: string[];
  port: number;
  address: string | null;
  tls: DesiredTls | null;
  defaultPool: string | null;
  ipRules: IpRules | null;
  extraBlocks: ExtraBlock[];
  ignoreBuckets: string[];
  /** Buckets whose objects may stay behind on the pool that serves them today (spec.allowOrphan). */
  allowOrphan?: string[];
  /** Access keys clients sign with through this virtual host (references). */
  clientIdentities?: ClientIdentity[];
  /** Pools that may refuse the client identities. */
  allowRefusingPools?: string[];
  /** nginx `proxy_read_timeout` / `proxy_send_timeout` as written in the manifest; absent: the defaults (600s). */
  proxyReadTimeout?: string;
  proxySendTimeout?: string;
  /** Sorted by path. Disabled routes are kept here (and in the sidecar) but not rendered. */
  routes: DesiredRoute[];
  origin: Origin;
}

export interface DesiredMigration {
  name: string;
  virtualHost: string;
  bucket: string;
  from: string;
  to: string;
  mode: MigrationMode;
  concurrency: number;
  /** Bytes per second, null for unlimited. */
  bandwidthLimit: number | null;
  /** Seconds. */
  freezeBudgetSeconds: number;
  origin: Origin;
}

/** The validated, defaulted, sorted model the manifests describe. Pure data. */
export interface DesiredState {
  pools: DesiredPool[];
  virtualHosts: DesiredVirtualHost[];
  migrations: DesiredMigration[];
}

export const MEMBER_DEFAULTS = { weight: 1, maxFails: 1, failTimeout: '10s', enabled: true } as const;
/**
 * Proxy timeouts of a virtual host when the manifest sets none: an S3 CompleteMultipartUpload
 * answers only once the server has assembled every part (nanio recommends 600 s), and nginx's own
 * default (60 s) cuts it off.
 */
export const PROXY_TIMEOUT_DEFAULT = '600s';

export const MIGRATION_DEFAULTS = { mode: 'copy', concurrency: 16, freezeBudgetSeconds: 10 } as const;
