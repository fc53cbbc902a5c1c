import { UserError } from '../errors.js';

/**
 * Failures the migration engine tells apart by type: one worth retrying later (a pool down, a
 * timeout, the network) leaves the phase as it is; anything else is a bug and stops the driver.
 */

/** The final delta could not start before the freeze budget ran out. */
export class FreezeBudgetSpent extends Error {
  constructor(message = 'the freeze budget ran out before the final copy') {
    super(message);
    this.name = 'FreezeBudgetSpent';
  }
}

/** Socket-level failures of a request (Node's system errors, as the HTTP client and the SDK report them). */
const TRANSIENT_NETWORK_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
  'ESOCKETTIMEDOUT',
  'EPROTO',
]);

/**
 * A system error of a network operation: Node's system errors carry a numeric `errno` and the
 * `syscall` that failed; the socket-level codes above are recognised with or without them (the
 * SDK copies the code alone).
 */
export function isTransientNetworkError(e: unknown): e is Error & { code: string } {
  if (typeof e !== 'object' || e === null) return false;
  const { code, errno, syscall } = e as { code?: unknown; errno?: unknown; syscall?: unknown };
  if (typeof code !== 'string') return false;
  return TRANSIENT_NETWORK_CODES.has(code) || (typeof errno === 'number' && typeof syscall === 'string');
}

/** Worth retrying in the same phase: a user-facing condition (pool access, credentials), the freeze budget, the network. */
export function isRetryableFailure(e: unknown): boolean {
  return e instanceof UserError || e instanceof FreezeBudgetSpent || isTransientNetworkError(e);
}

export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
