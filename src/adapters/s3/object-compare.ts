import { compareKeys, type ComparePair, type CopyRecord, type ListedObject } from '../../domain/migrations/object-diff.js';
import type { TokenBucket } from './bandwidth.js';
import { Changed, describe, isPoolWide, type CopyFailure } from './copy-errors.js';
import { CopyRun } from './copy-run.js';
import { settledRead, type VersionRead } from './object-metadata.js';
import { hashObject, headObject } from './object-reads.js';
import type { PoolS3Client } from './pool-s3-client.js';

/**
 * The object copier's compare: which pairs of a diff are equal (same bytes, same metadata) and
 * which must be copied, by hashing both sides or, when the bytes are known equal, by their
 * metadata; the failures of the pairs it could not look at.
 */

/** What compare uses of the copier it runs for. */
export interface CompareSetup {
  source: PoolS3Client;
  destination: PoolS3Client;
  bucket: string;
  concurrency: number;
  partSize: number;
  bandwidth: TokenBucket | null;
  signal: AbortSignal | undefined;
  /** Counts objects looked at and bytes read in the copier's progress. */
  advance(objects: number, bytes: number): void;
}

/** What compare saw of one pair. */
interface Seen {
  equal: boolean;
  srcEtag: string;
  srcSize: number;
  dstEtag: string;
  /** The source version read. */
  read: VersionRead;
  /** Bytes read (hashing). */
  bytes: number;
}

/**
 * Looks at each pair: `hash` ones by hashing both sides (sha256, streaming) and comparing their
 * metadata; the others (same bytes known) by the metadata only, HEAD of the source (and of the
 * destination when the pair does not know its metadata). Equal ones come back as records (to
 * store), different ones as objects to copy (the source version that was read).
 */
export async function compareObjects(
  c: CompareSetup,
  pairs: readonly ComparePair[],
): Promise<{ equal: CopyRecord[]; different: ListedObject[]; failures: CopyFailure[] }> {
  const equal: CopyRecord[] = [];
  const different: ListedObject[] = [];
  const failures: CopyFailure[] = [];
  const run = new CopyRun(c.signal);
  let next = 0;
  await run.workers(c.concurrency, async () => {
    while (!run.stopped && next < pairs.length) {
      const pair = pairs[next++]!;
      const key = pair.source.key;
      try {
        const seen = pair.hash ? await hashPair(c, key, pair, run.signal) : await headPair(c, key, pair, run.signal);
        if (seen === 'gone') continue; // gone at the source: the next diff deletes it
        if (seen.equal) {
          equal.push({
            key,
            srcEtag: seen.srcEtag,
            srcSize: seen.srcSize,
            dstEtag: seen.dstEtag,
            srcModified: seen.read.modified,
            meta: seen.read.meta,
            settled: settledRead(seen.read),
          });
        } else {
          different.push({ ...pair.source, size: seen.srcSize, etag: seen.srcEtag });
        }
        c.advance(1, seen.bytes);
      } catch (e) {
        if (run.aborted) break;
        if (e instanceof Changed) {
          // One side changed while it was read: copying the source is right either way.
          different.push(pair.source);
          continue;
        }
        failures.push({ key, message: describe(e, 'compare') });
        if (isPoolWide(e)) run.stopOnPoolError(e);
      }
    }
  });
  if (run.poolError && !run.aborted)
    for (; next < pairs.length; next++) failures.push({ key: pairs[next]!.source.key, message: `not compared: ${run.poolError.message}` });
  run.finish();
  const order = (a: { key: string }, b: { key: string }) => compareKeys(a.key, b.key);
  return { equal: equal.sort(order), different: different.sort(order), failures: failures.sort(order) };
}

async function hashPair(c: CompareSetup, key: string, pair: ComparePair, signal: AbortSignal): Promise<Seen | 'gone'> {
  const [src, dst] = await Promise.all([
    hashObject(c.source, c.bucket, key, pair.source.size, c, signal),
    hashObject(c.destination, c.bucket, key, pair.destination.size, c, signal),
  ]);
  if (src === null) return 'gone';
  const equal = dst !== null && dst.sha256 === src.sha256 && dst.size === src.size && dst.read.meta === src.read.meta;
  return { equal, srcEtag: src.etag, srcSize: src.size, dstEtag: dst?.etag ?? '', read: src.read, bytes: src.size + (dst?.size ?? 0) };
}

/** Same bytes known: the metadata of the source (HEAD) against the destination's (known, or HEAD). */
async function headPair(c: CompareSetup, key: string, pair: ComparePair, signal: AbortSignal): Promise<Seen | 'gone'> {
  const [src, dst] = await Promise.all([
    headObject(c.source, c.bucket, key, signal),
    pair.destinationMeta === null ? headObject(c.destination, c.bucket, key, signal) : Promise.resolve(null),
  ]);
  if (src === null) return 'gone';
  const dstMeta = pair.destinationMeta ?? dst?.read.meta ?? null;
  const dstEtag = dst?.etag ?? pair.destination.etag;
  // Still the bytes the pair was about (else a write came since: copying the source is right).
  const sameBytes = src.etag === pair.source.etag && src.size === pair.source.size && dstEtag === pair.destination.etag;
  const equal = sameBytes && (pair.destinationMeta !== null || dst !== null) && dstMeta === src.read.meta;
  return { equal, srcEtag: src.etag, srcSize: src.size, dstEtag, read: src.read, bytes: 0 };
}
