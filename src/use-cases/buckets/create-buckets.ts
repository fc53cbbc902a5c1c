import type { StateStore } from '../../ports/state-store.js';
import type { BucketChange } from '../../domain/plan/plan-types.js';
import type { PoolAccess } from './pool-access.js';

export interface CreatedBuckets {
  created: BucketChange[];
  /** Already there when apply came to create them (created meanwhile): nothing to do. */
  existed: BucketChange[];
}

/**
 * Creates the plan's buckets on their pools (members directly, never the gateway), pool by pool,
 * and records each in the audit log. The first failure stops (the apply then touches nothing
 * live); buckets created before it stay: an empty bucket on the pool a route is about to use is
 * harmless, and the next apply finds it there.
 */
export async function createPlannedBuckets(
  changes: readonly BucketChange[],
  access: PoolAccess,
  store: StateStore,
  command: string,
): Promise<CreatedBuckets> {
  const out: CreatedBuckets = { created: [], existed: [] };
  const byPool = new Map<string, BucketChange[]>();
  for (const c of changes) byPool.set(c.pool, [...(byPool.get(c.pool) ?? []), c]);
  for (const [pool, list] of byPool) {
    const storage = await access.open(pool);
    try {
      for (const c of list) {
        const result = await storage.createBucket(c.bucket);
        (result === 'created' ? out.created : out.existed).push(c);
        store.audit([
          {
            command,
            action: result === 'created' ? 'create-bucket' : 'bucket-exists',
            subject: `${c.pool}/${c.bucket}`,
            details: `route ${c.route} of virtual host ${c.virtualHost}`,
          },
        ]);
      }
    } finally {
      storage.close();
    }
  }
  return out;
}

export function describeCreated(r: CreatedBuckets): string {
  const parts = [];
  if (r.created.length > 0) parts.push(`created ${r.created.map((c) => `${c.bucket} on ${c.pool}`).join(', ')}`);
  if (r.existed.length > 0) parts.push(`already there: ${r.existed.map((c) => `${c.bucket} on ${c.pool}`).join(', ')}`);
  return parts.join('; ');
}
