import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sqliteStateDatabase } from '../../src/adapters/sqlite/state-store.js';
import { resolveSettings, type Settings } from '../../src/config/settings.js';
import { PoolAccessError } from '../../src/domain/buckets/pool-access-error.js';
import type { ListedEntry, ObjectEntry, PoolStorage } from '../../src/ports/pool-storage.js';
import { LockHeldError } from '../../src/domain/errors.js';
import { newMigrationRecord, type MigrationRecord } from '../../src/domain/migrations/migration-record.js';
import { compareKeys, type ListedObject } from '../../src/domain/migrations/object-diff.js';
import type { MigrationRouting } from '../../src/domain/migrations/routing.js';
import { memoryFiles } from '../helpers/memory-migration-files.js';
import type { ObjectTransfer } from '../../src/ports/object-transfer.js';
import type { DrainResult } from '../../src/ports/worker-drain.js';
import type { HeldLock, LockHolder } from '../../src/ports/writer-lock.js';
import { driveMigration, type DriverHooks } from '../../src/use-cases/migrations/driver.js';
import { cancelMigration, listMigrations } from '../../src/use-cases/migrations/migration-commands.js';
import type { MigrationPorts } from '../../src/use-cases/migrations/migration-ports.js';
import { loadMigrationRecord, saveMigrationRecord } from '../../src/use-cases/migrations/migration-records.js';
import { desiredMigration, origin } from '../helpers/desired-builders.js';
import { VirtualClock } from '../helpers/virtual-clock.js';

/**
 * The driver loop on fakes of its ports: pools as maps, a copy engine that copies between them,
 * routing generations that change what the fake nginx serves, a virtual clock. The state database
 * is the real SQLite adapter in a temporary directory (a file, no server). The real-server runs are
 * test/integration/watch-migration.test.ts and test/e2e/migration-*.test.ts.
 */

const md5ish = (s: string) =>
  s
    .padEnd(32, '0')
    .slice(0, 32)
    .replace(/[^0-9a-f]/g, 'a');

class FakePool implements PoolStorage {
  readonly buckets = new Map<string, Map<string, ListedObject>>();
  /** Failures to throw from the next listBuckets calls. */
  failNext: unknown[] = [];
  constructor(readonly pool: string) {}
  put(bucket: string, key: string, body: string): void {
    if (!this.buckets.has(bucket)) this.buckets.set(bucket, new Map());
    this.buckets.get(bucket)!.set(key, { key, size: body.length, etag: md5ish(body) });
  }
  async listBuckets() {
    const e = this.failNext.shift();
    if (e) throw e;
    return [...this.buckets.keys()];
  }
  async bucketStats(bucket: string) {
    const objs = [...(this.buckets.get(bucket)?.values() ?? [])];
    return { objects: objs.length, bytes: objs.reduce((n, o) => n + o.size, 0) };
  }
  async hasObjects(bucket: string) {
    return (this.buckets.get(bucket)?.size ?? 0) > 0;
  }
  async createBucket(bucket: string): Promise<'created' | 'exists'> {
    if (this.buckets.has(bucket)) return 'exists';
    this.buckets.set(bucket, new Map());
    return 'created';
  }
  async listObjects(bucket: string, onPage: (page: ObjectEntry[]) => void) {
    onPage([...(this.buckets.get(bucket)?.values() ?? [])]);
  }
  async listObjectsDetailed(bucket: string, onPage: (page: ListedEntry[]) => void) {
    onPage([...(this.buckets.get(bucket)?.values() ?? [])].map((o) => ({ key: o.key, size: o.size, etag: o.etag })));
  }
  async deleteObjects(bucket: string, keys: readonly string[]) {
    for (const k of keys) this.buckets.get(bucket)?.delete(k);
    return [];
  }
  close() {}
}

const asFake = (p: PoolStorage) => p as unknown as FakePool;

const fakeTransfer: ObjectTransfer = {
  describe: () => 'fake copies',
  list: async (pool, bucket) => [...(asFake(pool).buckets.get(bucket)?.values() ?? [])].sort((a, b) => compareKeys(a.key, b.key)),
  between: (source, destination, bucket, options) => ({
    async compare() {
      return { equal: [], different: [], failures: [] };
    },
    async copy(objects, onCopied) {
      let n = 0;
      let bytes = 0;
      for (const o of objects) {
        const now = asFake(source).buckets.get(bucket)?.get(o.key);
        if (!now) continue;
        asFake(destination)
          .buckets.get(bucket)!
          .set(o.key, { ...now });
        onCopied({ key: o.key, srcEtag: now.etag, srcSize: now.size, dstEtag: now.etag });
        options.onProgress?.({ objects: ++n, bytes: (bytes += now.size) });
      }
      return { failures: [] };
    },
    async deleteAtDestination(keys) {
      for (const k of keys) asFake(destination).buckets.get(bucket)!.delete(k);
      return { failures: [] };
    },
  }),
};

interface World {
  ports: MigrationPorts;
  clock: VirtualClock;
  old: FakePool;
  neu: FakePool;
  files: ReturnType<typeof memoryFiles>;
  /** What the fake nginx serves for the route. */
  served: { routing: MigrationRouting };
  applied: MigrationRouting[];
  /** Throws from the next applies. */
  applyFailures: unknown[];
  drain: (deadline: number) => Promise<DrainResult>;
  lockHolder: LockHolder | null;
  settings: Settings;
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'orch-driver-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function world(opts: { objects?: number; record?: Partial<MigrationRecord> } = {}): World {
  const settings = resolveSettings({
    flags: { nginxDir: join(dir, 'nginx'), stateDir: join(dir, 'state'), manifests: join(dir, 'manifests') },
    env: {},
    configPath: null,
    candidates: [],
    readFile: () => null,
  });
  const clock = new VirtualClock();
  const old = new FakePool('old');
  const neu = new FakePool('new');
  for (let i = 0; i < (opts.objects ?? 20); i++) old.put('photos', `k${String(i).padStart(3, '0')}`, `body ${i}`);
  const files = memoryFiles();
  const w: World = {
    clock,
    old,
    neu,
    files,
    served: { routing: 'source' },
    applied: [],
    applyFailures: [],
    drain: async () => ({ drained: true, waitedMs: 5, remaining: 0, problem: null }),
    lockHolder: null,
    settings,
    ports: undefined as unknown as MigrationPorts,
  };
  const held = (command: string): HeldLock => ({
    holder: { pid: 1, command, since: new Date(clock.now()).toISOString(), host: 'h', startTime: null },
    release: () => undefined,
  });
  w.ports = {
    settings,
    state: sqliteStateDatabase(join(dir, 'orch.db')),
    clock,
    locks: {
      of: () => ({
        acquire: async (command) => {
          if (w.lockHolder) throw new LockHeldError(`Another orch writer holds the lock: pid ${w.lockHolder.pid}`, w.lockHolder);
          return held(command);
        },
        holder: () => w.lockHolder,
      }),
    },
    files,
    transfer: fakeTransfer,
    drain: { waitForOldWorkers: (deadline) => w.drain(deadline) },
    sidecars: { pools: () => new Map(), migrationRouting: () => w.served.routing },
    poolAccess: () => ({ usable: new Set(['old', 'new']), problems: new Map(), open: async (pool) => (pool === 'old' ? old : neu) }),
    applyRouting: async (_record, routing) => {
      const e = w.applyFailures.shift();
      if (e) throw e;
      w.applied.push(routing);
      w.served.routing = routing;
      return { generation: w.applied.length };
    },
  };
  const store = w.ports.state.open();
  try {
    const r = newMigrationRecord(desiredMigration({ origin: origin('Migration', 'm', 'm.yaml') }), new Date(clock.now()));
    saveMigrationRecord(store, files, { ...r, ...opts.record }, new Date(clock.now()).toISOString());
  } finally {
    store.close();
  }
  return w;
}

function hooks(extra: Partial<DriverHooks> = {}): DriverHooks & { lines: string[]; faults: string[] } {
  const lines: string[] = [];
  const faults: string[] = [];
  return {
    signal: new AbortController().signal,
    command: 'test',
    log: (level, m) => lines.push(`${level} ${m}`),
    fault: (p) => faults.push(p),
    lines,
    faults,
    ...extra,
  };
}

/** Runs `p` while moving the virtual clock on (the driver's waits are on it), until it settles. */
async function withTime<T>(clock: VirtualClock, p: Promise<T>, stepMs = 250): Promise<T> {
  let settled = false;
  const out = p.finally(() => (settled = true));
  for (let i = 0; i < 10_000 && !settled; i++) {
    await new Promise((r) => setImmediate(r));
    if (!settled) await clock.advance(stepMs);
  }
  return out;
}

function stored(w: World): MigrationRecord {
  const store = w.ports.state.open();
  try {
    return loadMigrationRecord(store, 'm')!;
  } finally {
    store.close();
  }
}

const keysOf = (p: FakePool) => [...(p.buckets.get('photos')?.values() ?? [])].map((o) => `${o.key}:${o.etag}`).sort();

describe('the migration driver on fakes of its ports', () => {
  it('copies, freezes, verifies and switches: done, the destination equal to the source, three routing generations', async () => {
    const w = world();
    const h = hooks();
    const result = await driveMigration(w.ports, 'm', h);
    expect(result.outcome).toBe('done');
    expect(keysOf(w.neu)).toEqual(keysOf(w.old));
    expect(w.applied).toEqual(['freeze', 'cutover', 'destination']);
    expect(h.faults).toEqual([
      'phase:pending',
      'phase:copying',
      'copy:pass',
      'phase:write_routing',
      'freeze:served',
      'phase:verifying',
      'verify:copied',
      'phase:switching',
      'switch:cutover',
      'phase:done',
    ]);
    expect(h.lines).toContain('info copy engine: fake copies');
    expect(h.lines).toContain('info no write reached the source after the snapshot');
    const r = stored(w);
    expect(r).toMatchObject({
      phase: 'done',
      routing: 'destination',
      routingLive: 'destination',
      orphanedSource: { pool: 'old', prefix: 'photos/' },
    });
    expect(r.freezes.map((f) => f.outcome)).toEqual(['switched']);
    expect(r.progress).toMatchObject({ pass: 2, objectsCopied: 20, objectsTotal: 20 });
    // The state file (the source of truth) says the same as the row.
    expect(JSON.parse(w.files.files.get('m.done.json')!)).toMatchObject({ phase: 'done', routing: 'destination' });
    expect(w.files.files.has('m.state.json')).toBe(false);
  });

  it('resumes after a crash in write_routing: the freeze is abandoned, clients get their unfrozen time, then a second freeze switches', async () => {
    const w = world({
      record: {
        phase: 'write_routing',
        routing: 'freeze',
        routingLive: 'freeze',
        freezeUntil: Math.floor(Date.UTC(2026, 0, 1) / 1000) + 10,
        freezes: [{ startedAt: new Date(Date.UTC(2026, 0, 1)).toISOString(), endedAt: null, windowMs: null, outcome: null, reason: null }],
      },
    });
    w.served.routing = 'freeze';
    w.neu.buckets.set('photos', new Map());
    w.files.writeBaseline('m', new Map());
    const started = w.clock.now();
    const h = hooks();
    const result = await withTime(w.clock, driveMigration(w.ports, 'm', h));
    expect(result.outcome).toBe('done');
    expect(w.applied).toEqual(['source', 'freeze', 'cutover', 'destination']);
    const r = stored(w);
    expect(r.freezes.map((f) => [f.outcome, f.reason])).toEqual([
      ['aborted', 'the previous driver stopped during the freeze'],
      ['switched', null],
    ]);
    // The second freeze waited for the budget (10 s) after the first was abandoned, on the virtual clock.
    expect(Date.parse(r.freezes[1]!.startedAt) - Date.parse(r.freezes[0]!.endedAt!)).toBeGreaterThanOrEqual(10_000);
    expect(w.clock.now() - started).toBeGreaterThanOrEqual(10_000);
    expect(h.lines.some((l) => l.startsWith('warn resuming in phase write_routing'))).toBe(true);
  });

  it('retries a pool that cannot be reached after 5 s (virtual), then goes on', async () => {
    const w = world();
    w.old.failNext = [new PoolAccessError('old', 'unreachable', 'pool old: every member failed')];
    const started = w.clock.now();
    const h = hooks();
    const result = await withTime(w.clock, driveMigration(w.ports, 'm', h));
    expect(result.outcome).toBe('done');
    expect(h.lines).toContain('warn pending: pool old: every member failed; retrying in 5 s');
    expect(w.clock.now() - started).toBeGreaterThanOrEqual(5000);
  });

  it('a bug in a phase is thrown to the caller, the record left as it was', async () => {
    const w = world();
    w.old.failNext = [new TypeError('boom')];
    await expect(driveMigration(w.ports, 'm', hooks())).rejects.toThrow('boom');
    expect(stored(w).phase).toBe('pending');
  });

  it('stopped during the freeze: writes go back to the source before the driver ends', async () => {
    const w = world();
    const controller = new AbortController();
    w.drain = async () => {
      controller.abort();
      return { drained: false, waitedMs: 0, remaining: 1, problem: null };
    };
    const result = await driveMigration(w.ports, 'm', hooks({ signal: controller.signal }));
    expect(result.outcome).toBe('stopped');
    expect(w.applied).toEqual(['freeze', 'source']);
    expect(w.served.routing).toBe('source');
    const r = stored(w);
    expect(r).toMatchObject({ phase: 'copying', routing: 'source', freezeUntil: null });
    expect(r.freezes[0]).toMatchObject({ outcome: 'aborted', reason: 'the driver was stopped' });
  });

  it('a routing that must be served is retried with backoff until it is', async () => {
    const w = world();
    w.drain = async () => ({ drained: false, waitedMs: 1500, remaining: 2, problem: null });
    w.applyFailures = [undefined, new Error('reload not confirmed'), new Error('reload not confirmed')];
    const controller = new AbortController();
    const h = hooks({ signal: controller.signal });
    // After the freeze is abandoned twice, stop.
    let abandons = 0;
    h.onUpdate = (r) => {
      if (r.freezes.filter((f) => f.outcome === 'aborted').length > abandons) abandons++;
      if (abandons >= 1) controller.abort();
    };
    const started = w.clock.now();
    const result = await withTime(w.clock, driveMigration(w.ports, 'm', h));
    expect(result.outcome).toBe('stopped');
    expect(h.lines.filter((l) => l.startsWith('warn routing source not applied'))).toEqual([
      'warn routing source not applied (attempt 1): reload not confirmed; retrying',
      'warn routing source not applied (attempt 2): reload not confirmed; retrying',
    ]);
    expect(w.clock.now() - started).toBeGreaterThanOrEqual(2000 + 4000);
    expect(w.served.routing).toBe('source');
  });

  it('cancel: the flag of another process is seen, the route stays on the source, the migration is cancelled', async () => {
    const w = world({ record: { phase: 'copying' } });
    w.files.writeBaseline('m', new Map());
    w.files.requestCancel('m', 'now');
    const result = await driveMigration(w.ports, 'm', hooks());
    expect(result.outcome).toBe('cancelled');
    expect(w.applied).toEqual([]);
    expect(w.files.cancel.size).toBe(0);
    expect(stored(w)).toMatchObject({ phase: 'cancelled', routing: 'source' });
  });

  it('cancelMigration drives the cancel itself when nobody drives the migration; listMigrations shows it', async () => {
    const w = world({ record: { phase: 'copying', routing: 'freeze', routingLive: 'freeze' } });
    w.served.routing = 'freeze';
    const out = await cancelMigration(w.ports, 'm', { waitSeconds: 1, hooks: { signal: new AbortController().signal } });
    expect(out.how).toBe('cancelled');
    expect(w.applied).toEqual(['source']);
    expect(listMigrations(w.ports).map((v) => [v.record.name, v.record.phase, v.driver])).toEqual([['m', 'cancelled', null]]);
  });

  it('a migration another process drives is refused with its holder', async () => {
    const w = world();
    w.lockHolder = { pid: 4242, command: 'watch (migration m)', since: '2026-01-01T00:00:00.000Z', host: 'gw1', startTime: null };
    await expect(driveMigration(w.ports, 'm', hooks())).rejects.toMatchObject({
      code: 'migrate.busy',
      message:
        'Migration m is already being driven by another orch process. Holder: pid 4242 (watch (migration m)) on gw1, since 2026-01-01T00:00:00.000Z.',
    });
  });

  it('pending waits for a free slot when maxParallelMigrations migrations copy', async () => {
    const w = world();
    const store = w.ports.state.open();
    try {
      const other = newMigrationRecord(
        desiredMigration({ name: 'other', bucket: 'b', origin: origin('Migration', 'other', 'o.yaml') }),
        new Date(w.clock.now()),
      );
      for (let i = 0; i < w.settings.maxParallelMigrations; i++)
        saveMigrationRecord(store, w.files, { ...other, name: `other-${i}`, phase: 'copying' }, 'now');
    } finally {
      store.close();
    }
    expect((await driveMigration(w.ports, 'm', hooks())).outcome).toBe('waiting');
  });
});
