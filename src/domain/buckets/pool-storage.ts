import { UserError } from '../errors.js';

/**
 * The port through which orch reads and writes buckets on a nanio pool (implemented by the S3
 * adapter, src/adapters/s3). It talks to the pool's members directly, never through the gateway.
 * Every method may throw a PoolAccessError; other failures are bugs.
 */
export interface ObjectEntry {
  key: string;
  size: number;
}

export interface BucketStats {
  objects: number;
  bytes: number;
}

export interface PoolStorage {
  readonly pool: string;
  listBuckets(): Promise<string[]>;
  /** Counts every object (flat ListObjectsV2, all pages). */
  bucketStats(bucket: string): Promise<BucketStats>;
  /** At least one object (one ListObjectsV2 page of one key). */
  hasObjects(bucket: string): Promise<boolean>;
  /** `exists` when the server answers BucketAlreadyOwnedByYou or BucketAlreadyExists. */
  createBucket(bucket: string): Promise<'created' | 'exists'>;
  /** Every object, page by page, flat (no delimiter). */
  listObjects(bucket: string, onPage: (page: ObjectEntry[]) => void): Promise<void>;
  /** Deletes these keys; returns the keys the server did not delete, with its error code. */
  deleteObjects(bucket: string, keys: readonly string[]): Promise<Array<{ key: string; code: string }>>;
  close(): void;
}

/** Why a pool could not be used: unreachable (every member failed) or credentials refused. */
export type PoolAccessProblem = 'unreachable' | 'access-denied' | 'error';

/** A user error (printed without a stack trace): it names the pool, never a credential. */
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
