import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isOrchError, UserError } from '../../src/domain/errors.js';
import type { DesiredMigration, DesiredState } from '../../src/domain/model/desired-state.js';
import { renderTree } from '../../src/domain/render/render-tree.js';
import { nginxFeaturesFor } from '../../src/domain/render/rendered-tree.js';
import type { PoolStorage } from '../../src/ports/pool-storage.js';
import type { MigrationRow, StateStore } from '../../src/ports/state-store.js';
import { purgeOrphans, type PurgeOptions } from '../../src/use-cases/buckets/purge-orphans.js';
import { recordRemovedPools } from '../../src/use-cases/buckets/removed-pools.js';
import { fakePorts, type FakePorts } from '../helpers/apply-fakes.js';
import { REPO_ROOT } from '../helpers/cli.js';
import { desiredState, member, origin, pool, route, virtualHost } from '../helpers/desired-builders.js';

/**
 * The refusals of `orch buckets purge-orphans VHOST BUCKET --pool POOL` (strandedTarget), behind
 * fakes of every port: a deployed gateway rendered into an in-memory managed tree, the manifests
 * as a DesiredState, pools whose S3 calls are recorded. Each refusal is a UserError naming the
 * pool and the bucket, with a hint whose quoted orch commands exist, and deletes nothing; the
 * last case purges, so the "nothing deleted" assertions can fail.
 */

const CREDS = { accessKeyId: { env: 'AK' }, secretAccessKey: { env: 'SK' } };
const hot = pool('hot', { members: [member('10.0.1.1:9000')], credentials: CREDS });
const cold = pool('cold', { members: [member('10.0.2.1:9000')], credentials: CREDS });
const spare = pool('spare', { members: [member('10.0.3.1:9000')], credentials: CREDS });
/** Deployed, serves nothing, but its member is cold's: the same storage. */
const twin = pool('twin', { members: [member('10.0.2.1:9000')], credentials: CREDS });
/** s3 serves attic from its default pool cold, photos from hot. */
const s3 = virtualHost('s3', { defaultPool: 'cold', routes: [route('s3', '/photos/', 'hot')] });
const deployed = desiredState({ pools: [cold, hot, spare, twin], virtualHosts: [s3] });

function migration(name: string, from: string, to: string): DesiredMigration {
  return {
    name,
    virtualHost: 's3',
    bucket: 'attic',
    from,
    to,
    mode: 'copy',
    concurrency: 4,
    bandwidthLimit: null,
    freezeBudgetSeconds: 30,
    origin: origin('Migration', name, 'manifests/migrations.yaml'),
  };
}

interface Harness {
  ports: FakePorts;
  /** `pool delete bucket/key`, for every key any pool was asked to delete. */
  deleted: string[];
}

/** A gateway deploying `deployed`, manifests describing `manifests`, the state recording `recorded` migrations. */
function harness(manifests: DesiredState, recorded: MigrationRow[] = []): Harness {
  const ports = fakePorts();
  for (const f of renderTree(deployed, nginxFeaturesFor('1.24.0')).files) ports.tree.files.set(f.path, f.content);
  ports.manifests = {
    load: () => ({ sources: [], validation: { desired: manifests, diagnostics: [], documents: [] } }) as never,
    originNames: () => (file) => file,
  };
  const open = ports.state.open.bind(ports.state);
  ports.state.open = () => {
    const store = open();
    const extra: Partial<StateStore> = { migrations: () => recorded, recordBucketCount: () => {} };
    return new Proxy(store, { get: (t, p) => extra[p as keyof StateStore] ?? t[p as keyof StateStore] });
  };
  ports.secrets = {
    keyring: () => null,
    resolvePoolCredentials: () => ({ accessKeyId: { ok: true, value: 'AKID' }, secretAccessKey: { ok: true, value: 'secret' } }),
    keyMaterial: () => [],
  } as never;
  const deleted: string[] = [];
  ports.poolStorage = {
    open: (endpoint) =>
      Promise.resolve({
        pool: endpoint.pool,
        listBuckets: () => Promise.resolve(['attic', 'photos']),
        listObjects: (_bucket: string, onPage: (page: Array<{ key: string; size: number }>) => void) => {
          onPage([{ key: 'k0', size: 6 }]);
          return Promise.resolve();
        },
        deleteObjects: (bucket: string, keys: readonly string[]) => {
          deleted.push(...keys.map((k) => `${endpoint.pool} delete ${bucket}/${k}`));
          return Promise.resolve([]);
        },
        bucketStats: () => Promise.resolve({ objects: 0, bytes: 0 }),
        close: () => {},
      } as unknown as PoolStorage),
  };
  return { ports, deleted };
}

const options = (pool: string): PurgeOptions => ({
  vhost: 's3',
  bucket: 'attic',
  pool,
  maxObjects: 1000,
  dryRun: false,
  confirm: null,
  command: 'orch buckets purge-orphans',
});

/** The commands of oclif's manifest (`buckets orphans`, ...), for the hints' quoted commands. */
const COMMANDS = new Set(
  Object.keys((JSON.parse(readFileSync(join(REPO_ROOT, 'oclif.manifest.json'), 'utf8')) as { commands: object }).commands).map((id) =>
    id.replace(/:/g, ' '),
  ),
);

async function refusal(h: Harness, pool: string): Promise<UserError> {
  const e = await purgeOrphans(h.ports, options(pool)).then(
    () => null,
    (err: unknown) => err,
  );
  expect(isOrchError(e) && e instanceof UserError, String(e)).toBe(true);
  const err = e as UserError;
  expect(err.message).toMatch(new RegExp(`^Refusing to purge attic on s3: .*\\b${pool}\\b`));
  for (const [, quoted] of (err.hint ?? '').matchAll(/'orch ([^']+)'/g)) {
    const words = quoted!.split(' ');
    expect(COMMANDS.has(words.slice(0, 2).join(' ')) || COMMANDS.has(words[0]!), `hint command 'orch ${quoted}'`).toBe(true);
  }
  expect(h.deleted).toEqual([]);
  expect(h.ports.state.audits.filter((a) => a.action === 'purge-orphans')).toEqual([]);
  return err;
}

describe('orch buckets purge-orphans --pool refuses, deleting nothing', () => {
  it('when a migration of the bucket names the pool: declared, or completed (its source), or any migration of it not completed', async () => {
    const declared = await refusal(harness(desiredState({ ...deployed, migrations: [migration('attic-back', 'spare', 'cold')] })), 'spare');
    expect(declared.code).toBe('purge.migrating');
    expect(declared.message).toBe('Refusing to purge attic on s3: migration attic-back (declared, spare -> cold) is moving it.');
    expect(declared.hint).toBe("Wait until the migration completed: 'orch migrations' shows its progress.");

    const row = (name: string, from: string, to: string, completed: boolean): MigrationRow =>
      ({ name, virtualHost: 's3', bucket: 'attic', from, to, completed }) as MigrationRow;
    const completed = await refusal(harness(deployed, [row('attic-out', 'spare', 'cold', true)]), 'spare');
    expect(completed.code).toBe('purge.migrating');
    expect(completed.message).toBe('Refusing to purge attic on s3: migration attic-out (completed, spare -> cold) moved it.');
    expect(completed.hint).toContain("'orch migrations orphaned'");

    // A running migration of the bucket between other pools: spare may be where it copies from next.
    const running = await refusal(harness(deployed, [row('attic-hot', 'cold', 'hot', false)]), 'spare');
    expect(running.code).toBe('purge.migrating');
    expect(running.message).toBe(
      'Refusing to purge attic on s3: migration attic-hot (running, cold -> hot) is moving it, so its copy on spare stays until the migration completed.',
    );
  });

  it('when the manifests would serve the bucket from the pool after the next apply (a route, or the default pool)', async () => {
    const routed = virtualHost('s3', { defaultPool: 'cold', routes: [route('s3', '/photos/', 'hot'), route('s3', '/attic/', 'spare')] });
    const byRoute = await refusal(harness(desiredState({ ...deployed, virtualHosts: [routed] })), 'spare');
    expect(byRoute.code).toBe('purge.pending-change');
    expect(byRoute.message).toBe(
      'Refusing to purge attic on s3: the manifests serve it from spare: after the next apply its objects there are live again.',
    );
    expect(byRoute.hint).toBe("Apply (or revert) that change first, then check 'orch buckets orphans' again.");

    const byDefault = virtualHost('s3', { defaultPool: 'spare', routes: [route('s3', '/photos/', 'hot')] });
    expect((await refusal(harness(desiredState({ ...deployed, virtualHosts: [byDefault] })), 'spare')).code).toBe('purge.pending-change');
  });

  it('when the pool shares a member with a pool serving the bucket: a deployed pool, or a removed pool recorded before', async () => {
    const deployedTwin = await refusal(harness(deployed), 'twin');
    expect(deployedTwin.code).toBe('purge.shared-members');
    expect(deployedTwin.message).toBe(
      'Refusing to purge attic on s3: pool twin shares member 10.0.2.1:9000 (pool cold) with a pool serving attic: deleting on twin would delete the live objects.',
    );

    // A removed pool's record whose member cold has since taken over (the record predates it).
    const h = harness(deployed);
    const old = pool('old', { members: [member('10.0.2.1:9000')], credentials: CREDS });
    const sidecar = renderTree(desiredState({ pools: [old] }), nginxFeaturesFor('1.24.0')).files.find(
      (f) => f.path === 'pools/old.meta.json',
    )!.content;
    const store = h.ports.state.open();
    recordRemovedPools(
      store,
      h.ports.removedPoolsFile,
      [{ pool: 'old', removedAt: '2026-12-07T12:00:00.000Z', sidecar, buckets: null }],
      new Set(),
    );
    const removed = await refusal(h, 'old');
    expect(removed.code).toBe('purge.shared-members');
    expect(removed.message).toContain('pool old shares member 10.0.2.1:9000 (pool cold) with a pool serving attic');
  });

  it('and purges a stranded copy when nothing forbids it (the control: the fakes do record deletions)', async () => {
    const h = harness(deployed);
    const result = await purgeOrphans(h.ports, options('spare'));
    expect(result.deleted).toBe(1);
    expect(h.deleted).toEqual(['spare delete attic/k0']);
    expect(h.ports.state.audits.filter((a) => a.action === 'purge-orphans').map((a) => a.subject)).toEqual(['spare/attic']);
  });
});
