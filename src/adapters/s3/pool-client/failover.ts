/**
 * How PoolS3Client reads a failed request: final (the caller handles it), credentials refused (no
 * other member will do better), or a reason to try the next member, described in words safe to
 * print; and the pause between rounds.
 */

/** Codes that say the credentials themselves are refused: trying another member changes nothing. */
export const AUTH_CODES = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'AccessDenied',
  'InvalidToken',
  'ExpiredToken',
  'AuthorizationHeaderMalformed',
  'Forbidden',
]);
/** Codes of an S3 answer that is final (the caller handles it); everything else fails over. */
export const FINAL_CODES = new Set([
  'NoSuchBucket',
  'NoSuchKey',
  'NotFound',
  'BucketAlreadyOwnedByYou',
  'BucketAlreadyExists',
  'BucketNotEmpty',
  'InvalidBucketName',
]);

interface SdkError {
  name?: string;
  code?: string;
  Code?: string;
  $metadata?: { httpStatusCode?: number };
}

export function statusOf(e: unknown): number | undefined {
  return (e as SdkError)?.$metadata?.httpStatusCode;
}

export function codeOf(e: unknown): string {
  const err = e as SdkError;
  return err?.Code ?? err?.name ?? err?.code ?? 'Error';
}

/** A timeout of this client's own, whose message says it in the operator's words. */
export class OwnTimeout extends Error {
  override readonly name = 'TimeoutError';
  readonly code = 'ETIMEDOUT';
}

/**
 * What went wrong with one member, in words safe to print: network codes and S3 error codes only.
 * A server's own message is never repeated: it may echo the access key id.
 */
export function describeFailure(e: unknown, timeoutMs: number): string {
  const err = e as SdkError & { message?: string };
  const status = statusOf(e);
  if (status !== undefined) return `HTTP ${status} ${codeOf(e)}`;
  if (err instanceof OwnTimeout) return err.message;
  if (err?.name === 'TimeoutError' || /timeout/i.test(err?.message ?? '')) return `no answer within ${timeoutMs / 1000}s`;
  if (err?.code === 'ECONNREFUSED') return 'connection refused';
  if (err?.code) return err.code;
  return `${err?.name ?? 'error'} (not an S3 answer?)`;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal.reason);
    };
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
