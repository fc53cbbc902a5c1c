import type { PoolCredentials, SecretRef } from '../../domain/model/manifest-types.js';
import type { ResolvedSecret } from '../../domain/secrets/seal-pool-credentials.js';
import { readSecretFile } from './read-secret-file.js';

export { SECRET_FILE_MAX_BYTES } from './read-secret-file.js';

/**
 * Reads a secret reference at run time: `{env: NAME}` from the environment, `{file: PATH}` from
 * the file (one trailing newline dropped, as `echo secret > file` writes it). A problem names the
 * variable or the file, never the value.
 *
 * The file must be a regular file of at most SECRET_FILE_MAX_BYTES, answering within
 * SECRET_FILE_TIMEOUT_MS (read-secret-file.ts): a FIFO, `/dev/zero`, a socket, a huge file or a
 * file on a mount that does not answer is refused (`refused`: an error, not a secret that is
 * merely absent where the plan runs), and none of them can hold the writer lock.
 */
export function resolveSecretRef(ref: SecretRef, env: Readonly<Record<string, string | undefined>>): ResolvedSecret {
  if ('env' in ref) {
    const value = env[ref.env];
    if (value === undefined || value === '') return { ok: false, problem: `environment variable ${ref.env} is not set` };
    return { ok: true, value };
  }
  const read = readSecretFile(ref.file);
  if ('problem' in read)
    return { ok: false, problem: `file ${ref.file} ${read.problem}`, ...(read.refused ? { refused: true as const } : {}) };
  const value = read.text.replace(/\r?\n$/, '');
  if (value === '') return { ok: false, problem: `file ${ref.file} is empty` };
  return { ok: true, value };
}

export function resolvePoolCredentials(
  refs: PoolCredentials,
  env: Readonly<Record<string, string | undefined>>,
): { accessKeyId: ResolvedSecret; secretAccessKey: ResolvedSecret } {
  return { accessKeyId: resolveSecretRef(refs.accessKeyId, env), secretAccessKey: resolveSecretRef(refs.secretAccessKey, env) };
}
