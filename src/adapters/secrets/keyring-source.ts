import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { writeFileAtomic } from '../fs/atomic-write.js';
import { readSecretFile } from './read-secret-file.js';
import { UserError } from '../../domain/errors.js';
import {
  KEY_BYTES,
  keyIdOf,
  keyLine,
  makeKeyring,
  parseKeyFile,
  parseKeyLine,
  type Keyring,
  type SecretKey,
} from '../../domain/secrets/secret-key.js';

export const SECRET_KEY_ENV = 'ORCH_SECRET_KEY';

/**
 * The keyring from the environment and the key file: `ORCH_SECRET_KEY` (base64, or `id:base64`)
 * is the current key when set; the key file (`secretKeyFile` / ORCH_SECRET_KEY_FILE) adds its
 * keys, its first line being the current key when the variable is not set. Null when neither is
 * configured: orch still plans, without encrypting (see sealPoolCredentials).
 */
export function loadKeyring(keyFile: string | null, env: Readonly<Record<string, string | undefined>>): Keyring | null {
  const keys: SecretKey[] = [];
  const sources: string[] = [];
  const fromEnv = env[SECRET_KEY_ENV];
  if (fromEnv !== undefined && fromEnv.trim() !== '') {
    keys.push(parseKeyLine(fromEnv, `The environment variable ${SECRET_KEY_ENV}`));
    sources.push(SECRET_KEY_ENV);
  }
  if (keyFile !== null) {
    // Bounded like every secret file: a FIFO, a device or a mount that does not answer is refused.
    const read = readSecretFile(keyFile);
    if ('problem' in read) {
      throw new UserError('secret-key.file-unreadable', `The secret key file ${keyFile} ${read.problem}.`, {
        hint: `Create it with 'orch secret-key generate --out ${keyFile}', or unset secretKeyFile / ORCH_SECRET_KEY_FILE.`,
      });
    }
    keys.push(...parseKeyFile(read.text, keyFile));
    sources.push(`key file ${keyFile}`);
  }
  return keys.length === 0 ? null : makeKeyring(keys, sources.join(' and '));
}

export function generateKey(): SecretKey {
  const bytes = randomBytes(KEY_BYTES);
  return { id: keyIdOf(bytes), bytes };
}

/**
 * Writes a key file readable by its owner only (0600). An existing file is refused unless
 * `rotate`: then the new key goes first (current) and the old lines stay (still readable).
 */
export function writeKeyFile(path: string, key: SecretKey, opts: { rotate: boolean }): { previousKeys: number } {
  let previous: string[] = [];
  if (existsSync(path)) {
    if (!opts.rotate) {
      throw new UserError('secret-key.file-exists', `The key file ${path} already exists; it is not overwritten.`, {
        hint: 'Pass --rotate to put a new current key in front of the existing ones (they stay readable), or choose another path.',
      });
    }
    if (!statSync(path).isFile()) throw new UserError('secret-key.file-exists', `${path} is not a regular file.`);
    const text = readFileSync(path, 'utf8');
    previous = parseKeyFile(text, path).map(keyLine);
  }
  writeFileAtomic(path, [keyLine(key), ...previous].join('\n') + '\n', { mode: 0o600 });
  return { previousKeys: previous.length };
}
