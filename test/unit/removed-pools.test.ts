import { describe, expect, it } from 'vitest';
import type { PoolListing } from '../../src/domain/buckets/bucket-facts.js';
import { forgetRemovedPool, readRemovedPools, recordRemovedPools, removedPoolsToKeep } from '../../src/use-cases/buckets/removed-pools.js';
import { describeInputChanges } from '../../src/domain/plan/plan-inputs.js';
import { planIdentity, type PlanResult } from '../../src/use-cases/plan/compute-plan.js';
import { makeStyle } from '../../src/cli/style.js';
import { formatRebuildText } from '../../src/cli/views/rebuild-text.js';
import { rebuildDatabase } from '../../src/use-cases/recovery/rebuild-db.js';
import { FakeState, fakePorts, memoryRemovedPoolsFile } from '../helpers/apply-fakes.js';
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

  it('are kept when the plan saw objects there, or their members did not answer; not when empty, refused or sharing a member', () => {
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
    // Refused credentials: a record could not list it either; not kept, the plan says it was not checked.
    const refused = removedPoolsToKeep(
      removed,
      [pool('cold')],
      new Map([['old', { pool: 'old', status: 'access-denied', message: "pool old refused orch's credentials", buckets: new Map() }]]),
      AT,
    );
    expect(refused.kept).toEqual([]);
    expect(refused.diagnostics.map((d) => `${d.severity} ${d.code}`)).toEqual(['warning pool.removed-unchecked']);
    // Offline (no listing): kept, nothing assumed.
    expect(removedPoolsToKeep(removed, [pool('cold')], null, AT).kept).toHaveLength(1);
    // Its member is a member of a pool of the manifests: that pool lists the same storage.
    const shared = pool('cold', { members: [member('10.0.9.1:9000')] });
    expect(removedPoolsToKeep(removed, [shared], null, AT)).toEqual({ kept: [], diagnostics: [] });
  });

  it('are recorded by apply, dropped when the manifests have the pool again, and forgotten on request', () => {
    const store = metaStore();
    const file = memoryRemovedPoolsFile();
    expect(readRemovedPools(store)).toEqual([]);
    recordRemovedPools(store, file, [], new Set(['cold']));
    expect(store.meta.size).toBe(0);
    const kept = removedPoolsToKeep(removed, [], null, AT).kept;
    recordRemovedPools(store, file, kept, new Set(['cold']));
    expect(readRemovedPools(store)).toEqual(kept);
    // The copy beside the database says the same (what rebuild-db recovers).
    expect(file.text).toBe(store.meta.get('removed_pools'));
    // The pool is back in the manifests.
    recordRemovedPools(store, file, [], new Set(['cold', 'old']));
    expect(readRemovedPools(store)).toEqual([]);
    expect(file.text).toBeNull();
    recordRemovedPools(store, file, kept, new Set());
    expect(forgetRemovedPool(store, file, 'other')).toBe(false);
    expect(file.text).not.toBeNull();
    expect(forgetRemovedPool(store, file, 'old')).toBe(true);
    expect(readRemovedPools(store)).toEqual([]);
    expect(file.text).toBeNull();
    store.setMeta('removed_pools', 'not json');
    expect(readRemovedPools(store)).toEqual([]);
  });

  it("are part of a saved plan's fingerprint: apply refuses a plan that kept another record than apply now would", () => {
    // The same manifests, files and state; only what the removed pool old held differs.
    const identity = (held: Record<string, number> | 'down' | 'empty') => {
      const listings =
        held === 'down'
          ? new Map([['old', { pool: 'old', status: 'unreachable' as const, message: 'no member answered', buckets: new Map() }]])
          : new Map([['old', listing('old', held === 'empty' ? { attic: 0 } : held)]]);
      const result = {
        plan: { buckets: [] },
        nginxVersion: '1.24.0',
        removedPools: removedPoolsToKeep(removed, [pool('cold')], listings, AT).kept,
        sources: { orchVersion: '1.0.0', manifests: [], files: [], stateGeneration: 3, settings: {}, credentials: {} },
      } as unknown as PlanResult;
      return planIdentity(result);
    };
    const planned = identity({ attic: 1 });
    expect(planned.inputs.removedPools).toEqual({ old: 'attic: 1 object, 10 bytes' });
    expect(identity({ attic: 1 }).fingerprint).toBe(planned.fingerprint);

    const empty = identity('empty');
    expect(empty.inputs.removedPools).toBeUndefined();
    for (const [now, reason] of [
      [empty, 'removed pool old: the plan kept its record (attic: 1 object, 10 bytes), apply now keeps no record'],
      [
        identity({ attic: 2 }),
        'removed pool old: the plan kept its record (attic: 1 object, 10 bytes), apply now keeps its record (attic: 2 objects, 20 bytes)',
      ],
      [identity('down'), 'removed pool old: the plan kept its record (attic: 1 object, 10 bytes), apply now keeps its record (not listed)'],
    ] as const) {
      expect(now.fingerprint).not.toBe(planned.fingerprint);
      expect(describeInputChanges(planned.inputs, now.inputs)).toEqual([reason]);
    }
    expect(describeInputChanges(empty.inputs, planned.inputs)).toEqual([
      'removed pool old: the plan kept no record, apply now keeps its record (attic: 1 object, 10 bytes)',
    ]);
  });

  it('survive a lost database: orch rebuild-db recovers the records from the copy beside it', async () => {
    const ports = fakePorts();
    const kept = removedPoolsToKeep(removed, [], new Map([['old', listing('old', { attic: 1 })]]), AT).kept;
    recordRemovedPools(ports.state.open(), ports.removedPoolsFile, kept, new Set());
    expect(ports.removedPoolsFile.text).not.toBeNull();

    ports.state = new FakeState(); // the database is lost; its directory's other files stay
    const preview = await rebuildDatabase(ports, { dryRun: true, force: false, command: 'rebuild-db' });
    expect(preview.removedPools).toEqual(['old']);
    expect(readRemovedPools(ports.state.open())).toEqual([]);
    const rebuilt = await rebuildDatabase(ports, { dryRun: false, force: false, command: 'rebuild-db' });
    expect(rebuilt.removedPools).toEqual(['old']);
    expect(readRemovedPools(ports.state.open())).toEqual(kept);
    expect(formatRebuildText(rebuilt, ports.settings.nginxDir, makeStyle(false))).toContain(
      '  removed pool old: its record (members, sealed credentials) from removed-pools.json beside the database',
    );

    // No copy (a state directory lost as a whole, or no removed pool): nothing recovered, nothing invented.
    ports.state = new FakeState();
    ports.removedPoolsFile.text = null;
    expect((await rebuildDatabase(ports, { dryRun: false, force: false, command: 'rebuild-db' })).removedPools).toEqual([]);
    expect(ports.state.meta.has('removed_pools')).toBe(false);
    // A damaged copy is not silently ignored: the rebuild warns that those records are not restored.
    ports.state = new FakeState();
    ports.removedPoolsFile.text = '[{"pool": "old", "sidecar"';
    const damaged = await rebuildDatabase(ports, { dryRun: false, force: false, command: 'rebuild-db' });
    expect(damaged.removedPools).toEqual([]);
    expect(damaged.plan.diagnostics.map((d) => `${d.severity} ${d.code}`)).toEqual(['warning rebuild.removed-pools-unreadable']);
    expect(damaged.plan.diagnostics[0]!.message).toContain('/fake/state/removed-pools.json holds no readable record of a removed pool');
    expect(ports.state.meta.has('removed_pools')).toBe(false);
    // ...nor is one that cannot be read at all (permissions, a directory): a warning, not an internal error.
    ports.state = new FakeState();
    ports.removedPoolsFile.read = () => {
      throw Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES' });
    };
    const unreadable = await rebuildDatabase(ports, { dryRun: false, force: false, command: 'rebuild-db' });
    expect(unreadable.removedPools).toEqual([]);
    expect(unreadable.plan.diagnostics.map((d) => `${d.severity} ${d.code}`)).toEqual(['warning rebuild.removed-pools-unreadable']);
    expect(unreadable.plan.diagnostics[0]!.message).toContain('/fake/state/removed-pools.json cannot be read (EACCES)');
  });
});
