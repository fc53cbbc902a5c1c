import { UserError } from '../errors.js';

/** Why a pool could not be used: unreachable (every member failed) or credentials refused. */
export type PoolAccessProblem = 'unreachable' | 'access-denied' | 'error';

/**
 * What a PoolStorage (src/ports/pool-storage.ts) throws when a pool cannot be used. A user error
 * (printed without a stack trace): it names the pool, never a credential.
 */
export class PoolAccessError extends UserError {
  constructor(
    readonly pool: string,
    readonly problem: PoolAccessProblem,
    message: string,
    hint?: string,
  ) {
    super(`s3.${problem}`, message, hint === undefined ? undefined : { hint });
  }
}
