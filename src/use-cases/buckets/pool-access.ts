import { createHash } from 'node:crypto';
import { PoolAccessError } from '../../domain/buckets/pool-access-error.js';
import type { Diagnostic } from '../../domain/diagnostics.js';
import type { DesiredPool } from '../../domain/model/desired-state.js';
import type { SecretRef } from '../../domain/model/manifest-types.js';
import { sealedCredentialsOf, type CredentialValues, type EncryptedCredentials } from '../../domain/secrets/credential-cipher.js';
import { sealPoolCredentials } from '../../domain/secrets/seal-pool-credentials.js';
import type { Keyring } from '../../domain/secrets/secret-key.js';
import type { Settings } from '../../config/settings.js';
import type { PoolStorage, PoolStorageFactory, PoolStorageOptions } from '../../ports/pool-storage.js';
import type { Secrets } from '../../ports/secrets.js';

/** What reaching the pools takes: the secrets (keyring, credential references) and S3 clients. */
/** Where credential references are read from (tests give their own). */
export type Env = Readonly<Record<string, string | undefined>>;

export interface PoolAccessPorts {
  secrets: Secrets;
  poolStorage: PoolStorageFactory;
}

/**
 * How orch may reach the pools: per nanio pool, its enabled members and whether credentials are
 * available. The credential values stay inside the closure of `open`; nothing here is printable.
 */
export interface PoolAccess {
  /** Nanio pools orch has credentials for. */
  usable: ReadonlySet<string>;
  /** Why a nanio pool cannot be used (no credentials in its manifest, unresolvable, wrong key). */
  problems: ReadonlyMap<string, string>;
  /**
   * Opens an S3 client on the pool's members; throws PoolAccessError when the pool is not usable.
   * `overrides` changes the client options of this one client (the migration engine asks for as
   * many requests in flight as the migration's concurrency).
   */
  open(pool: string, overrides?: Partial<PoolStorageOptions>): Promise<PoolStorage>;
}

export interface PreparedCredentials {
  keyring: Keyring | null;
  /** What each pool sidecar carries encrypted (absent: references only). */
  sealed: Map<string, EncryptedCredentials>;
  access: PoolAccess;
  diagnostics: Diagnostic[];
  /** Per pool with credentials: sha256 of what its sidecar will carry (part of a plan's fingerprint). */
  fingerprint: Record<string, string>;
  /**
   * Pools whose sidecar would get a newly sealed copy (values read from the references, different
   * from the copy on disk): apply must see the pool accept them before sealing (see computePlan).
   * Pool -> the references, described (never a value), and whether the sidecar has a copy now.
   */
  resealed: Map<string, { refs: string; hadCopy: boolean }>;
}

export function s3OptionsOf(settings: Settings) {
  return { timeoutMs: settings.s3TimeoutSeconds * 1000, retries: settings.s3Retries, concurrency: settings.s3Concurrency };
}

/**
 * Resolves every nanio pool's credentials (references first, else the encrypted copy in the pool's
 * sidecar on disk) and decides what the new sidecars carry. `sidecars`: pool name -> its sidecar's
 * JSON text on disk.
 */
export function preparePoolCredentials(
  ports: PoolAccessPorts,
  settings: Settings,
  pools: readonly DesiredPool[],
  sidecars: ReadonlyMap<string, string>,
): PreparedCredentials {
  const keyring = ports.secrets.keyring(settings.secretKeyFile);
  const sealed = new Map<string, EncryptedCredentials>();
  const values = new Map<string, CredentialValues>();
  const problems = new Map<string, string>();
  const diagnostics: Diagnostic[] = [];
  const fingerprint: Record<string, string> = {};
  const members = new Map<string, string[]>();
  const resealed = new Map<string, { refs: string; hadCopy: boolean }>();
  for (const pool of pools) {
    if (pool.type !== 'nanio') continue;
    members.set(
      pool.name,
      pool.members.filter((m) => m.enabled).map((m) => m.address),
    );
    if (pool.credentials === null) {
      problems.set(pool.name, `pool ${pool.name} has no credentials in its manifest`);
      continue;
    }
    const text = sidecars.get(pool.name);
    let onDisk: EncryptedCredentials | null = null;
    if (text !== undefined) {
      try {
        onDisk = sealedCredentialsOf(JSON.parse(text));
      } catch {
        onDisk = null;
      }
    }
    const result = sealPoolCredentials({
      pool: pool.name,
      refs: pool.credentials,
      resolved: ports.secrets.resolvePoolCredentials(pool.credentials),
      keyring,
      onDisk,
    });
    if (result.sealed) sealed.set(pool.name, result.sealed);
    if (result.sealed && result.verified && JSON.stringify(result.sealed) !== JSON.stringify(onDisk)) {
      resealed.set(pool.name, {
        refs: [pool.credentials.accessKeyId, pool.credentials.secretAccessKey].map(describeRef).join(' and '),
        hadCopy: onDisk !== null,
      });
    }
    if (result.values) values.set(pool.name, result.values);
    else problems.set(pool.name, result.valuesProblem ?? `the credentials of pool ${pool.name} are not available`);
    diagnostics.push(...result.diagnostics);
    fingerprint[pool.name] = result.sealed
      ? `sha256:${createHash('sha256').update(JSON.stringify(result.sealed)).digest('hex')}`
      : 'references-only';
  }
  const options = s3OptionsOf(settings);
  const access: PoolAccess = {
    usable: new Set(values.keys()),
    problems,
    async open(pool, overrides) {
      const creds = values.get(pool);
      if (!creds) {
        throw new PoolAccessError(
          pool,
          'error',
          problems.get(pool) ?? `pool ${pool} is not a nanio pool orch knows`,
          `Set the variables or files that spec.credentials of pool ${pool} references, or configure the secret key that encrypted its sidecar (docs/buckets.md).`,
        );
      }
      return ports.poolStorage.open({ pool, members: members.get(pool) ?? [], credentials: creds }, { ...options, ...overrides });
    },
  };
  return { keyring, sealed, access, diagnostics, fingerprint, resealed };
}

function describeRef(ref: SecretRef): string {
  return 'env' in ref ? `environment variable ${ref.env}` : `file ${ref.file}`;
}
