import { readFileSync } from 'node:fs';
import type { PoolCredentials, SecretRef } from '../../domain/model/manifest-types.js';
import type { ResolvedSecret } from '../../domain/secrets/seal-pool-credentials.js';

/**
 * Reads a secret reference at run time: `{env: NAME}` from the environment, `{file: PATH}` from
 * the file (one trailing newline dropped, as `echo secret > file` writes it). A problem names the
 * variable or the file, never the value.
 */
export function resolveSecretRef(ref: SecretRef, env: Readonly<Record<string, string | undefined>>): ResolvedSecret {
  if ('env' in ref) {
    const value = env[ref.env];
    if (value === undefined || value === '') return { ok: false, problem: `environment variable ${ref.env} is not set` };
    return { ok: true, value };
  }
  let text: string;
  try {
    text = readFileSync(ref.file, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'does not exist'
        : code === 'EACCES'
          ? 'cannot be read (permission denied)'
          : code === 'EISDIR'
            ? 'is a directory'
            : `cannot be read (${code ?? 'error'})`;
    return { ok: false, problem: `file ${ref.file} ${why}` };
  }
  const value = text.replace(/\r?\n$/, '');
  if (value === '') return { ok: false, problem: `file ${ref.file} is empty` };
  return { ok: true, value };
}

export function resolvePoolCredentials(
  refs: PoolCredentials,
  env: Readonly<Record<string, string | undefined>>,
): { accessKeyId: ResolvedSecret; secretAccessKey: ResolvedSecret } {
  return { accessKeyId: resolveSecretRef(refs.accessKeyId, env), secretAccessKey: resolveSecretRef(refs.secretAccessKey, env) };
}
