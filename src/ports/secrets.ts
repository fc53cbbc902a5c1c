// Secrets as the use cases see them: the keyring that encrypts pool credentials at rest, and the
// values behind the credential references of the manifests (`{env: NAME}`, `{file: PATH}`).
// Implemented by reading the process environment and files (src/adapters/secrets/); the
// composition root hands the environment to the adapter, so no use case reads process.env.
import type { PoolCredentials } from '../domain/model/manifest-types.js';
import type { ResolvedSecret } from '../domain/secrets/seal-pool-credentials.js';
import type { Keyring, SecretKey } from '../domain/secrets/secret-key.js';

export interface ResolvedPoolCredentials {
  accessKeyId: ResolvedSecret;
  secretAccessKey: ResolvedSecret;
}

export interface Secrets {
  /**
   * The keyring: `ORCH_SECRET_KEY` is the current key when set; the key file (the secretKeyFile
   * setting) adds its keys. Null when neither is configured. Throws a UserError when the key file
   * cannot be read or a key cannot be parsed (the message never holds a key).
   */
  keyring(keyFile: string | null): Keyring | null;
  /** The values of a pool's credential references; a problem names the variable or file, never a value. */
  resolvePoolCredentials(refs: PoolCredentials): ResolvedPoolCredentials;
  /** The secret key material as written (variable, key file lines and their key parts), for logs to mask. Never throws. */
  keyMaterial(keyFile: string | null): string[];
}

/** Key files for `orch secret-key generate`. */
export interface SecretKeyFiles {
  /** A new random key. */
  generate(): SecretKey;
  /**
   * Writes a key file readable by its owner only (0600). An existing file is refused unless
   * `rotate`: then the new key goes first (current) and the old lines stay (still readable).
   */
  write(path: string, key: SecretKey, opts: { rotate: boolean }): { previousKeys: number };
}
