import type { Diagnostic } from '../../domain/diagnostics.js';
import type { PoolListing } from '../../domain/buckets/bucket-facts.js';
import type { DesiredPool } from '../../domain/model/desired-state.js';
import { readPoolSidecar } from '../../domain/rebuild/read-sidecar.js';
import type { RemovedPoolsFile } from '../../ports/removed-pools-file.js';
import type { StateDatabase, StateStore } from '../../ports/state-store.js';
import type { WriterLocks } from '../../ports/writer-lock.js';
import type { Settings } from '../../config/settings.js';
import { UserError } from '../../domain/errors.js';
import { openWritableState } from '../state/open-state.js';

/**
 * A nanio pool removed from the manifests while it still held objects. Its sidecar leaves the
 * managed directory with it, so the state database keeps the sidecar's text (members, credential
 * references and the credentials sealed at rest, never a value in clear): `orch buckets orphans`
 * lists what the pool still holds, and `orch buckets forget-pool` drops the record. A copy is kept
 * beside the database (RemovedPoolsFile), from which `orch rebuild-db` recovers the records.
 */
export interface RemovedPoolRecord {
  pool: string;
  /** When the apply that removed it ran (ISO). */
  removedAt: string;
  /** The pool's sidecar as it was on disk (JSON text). */
  sidecar: string;
  /** What the plan saw there: buckets with objects (null: the pool could not be listed). */
  buckets: Array<{ bucket: string; objects: number; bytes: number }> | null;
}

const META_KEY = 'removed_pools';

/** The removed pools the state database keeps, by name. An unreadable record reads as none. */
export function readRemovedPools(store: Pick<StateStore, 'getMeta'>): RemovedPoolRecord[] {
  return parseRemovedPools(store.getMeta(META_KEY));
}

function parseRemovedPools(text: string | null): RemovedPoolRecord[] {
  if (text === null) return [];
  try {
    const json = JSON.parse(text) as unknown;
    return Array.isArray(json)
      ? (json as RemovedPoolRecord[]).filter((r) => typeof r?.pool === 'string' && typeof r.sidecar === 'string')
      : [];
  } catch {
    return [];
  }
}

/** The database first (it is what orch reads), then the copy beside it (what rebuild-db reads). */
function writeRemovedPools(
  store: Pick<StateStore, 'setMeta'>,
  file: Pick<RemovedPoolsFile, 'write'>,
  records: readonly RemovedPoolRecord[],
): void {
  const text = JSON.stringify([...records].sort((a, b) => (a.pool < b.pool ? -1 : 1)));
  store.setMeta(META_KEY, text);
  file.write(records.length > 0 ? text : null);
}

/**
 * `orch rebuild-db`: the records of the copy beside the database, written into the new database.
 * Returns the pools recovered, and a warning when the copy exists but holds no readable record
 * (it is removed when no record is left, so an empty or damaged one lost records).
 */
export function recoverRemovedPools(
  store: Pick<StateStore, 'setMeta'>,
  file: Pick<RemovedPoolsFile, 'read' | 'path'>,
): { pools: string[]; diagnostics: Diagnostic[] } {
  let text: string | null;
  let unreadable: string | null = null;
  try {
    text = file.read();
  } catch (e) {
    // A copy that is there but cannot be read (permissions, a directory, an I/O error) lost its records as surely.
    text = '';
    unreadable = (e as NodeJS.ErrnoException).code ?? 'an I/O error';
  }
  const records = parseRemovedPools(text);
  if (records.length > 0) store.setMeta(META_KEY, JSON.stringify(records));
  const diagnostics: Diagnostic[] =
    text !== null && records.length === 0
      ? [
          {
            severity: 'warning',
            code: 'rebuild.removed-pools-unreadable',
            message: `${file.path} ${unreadable ? `cannot be read (${unreadable})` : 'holds no readable record of a removed pool'}: the pools it recorded (removed from the manifests while they held objects) are not restored, and 'orch buckets orphans' will not list what they hold.`,
            hint: `Restore the file from a copy and run 'orch rebuild-db --force' again, or remove it; the objects on those pools' members are never deleted by orch.`,
          },
        ]
      : [];
  return { pools: records.map((r) => r.pool), diagnostics };
}

/**
 * After an apply: the records of the pools this apply removes while they hold objects are added
 * (replacing an older record of the same name); a pool the manifests have (again) is no longer a
 * removed pool, and a removed pool the plan saw empty needs no record.
 */
export function recordRemovedPools(
  store: Pick<StateStore, 'getMeta' | 'setMeta'>,
  file: Pick<RemovedPoolsFile, 'write'>,
  kept: readonly RemovedPoolRecord[],
  drop: ReadonlySet<string>,
): void {
  const before = readRemovedPools(store);
  const keptNames = new Set(kept.map((k) => k.pool));
  const after = [...before.filter((r) => !drop.has(r.pool) && !keptNames.has(r.pool)), ...kept];
  if (before.length === 0 && after.length === 0) return;
  writeRemovedPools(store, file, after);
}

/** Drops the record of a removed pool; false when there was none. */
export function forgetRemovedPool(
  store: Pick<StateStore, 'getMeta' | 'setMeta'>,
  file: Pick<RemovedPoolsFile, 'write'>,
  pool: string,
): boolean {
  const before = readRemovedPools(store);
  if (!before.some((r) => r.pool === pool)) return false;
  writeRemovedPools(
    store,
    file,
    before.filter((r) => r.pool !== pool),
  );
  return true;
}

/** A record's pool as its sidecar describes it (null when the sidecar no longer reads as a nanio pool). */
export function removedPoolOf(record: RemovedPoolRecord): DesiredPool | null {
  try {
    const read = readPoolSidecar(JSON.parse(record.sidecar));
    return read.ok && read.value.type === 'nanio' ? read.value : null;
  } catch {
    return null;
  }
}

/**
 * Which of the nanio pools a plan removes are kept in the state database, and the warning that
 * says so: those that hold objects, or that did not answer (nothing is assumed about them). A pool
 * orch has no working credentials for is not kept (its record could not be listed either): the
 * plan warns that it was not checked.
 * A removed pool sharing a member with a pool of the manifests is not kept: its storage is that
 * pool's, listed (and its strays shown) through it.
 */
export function removedPoolsToKeep(
  removed: ReadonlyArray<{ pool: DesiredPool; sidecar: string }>,
  remaining: readonly DesiredPool[],
  listings: ReadonlyMap<string, PoolListing> | null,
  removedAt: string,
): { kept: RemovedPoolRecord[]; diagnostics: Diagnostic[] } {
  const liveMembers = new Set(remaining.flatMap((p) => p.members.map((m) => m.address)));
  const kept: RemovedPoolRecord[] = [];
  const diagnostics: Diagnostic[] = [];
  for (const { pool, sidecar } of removed) {
    if (pool.members.some((m) => liveMembers.has(m.address))) continue;
    const listing = listings?.get(pool.name);
    if (listing?.status === 'no-credentials' || listing?.status === 'access-denied') {
      // A record could not list it later either (the same credentials): nothing is kept, the plan says so.
      diagnostics.push({
        severity: 'warning',
        code: 'pool.removed-unchecked',
        message: `pool ${pool.name} is removed from the manifests and could not be listed (${listing.message ?? listing.status}): orch cannot tell whether objects stay behind on its members, and keeps no record of it`,
        hint: `If its members hold objects still wanted, keep pool ${pool.name} in the manifests with working credentials and move its buckets with Migrations first.`,
        document: { kind: 'Pool', name: pool.name },
      });
      continue;
    }
    let buckets: RemovedPoolRecord['buckets'] = null;
    if (listing?.status === 'ok') {
      buckets = [...listing.buckets]
        .filter(([, f]) => (f.objects ?? 0) > 0)
        .map(([bucket, f]) => ({ bucket, objects: f.objects!, bytes: f.bytes ?? 0 }))
        .sort((a, b) => (a.bucket < b.bucket ? -1 : 1));
      if (buckets.length === 0) continue;
    }
    kept.push({ pool: pool.name, removedAt, sidecar, buckets });
    const what =
      buckets === null
        ? `could not be listed (${listing?.message ?? 'the plan did not list the pools'}), so orch cannot tell whether it still holds objects`
        : `still holds ${buckets.map((b) => `${b.objects} object${b.objects === 1 ? '' : 's'} of bucket ${b.bucket}`).join(', ')}`;
    diagnostics.push({
      severity: 'warning',
      code: 'pool.removed-with-objects',
      message: `pool ${pool.name} is removed from the manifests and ${what}: orch keeps its members and sealed credentials in the state database, so 'orch buckets orphans' lists what it holds`,
      hint: `See them with 'orch buckets orphans'. Once they are deleted on the pool's members, or no longer wanted, drop the record with 'orch buckets forget-pool ${pool.name}'. To keep serving them instead, keep pool ${pool.name} in the manifests and move the bucket with a Migration.`,
      document: { kind: 'Pool', name: pool.name },
    });
  }
  return { kept, diagnostics };
}

/** What forgetting a removed pool needs: the writer lock, the state database and the copy beside it. */
export interface ForgetPoolPorts {
  settings: Settings;
  locks: WriterLocks;
  state: StateDatabase;
  removedPoolsFile: Pick<RemovedPoolsFile, 'write'>;
}

/**
 * `orch buckets forget-pool POOL`: drops the state database's record of a removed pool (under the
 * writer lock, with an audit entry). Its objects are not touched: orch just stops listing them.
 */
export async function forgetPool(ports: ForgetPoolPorts, pool: string, command: string): Promise<RemovedPoolRecord> {
  const lock = await ports.locks.acquire(command, ports.settings.lockTimeoutSeconds);
  try {
    const store = openWritableState(ports.state, ports.settings);
    try {
      const records = readRemovedPools(store);
      const record = records.find((r) => r.pool === pool);
      if (!record) {
        throw new UserError('buckets.unknown-removed-pool', `No removed pool ${pool} is recorded in the state database.`, {
          hint:
            records.length > 0
              ? `Removed pools recorded: ${records.map((r) => r.pool).join(', ')}.`
              : 'orch records a pool only when an apply removes it from the manifests while it holds objects.',
        });
      }
      forgetRemovedPool(store, ports.removedPoolsFile, pool);
      const held =
        record.buckets === null ? 'not listed when removed' : record.buckets.map((b) => `${b.bucket}: ${b.objects} objects`).join(', ');
      store.audit([{ command, action: 'forget-pool', subject: `Pool/${pool}`, details: `removed ${record.removedAt}; held ${held}` }]);
      return record;
    } finally {
      store.close();
    }
  } finally {
    lock.release();
  }
}
