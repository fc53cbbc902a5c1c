import { createHash } from 'node:crypto';
import { UserError } from '../errors.js';

/**
 * The keys that encrypt pool credentials at rest. A key is 32 random bytes (AES-256), written as
 * base64; its id is the first 8 hex digits of its sha256, so a sidecar can name the key that
 * sealed it without revealing anything about it.
 *
 * A keyring holds the current key (used to encrypt) and older keys (still accepted to decrypt),
 * so keys can rotate: put the new key first in the key file and keep the old lines until every
 * sidecar was written again by an apply.
 */
export interface SecretKey {
  id: string;
  bytes: Buffer;
}

export interface Keyring {
  current: SecretKey;
  /** Every key by id, the current one included. */
  keys: ReadonlyMap<string, SecretKey>;
  /** Where the keys came from, for messages: `ORCH_SECRET_KEY`, `key file /etc/orch/secret.key`. */
  source: string;
}

export const KEY_BYTES = 32;
const BASE64_KEY = /^[A-Za-z0-9+/]{43}=$/;
const KEY_ID = /^[0-9a-f]{8}$/;

export function keyIdOf(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex').slice(0, 8);
}

export function isKeyId(value: unknown): value is string {
  return typeof value === 'string' && KEY_ID.test(value);
}

/** `id:base64` or `base64` -> a key. Messages name where the key came from, never its bytes. */
export function parseKeyLine(line: string, where: string): SecretKey {
  const text = line.trim();
  const colon = text.indexOf(':');
  const claimedId = colon >= 0 ? text.slice(0, colon) : null;
  const b64 = colon >= 0 ? text.slice(colon + 1) : text;
  if (!BASE64_KEY.test(b64)) {
    throw new UserError(
      'secret-key.invalid',
      `${where} is not a secret key: expected ${KEY_BYTES} bytes in base64 (44 characters), optionally preceded by "<key id>:".`,
      {
        hint: "Generate one with 'orch secret-key generate' (prints a key) or 'orch secret-key generate --out FILE' (writes a key file).",
      },
    );
  }
  const bytes = Buffer.from(b64, 'base64');
  const id = keyIdOf(bytes);
  if (claimedId !== null && claimedId !== id) {
    throw new UserError('secret-key.id-mismatch', `${where} says its key id is "${claimedId}", but the key's id is ${id}.`, {
      hint: 'The line was edited or mixed up with another key: take the line exactly as `orch secret-key generate` wrote it.',
    });
  }
  return { id, bytes };
}

/**
 * A key file: one key per line (`id:base64`), the first line is the current key, the others are
 * older keys kept readable. Empty lines and `#` comments are ignored.
 */
export function parseKeyFile(text: string, path: string): SecretKey[] {
  const keys: SecretKey[] = [];
  text.split('\n').forEach((line, i) => {
    const t = line.trim();
    if (t === '' || t.startsWith('#')) return;
    keys.push(parseKeyLine(t, `line ${i + 1} of the key file ${path}`));
  });
  if (keys.length === 0) {
    throw new UserError('secret-key.empty-file', `The key file ${path} holds no key.`, {
      hint: "Write one with 'orch secret-key generate --out FILE'.",
    });
  }
  return keys;
}

/** The first key is the current one; duplicates are dropped. */
export function makeKeyring(keys: readonly SecretKey[], source: string): Keyring {
  const map = new Map<string, SecretKey>();
  for (const k of keys) if (!map.has(k.id)) map.set(k.id, k);
  return { current: keys[0]!, keys: map, source };
}

/** A key file's line for a key: `id:base64`. */
export function keyLine(key: SecretKey): string {
  return `${key.id}:${key.bytes.toString('base64')}`;
}
