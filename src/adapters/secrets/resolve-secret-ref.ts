import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import type { PoolCredentials, SecretRef } from '../../domain/model/manifest-types.js';
import type { ResolvedSecret } from '../../domain/secrets/seal-pool-credentials.js';

/** Bytes a secret file may hold: a key id or a secret key is a few dozen. */
export const SECRET_FILE_MAX_BYTES = 64 * 1024;

/**
 * Reads a secret reference at run time: `{env: NAME}` from the environment, `{file: PATH}` from
 * the file (one trailing newline dropped, as `echo secret > file` writes it). A problem names the
 * variable or the file, never the value.
 *
 * The file must be a regular file of at most SECRET_FILE_MAX_BYTES: it is opened without blocking
 * (O_NONBLOCK: a FIFO with no writer cannot hold the writer lock forever) and checked with fstat
 * before one byte is read, so `/dev/zero`, a FIFO or a socket is refused at once, and a huge file
 * is never read.
 */
export function resolveSecretRef(ref: SecretRef, env: Readonly<Record<string, string | undefined>>): ResolvedSecret {
  if ('env' in ref) {
    const value = env[ref.env];
    if (value === undefined || value === '') return { ok: false, problem: `environment variable ${ref.env} is not set` };
    return { ok: true, value };
  }
  const read = readSecretFile(ref.file);
  if ('problem' in read) return { ok: false, problem: `file ${ref.file} ${read.problem}` };
  const text = read.text;
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

function readSecretFile(file: string): { text: string } | { problem: string } {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (e) {
    return { problem: errnoWhy(e) };
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) return { problem: `is ${kindOf(st)}, not a regular file; write the secret into a file` };
    if (st.size > SECRET_FILE_MAX_BYTES)
      return { problem: `holds ${st.size} bytes; a secret file may hold at most ${SECRET_FILE_MAX_BYTES}` };
    const buffer = Buffer.alloc(SECRET_FILE_MAX_BYTES + 1);
    let length = 0;
    for (;;) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
      if (length === buffer.length) return { problem: `grew past ${SECRET_FILE_MAX_BYTES} bytes while it was read` };
    }
    const text = buffer.subarray(0, length).toString('utf8');
    buffer.fill(0);
    return { text };
  } catch (e) {
    return { problem: errnoWhy(e) };
  } finally {
    closeSync(fd);
  }
}

function errnoWhy(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  return code === 'ENOENT'
    ? 'does not exist'
    : code === 'EACCES'
      ? 'cannot be read (permission denied)'
      : code === 'EISDIR'
        ? 'is a directory'
        : `cannot be read (${code ?? 'error'})`;
}

function kindOf(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isDirectory()) return 'a directory';
  return 'not a regular file';
}
