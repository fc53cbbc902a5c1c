import { PoolAccessError } from '../../domain/buckets/pool-access-error.js';

/**
 * What a failed request or transfer means to the object copier: the object is gone (skip it), it
 * changed (start again), the copier's own errors, whether to restart, whether the whole pool is
 * out; and the words safe to print for it (CopyFailure: codes only, never a server's message).
 */

/** A message safe to print (no credential, no server message echo). */
export interface CopyFailure {
  key: string;
  message: string;
}

interface SdkError {
  name?: string;
  code?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
}
const statusOf = (e: unknown) => (e as SdkError)?.$metadata?.httpStatusCode;
const codeOf = (e: unknown) => {
  const err = e as SdkError;
  return err?.Code ?? err?.code ?? err?.name ?? 'Error';
};

/** The source object disappeared (404): skipped silently. */
export class Gone extends Error {}
/** The object is not the version being copied any more (412, ETag or size changed): start again. */
export class Changed extends Error {
  constructor(readonly size: number | null) {
    super('changed');
  }
}
/** An error of the copier's own, with a message safe to print. */
export class CopierError extends Error {}

/** Words safe to print for an error: PoolAccessError messages are built to be; others by code only. */
export function describe(e: unknown, what: string): string {
  if (e instanceof PoolAccessError) return e.message;
  if (e instanceof CopierError) return `${what}: ${e.message}`;
  const status = statusOf(e);
  if (status !== undefined) return `${what}: HTTP ${status} ${codeOf(e)}`;
  const err = e as SdkError;
  if (err?.name === 'TimeoutError') return `${what}: timed out`;
  if (err?.code) return `${what}: ${err.code}`;
  return `${what}: ${err?.name ?? 'error'}`;
}

/** Worth starting the object again: changed, or a broken transfer (network, timeout, 5xx of a stream). */
export function worthRestart(e: unknown): boolean {
  if (e instanceof Changed) return true;
  if (e instanceof PoolAccessError || e instanceof CopierError || e instanceof Gone) return false;
  const status = statusOf(e);
  return status === undefined || status >= 500 || status === 408 || status === 429;
}

/** A whole pool refuses or cannot be reached: no point starting more objects. */
export function isPoolWide(e: unknown): e is PoolAccessError {
  return e instanceof PoolAccessError && (e.problem === 'unreachable' || e.problem === 'access-denied');
}

/** A GET's failure as the copier sees it: gone (404), changed (412 of IfMatch, 416 of a range), or as it is. */
export function mapGetError(e: unknown): unknown {
  const status = statusOf(e);
  if (status === 404 || codeOf(e) === 'NoSuchKey') return new Gone();
  if (status === 412) return new Changed(null);
  if (status === 416) return new Changed(0);
  return e;
}
