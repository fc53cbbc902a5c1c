import { createHash } from 'node:crypto';
import { isOrchError } from '../../domain/errors.js';
import type { ManagedTree } from '../../ports/managed-tree.js';
import { readDeployedGateway } from './deployed-gateway.js';
import { PoolAccessError } from '../../domain/buckets/pool-access-error.js';
import type { Diagnostic, SourcePosition } from '../../domain/diagnostics.js';
import type { DesiredState, Origin } from '../../domain/model/desired-state.js';
import type { Settings } from '../../config/settings.js';
import { s3OptionsOf, type PoolAccessPorts } from './pool-access.js';
import type { CredentialValues, EncryptedCredentials } from '../../domain/secrets/credential-cipher.js';
import { identitySubject, sealPoolCredentials } from '../../domain/secrets/seal-pool-credentials.js';
import type { Keyring } from '../../domain/secrets/secret-key.js';
import { identityRefsKey, sealedIdentitiesOf } from '../../domain/render/render-sidecars.js';
import type { ClientIdentity } from '../../domain/model/manifest-types.js';
import type { Secrets } from '../../ports/secrets.js';
import { memberUpdateSteps } from '../../domain/node-config/member-update-steps.js';

/** The values of one client identity, or why there are none (never a value). */
export type IdentityValues = { ok: true; values: CredentialValues } | { ok: false; problem: string };

/** What the sealing of the client identities decided. */
export interface PreparedIdentities {
  /** Virtual host -> per identity, what its sidecar carries encrypted (null: the references only). */
  sealed: Map<string, Array<EncryptedCredentials | null>>;
  /** The values each identity is checked with: read from its references, else decrypted from the sealed copy on disk. */
  resolve(virtualHost: string, index: number): IdentityValues;
  /** Warnings: identities not sealed (no key), sealed with a key no longer configured. */
  diagnostics: Diagnostic[];
  /** `VirtualHost/<name>` -> sha256 of what its sidecar carries sealed (part of a plan's fingerprint). */
  fingerprint: Record<string, string>;
}

/**
 * Seals the client identities like pool credentials (see sealPoolCredentials): each identity's
 * values, read from its references, are encrypted with the current key into the virtual host's
 * sidecar (scope `VirtualHost/<name>/clientIdentities/<index>`, so a blob copied elsewhere does not
 * decrypt); where the references do not resolve (a CI plan, a daemon without the variables), the
 * sealed copy on disk is kept and, with the key, is what the identity is checked with. A sealed
 * copy is only matched to an identity with the same references at the same index.
 * `sidecars`: virtual host name -> its sidecar's JSON text on disk.
 */
export function prepareIdentityCredentials(
  secrets: Pick<Secrets, 'resolvePoolCredentials'>,
  keyring: Keyring | null,
  virtualHosts: ReadonlyArray<{ name: string; clientIdentities?: ClientIdentity[] }>,
  sidecars: ReadonlyMap<string, string>,
): PreparedIdentities {
  const sealed = new Map<string, Array<EncryptedCredentials | null>>();
  const values = new Map<string, IdentityValues>();
  const diagnostics: Diagnostic[] = [];
  const fingerprint: Record<string, string> = {};
  for (const v of virtualHosts) {
    const identities = v.clientIdentities ?? [];
    if (identities.length === 0) continue;
    let onDisk: ReturnType<typeof sealedIdentitiesOf> = [];
    const text = sidecars.get(v.name);
    if (text !== undefined) {
      try {
        onDisk = sealedIdentitiesOf(JSON.parse(text));
      } catch {
        onDisk = [];
      }
    }
    const blobs = identities.map((identity, index) => {
      const copy = onDisk[index];
      const result = sealPoolCredentials({
        pool: v.name,
        refs: identity,
        resolved: secrets.resolvePoolCredentials(identity),
        keyring,
        onDisk: copy && copy.refs === identityRefsKey(identity) ? copy.sealed : null,
        subject: identitySubject(v.name, index),
      });
      values.set(
        `${v.name}\u0000${index}`,
        result.values
          ? { ok: true, values: result.values }
          : {
              ok: false,
              problem: (result.valuesProblem ?? 'not available').replace(
                /^the credentials of client identity \d+ of virtual host \S+ cannot be read: /,
                '',
              ),
            },
      );
      // Without values the identity check says it once (identity.not-verified).
      if (result.values) diagnostics.push(...result.diagnostics);
      return result.sealed;
    });
    sealed.set(v.name, blobs);
    fingerprint[`VirtualHost/${v.name}`] = blobs.every((b) => b === null)
      ? 'references-only'
      : `sha256:${createHash('sha256').update(JSON.stringify(blobs)).digest('hex')}`;
  }
  return {
    sealed,
    resolve: (virtualHost, index) =>
      values.get(`${virtualHost}\u0000${index}`) ?? { ok: false, problem: `virtual host ${virtualHost} has no client identity ${index}` },
    diagnostics,
    fingerprint,
  };
}

/** One client identity checked on one pool. The access key id may be shown; the secret never is. */
export interface IdentityCheck {
  virtualHost: string;
  /** Index in spec.clientIdentities. */
  index: number;
  /** The access key id (shown), or null when its reference could not be read. */
  accessKeyId: string | null;
  pool: string;
  status: 'ok' | 'refused' | 'unreachable' | 'not-verified';
  message: string | null;
}

export interface IdentityCheckPorts extends PoolAccessPorts {
  settings: Settings;
}

/** The nanio pools a virtual host's buckets are served from or migrate to (default, routes, migrations). */
export function identityPools(desired: DesiredState, vhost: string): string[] {
  const nanio = new Set(desired.pools.filter((p) => p.type === 'nanio').map((p) => p.name));
  const v = desired.virtualHosts.find((x) => x.name === vhost);
  if (!v) return [];
  const out = new Set<string>();
  if (v.defaultPool !== null) out.add(v.defaultPool);
  for (const r of v.routes) if (r.enabled) out.add(r.pool);
  for (const m of desired.migrations) if (m.virtualHost === vhost) out.add(m.to);
  return [...out].filter((p) => nanio.has(p)).sort();
}

/**
 * Checks, on the pools, that every nanio pool a virtual host's buckets are routed or migrate to
 * accepts each of its client identities: one signed ListBuckets per identity and pool, on the
 * pool's members directly (no object is read). A pool that refuses one is an error naming the
 * pool, the member and the access key id (a warning for the pools in spec.allowRefusingPools);
 * an identity whose references do not resolve, or a pool that does not answer, is a warning.
 */
export async function checkClientIdentities(
  ports: IdentityCheckPorts,
  desired: DesiredState,
  positionOf?: (origin: Origin, field: ReadonlyArray<string | number>) => SourcePosition | undefined,
  resolve?: PreparedIdentities['resolve'],
): Promise<{ checks: IdentityCheck[]; diagnostics: Diagnostic[] }> {
  const checks: IdentityCheck[] = [];
  const diagnostics: Diagnostic[] = [];
  const members = new Map(desired.pools.map((p) => [p.name, p.members.filter((m) => m.enabled).map((m) => m.address)]));
  const byName = new Map(desired.pools.map((p) => [p.name, p]));
  // One request, no retry, at most 5 s per member: a member that does not answer must not hold the plan.
  const base = s3OptionsOf(ports.settings);
  const options = { ...base, timeoutMs: Math.min(base.timeoutMs, 5000), retries: 0 };
  // One request per (pool, access key, secret) however many virtual hosts share the identity.
  const answers = new Map<string, Promise<{ status: IdentityCheck['status']; message: string | null }>>();
  const jobs: Array<Promise<void>> = [];
  for (const v of desired.virtualHosts) {
    const identities = v.clientIdentities ?? [];
    if (identities.length === 0) continue;
    const pools = identityPools(desired, v.name);
    identities.forEach((identity, index) => {
      const at = (field: Array<string | number>) => {
        const source = positionOf?.(v.origin, field);
        return { ...(source ? { source } : {}), document: { kind: 'VirtualHost', name: v.name }, field: field.join('.') };
      };
      const resolved: IdentityValues = resolve ? resolve(v.name, index) : fromReferences(ports.secrets.resolvePoolCredentials(identity));
      if (!resolved.ok) {
        const why = resolved.problem;
        for (const pool of pools)
          checks.push({ virtualHost: v.name, index, accessKeyId: null, pool, status: 'not-verified', message: why });
        diagnostics.push({
          severity: 'warning',
          code: 'identity.not-verified',
          message: `client identity ${index} of virtual host ${v.name} was not checked on its pools: ${why}`,
          hint: 'Expected where the plan runs without secrets (CI); on the gateway, set the variables or files it references.',
          ...at(['spec', 'clientIdentities', index]),
        });
        return;
      }
      const credentials = resolved.values;
      const ak = credentials.accessKeyId;
      for (const pool of pools) {
        const key = `${pool}\u0000${ak}\u0000${createHash('sha256').update(credentials.secretAccessKey).digest('hex')}`;
        let answer = answers.get(key);
        if (!answer) {
          answer = (async () => {
            let storage = null;
            try {
              storage = await ports.poolStorage.open({ pool, members: members.get(pool) ?? [], credentials }, options);
              await storage.listBuckets();
              return { status: 'ok' as const, message: null };
            } catch (e) {
              if (!(e instanceof PoolAccessError)) throw e;
              const detail = /\(([^)]*)\)/.exec(e.message)?.[1] ?? e.message;
              return { status: e.problem === 'access-denied' ? ('refused' as const) : ('unreachable' as const), message: detail };
            } finally {
              storage?.close();
            }
          })();
          answers.set(key, answer);
        }
        jobs.push(
          answer.then(({ status, message }) => {
            checks.push({ virtualHost: v.name, index, accessKeyId: ak, pool, status, message });
            if (status === 'ok') return;
            const allowed = (v.allowRefusingPools ?? []).includes(pool);
            if (status === 'refused') {
              diagnostics.push({
                severity: allowed ? 'warning' : 'error',
                code: 'identity.refused',
                message: `pool ${pool} refuses client identity ${ak} of virtual host ${v.name} (${message}): clients signing with it would get 403 for every bucket of ${v.name} served by or migrated to ${pool}${allowed ? ' (acknowledged in spec.allowRefusingPools)' : ''}`,
                hint: `Give the members of pool ${pool} the identity (orch node-config writes it into their [[users]]): ${memberUpdateSteps(byName.get(pool)!)}; then run the command again. Or, to accept the refusal, list ${pool} in spec.allowRefusingPools of virtual host ${v.name}.`,
                ...at(['spec', 'clientIdentities', index, 'accessKeyId']),
              });
            } else {
              diagnostics.push({
                severity: 'warning',
                code: 'identity.unchecked',
                message: `client identity ${ak} of virtual host ${v.name} was not checked on pool ${pool}: ${message}`,
                hint: `Check that the members of pool ${pool} are up and reachable from this machine.`,
                ...at(['spec', 'clientIdentities', index, 'accessKeyId']),
              });
            }
          }),
        );
      }
    });
  }
  await Promise.all(jobs);
  const order = (c: IdentityCheck) => `${c.virtualHost}\u0000${String(c.index).padStart(6, '0')}\u0000${c.pool}`;
  checks.sort((a, b) => (order(a) < order(b) ? -1 : order(a) > order(b) ? 1 : 0));
  diagnostics.sort((a, b) => (`${a.document?.name} ${a.message}` < `${b.document?.name} ${b.message}` ? -1 : 1));
  return { checks, diagnostics };
}

function fromReferences(r: ReturnType<Secrets['resolvePoolCredentials']>): IdentityValues {
  if (r.accessKeyId.ok && r.secretAccessKey.ok)
    return { ok: true, values: { accessKeyId: r.accessKeyId.value, secretAccessKey: r.secretAccessKey.value } };
  return { ok: false, problem: [r.accessKeyId, r.secretAccessKey].flatMap((x) => (x.ok ? [] : [x.problem])).join('; ') };
}

/**
 * The client identity check of the gateway as deployed (`orch status`): the identities and the
 * routing read from the sidecars in the managed directory, checked with the values of their
 * references, else with the copies sealed there. Nothing is requested when no deployed virtual
 * host declares identities. A key file that cannot be read leaves the sealed copies unused (the
 * check then says which identities were not verified).
 */
export async function deployedIdentityChecks(ports: IdentityCheckPorts & { tree: Pick<ManagedTree, 'read'> }): Promise<IdentityCheck[]> {
  const deployed = readDeployedGateway(ports.tree);
  if (!deployed.desired.virtualHosts.some((v) => (v.clientIdentities ?? []).length > 0)) return [];
  let keyring: Keyring | null = null;
  try {
    keyring = ports.secrets.keyring(ports.settings.secretKeyFile);
  } catch (e) {
    if (!isOrchError(e)) throw e;
  }
  const prepared = prepareIdentityCredentials(ports.secrets, keyring, deployed.desired.virtualHosts, deployed.vhostSidecars);
  return (await checkClientIdentities(ports, deployed.desired, undefined, prepared.resolve)).checks;
}
