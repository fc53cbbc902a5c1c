import type { ObjectEntry } from '../../ports/pool-storage.js';
import { ExitCode, UserError } from '../../domain/errors.js';
import { bucketRouteOf } from '../../domain/buckets/bucket-facts.js';
import { readDeployedGateway, knownMigrations, type DeployedGateway } from './deployed-gateway.js';
import { readRemovedPools, removedPoolOf } from './removed-pools.js';
import { servingPoolOf } from '../../domain/buckets/derive-bucket-status.js';
import type { DesiredVirtualHost } from '../../domain/model/desired-state.js';
import { openWritableState } from '../state/open-state.js';
import { preparePoolCredentials, type PoolAccess, type PoolAccessPorts } from './pool-access.js';
import type { WriterLocks } from '../../ports/writer-lock.js';
import type { StateDatabase, StateStore } from '../../ports/state-store.js';
import type { ManagedTree } from '../../ports/managed-tree.js';
import type { Settings } from '../../config/settings.js';
import type { ManifestLoader } from '../../ports/manifest-loader.js';

export interface PurgeListing {
  virtualHost: string;
  bucket: string;
  /**
   * The pool purged: the virtual host's default pool (a routed bucket's copy left there), or, with
   * --pool, a pool that no longer serves the bucket at all (`stranded`; a removed pool included).
   */
  pool: string;
  /** Where the virtual host sends the bucket now (never touched). */
  routePool: string;
  /** `default-pool`: the copy on the default pool of a routed bucket; `stranded`: --pool. */
  kind: 'default-pool' | 'stranded';
  objects: number;
  bytes: number;
  /** The first keys, for the dry-run listing. */
  sample: string[];
}

export interface PurgeOptions {
  vhost: string;
  bucket: string;
  /** Purge this pool, which no longer serves the bucket (--pool), instead of the default pool. */
  pool?: string;
  /** Refuse when more objects than this would be deleted. */
  maxObjects: number;
  dryRun: boolean;
  /** Asked after the listing, before anything is deleted; null: approved (--yes). */
  confirm: ((listing: PurgeListing) => Promise<boolean>) | null;
  command: string;
}

/** What a purge needs: the settings, the writer lock, the pools (secrets, S3 clients). */
export interface PurgePorts extends PoolAccessPorts {
  settings: Settings;
  locks: WriterLocks;
  state: StateDatabase;
  /** Where the manifests are read from (their Migration documents, when they load). */
  manifests: ManifestLoader;
  /** The managed directory: the gateway as deployed (its sidecars). */
  tree: Pick<ManagedTree, 'read'>;
}

export interface PurgeResult {
  listing: PurgeListing;
  dryRun: boolean;
  deleted: number;
  failed: Array<{ key: string; code: string }>;
  /** Objects left on the default pool afterwards (a fresh count). */
  remaining: { objects: number; bytes: number } | null;
}

const SAMPLE = 20;

/**
 * Deletes the objects a routed bucket left on its virtual host's DEFAULT pool — and nothing else:
 * only when the deployed route sends the bucket to another pool that holds the bucket, never on
 * the route's pool, never during a migration of the bucket, never when the manifests would send
 * it back to the default pool. Lists first (the dry run stops there), refuses above
 * `maxObjects`, asks, deletes exactly the keys listed, and writes an audit entry.
 */
export async function purgeOrphans(ports: PurgePorts, opts: PurgeOptions): Promise<PurgeResult> {
  const { settings } = ports;
  const lock = await ports.locks.acquire(opts.command, settings.lockTimeoutSeconds);
  let store: ReturnType<typeof openWritableState>;
  try {
    store = openWritableState(ports.state, settings);
  } catch (e) {
    lock.release();
    throw e;
  }
  try {
    const deployed = readDeployedGateway(ports.tree);
    const { vhost: vhostName, bucket } = opts;
    const refuse = (code: string, message: string, hint: string) =>
      new UserError(`purge.${code}`, `Refusing to purge ${bucket} on ${vhostName}: ${message}`, { hint });
    const vhost = deployed.desired.virtualHosts.find((v) => v.name === vhostName);
    if (!vhost)
      throw refuse(
        'unknown-vhost',
        `no virtual host ${vhostName} is deployed in ${settings.nginxDir}.`,
        "See 'orch buckets orphans' for what can be purged.",
      );
    const pools = new Map(deployed.desired.pools.map((p) => [p.name, p]));
    if (opts.pool !== undefined && opts.pool !== vhost.defaultPool) {
      const stranded = await strandedTarget(ports, store, deployed, vhost, bucket, opts.pool, refuse);
      return await purgeListed(store, stranded.access, opts, {
        pool: opts.pool,
        routePool: stranded.servedBy,
        kind: 'stranded',
        details: `no virtual host serves ${bucket} from ${opts.pool}${stranded.removed ? ' (removed from the manifests)' : ''}; ${vhostName} serves it from ${stranded.servedBy}`,
      });
    }
    const def = vhost.defaultPool;
    const defPool = def === null ? undefined : pools.get(def);
    if (def === null || defPool?.type !== 'nanio')
      throw refuse(
        'not-nanio',
        'its default pool is not a nanio pool.',
        'Purge applies to virtual hosts whose default pool is a nanio pool.',
      );
    const route = bucketRouteOf(vhost, bucket);
    if (!route)
      throw refuse(
        'not-routed',
        `no enabled route sends ${bucket} elsewhere: the default pool ${def} serves it, so its objects there are live.`,
        'Only the objects of routed buckets left on the default pool are orphans.',
      );
    if (route.pool === def)
      throw refuse(
        'routed-to-default',
        `route ${route.name} points at the default pool ${def} itself: its objects there are live.`,
        'Nothing to purge.',
      );
    const routePool = pools.get(route.pool);
    const shared = routePool?.members.filter((m) => defPool.members.some((d) => d.address === m.address)).map((m) => m.address) ?? [];
    if (shared.length > 0) {
      throw refuse(
        'shared-members',
        `pools ${def} and ${route.pool} share member ${shared.join(', ')}: deleting on ${def} would delete the live objects.`,
        'Give the pools distinct members.',
      );
    }

    const { facts, manifests } = knownMigrations(settings, store, ports.manifests);
    const migration = facts.find((m) => m.virtualHost === vhostName && m.bucket === bucket && m.progress !== 'completed');
    if (migration)
      throw refuse(
        'migrating',
        `migration ${migration.name} (${migration.progress}) is moving it.`,
        "Wait until the migration completed: 'orch migrations' shows its progress.",
      );
    const pending = manifests?.virtualHosts.find((v) => v.name === vhostName);
    if (manifests && pending) {
      const desiredRoute = bucketRouteOf(pending, bucket);
      if (!desiredRoute || desiredRoute.pool === pending.defaultPool) {
        throw refuse(
          'pending-change',
          `the manifests ${desiredRoute ? `route it to the default pool ${pending.defaultPool}` : 'no longer route it'}: after the next apply the default pool serves it again.`,
          "Apply (or revert) that change first, then check 'orch buckets orphans' again.",
        );
      }
    }

    const access = preparePoolCredentials(ports, settings, deployed.desired.pools, deployed.poolSidecars).access;
    // The route's pool must hold the bucket: otherwise the default pool's copy may be the only one.
    const target = await access.open(route.pool);
    try {
      if (!(await target.listBuckets()).includes(bucket)) {
        throw refuse(
          'missing-on-route-pool',
          `bucket ${bucket} does not exist on ${route.pool}, where route ${route.name} points: the objects on ${def} may be the only copy.`,
          `Create or migrate the bucket on ${route.pool} first ('orch buckets' shows it as missing).`,
        );
      }
    } finally {
      target.close();
    }

    return await purgeListed(store, access, opts, {
      pool: def,
      routePool: route.pool,
      kind: 'default-pool',
      details: `route ${route.name} -> ${route.pool}`,
    });
  } finally {
    store.close();
    lock.release();
  }
}

/** What purgeListed deletes from, and how the audit entry describes it. */
interface PurgeTarget {
  pool: string;
  routePool: string;
  kind: PurgeListing['kind'];
  details: string;
}

/**
 * The common end of a purge: lists the bucket's objects on the target pool (the dry run stops
 * there), refuses above `maxObjects`, asks, deletes exactly the keys listed, recounts, and writes
 * an audit entry.
 */
async function purgeListed(store: StateStore, access: PoolAccess, opts: PurgeOptions, target: PurgeTarget): Promise<PurgeResult> {
  const { vhost: vhostName, bucket } = opts;
  const refuse = (code: string, message: string, hint: string) =>
    new UserError(`purge.${code}`, `Refusing to purge ${bucket} on ${vhostName}: ${message}`, { hint });
  const storage = await access.open(target.pool);
  try {
    const objects: ObjectEntry[] = [];
    if ((await storage.listBuckets()).includes(bucket)) await storage.listObjects(bucket, (page) => objects.push(...page));
    const listing: PurgeListing = {
      virtualHost: vhostName,
      bucket,
      pool: target.pool,
      routePool: target.routePool,
      kind: target.kind,
      objects: objects.length,
      bytes: objects.reduce((n, o) => n + o.size, 0),
      sample: objects.slice(0, SAMPLE).map((o) => o.key),
    };
    if (opts.dryRun || objects.length === 0) return { listing, dryRun: opts.dryRun, deleted: 0, failed: [], remaining: null };
    if (objects.length > opts.maxObjects) {
      throw refuse(
        'too-many',
        `${objects.length} objects (${listing.bytes} bytes) on ${target.pool}, more than --max-objects ${opts.maxObjects}.`,
        'Check the listing (--dry-run); if the deletion is intended, raise --max-objects.',
      );
    }
    if (opts.confirm && !(await opts.confirm(listing))) {
      throw new UserError('purge.cancelled', 'Purge cancelled; nothing was deleted.', { exitCode: ExitCode.error });
    }
    const failed = await storage.deleteObjects(
      bucket,
      objects.map((o) => o.key),
    );
    const remaining = await storage.bucketStats(bucket);
    const deleted = objects.length - failed.length;
    store.audit([
      {
        command: opts.command,
        action: 'purge-orphans',
        subject: `${target.pool}/${bucket}`,
        details: `virtual host ${vhostName}, ${target.details}: ${deleted} of ${objects.length} objects (${listing.bytes} bytes) deleted on ${target.pool}${failed.length > 0 ? `, ${failed.length} failed` : ''}`,
      },
    ]);
    store.recordBucketCount(vhostName, bucket, target.pool, remaining);
    return { listing, dryRun: false, deleted, failed, remaining };
  } finally {
    storage.close();
  }
}

/**
 * With --pool: the pool to purge must hold a stranded copy — a nanio pool of the deployed gateway,
 * or a removed pool the state database keeps, from which no virtual host serves the bucket, that
 * no migration names for it, that the manifests would not serve it from after the next apply, and
 * that shares no member with a pool serving it (the same storage).
 */
async function strandedTarget(
  ports: PurgePorts,
  store: StateStore,
  deployed: DeployedGateway,
  vhost: DesiredVirtualHost,
  bucket: string,
  poolName: string,
  refuse: (code: string, message: string, hint: string) => UserError,
): Promise<{ access: PoolAccess; servedBy: string; removed: boolean }> {
  const { settings } = ports;
  const record = readRemovedPools(store).find((r) => r.pool === poolName);
  const deployedPool = deployed.desired.pools.find((p) => p.name === poolName);
  const pool = deployedPool ?? (record ? removedPoolOf(record) : null);
  const sidecar = deployedPool ? deployed.poolSidecars.get(poolName) : record?.sidecar;
  if (!pool || sidecar === undefined)
    throw refuse(
      'unknown-pool',
      `no pool ${poolName} is deployed in ${settings.nginxDir} or recorded as removed.`,
      "'orch buckets orphans' lists the pools that hold orphan copies.",
    );
  if (pool.type !== 'nanio') throw refuse('not-nanio', `pool ${poolName} is not a nanio pool.`, 'Purge applies to nanio pools.');
  const hosts = deployed.desired.virtualHosts;
  if (hosts.some((v) => servingPoolOf(v, bucket) === poolName))
    throw refuse(
      'served',
      `pool ${poolName} serves bucket ${bucket} (a route or a default pool): its objects there are live.`,
      "'orch buckets orphans' lists the copies that can be purged.",
    );
  const { facts, manifests } = knownMigrations(settings, store, ports.manifests);
  const migration = facts.find((m) => m.bucket === bucket && (m.progress !== 'completed' || m.from === poolName || m.to === poolName));
  if (migration)
    throw refuse(
      'migrating',
      `migration ${migration.name} (${migration.progress}, ${migration.from} -> ${migration.to}) ${migration.progress === 'completed' ? 'moved' : 'is moving'} it${migration.from === poolName || migration.to === poolName ? '' : `, so its copy on ${poolName} stays until the migration completed`}.`,
      migration.progress === 'completed'
        ? "A completed migration's source is listed by 'orch migrations orphaned'; delete it on that pool yourself."
        : "Wait until the migration completed: 'orch migrations' shows its progress.",
    );
  if (manifests?.virtualHosts.some((v) => servingPoolOf(v, bucket) === poolName))
    throw refuse(
      'pending-change',
      `the manifests serve it from ${poolName}: after the next apply its objects there are live again.`,
      "Apply (or revert) that change first, then check 'orch buckets orphans' again.",
    );
  const servingPools = new Set(hosts.map((v) => servingPoolOf(v, bucket)));
  const shared = deployed.desired.pools
    .filter((p) => p.name !== poolName && servingPools.has(p.name))
    .flatMap((p) => p.members.filter((m) => pool.members.some((x) => x.address === m.address)).map((m) => `${m.address} (pool ${p.name})`));
  if (shared.length > 0)
    throw refuse(
      'shared-members',
      `pool ${poolName} shares member ${shared.join(', ')} with a pool serving ${bucket}: deleting on ${poolName} would delete the live objects.`,
      'Nothing to purge there: the serving pool holds these objects.',
    );
  const access = preparePoolCredentials(ports, settings, [pool], new Map([[poolName, sidecar]])).access;
  return { access, servedBy: servingPoolOf(vhost, bucket) ?? 'no pool', removed: !deployedPool };
}
