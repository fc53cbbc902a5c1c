// Copying a bucket's objects between two pools, member to member (never through the gateway):
// the copy engine of migrations. Implemented by the S3 adapter (src/adapters/s3/object-copier.ts);
// how streamed objects travel (the splice relay or Node's HTTP client) is the composition root's
// choice, invisible here.
import type { PoolStorage } from './pool-storage.js';
import type { CopyRecord, ListedObject, ObjectDiff, TransferFailure } from '../domain/migrations/object-diff.js';

export type { TransferFailure };

export interface TransferProgress {
  /** Objects copied (or, by compare, found equal or different). */
  objects: number;
  /** Bytes written to the destination, or read by compare. */
  bytes: number;
}

export interface TransferOptions {
  /** Objects (or parts) in flight. */
  concurrency: number;
  /** Bytes per second over all transfers; null = unlimited. */
  bandwidthLimit: number | null;
  /** Abort: no new work starts, in-flight work is ended, the call rejects with an AbortError. */
  signal?: AbortSignal;
  onProgress?: (p: TransferProgress) => void;
}

/** One bucket's copy from a source pool to a destination pool. */
export interface BucketTransfer {
  /** Hashes both sides of each pair (same size, ETags not comparable). */
  compare(pairs: ObjectDiff['compare']): Promise<{ equal: CopyRecord[]; different: ListedObject[]; failures: TransferFailure[] }>;
  /** Copies each object, calling onCopied with its record after each success; continues past failures. */
  copy(objects: readonly ListedObject[], onCopied: (r: CopyRecord) => void): Promise<{ failures: TransferFailure[] }>;
  deleteAtDestination(keys: readonly string[]): Promise<{ failures: TransferFailure[] }>;
}

export interface ObjectTransfer {
  /** How objects travel, in words for a migration's log. */
  describe(): string;
  /** Every object of the bucket with size and ETag, sorted by key (code-unit order). */
  list(pool: PoolStorage, bucket: string): Promise<ListedObject[]>;
  between(source: PoolStorage, destination: PoolStorage, bucket: string, options: TransferOptions): BucketTransfer;
}
