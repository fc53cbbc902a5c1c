import { createCipheriv, createDecipheriv, createHmac } from 'node:crypto';
import { UserError } from '../errors.js';
import { isKeyId, type Keyring, type SecretKey } from './secret-key.js';

/**
 * Encryption of pool credentials at rest, in sidecars: AES-256-GCM (node:crypto), deterministic.
 *
 * Why deterministic: a sidecar is part of the plan. A random nonce would re-encrypt the same
 * secret differently on every plan, so every plan would show every pool sidecar as changed and a
 * saved plan could never match what apply writes. The nonce is therefore derived from the input:
 *
 *     nonce = HMAC-SHA256(nonceKey, pool || field || plaintext)[0..12]
 *
 * (the SIV construction, as in AES-GCM-SIV / RFC 5297). Why reusing a nonce is safe here: GCM
 * breaks when one nonce encrypts two DIFFERENT plaintexts under one key (the keystreams cancel
 * out and the authentication key can be recovered). Here a nonce is a pseudo-random function of
 * the plaintext itself (and of the pool and field), so the same nonce only ever comes back with
 * the same plaintext, giving the same ciphertext again: nothing new is revealed. Two different
 * plaintexts share a nonce only if the truncated HMAC collides (2^-96 per pair). What an observer
 * learns is equality: whether a pool's secret changed between two sidecars, which the plan shows
 * anyway.
 *
 * The encryption and nonce keys are derived from the secret key by HMAC with distinct labels, so
 * the key is never used for two purposes. The pool name and field are authenticated (GCM
 * additional data): a blob copied to another pool or field does not decrypt.
 *
 * Blob layout, base64: nonce (12 bytes) | ciphertext | tag (16 bytes).
 */
export const CREDENTIAL_FIELDS = ['accessKeyId', 'secretAccessKey'] as const;
export type CredentialField = (typeof CREDENTIAL_FIELDS)[number];

/** Plaintext credentials. Never logged, never written, never part of a plan or an error. */
export interface CredentialValues {
  accessKeyId: string;
  secretAccessKey: string;
}

/** What a sidecar holds: the id of the key that sealed it and one blob per field. */
export interface EncryptedCredentials {
  keyId: string;
  accessKeyId: string;
  secretAccessKey: string;
}

const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const LABEL = 'orch/pool-credentials/v1';

function subkey(key: SecretKey, purpose: 'encryption' | 'nonce'): Buffer {
  return createHmac('sha256', key.bytes).update(`${LABEL} ${purpose}`).digest();
}

function aad(pool: string, field: CredentialField): Buffer {
  return Buffer.from(`${LABEL}\u0000${pool}\u0000${field}`, 'utf8');
}

export function encryptCredential(key: SecretKey, pool: string, field: CredentialField, plaintext: string): string {
  const nonce = createHmac('sha256', subkey(key, 'nonce'))
    .update(`${pool}\u0000${field}\u0000`, 'utf8')
    .update(plaintext, 'utf8')
    .digest()
    .subarray(0, NONCE_BYTES);
  const cipher = createCipheriv('aes-256-gcm', subkey(key, 'encryption'), nonce);
  cipher.setAAD(aad(pool, field));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64');
}

/** Null when the blob does not authenticate under this key (wrong key, other pool, tampered). */
export function decryptCredential(key: SecretKey, pool: string, field: CredentialField, blob: string): string | null {
  const raw = Buffer.from(blob, 'base64');
  if (raw.length < NONCE_BYTES + TAG_BYTES) return null;
  try {
    const decipher = createDecipheriv('aes-256-gcm', subkey(key, 'encryption'), raw.subarray(0, NONCE_BYTES));
    decipher.setAAD(aad(pool, field));
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    return Buffer.concat([decipher.update(raw.subarray(NONCE_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    return null;
  }
}

export function encryptCredentials(key: SecretKey, pool: string, values: CredentialValues): EncryptedCredentials {
  return {
    keyId: key.id,
    accessKeyId: encryptCredential(key, pool, 'accessKeyId', values.accessKeyId),
    secretAccessKey: encryptCredential(key, pool, 'secretAccessKey', values.secretAccessKey),
  };
}

/**
 * Decrypts a pool's sidecar credentials with the keyring. Errors name the pool and the key id,
 * never a value.
 */
export function decryptCredentials(
  keyring: Keyring | null,
  pool: string,
  sealed: EncryptedCredentials,
  what = `pool ${pool}`,
): CredentialValues {
  if (keyring === null) {
    throw new UserError(
      'credentials.no-key',
      `The credentials of ${what} are encrypted with key ${sealed.keyId}, and no secret key is configured.`,
      {
        hint: 'Set ORCH_SECRET_KEY, or secretKeyFile (ORCH_SECRET_KEY_FILE) to the key file holding that key; or set the variables/files the pool manifest references.',
      },
    );
  }
  const key = keyring.keys.get(sealed.keyId);
  if (!key) {
    throw new UserError(
      'credentials.unknown-key',
      `The credentials of ${what} are encrypted with key ${sealed.keyId}, which is not among the configured keys (${[...keyring.keys.keys()].join(', ')} from ${keyring.source}).`,
      {
        hint: `Add the key with id ${sealed.keyId} to the key file (older keys on the following lines stay readable), or set the variables/files the pool manifest references so orch encrypts them again.`,
      },
    );
  }
  const accessKeyId = decryptCredential(key, pool, 'accessKeyId', sealed.accessKeyId);
  const secretAccessKey = decryptCredential(key, pool, 'secretAccessKey', sealed.secretAccessKey);
  if (accessKeyId === null || secretAccessKey === null) {
    throw new UserError(
      'credentials.undecryptable',
      `The credentials of ${what} do not decrypt with key ${sealed.keyId}: the sidecar was altered or copied from another ${what.split(' ')[0] === 'pool' ? 'pool' : 'place'}.`,
      {
        hint: "Set the variables/files the pool manifest references and run 'orch apply' to write the sidecar again.",
      },
    );
  }
  return { accessKeyId, secretAccessKey };
}

/** Reads `credentials.encrypted` of a pool sidecar's JSON; null when absent or malformed. */
export function sealedCredentialsOf(sidecar: unknown): EncryptedCredentials | null {
  if (typeof sidecar !== 'object' || sidecar === null) return null;
  const creds = (sidecar as Record<string, unknown>)['credentials'];
  if (typeof creds !== 'object' || creds === null) return null;
  const enc = (creds as Record<string, unknown>)['encrypted'];
  if (typeof enc !== 'object' || enc === null) return null;
  const e = enc as Record<string, unknown>;
  const b64 = (v: unknown): v is string => typeof v === 'string' && /^[A-Za-z0-9+/]+={0,2}$/.test(v);
  if (!isKeyId(e['keyId']) || !b64(e['accessKeyId']) || !b64(e['secretAccessKey'])) return null;
  return { keyId: e['keyId'], accessKeyId: e['accessKeyId'], secretAccessKey: e['secretAccessKey'] };
}
