/**
 * TypeScript shapes of the manifest kinds. These mirror the JSON Schemas in `schemas/` field for
 * field; `test/unit/schema-types.test.ts` fails when the two drift apart.
 */
export const API_VERSION = 'orch/v1';
export const KINDS = ['Pool', 'VirtualHost', 'Route', 'Migration'] as const;
export type Kind = (typeof KINDS)[number];

export interface Metadata {
  /** Unique per kind. Becomes a file name and an nginx identifier, so it is restricted. */
  name: string;
  /** Free-form labels; never rendered into nginx. */
  labels?: Record<string, string>;
}

/** A reference to a secret value: never the value itself. */
export type SecretRef = { env: string } | { file: string };

export interface PoolCredentials {
  accessKeyId: SecretRef;
  secretAccessKey: SecretRef;
}

/** An access key clients use through a virtual host: where orch reads it, never the value. */
export interface ClientIdentity {
  accessKeyId: SecretRef;
  secretAccessKey: SecretRef;
}

export type LoadBalancing = 'round_robin' | 'least_conn' | 'ip_hash';
export type PoolType = 'nanio' | 'http';
export type MemberRole = 'primary' | 'replica';

export interface PoolMember {
  /** `host:port`, IPv4, `[IPv6]:port` or a DNS name with a port. */
  address: string;
  weight?: number;
  maxFails?: number;
  /** nginx time, e.g. `10s`, `1m`. */
  failTimeout?: string;
  enabled?: boolean;
  /** http pools only: replicas are rendered as `backup`. nanio members are always primary. */
  role?: MemberRole;
}

export interface PoolSpec {
  type: PoolType;
  description?: string;
  loadBalancing?: LoadBalancing;
  /** Idle keepalive connections to the upstream per worker; omitted: none. */
  keepalive?: number;
  members: PoolMember[];
  /** nanio pools only. */
  credentials?: PoolCredentials;
  /** nanio pools only: buckets whose objects may stay on this pool when nothing serves them from it any more. */
  allowOrphan?: string[];
}

export interface Tls {
  certificate: string;
  key: string;
  http2?: boolean;
}

export type IpRuleMode = 'allow' | 'deny';
export interface IpRules {
  mode: IpRuleMode;
  addresses: string[];
}

export type ExtraBlockZone = 'top' | 'ssl' | 'proxy' | 'end';
export interface ExtraBlock {
  zone: ExtraBlockZone;
  content: string;
}

export interface VirtualHostSpec {
  serverNames: string[];
  /** Listen port; default 80, or 443 when TLS is on. */
  port?: number;
  /** Address to bind (IPv4 or IPv6); default: all addresses. */
  address?: string;
  tls?: Tls;
  defaultPool?: string;
  ipRules?: IpRules;
  extraBlocks?: ExtraBlock[];
  /** Buckets that bucket sync should not report. */
  ignoreBuckets?: string[];
  /**
   * Buckets whose objects may stay behind on the pool serving them today when a route is removed
   * or the default pool changes (acknowledged stranding; `orch buckets orphans` lists them).
   */
  allowOrphan?: string[];
  /** Access keys clients sign with through this virtual host (references, never values). */
  clientIdentities?: ClientIdentity[];
  /** Pools that may refuse the client identities (the plan check warns instead of failing). */
  allowRefusingPools?: string[];
  /** nginx `proxy_read_timeout`, nginx time; default `600s`. */
  proxyReadTimeout?: string;
  /** nginx `proxy_send_timeout`, nginx time; default `600s`. */
  proxySendTimeout?: string;
}

export interface RouteSpec {
  virtualHost: string;
  /** `/bucket/` for a bucket, or any path prefix starting with `/`. */
  path: string;
  pool: string;
  /** Prefix inserted in front of the object key when forwarding, e.g. `archive/`. */
  keyPrefix?: string;
  enabled?: boolean;
  /** Acknowledge that objects stay behind on the previous pool when this route moves a bucket. */
  allowOrphan?: boolean;
}

export type MigrationMode = 'copy' | 'sync';
export interface MigrationSpec {
  virtualHost: string;
  bucket: string;
  from: string;
  to: string;
  mode?: MigrationMode;
  concurrency?: number;
  /** Bytes per second, with an optional K/M/G suffix, e.g. `50M`. */
  bandwidthLimit?: string;
  /** Longest write freeze allowed at the cutover, nginx time syntax, e.g. `10s`. */
  freezeBudget?: string;
}

export interface ManifestOf<K extends Kind, S> {
  apiVersion: typeof API_VERSION;
  kind: K;
  metadata: Metadata;
  spec: S;
}

export type PoolManifest = ManifestOf<'Pool', PoolSpec>;
export type VirtualHostManifest = ManifestOf<'VirtualHost', VirtualHostSpec>;
export type RouteManifest = ManifestOf<'Route', RouteSpec>;
export type MigrationManifest = ManifestOf<'Migration', MigrationSpec>;
export type Manifest = PoolManifest | VirtualHostManifest | RouteManifest | MigrationManifest;
