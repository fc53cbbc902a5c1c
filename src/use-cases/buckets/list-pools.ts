import type { BucketFacts, PoolListing } from '../../domain/buckets/bucket-facts.js';
import { PoolAccessError } from '../../domain/buckets/pool-access-error.js';
import type { PoolStorage } from '../../ports/pool-storage.js';
import type { PoolAccess } from './pool-access.js';

/** After a pool's buckets are listed: which to count fully, and which only to probe for one object. */
export type DetailRequest = (pool: string, buckets: readonly string[]) => { count: readonly string[]; probe: readonly string[] };

/**
 * Lists the buckets of each pool on its members, in parallel across pools (each pool's client
 * bounds its own requests in flight). A pool that fails is reported in its listing; the others
 * are still listed. Never throws a PoolAccessError. `signal` aborts every request in flight (their
 * sockets closed) and rejects with its reason.
 */
export async function listPools(
  access: PoolAccess,
  pools: readonly string[],
  detail?: DetailRequest,
  signal?: AbortSignal,
): Promise<Map<string, PoolListing>> {
  signal?.throwIfAborted();
  const entries = await Promise.all(
    [...new Set(pools)].sort().map(async (pool): Promise<PoolListing> => {
      if (!access.usable.has(pool)) {
        return {
          pool,
          status: 'no-credentials',
          message: access.problems.get(pool) ?? `no credentials for pool ${pool}`,
          buckets: new Map(),
        };
      }
      let storage: PoolStorage | null = null;
      try {
        storage = await access.open(pool, signal ? { signal } : undefined);
        const names = await storage.listBuckets();
        const buckets = new Map<string, BucketFacts>(names.map((b) => [b, { objects: null, bytes: null, hasObjects: null }]));
        const want = detail?.(pool, names) ?? { count: [], probe: [] };
        const s = storage;
        await Promise.all([
          ...want.count
            .filter((b) => buckets.has(b))
            .map(async (b) => {
              const stats = await s.bucketStats(b);
              buckets.set(b, { objects: stats.objects, bytes: stats.bytes, hasObjects: stats.objects > 0 });
            }),
          ...want.probe
            .filter((b) => buckets.has(b) && !want.count.includes(b))
            .map(async (b) => {
              buckets.set(b, { ...buckets.get(b)!, hasObjects: await s.hasObjects(b) });
            }),
        ]);
        return { pool, status: 'ok', message: null, buckets };
      } catch (e) {
        if (signal?.aborted || !(e instanceof PoolAccessError)) throw e;
        return {
          pool,
          status: e.problem === 'access-denied' ? 'access-denied' : e.problem === 'unreachable' ? 'unreachable' : 'error',
          message: e.message.replace(/\.$/, ''),
          buckets: new Map(),
        };
      } finally {
        storage?.close();
      }
    }),
  );
  return new Map(entries.map((l) => [l.pool, l]));
}
