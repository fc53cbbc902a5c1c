import { describe, expect, it } from 'vitest';
import type { PoolListing } from '../../src/domain/buckets/bucket-facts.js';
import { forgetRemovedPool, readRemovedPools, recordRemovedPools, removedPoolsToKeep } from '../../src/use-cases/buckets/removed-pools.js';
import { member, pool } from '../helpers/desired-builders.js';

const AT = '2026-12-07T12:00:00.000Z';

function listing(name: string, buckets: Record<string, number>): PoolListing {
  return {
    pool: name,
    status: 'ok',
    message: null,
    buckets: new Map(Object.entries(buckets).map(([b, n]) => [b, { objects: n, bytes: n * 10, hasObjects: n > 0 }])),
  };
}

/** The meta table of a state database, in memory. */
function metaStore() {
  const meta = new Map<string, string>();
  return { getMeta: (k: string) => meta.get(k) ?? null, setMeta: (k: string, v: string) => void meta.set(k, v), meta };
}

describe('pools removed from the manifests while they hold objects', () => {
  const old = pool('old', { members: [member('10.0.9.1:9000')] });
  const removed = [{ pool: old, sidecar: '{"sealed":"..."}' }];

  it('are kept when the plan saw objects there, or could not list them; not when empty or when they share a member', () => {
    const full = removedPoolsToKeep(removed, [pool('cold')], new Map([['old', listing('old', { attic: 2, empty: 0 })]]), AT);
    expect(full.kept).toEqual([
      { pool: 'old', removedAt: AT, sidecar: removed[0]!.sidecar, buckets: [{ bucket: 'attic', objects: 2, bytes: 20 }] },
    ]);
    expect(full.diagnostics.map((d) => `${d.severity} ${d.code}`)).toEqual(['warning pool.removed-with-objects']);
    expect(full.diagnostics[0]!.message).toContain('pool old is removed from the manifests and still holds 2 objects of bucket attic');
    expect(full.diagnostics[0]!.hint).toContain("'orch buckets forget-pool old'");

    expect(removedPoolsToKeep(removed, [pool('cold')], new Map([['old', listing('old', { empty: 0 })]]), AT).kept).toEqual([]);
    const unlisted = removedPoolsToKeep(
      removed,
      [pool('cold')],
      new Map([['old', { pool: 'old', status: 'unreachable', message: 'pool old: no member answered', buckets: new Map() }]]),
      AT,
    );
    expect(unlisted.kept.map((k) => [k.pool, k.buckets])).toEqual([['old', null]]);
    expect(unlisted.diagnostics[0]!.message).toContain('could not be listed (pool old: no member answered)');
    // Offline (no listing): kept, nothing assumed.
    expect(removedPoolsToKeep(removed, [pool('cold')], null, AT).kept).toHaveLength(1);
    // Its member is a member of a pool of the manifests: that pool lists the same storage.
    const shared = pool('cold', { members: [member('10.0.9.1:9000')] });
    expect(removedPoolsToKeep(removed, [shared], null, AT)).toEqual({ kept: [], diagnostics: [] });
  });

  it('are recorded by apply, dropped when the manifests have the pool again, and forgotten on request', () => {
    const store = metaStore();
    expect(readRemovedPools(store)).toEqual([]);
    recordRemovedPools(store, [], new Set(['cold']));
    expect(store.meta.size).toBe(0);
    const kept = removedPoolsToKeep(removed, [], null, AT).kept;
    recordRemovedPools(store, kept, new Set(['cold']));
    expect(readRemovedPools(store)).toEqual(kept);
    // The pool is back in the manifests.
    recordRemovedPools(store, [], new Set(['cold', 'old']));
    expect(readRemovedPools(store)).toEqual([]);
    recordRemovedPools(store, kept, new Set());
    expect(forgetRemovedPool(store, 'other')).toBe(false);
    expect(forgetRemovedPool(store, 'old')).toBe(true);
    expect(readRemovedPools(store)).toEqual([]);
    store.setMeta('removed_pools', 'not json');
    expect(readRemovedPools(store)).toEqual([]);
  });
});
