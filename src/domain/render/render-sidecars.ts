import type { RouteMigration } from '../migrations/routing.js';
import type { DesiredPool, DesiredRoute, DesiredState, DesiredVirtualHost, Origin } from '../model/desired-state.js';
import type { SecretRef } from '../model/manifest-types.js';
import { sealedCredentialsOf, type EncryptedCredentials } from '../secrets/credential-cipher.js';
import { SIDECAR_MARKER, type RenderedTree } from './rendered-tree.js';

/**
 * Sidecars hold what nginx syntax cannot: enough to rebuild the pool or virtual host (with all
 * its routes, disabled ones included) without parsing nginx files. Objects are built field by
 * field in a fixed order, so the JSON is byte-identical for identical input; no clock, no
 * absolute path other than the manifest origin exactly as given.
 *
 * formatVersion 1. Credentials are the manifest's references (`{env}` / `{file}`), never values,
 * plus, when a secret key is configured, the values encrypted at rest under `encrypted` (an
 * optional field: readers of format 1 that do not know it ignore it). See
 * src/domain/secrets/credential-cipher.ts.
 */
export const SIDECAR_FORMAT_VERSION = 1;

export interface SidecarOrigin {
  file: string;
  index: number;
}

export interface PoolSidecar {
  managedBy: typeof SIDECAR_MARKER;
  formatVersion: typeof SIDECAR_FORMAT_VERSION;
  kind: 'Pool';
  name: string;
  type: DesiredPool['type'];
  description: string | null;
  loadBalancing: DesiredPool['loadBalancing'];
  keepalive: number | null;
  members: Array<{
    address: string;
    weight: number;
    maxFails: number;
    failTimeout: string;
    enabled: boolean;
    role: DesiredPool['members'][number]['role'];
  }>;
  credentials: { accessKeyId: SecretRef; secretAccessKey: SecretRef; encrypted?: EncryptedCredentials } | null;
  origin: SidecarOrigin;
}

export interface VirtualHostSidecar {
  managedBy: typeof SIDECAR_MARKER;
  formatVersion: typeof SIDECAR_FORMAT_VERSION;
  kind: 'VirtualHost';
  name: string;
  serverNames: string[];
  port: number;
  address: string | null;
  tls: { certificate: string; key: string; http2: boolean } | null;
  defaultPool: string | null;
  ipRules: { mode: 'allow' | 'deny'; addresses: string[] } | null;
  extraBlocks: Array<{ zone: DesiredVirtualHost['extraBlocks'][number]['zone']; content: string }>;
  ignoreBuckets: string[];
  routes: Array<{
    name: string;
    path: string;
    bucket: string | null;
    pool: string;
    keyPrefix: string | null;
    enabled: boolean;
    allowOrphan: boolean;
    origin: SidecarOrigin;
    /** Only while (or after) a migration owns the route; `pool` is then the pool served. */
    migration?: RouteMigration;
  }>;
  /**
   * The client identities (spec.clientIdentities), only when the virtual host declares some: the
   * references, and the values sealed like a pool's credentials (`encrypted`) when a secret key is
   * configured. Never a value in clear.
   */
  clientIdentities?: Array<{ accessKeyId: SecretRef; secretAccessKey: SecretRef; encrypted?: EncryptedCredentials }>;
  origin: SidecarOrigin;
}

function origin(o: Origin): SidecarOrigin {
  return { file: o.file, index: o.index };
}

function secretRef(ref: SecretRef): SecretRef {
  return 'env' in ref ? { env: ref.env } : { file: ref.file };
}

/** `sealed`: the credentials encrypted at rest (see sealPoolCredentials); omitted: references only. */
export function poolSidecar(pool: DesiredPool, sealed: EncryptedCredentials | null = null): PoolSidecar {
  return {
    managedBy: SIDECAR_MARKER,
    formatVersion: SIDECAR_FORMAT_VERSION,
    kind: 'Pool',
    name: pool.name,
    type: pool.type,
    description: pool.description,
    loadBalancing: pool.loadBalancing,
    keepalive: pool.keepalive,
    members: pool.members.map((m) => ({
      address: m.address,
      weight: m.weight,
      maxFails: m.maxFails,
      failTimeout: m.failTimeout,
      enabled: m.enabled,
      role: m.role,
    })),
    credentials:
      pool.credentials === null
        ? null
        : {
            accessKeyId: secretRef(pool.credentials.accessKeyId),
            secretAccessKey: secretRef(pool.credentials.secretAccessKey),
            ...(sealed === null
              ? {}
              : { encrypted: { keyId: sealed.keyId, accessKeyId: sealed.accessKeyId, secretAccessKey: sealed.secretAccessKey } }),
          },
    origin: origin(pool.origin),
  };
}

/** `routes`: the virtual host's routes in render order (by path, then name). */
export function virtualHostSidecar(vhost: DesiredVirtualHost, routes: readonly DesiredRoute[]): VirtualHostSidecar {
  return {
    managedBy: SIDECAR_MARKER,
    formatVersion: SIDECAR_FORMAT_VERSION,
    kind: 'VirtualHost',
    name: vhost.name,
    serverNames: [...vhost.serverNames],
    port: vhost.port,
    address: vhost.address,
    tls: vhost.tls === null ? null : { certificate: vhost.tls.certificate, key: vhost.tls.key, http2: vhost.tls.http2 },
    defaultPool: vhost.defaultPool,
    ipRules: vhost.ipRules === null ? null : { mode: vhost.ipRules.mode, addresses: [...vhost.ipRules.addresses] },
    extraBlocks: vhost.extraBlocks.map((b) => ({ zone: b.zone, content: b.content })),
    ignoreBuckets: [...vhost.ignoreBuckets],
    routes: routes.map((r) => ({
      name: r.name,
      path: r.path,
      bucket: r.bucket,
      pool: r.pool,
      keyPrefix: r.keyPrefix,
      enabled: r.enabled,
      allowOrphan: r.allowOrphan,
      origin: origin(r.origin),
      ...(r.migration ? { migration: { ...r.migration } } : {}),
    })),
    ...(vhost.clientIdentities && vhost.clientIdentities.length > 0
      ? {
          clientIdentities: vhost.clientIdentities.map((c) => ({
            accessKeyId: secretRef(c.accessKeyId),
            secretAccessKey: secretRef(c.secretAccessKey),
          })),
        }
      : {}),
    origin: origin(vhost.origin),
  };
}

/** 2-space JSON with a trailing newline. */
export function sidecarJson(sidecar: PoolSidecar | VirtualHostSidecar): string {
  return JSON.stringify(sidecar, null, 2) + '\n';
}

/**
 * The tree with the pool sidecars of `sealed` pools carrying their encrypted credentials. Pure;
 * the input tree is not modified. Pools without credentials are left as rendered.
 */
export function withSealedCredentials(
  tree: RenderedTree,
  desired: DesiredState,
  sealed: ReadonlyMap<string, EncryptedCredentials>,
): RenderedTree {
  if (sealed.size === 0) return tree;
  const replaced = new Map<string, string>();
  for (const pool of desired.pools) {
    const s = sealed.get(pool.name);
    if (s && pool.credentials !== null) replaced.set(`pools/${pool.name}.meta.json`, sidecarJson(poolSidecar(pool, s)));
  }
  return { files: tree.files.map((f) => (replaced.has(f.path) ? { ...f, content: replaced.get(f.path)! } : f)) };
}

/**
 * The tree with the virtual host sidecars carrying their client identities sealed: `sealed` maps
 * a virtual host to one entry per identity (null: references only). Pure; the key order of the
 * sidecar is kept (the encrypted block goes after the references, as in pool sidecars).
 */
export function withSealedIdentities(
  tree: RenderedTree,
  sealed: ReadonlyMap<string, ReadonlyArray<EncryptedCredentials | null>>,
): RenderedTree {
  if (sealed.size === 0) return tree;
  return {
    files: tree.files.map((f) => {
      const m = /^vhosts\/(.+)\.meta\.json$/.exec(f.path);
      const blobs = m ? sealed.get(m[1]!) : undefined;
      if (!blobs || blobs.every((b) => b === null)) return f;
      const sidecar = JSON.parse(f.content) as VirtualHostSidecar;
      if (!sidecar.clientIdentities) return f;
      sidecar.clientIdentities = sidecar.clientIdentities.map((c, i) => {
        const b = blobs[i] ?? null;
        return b === null
          ? c
          : {
              accessKeyId: c.accessKeyId,
              secretAccessKey: c.secretAccessKey,
              encrypted: { keyId: b.keyId, accessKeyId: b.accessKeyId, secretAccessKey: b.secretAccessKey },
            };
      });
      return { ...f, content: sidecarJson(sidecar) };
    }),
  };
}

/** The sealed copies in a virtual host sidecar's JSON, per identity with its references; [] when none or malformed. */
export function sealedIdentitiesOf(sidecar: unknown): Array<{ refs: string; sealed: EncryptedCredentials | null }> {
  if (typeof sidecar !== 'object' || sidecar === null) return [];
  const list = (sidecar as Record<string, unknown>)['clientIdentities'];
  if (!Array.isArray(list)) return [];
  return list.map((c: unknown) => {
    if (typeof c !== 'object' || c === null) return { refs: '', sealed: null };
    const o = c as Record<string, unknown>;
    return { refs: JSON.stringify([o['accessKeyId'], o['secretAccessKey']]), sealed: sealedCredentialsOf({ credentials: o }) };
  });
}

/** The references of an identity as sealedIdentitiesOf names them (to match a sealed copy to its identity). */
export function identityRefsKey(refs: { accessKeyId: SecretRef; secretAccessKey: SecretRef }): string {
  return JSON.stringify([secretRef(refs.accessKeyId), secretRef(refs.secretAccessKey)]);
}
