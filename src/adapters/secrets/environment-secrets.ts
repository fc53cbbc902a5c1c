import type { SecretKeyFiles, Secrets } from '../../ports/secrets.js';
import { generateKey, loadKeyring, SECRET_KEY_ENV, writeKeyFile } from './keyring-source.js';
import { readSecretFile } from './read-secret-file.js';
import { resolvePoolCredentials } from './resolve-secret-ref.js';

/** Secrets from an environment (the process's, given by the composition root) and files. */
export function environmentSecrets(env: Readonly<Record<string, string | undefined>>): Secrets {
  return {
    keyring: (keyFile) => loadKeyring(keyFile, env),
    resolvePoolCredentials: (refs) => resolvePoolCredentials(refs, env),
    keyMaterial(keyFile) {
      const out: string[] = [];
      const fromEnv = env[SECRET_KEY_ENV];
      if (fromEnv) out.push(fromEnv);
      if (keyFile === null) return out;
      const read = readSecretFile(keyFile);
      if ('problem' in read) return out; // reported by planning, without the value
      for (const line of read.text.split('\n')) {
        const t = line.trim();
        if (t === '' || t.startsWith('#')) continue;
        out.push(t);
        const colon = t.indexOf(':');
        if (colon > 0) out.push(t.slice(colon + 1));
      }
      return out;
    },
  };
}

export const fileSecretKeys: SecretKeyFiles = { generate: generateKey, write: writeKeyFile };
