import type { Diagnostic } from '../diagnostics.js';
import { isOrchError } from '../errors.js';
import type { PoolCredentials, SecretRef } from '../model/manifest-types.js';
import { decryptCredentials, encryptCredentials, type CredentialValues, type EncryptedCredentials } from './credential-cipher.js';
import type { Keyring } from './secret-key.js';

/**
 * A reference resolved at run time: the value, or why it could not be read (never the value).
 * `refused`: the reference names something that cannot be a secret file (a FIFO, a device, a
 * file too large, one that did not answer in time): an error, unlike a variable or file that is
 * merely absent where the plan runs (CI).
 */
export type ResolvedSecret = { ok: true; value: string } | { ok: false; problem: string; refused?: true };

export interface SealInput {
  pool: string;
  refs: PoolCredentials;
  resolved: { accessKeyId: ResolvedSecret; secretAccessKey: ResolvedSecret };
  keyring: Keyring | null;
  /** `credentials.encrypted` of the pool's sidecar on disk, when there is one. */
  onDisk: EncryptedCredentials | null;
  /**
   * What else than a pool's credentials is sealed (a client identity of a virtual host): the
   * scope authenticated with the blob (never a pool name: it holds a '/'), the words naming it and
   * the manifest field. Absent: the pool's `spec.credentials`.
   */
  subject?: SealSubject;
}

export interface SealSubject {
  scope: string;
  what: string;
  document: { kind: string; name: string };
  field: string;
}

/** The subject of a virtual host's client identity: sealed in the virtual host's sidecar. */
export function identitySubject(virtualHost: string, index: number): SealSubject {
  return {
    scope: `VirtualHost/${virtualHost}/clientIdentities/${index}`,
    what: `client identity ${index} of virtual host ${virtualHost}`,
    document: { kind: 'VirtualHost', name: virtualHost },
    field: `spec.clientIdentities.${index}`,
  };
}

export interface SealResult {
  /** What the new sidecar carries; null: the references only. */
  sealed: EncryptedCredentials | null;
  /** The values, resolved from the references or decrypted from the sidecar on disk; null when neither works. */
  values: CredentialValues | null;
  /** Why `values` is null (names the pool, the reference or the key id; never a value). */
  valuesProblem: string | null;
  /** The sealed blob was computed from the current values (not carried over unverified). */
  verified: boolean;
  /** Warnings for the plan: credentials not verified, re-encrypted from an unknown key. */
  diagnostics: Diagnostic[];
}

function describeRef(ref: SecretRef): string {
  return 'env' in ref ? `environment variable ${ref.env}` : `file ${ref.file}`;
}

/**
 * Decides what a pool's sidecar carries. Pure; the rules keep a plan exact and stable:
 *
 * - values resolved and a key configured: encrypt with the current key (deterministic, so an
 *   unchanged secret gives an unchanged sidecar);
 * - otherwise (a CI plan on a pull request has neither secrets nor key): keep the encrypted blob
 *   already on disk, so the plan shows no spurious change, and warn that it was not verified; a
 *   new pool gets the references only, with a warning.
 */
export function sealPoolCredentials(input: SealInput): SealResult {
  const { keyring, onDisk } = input;
  const subject = input.subject ?? {
    scope: input.pool,
    what: `pool ${input.pool}`,
    document: { kind: 'Pool', name: input.pool },
    field: 'spec.credentials',
  };
  const pool = subject.what;
  const scope = subject.scope;
  const { accessKeyId, secretAccessKey } = input.resolved;
  const diagnostics: Diagnostic[] = [];
  const warn = (code: string, message: string, hint: string) =>
    diagnostics.push({ severity: 'warning', code, message, hint, document: subject.document, field: subject.field });

  if (accessKeyId.ok && secretAccessKey.ok) {
    const values = { accessKeyId: accessKeyId.value, secretAccessKey: secretAccessKey.value };
    if (keyring !== null) {
      if (onDisk !== null && !keyring.keys.has(onDisk.keyId)) {
        warn(
          'credentials.reencrypted',
          `credentials of ${pool} are encrypted in its sidecar with key ${onDisk.keyId}, which is not configured; they will be encrypted again with key ${keyring.current.id}`,
          `If key ${onDisk.keyId} is still in use elsewhere, add it to the key file after the current key.`,
        );
      }
      return { sealed: encryptCredentials(keyring.current, scope, values), values, valuesProblem: null, verified: true, diagnostics };
    }
    warn(
      'credentials.not-verified',
      onDisk !== null
        ? `credentials of ${pool} not verified (no secret key configured): the encrypted credentials in its sidecar are kept as they are`
        : `credentials of ${pool} are not encrypted into its sidecar (no secret key configured): it carries the references only`,
      'Set ORCH_SECRET_KEY or secretKeyFile (ORCH_SECRET_KEY_FILE); see docs/buckets.md.',
    );
    return { sealed: onDisk, values, valuesProblem: null, verified: false, diagnostics };
  }

  const refused = (['accessKeyId', 'secretAccessKey'] as const).flatMap((field) => {
    const r = input.resolved[field];
    return !r.ok && r.refused === true ? [{ field, problem: r.problem }] : [];
  });
  if (refused.length > 0) {
    for (const { field, problem } of refused) {
      diagnostics.push({
        severity: 'error',
        code: 'credentials.unreadable',
        message: `credentials of ${pool}: ${problem}`,
        hint: `Point ${subject.field}.${field} at a regular file of at most 64 KiB on a local disk, or use {env: NAME}.`,
        document: subject.document,
        field: `${subject.field}.${field}`,
      });
    }
    const why = refused.map((r) => r.problem).join('; ');
    return {
      sealed: onDisk,
      values: null,
      valuesProblem: `the credentials of ${pool} cannot be read: ${why}`,
      verified: false,
      diagnostics,
    };
  }

  const missing = [accessKeyId, secretAccessKey].flatMap((r) => (r.ok ? [] : [r.problem]));
  const why = missing.join('; ');
  let values: CredentialValues | null = null;
  let valuesProblem: string | null = `the credentials of ${pool} cannot be read: ${why}`;
  if (onDisk !== null && keyring !== null) {
    try {
      values = decryptCredentials(keyring, scope, onDisk, pool);
      valuesProblem = null;
    } catch (e) {
      if (!isOrchError(e)) throw e;
      valuesProblem = `${valuesProblem}; and ${e.message.charAt(0).toLowerCase()}${e.message.slice(1).replace(/\.$/, '')}`;
    }
  } else if (onDisk !== null) {
    valuesProblem = `${valuesProblem}; the encrypted copy in its sidecar needs key ${onDisk.keyId}, and no secret key is configured`;
  }
  warn(
    'credentials.not-verified',
    onDisk !== null
      ? `credentials of ${pool} not verified (${why}): the encrypted credentials in its sidecar are kept as they are`
      : `credentials of ${pool} not verified (${why}): its sidecar carries the references only`,
    `Expected where the plan runs without secrets (CI). Otherwise set the ${[input.refs.accessKeyId, input.refs.secretAccessKey].map(describeRef).join(' and ')}.`,
  );
  return { sealed: onDisk, values, valuesProblem, verified: false, diagnostics };
}
