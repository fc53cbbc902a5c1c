// The buckets of a nanio pool as the use cases and the migration engine see them: listings, bucket
// creation, counts, deletions, talking to the pool's members directly (never through the gateway).
// Implemented by the S3 adapter (src/adapters/s3/pool-s3-client.ts); clients are opened through a
// PoolStorageFactory built in the composition root.
import type { CredentialValues } from '../domain/secrets/credential-cipher.js';

export interface ObjectEntry {
  key: string;
  size: number;
}

/** One object of a detailed listing: what ListObjectsV2 says of it, ETag without quotes. */
export interface ListedEntry extends ObjectEntry {
  etag: string;
  lastModified?: Date;
}

export interface BucketStats {
  objects: number;
  bytes: number;
}

/** One open client on one pool. Every method may throw a PoolAccessError; other failures are bugs. */
export interface PoolStorage {
  readonly pool: string;
  listBuckets(): Promise<string[]>;
  /** Counts every object (flat ListObjectsV2, all pages); zero objects when the bucket does not exist. */
  bucketStats(bucket: string): Promise<BucketStats>;
  /** At least one object (one ListObjectsV2 page of one key). */
  hasObjects(bucket: string): Promise<boolean>;
  /** `exists` when the server answers BucketAlreadyOwnedByYou or BucketAlreadyExists. */
  createBucket(bucket: string): Promise<'created' | 'exists'>;
  /** Every object, page by page, flat (no delimiter). Throws PoolAccessError when the bucket does not exist. */
  listObjects(bucket: string, onPage: (page: ObjectEntry[]) => void): Promise<void>;
  /** listObjects with each object's ETag (quotes stripped) and last-modified. */
  listObjectsDetailed(bucket: string, onPage: (page: ListedEntry[]) => void): Promise<void>;
  /** Deletes these keys; returns the keys the server did not delete, with its error code. */
  deleteObjects(bucket: string, keys: readonly string[]): Promise<Array<{ key: string; code: string }>>;
  /** Closes every socket; a later request opens new ones. */
  close(): void;
}

/** How to reach one nanio pool: its enabled members, directly (never through the gateway). */
export interface PoolEndpoint {
  pool: string;
  /** `host:port` of the enabled members, in manifest order. */
  members: string[];
  credentials: CredentialValues;
}

export interface PoolStorageOptions {
  /** One request (socket inactivity), per member. */
  timeoutMs: number;
  /** Extra rounds over every member after all of them failed, with exponential backoff. */
  retries: number;
  /** Requests in flight for this pool at most. */
  concurrency: number;
  /** Base backoff between rounds (doubled each round). */
  backoffMs?: number;
  /** Keep-alive sockets per member at most (default: 50, or `concurrency` when larger). */
  maxSockets?: number;
  /**
   * Aborts every request of this client: those in flight (their sockets destroyed), those waiting
   * for a slot, and the backoff between rounds; each call then rejects with the signal's reason
   * (an AbortError), never a PoolAccessError. What the watch daemon's bucket sync gives it, so a
   * shutdown does not wait on a member that does not answer.
   */
  signal?: AbortSignal;
}

/** Opens clients on pools. Rejects with a PoolAccessError when the endpoint has no member. */
export interface PoolStorageFactory {
  open(endpoint: PoolEndpoint, options: PoolStorageOptions): Promise<PoolStorage>;
}
