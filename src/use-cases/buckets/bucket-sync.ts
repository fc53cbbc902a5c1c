import type { BucketSyncObservation } from '../../ports/state-store.js';
import type { PoolListing } from '../../domain/buckets/bucket-facts.js';
import { deriveBucketStatuses, servedFrom, strandedBuckets, type BucketRow } from '../../domain/buckets/derive-bucket-status.js';
import { UserError } from '../../domain/errors.js';
import type { DesiredVirtualHost } from '../../domain/model/desired-state.js';
import { readDeployedGateway, knownMigrations } from './deployed-gateway.js';
import { listPools } from './list-pools.js';
import { checkClientIdentities, prepareIdentityCredentials, type IdentityCheck } from './client-identities.js';
import { openWritableState } from '../state/open-state.js';
import { readRemovedPools, removedPoolOf } from './removed-pools.js';
import { preparePoolCredentials, type PoolAccessPorts } from './pool-access.js';
import type { Clock } from '../../ports/clock.js';
import type { StateDatabase } from '../../ports/state-store.js';
import type { ManagedTree } from '../../ports/managed-tree.js';
import type { Settings } from '../../config/settings.js';
import type { ManifestLoader } from '../../ports/manifest-loader.js';

export interface BucketSyncOptions {
  /** Only this virtual host. */
  vhost?: string;
  /** Count objects and bytes of every bucket (a full listing of each). */
  counts: boolean;
  /** Count (rather than probe) the default pool copies of routed buckets: what orphans need. */
  countOrphans?: boolean;
  /** Aborts the listings in flight: the call rejects with the signal's reason and records nothing. */
  signal?: AbortSignal;
  /** Also check the client identities of the manifests' virtual hosts on their pools (`orch buckets`). */
  checkIdentities?: boolean;
}

/** What a bucket sync needs: the settings, the pools (secrets, S3 clients), and the clock of `syncedAt`. */
export interface BucketSyncPorts extends PoolAccessPorts {
  settings: Settings;
  clock: Clock;
  state: StateDatabase;
  /** Where the manifests are read from (their Migration documents, when they load). */
  manifests: ManifestLoader;
  /** The managed directory: the gateway as deployed (its sidecars). */
  tree: Pick<ManagedTree, 'read'>;
}

export interface BucketReport {
  syncedAt: string;
  /** The virtual hosts synced: those whose default pool is a nanio pool. */
  virtualHosts: string[];
  rows: BucketRow[];
  /** One entry per pool listed: ok, or why not (unreachable, access denied, no credentials). */
  pools: Array<{ pool: string; status: PoolListing['status']; message: string | null }>;
  /** With checkIdentities: each client identity on each pool its virtual host uses (manifests). */
  identities?: IdentityCheck[];
}

/**
 * Bucket sync: for each deployed virtual host whose default pool is nanio, lists the buckets on the
 * default pool and on every nanio pool its routes (and migrations) point to, directly on the
 * pools' members; records what was seen in the state database; derives each bucket's status. A
 * pool that cannot be listed is reported and keeps its previous rows; the others still sync.
 */
export async function syncBuckets(ports: BucketSyncPorts, opts: BucketSyncOptions): Promise<BucketReport> {
  const { settings } = ports;
  const deployed = readDeployedGateway(ports.tree);
  const store = openWritableState(ports.state, settings);
  try {
    const { facts: migrations, manifests } = knownMigrations(settings, store, ports.manifests);
    const pools = new Map(deployed.desired.pools.map((p) => [p.name, p]));
    const isNanio = (name: string | null) => name !== null && pools.get(name)?.type === 'nanio';
    if (opts.vhost !== undefined && !deployed.desired.virtualHosts.some((v) => v.name === opts.vhost)) {
      throw new UserError('buckets.unknown-vhost', `No virtual host ${opts.vhost} is deployed in ${settings.nginxDir}.`, {
        hint: "List the deployed virtual hosts with 'orch buckets' (without --vhost); a virtual host only in the manifests needs 'orch apply' first.",
      });
    }
    const vhosts = deployed.desired.virtualHosts.filter(
      (v) => (opts.vhost === undefined || v.name === opts.vhost) && isNanio(v.defaultPool),
    );
    if (opts.vhost !== undefined && vhosts.length === 0) {
      throw new UserError(
        'buckets.not-nanio',
        `Virtual host ${opts.vhost} has no nanio default pool: bucket sync covers virtual hosts whose default pool is a nanio pool.`,
      );
    }

    // Which pools each virtual host sees, and which buckets it cares about on each.
    const interest = new Map<string, Map<string, Set<string> | 'all'>>();
    const note = (vhost: string, pool: string, bucket: string | 'all') => {
      if (!isNanio(pool)) return;
      let byPool = interest.get(vhost);
      if (!byPool) interest.set(vhost, (byPool = new Map()));
      const cur = byPool.get(pool);
      if (cur === 'all') return;
      if (bucket === 'all') byPool.set(pool, 'all');
      else byPool.set(pool, new Set([...(cur ?? []), bucket]));
    };
    const probes = new Map<string, Set<string>>();
    const probe = (pool: string, bucket: string) => probes.set(pool, new Set([...(probes.get(pool) ?? []), bucket]));
    for (const v of vhosts) {
      note(v.name, v.defaultPool!, 'all');
      for (const r of v.routes) {
        if (!r.enabled || r.bucket === null) continue;
        note(v.name, r.pool, r.bucket);
        if (r.pool !== v.defaultPool) probe(v.defaultPool!, r.bucket);
      }
      for (const m of migrations.filter((m) => m.virtualHost === v.name)) {
        note(v.name, m.from, m.bucket);
        note(v.name, m.to, m.bucket);
        if (m.progress === 'completed') probe(m.from, m.bucket);
      }
    }
    // Every nanio pool of the gateway is listed too: a bucket whose route was removed or moved away,
    // or whose virtual host changed its default pool, left its objects on a pool nothing points at.
    const allHosts = deployed.desired.virtualHosts;
    const poolNames = [
      ...new Set([
        ...[...interest.values()].flatMap((m) => [...m.keys()]),
        ...[...pools.values()].filter((p) => p.type === 'nanio').map((p) => p.name),
      ]),
    ];
    // Pools removed from the manifests while they held objects: kept in the state database (their
    // sidecars, credentials sealed), listed like the others; all they hold is left behind.
    const removed = readRemovedPools(store).flatMap((r) => {
      const pool = pools.has(r.pool) ? null : removedPoolOf(r);
      return pool ? [{ pool, sidecar: r.sidecar }] : [];
    });
    poolNames.push(...removed.map((r) => r.pool.name));
    const strays = (pool: string, buckets: readonly string[]) => buckets.filter((b) => !servedFrom(allHosts, migrations, pool, b));
    const prepared = preparePoolCredentials(
      ports,
      settings,
      [...deployed.desired.pools, ...removed.map((r) => r.pool)],
      new Map([...deployed.poolSidecars, ...removed.map((r) => [r.pool.name, r.sidecar] as const)]),
    );
    const access = prepared.access;
    const listings = await listPools(
      access,
      poolNames,
      (pool, buckets) => {
        const probed = [...(probes.get(pool) ?? [])];
        const stray = strays(pool, buckets);
        if (opts.counts) {
          const wanted = new Set<string>();
          for (const byPool of interest.values()) {
            const w = byPool.get(pool);
            if (w === 'all') buckets.forEach((b) => wanted.add(b));
            else w?.forEach((b) => wanted.add(b));
          }
          stray.forEach((b) => wanted.add(b));
          return { count: [...wanted], probe: probed };
        }
        return opts.countOrphans
          ? { count: [...new Set([...probed, ...stray])], probe: [] }
          : { count: [], probe: [...new Set([...probed, ...stray])] };
      },
      opts.signal,
    );

    const syncedAt = new Date(ports.clock.now()).toISOString();
    const observations: BucketSyncObservation[] = [];
    for (const [vhost, byPool] of interest) {
      for (const [pool, wanted] of byPool) {
        const listing = listings.get(pool);
        if (listing?.status !== 'ok') continue;
        const buckets = new Map<string, { objects: number | null; bytes: number | null }>();
        for (const [bucket, f] of listing.buckets) {
          if (wanted === 'all' || wanted.has(bucket)) buckets.set(bucket, { objects: f.objects, bytes: f.bytes });
        }
        observations.push({ virtualHost: vhost, pool, buckets });
      }
    }
    store.recordBucketSync(observations, syncedAt);

    // Checked with the values of the references, else the copies sealed in the deployed sidecars.
    const identities =
      opts.checkIdentities && manifests
        ? (
            await checkClientIdentities(
              ports,
              manifests,
              undefined,
              prepareIdentityCredentials(ports.secrets, prepared.keyring, manifests.virtualHosts, deployed.vhostSidecars).resolve,
            )
          ).checks
        : undefined;
    const stranded = strandedBuckets(allHosts, migrations, listings);
    const rows = deriveBucketStatuses({ virtualHosts: vhosts as DesiredVirtualHost[], listings, migrations, stranded });
    return {
      syncedAt,
      virtualHosts: vhosts.map((v) => v.name),
      rows,
      pools: [...listings.values()].map((l) => ({ pool: l.pool, status: l.status, message: l.message })),
      ...(identities ? { identities: opts.vhost === undefined ? identities : identities.filter((c) => c.virtualHost === opts.vhost) } : {}),
    };
  } finally {
    store.close();
  }
}
