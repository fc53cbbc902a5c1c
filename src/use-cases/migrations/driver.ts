import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { readBaseline, writeBaseline } from '../../adapters/fs/migration-files.js';
import { migrationStateDir } from '../../adapters/fs/read-state-files.js';
import { acquireWriterLock } from '../../adapters/fs/writer-lock.js';
import type { HeldLock } from '../../ports/writer-lock.js';
import { readManagedTree } from '../../adapters/fs/read-managed-tree.js';
import { waitForOldWorkers } from '../../adapters/nginx/worker-drain.js';
import { listAll, ObjectCopier, type CopyFailure } from '../../adapters/s3/object-copier.js';
import { PoolS3Client } from '../../adapters/s3/pool-s3-client.js';
import { describeCopyEngine } from '../../adapters/s3/splice-relay.js';
import type { StateStore } from '../../ports/state-store.js';
import { PoolAccessError } from '../../domain/buckets/pool-storage.js';
import { isLockHeld, UserError } from '../../domain/errors.js';
import { FINISHED_PHASES, type FreezeRecord, type MigrationDoc } from '../../domain/migrations/migration-doc.js';
import { diffObjects, type CopyRecord, type ListedObject, type ObjectDiff } from '../../domain/migrations/object-diff.js';
import { CUTOVER_MARGIN_SECONDS } from '../../domain/migrations/route-overlay.js';
import type { MigrationRouting } from '../../domain/migrations/routing.js';
import type { DesiredPool } from '../../domain/model/desired-state.js';
import { readPoolSidecar, readVirtualHostSidecar } from '../../domain/rebuild/read-sidecar.js';
import { applyGateway } from '../apply/apply-gateway.js';
import { openWritableState } from '../state/open-state.js';
import { preparePoolCredentials, type Env, type PoolAccess } from '../buckets/pool-access.js';
import type { Settings } from '../../config/settings.js';
import type { ManifestLoader } from '../../ports/manifest-loader.js';
import { loadMigrationDoc, loadMigrationDocs, saveMigrationDoc } from './migration-records.js';

/**
 * The migration engine: drives one migration through its phases, from wherever its record says it
 * is (so a crash at any point resumes). Every routing change goes through the normal apply path
 * (`applyGateway`: lock, plan, staged `nginx -t`, journaled promote, confirmed reload) as its own
 * generation. Copies go to the pools' members directly, never through the gateway.
 *
 * docs/migrations.md explains why this meets the contract; the short version:
 * - copying: all traffic on the source; passes copy what differs until a pass finds a small delta;
 * - write_routing: writes refused (503 SlowDown) by nginx until `freezeUntil`, reads on the
 *   source; the engine waits until nginx's old workers (which may still be finishing writes to the
 *   source) are gone;
 * - verifying: the final delta, deletions propagated, the destination verified equal; the source
 *   listing is kept as the snapshot;
 * - switching: reads to the destination while writes are still refused (`cutover`), a check that
 *   no write reached the source after the snapshot, then writes to the destination too;
 * - done: the source data stays, recorded as orphaned.
 * If the final delta cannot be made inside the freeze budget, writes go back to the source and
 * copying goes on.
 */
export interface DriverHooks {
  signal: AbortSignal;
  /** Where the engine reports what it does (also written to the migration's own log). */
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
  /** The record after every change (phase, progress). */
  onUpdate?: (doc: MigrationDoc) => void;
  command: string;
  /** Where the manifests are read from for the migration's routing generations. */
  manifests: ManifestLoader;
  env?: Env;
  /** Fault injection for tests: called with `phase:<name>` at each phase start. */
  fault?: (point: string) => void;
}

export interface DriveResult {
  doc: MigrationDoc;
  /** `waiting`: pending, no slot free (maxParallelMigrations); `stopped`: the signal aborted it. */
  outcome: 'done' | 'cancelled' | 'error' | 'waiting' | 'stopped';
}

/** A migration is small enough to freeze for when the last pass had at most this many objects to fix... */
const FREEZE_MAX_DELTA_OBJECTS = 1000;
/** ...and its bytes would take at most this share of the freeze budget at the measured rate. */
const FREEZE_DELTA_BUDGET_SHARE = 0.25;
/** Time kept back at the end of a freeze for the two routing generations. */
const SWITCH_RESERVE_FLOOR_MS = 1500;
const PROGRESS_SAVE_MS = 1000;

class Stopped extends Error {}
class Abort extends Error {}

export function cancelFlagPath(stateDir: string, name: string): string {
  return join(migrationStateDir(stateDir), `${name}.cancel`);
}

export function migrationLockName(name: string): string {
  return `${name}.lock`;
}

export async function driveMigration(settings: Settings, name: string, hooks: DriverHooks): Promise<DriveResult> {
  let lock: HeldLock;
  try {
    lock = await acquireWriterLock(migrationStateDir(settings.stateDir), `${hooks.command} (migration ${name})`, 0, migrationLockName(name));
  } catch (e) {
    if (isLockHeld(e)) {
      throw new UserError('migrate.busy', `Migration ${name} is already being driven by another orch process. ${e.message.replace(/^Another orch writer holds the lock: /, 'Holder: ')}`, {
        hint: "Follow it with 'orch migrations', or stop that process first.",
      });
    }
    throw e;
  }
  const { store } = openWritableState(settings);
  try {
    const engine = new Engine(settings, store, name, hooks);
    return await engine.run();
  } finally {
    store.close();
    lock.release();
  }
}

class Engine {
  private doc!: MigrationDoc;
  private access: PoolAccess | null = null;
  private clients: { source: PoolS3Client; destination: PoolS3Client } | null = null;
  private lastSave = 0;
  /** Measured duration of a routing generation (apply), for the freeze's time budget. */
  private applyMs = 0;
  /** After an abandoned freeze, clients get at least this long (epoch ms) of accepted writes. */
  private nextFreezeNotBefore = 0;
  /** Passes since the last note that the delta would not fit the freeze (the log says so now and then, not every pass). */
  private tooSlowNoted = 0;

  constructor(
    private readonly settings: Settings,
    private readonly store: StateStore,
    private readonly name: string,
    private readonly hooks: DriverHooks,
  ) {}

  private log(level: 'info' | 'warn' | 'error', message: string): void {
    this.store.appendMigrationLog(this.name, level, message);
    this.hooks.log?.(level, message);
  }

  private save(): void {
    saveMigrationDoc(this.store, this.settings.stateDir, this.doc);
    this.lastSave = Date.now();
    this.hooks.onUpdate?.(this.doc);
  }

  private setPhase(phase: MigrationDoc['phase'], message: string): void {
    const before = this.doc.phase;
    this.doc.phase = phase;
    this.save();
    this.store.audit([{ command: this.hooks.command, action: `migration-${phase}`, subject: `Migration/${this.name}`, details: `${before} -> ${phase}: ${message}` }]);
    this.log(phase === 'error' ? 'error' : 'info', `${before} -> ${phase}: ${message}`);
  }

  private checkStop(): void {
    if (this.hooks.signal.aborted) throw new Stopped();
  }

  async run(): Promise<DriveResult> {
    const doc = loadMigrationDoc(this.store, this.name);
    if (!doc) {
      throw new UserError('migrate.unknown', `There is no migration named ${this.name} in the state.`, {
        hint: "'orch migrations' lists them; a Migration manifest becomes one when 'orch apply' starts it.",
      });
    }
    this.doc = doc;
    try {
      if (FINISHED_PHASES.has(doc.phase)) return { doc, outcome: doc.phase === 'done' ? 'done' : 'cancelled' };
      if (doc.phase === 'error') {
        this.doc.lastError = null;
        this.setPhase(doc.progress.pass > 0 ? 'copying' : 'pending', 'resumed by an operator');
      }
      await this.resume();
      for (;;) {
        this.checkStop();
        if (this.cancelRequested()) return await this.cancel();
        this.hooks.fault?.(`phase:${this.doc.phase}`);
        switch (this.doc.phase) {
          case 'pending':
            if (!this.slotFree()) return { doc: this.doc, outcome: 'waiting' };
            await this.start();
            break;
          case 'copying':
            await this.copyPass();
            break;
          case 'write_routing':
            await this.freeze();
            break;
          case 'verifying':
            await this.verify();
            break;
          case 'switching':
            await this.switchOver();
            break;
          case 'done':
            return { doc: this.doc, outcome: 'done' };
          case 'cancelled':
            return { doc: this.doc, outcome: 'cancelled' };
          case 'error':
            return { doc: this.doc, outcome: 'error' };
        }
      }
    } catch (e) {
      if (e instanceof Stopped || this.hooks.signal.aborted) {
        await this.stopSafely();
        return { doc: this.doc, outcome: 'stopped' };
      }
      throw e;
    } finally {
      this.clients?.source.close();
      this.clients?.destination.close();
    }
  }

  /** Stopping mid-freeze puts writes back on the source: a stopped driver never leaves them refused. */
  private async stopSafely(): Promise<void> {
    if (this.doc.phase === 'write_routing' || this.doc.phase === 'verifying') {
      try {
        await this.abortFreeze('the driver was stopped');
      } catch (e) {
        this.log('error', `could not put writes back on the source while stopping: ${messageOf(e)} (nginx ends the freeze by itself at ${isoOf(this.doc.freezeUntil)})`);
      }
    }
  }

  /** After a crash: the record and what nginx serves are brought back in line. */
  private async resume(): Promise<void> {
    const deployed = this.deployedRouting();
    const phase = this.doc.phase;
    if (phase === 'write_routing' || phase === 'verifying') {
      this.log('warn', `resuming in phase ${phase} (nginx serves routing ${deployed}): the freeze is abandoned and copying goes on`);
      await this.abortFreeze('the previous driver stopped during the freeze');
    } else if (phase === 'switching') {
      if (deployed === 'cutover' || deployed === 'destination') {
        this.doc.routingLive = deployed;
        this.save();
        this.log('info', `resuming in phase switching: nginx serves routing ${deployed}`);
      } else {
        this.log('warn', `resuming in phase switching, but the cutover never went live (nginx serves ${deployed}): back to copying`);
        await this.abortFreeze('the cutover never went live');
      }
    } else if (phase === 'copying' && deployed !== 'source') {
      // A routing left behind by a stopped freeze: serve the source again.
      await this.applyRouting('source');
    }
  }

  private cancelRequested(): boolean {
    return this.doc.cancelRequested || existsSync(cancelFlagPath(this.settings.stateDir, this.name));
  }

  /** Migrations that copy (not pending, not finished) count against maxParallelMigrations. */
  private slotFree(): boolean {
    const running = loadMigrationDocs(this.store).filter((m) => m.name !== this.name && ['copying', 'write_routing', 'verifying', 'switching'].includes(m.phase)).length;
    return running < this.settings.maxParallelMigrations;
  }

  // ---------------------------------------------------------------- pools

  /** Pools as deployed (their sidecars): the members nginx sends traffic to, and their credentials. */
  private poolAccess(): PoolAccess {
    if (this.access) return this.access;
    const tree = readManagedTree(this.settings.nginxDir);
    const pools: DesiredPool[] = [];
    const sidecars = new Map<string, string>();
    for (const f of tree.files) {
      const m = /^pools\/(.+)\.meta\.json$/.exec(f.path);
      if (!m || !f.managed) continue;
      sidecars.set(m[1]!, f.content);
      try {
        const read = readPoolSidecar(JSON.parse(f.content));
        if (read.ok) pools.push(read.value);
      } catch {
        /* an unreadable sidecar: that pool is not usable */
      }
    }
    this.access = preparePoolCredentials(this.settings, pools, sidecars, this.hooks.env ?? process.env).access;
    return this.access;
  }

  private async pools(): Promise<{ source: PoolS3Client; destination: PoolS3Client }> {
    if (this.clients) return this.clients;
    const access = this.poolAccess();
    const overrides = { concurrency: Math.max(this.doc.concurrency * 2, 8) };
    const source = await access.open(this.doc.from, overrides);
    const destination = await access.open(this.doc.to, overrides);
    if (!(source instanceof PoolS3Client) || !(destination instanceof PoolS3Client)) throw new Error('pool access did not open S3 clients');
    this.clients = { source, destination };
    return this.clients;
  }

  private copier(signal: AbortSignal = this.hooks.signal): Promise<ObjectCopier> {
    return this.pools().then(
      ({ source, destination }) =>
        new ObjectCopier(source, destination, this.doc.bucket, {
          concurrency: this.doc.concurrency,
          bandwidthLimit: this.doc.bandwidthLimit,
          signal,
          onProgress: (p) => this.onCopyProgress(p),
        }),
    );
  }

  private passStart = { at: 0, bytes: 0, objects: 0, toCopyBytes: 0 };
  private copiedInPass = { objects: 0, bytes: 0 };

  private onCopyProgress(p: { objects: number; bytes: number }): void {
    this.copiedInPass = p;
    const progress = this.doc.progress;
    const elapsed = (Date.now() - this.passStart.at) / 1000;
    if (elapsed > 0.5) progress.rateBytesPerSecond = Math.round(p.bytes / elapsed);
    const rate = progress.rateBytesPerSecond;
    progress.etaSeconds = rate && rate > 0 ? Math.max(0, Math.round((this.passStart.toCopyBytes - p.bytes) / rate)) : null;
    progress.objectsCopied = this.passStart.objects + p.objects;
    progress.bytesCopied = this.passStart.bytes + p.bytes;
    if (Date.now() - this.lastSave >= PROGRESS_SAVE_MS) this.save();
  }

  // ---------------------------------------------------------------- phases

  /** pending -> copying: checks on the pools, the destination bucket, the copy-mode baseline. */
  private async start(): Promise<void> {
    let clients: { source: PoolS3Client; destination: PoolS3Client };
    try {
      clients = await this.pools();
    } catch (e) {
      return this.retryLater(e);
    }
    const { source, destination } = clients;
    this.log('info', `copy engine: ${describeCopyEngine()}`);
    try {
      const sourceBuckets = await source.listBuckets();
      if (!sourceBuckets.includes(this.doc.bucket)) return this.fail(`bucket ${this.doc.bucket} does not exist on the source pool ${this.doc.from}`);
      const created = await destination.createBucket(this.doc.bucket);
      if (created === 'created') this.log('info', `created bucket ${this.doc.bucket} on ${this.doc.to}`);
      const existing = await listAll(destination, this.doc.bucket);
      const sourceKeys = new Set((await listAll(source, this.doc.bucket)).map((o) => o.key));
      if (this.doc.mode === 'sync') {
        if (!(await source.hasObjects(this.doc.bucket))) return this.fail(`sync mode refuses an empty source: ${this.doc.bucket} has no object on ${this.doc.from}`);
        if (existing.length > 0) return this.fail(`sync mode refuses a destination that is not empty: ${this.doc.bucket} has ${existing.length} objects on ${this.doc.to}`);
      }
      // A baseline is written once: a restarted pending migration keeps the first one.
      if (readBaseline(this.settings.stateDir, this.name) === null) {
        // Only keys the source does not have: a key on both is the source's (a client's delete of it must reach the destination).
        const baseline = this.doc.mode === 'copy' ? new Map(existing.filter((o) => !sourceKeys.has(o.key)).map((o) => [o.key, o.etag])) : new Map<string, string>();
        writeBaseline(this.settings.stateDir, this.name, baseline);
        if (baseline.size > 0) this.log('info', `${baseline.size} objects were already on ${this.doc.to}: copy mode keeps those the source does not have`);
      }
    } catch (e) {
      return this.retryLater(e);
    }
    this.setPhase('copying', `copying ${this.doc.bucket} from ${this.doc.from} to ${this.doc.to} (${this.doc.mode} mode)`);
  }

  /** One copy pass while all traffic is on the source; freezes when the delta is small. */
  private async copyPass(): Promise<void> {
    let result: PassResult;
    try {
      result = await this.pass(null);
    } catch (e) {
      if (e instanceof Stopped || this.hooks.signal.aborted) throw e;
      return this.retryLater(e);
    }
    const p = this.doc.progress;
    p.lastPassDelta = result.delta;
    this.save();
    this.hooks.fault?.('copy:pass');
    this.log('info', `pass ${p.pass}: ${result.diff.copy.length} copied, ${result.diff.compare.length} compared, ${result.diff.delete.length} deleted, ${result.diff.inSync.objects} already in sync, ${result.failures.length} failed (${(result.ms / 1000).toFixed(1)} s)`);
    if (result.failures.length > 0) {
      this.log('warn', `pass ${p.pass}: ${result.failures.length} objects failed, e.g. ${result.failures.slice(0, 3).map((f) => `${f.key}: ${f.message}`).join('; ')}`);
      await this.sleep(1000);
      return;
    }
    if (this.smallDelta(result)) {
      if (Date.now() < this.nextFreezeNotBefore) {
        await this.sleep(Math.min(1000, this.nextFreezeNotBefore - Date.now()));
        return;
      }
      await this.enterFreeze();
    }
  }

  /**
   * Whether to freeze after this pass: the final delta repeats this pass's work (list both sides,
   * copy, delete) plus one more listing to verify, and must fit in the freeze budget after the
   * freeze generation and with the cutover's reserve. The pass's own measured time is the estimate,
   * so a slow machine or a busy bucket waits for a quieter pass instead of freezing in vain.
   */
  private smallDelta(result: PassResult): boolean {
    if (result.delta > FREEZE_MAX_DELTA_OBJECTS) return false;
    const applyMs = Math.max(1000, this.applyMs);
    const availableMs = this.doc.freezeBudgetSeconds * 1000 - applyMs - CUTOVER_MARGIN_SECONDS * 1000 - Math.max(SWITCH_RESERVE_FLOOR_MS, this.applyMs);
    const estimateMs = result.ms + result.listMs;
    const rate = this.doc.progress.rateBytesPerSecond;
    const bytesOk = result.deltaBytes === 0 || (rate ? result.deltaBytes / rate <= this.doc.freezeBudgetSeconds * FREEZE_DELTA_BUDGET_SHARE : result.deltaBytes <= 8 * 1024 * 1024);
    if (estimateMs <= availableMs && bytesOk) return true;
    if (this.tooSlowNoted++ % 10 === 0) {
      this.log('info', `the final delta would take about ${(estimateMs / 1000).toFixed(1)} s (this pass plus a verifying listing), more than the ${(availableMs / 1000).toFixed(1)} s a ${this.doc.freezeBudgetSeconds} s freeze leaves: copying on (a larger freezeBudget freezes sooner)`);
    }
    return false;
  }

  /** copying -> write_routing: the freeze generation. */
  private async enterFreeze(): Promise<void> {
    const budget = this.doc.freezeBudgetSeconds;
    this.doc.freezeUntil = Math.floor(Date.now() / 1000) + budget;
    this.doc.routing = 'freeze';
    this.setPhase('write_routing', `freezing writes until ${isoOf(this.doc.freezeUntil)} (budget ${budget} s)`);
  }

  /** write_routing: serve the freeze, wait for old workers, then verify. */
  private async freeze(): Promise<void> {
    if (this.doc.routingLive !== 'freeze') {
      try {
        await this.applyRouting('freeze');
      } catch (e) {
        this.log('warn', `the freeze could not be applied: ${messageOf(e)}`);
        await this.abortFreeze(`the freeze generation failed: ${messageOf(e)}`, false);
        await this.sleep(2000);
        return;
      }
      const record: FreezeRecord = { startedAt: new Date().toISOString(), endedAt: null, windowMs: null, outcome: null, reason: null };
      this.doc.freezes.push(record);
      this.save();
      this.hooks.fault?.('freeze:served');
    }
    const deadline = this.verifyDeadline();
    const drain = await waitForOldWorkers(this.settings.statusListen, deadline, this.hooks.signal);
    this.checkStop();
    if (!drain.drained) {
      const why = drain.problem ?? `${drain.remaining} nginx worker${drain.remaining === 1 ? '' : 's'} of the previous configuration still finishing requests after ${(drain.waitedMs / 1000).toFixed(1)} s`;
      await this.abortFreeze(`old workers did not finish in time: ${why}`);
      return;
    }
    this.log('info', `old nginx workers gone after ${drain.waitedMs} ms`);
    this.setPhase('verifying', 'copying the final delta while writes are refused');
  }

  /** verifying: the final delta inside the freeze, until the destination equals the source. */
  private async verify(): Promise<void> {
    const deadline = this.verifyDeadline();
    let verified: ListedObject[] | null = null;
    try {
      for (let round = 0; round < 5 && verified === null; round++) {
        if (Date.now() >= deadline) break;
        const result = await this.pass(deadline);
        if (result.failures.length > 0) throw new Abort(`${result.failures.length} objects failed in the final delta (${result.failures[0]!.key}: ${result.failures[0]!.message})`);
        // The source is frozen (and old workers gone): its listing stands. Verified when the pass had
        // nothing to do, or when a fresh listing of the destination needs nothing against it.
        if (result.delta === 0 && result.diff.compare.length === 0) {
          verified = result.source;
          break;
        }
        const check = await this.diffNow(result.source);
        if (check.diff.copy.length + check.diff.compare.length + check.diff.delete.length === 0) verified = check.source;
      }
    } catch (e) {
      if (e instanceof Stopped || this.hooks.signal.aborted) throw e;
      const timedOut = Date.now() >= deadline - 50;
      await this.abortFreeze(timedOut ? `the final delta did not finish inside the freeze budget (${this.doc.freezeBudgetSeconds} s)` : `the final delta failed: ${messageOf(e)}`);
      return;
    }
    if (verified === null || Date.now() >= deadline) {
      await this.abortFreeze(`the final delta did not finish inside the freeze budget (${this.doc.freezeBudgetSeconds} s)`);
      return;
    }
    this.hooks.fault?.('verify:copied');
    this.store.replaceSnapshot(this.name, verified);
    this.store.markSnapshot(this.name, new Date().toISOString());
    this.doc.routing = 'cutover';
    this.doc.progress.objectsTotal = verified.length;
    this.doc.progress.bytesTotal = verified.reduce((n, o) => n + o.size, 0);
    this.doc.progress.objectsInSync = verified.length;
    this.doc.progress.bytesInSync = this.doc.progress.bytesTotal;
    this.doc.progress.etaSeconds = 0;
    this.setPhase('switching', `the destination holds all ${verified.length} objects: reads switch to ${this.doc.to}`);
  }

  /** switching: reads to the destination (writes still refused), late writes checked, then writes too. */
  private async switchOver(): Promise<void> {
    if (this.doc.routingLive !== 'cutover' && this.doc.routingLive !== 'destination') {
      try {
        await this.applyRouting('cutover');
      } catch (e) {
        await this.abortFreeze(`the cutover generation failed: ${messageOf(e)}`);
        return;
      }
      if (this.deployedRouting() !== 'cutover') {
        await this.abortFreeze('the cutover came too late in the freeze and was not served');
        return;
      }
    }
    if (this.doc.routingLive === 'cutover') {
      this.hooks.fault?.('switch:cutover');
      await this.copyLateWrites();
      await this.retryApply('destination');
    }
    const at = new Date().toISOString();
    const record = this.doc.freezes.at(-1);
    if (record && record.endedAt === null) {
      record.endedAt = at;
      record.windowMs = Date.parse(at) - Date.parse(record.startedAt);
      record.outcome = 'switched';
    }
    this.doc.routing = 'destination';
    this.doc.freezeUntil = null;
    this.doc.finishedAt = at;
    this.doc.orphanedSource = { pool: this.doc.from, prefix: `${this.doc.bucket}/`, at };
    this.setPhase('done', `bucket ${this.doc.bucket} is served by ${this.doc.to}${record?.windowMs != null ? `; writes were refused for ${(record.windowMs / 1000).toFixed(1)} s` : ''}; the source data stays on ${this.doc.from} (orphaned, for the operator to delete)`);
    this.store.dropMigrationWork(this.name);
    rmSync(cancelFlagPath(this.settings.stateDir, this.name), { force: true });
  }

  /**
   * Writes that reached the source after the snapshot (a freeze that ended before the cutover was
   * served, or a slow request on an old worker) are copied to the destination — unless the
   * destination's object changed since orch wrote it (a newer client write wins).
   */
  private async copyLateWrites(): Promise<void> {
    const snapshot = this.store.snapshot(this.name);
    const { source, destination } = await this.pools();
    const [now, dest] = await Promise.all([listAll(source, this.doc.bucket), listAll(destination, this.doc.bucket)]);
    if (snapshot === null) {
      this.log('warn', 'no verified snapshot in the state (database rebuilt?): late writes to the source cannot be told apart; checking the destination against the source instead');
    }
    const before = new Map((snapshot ?? now).map((o) => [o.key, o]));
    const records = this.store.copyRecords(this.name);
    const destByKey = new Map(dest.map((o) => [o.key, o]));
    const late = now.filter((o) => {
      const b = before.get(o.key);
      return !b || b.etag !== o.etag || b.size !== o.size;
    });
    const nowKeys = new Set(now.map((o) => o.key));
    const lateDeletes = [...before.keys()].filter((k) => !nowKeys.has(k));
    const untouched = (key: string) => {
      const d = destByKey.get(key);
      const r = records.get(key);
      const s = before.get(key);
      // The destination still holds what orch put there (its copy record, or the snapshot's own version).
      return d === undefined ? true : (r !== undefined && r.dstEtag === d.etag) || (s !== undefined && s.etag === d.etag && s.size === d.size);
    };
    const toCopy = late.filter((o) => untouched(o.key));
    const toDelete = lateDeletes.filter((k) => destByKey.has(k) && untouched(k));
    if (late.length + lateDeletes.length === 0) {
      this.log('info', 'no write reached the source after the snapshot');
      return;
    }
    this.log('warn', `${late.length} writes and ${lateDeletes.length} deletes reached the source after the snapshot: copying ${toCopy.length}, deleting ${toDelete.length} at the destination`);
    const copier = await this.copier();
    const { failures } = await copier.copy(toCopy, (r) => this.store.putCopyRecords(this.name, [r]));
    const deleted = await copier.deleteAtDestination(toDelete);
    const all = [...failures, ...deleted.failures];
    if (all.length > 0) this.log('error', `late writes not carried over: ${all.map((f) => `${f.key}: ${f.message}`).join('; ')}`);
  }

  // ---------------------------------------------------------------- copy passes

  /** Lists both sides (or only the destination, against a source listing still valid) and diffs them. */
  private async diffNow(frozenSource?: ListedObject[]): Promise<{ diff: ObjectDiff; source: ListedObject[] }> {
    const { source, destination } = await this.pools();
    const [src, dst] = await Promise.all([frozenSource ?? listAll(source, this.doc.bucket), listAll(destination, this.doc.bucket)]);
    const baseline = readBaseline(this.settings.stateDir, this.name) ?? new Map<string, string>();
    const diff = diffObjects({ source: src, destination: dst, records: this.store.copyRecords(this.name), baseline, mode: this.doc.mode });
    return { diff, source: src };
  }

  /** One pass: list both sides, compare, copy, delete. `deadline` (epoch ms) bounds a final pass. */
  private async pass(deadline: number | null): Promise<PassResult> {
    const started = Date.now();
    const signal = deadline === null ? this.hooks.signal : AbortSignal.any([this.hooks.signal, AbortSignal.timeout(Math.max(1, deadline - started))]);
    const { diff, source } = await this.diffNow();
    const listMs = Date.now() - started;
    this.checkStop();
    const progress = this.doc.progress;
    progress.pass += 1;
    progress.objectsTotal = diff.source.objects;
    progress.bytesTotal = diff.source.bytes;
    progress.objectsInSync = diff.inSync.objects;
    progress.bytesInSync = diff.inSync.bytes;
    const copier = await this.copier(signal);
    const failures: CopyFailure[] = [];
    const onCopied = (r: CopyRecord) => this.store.putCopyRecords(this.name, [r]);

    // Same size, ETags not comparable: hash both sides; equal ones are recorded, others copied.
    let toCopy = diff.copy;
    if (diff.compare.length > 0) {
      const compared = await copier.compare(diff.compare);
      this.store.putCopyRecords(this.name, compared.equal);
      failures.push(...compared.failures);
      toCopy = [...toCopy, ...compared.different].sort((a, b) => (a.key < b.key ? -1 : 1));
    }
    const deltaBytes = toCopy.reduce((n, o) => n + o.size, 0);
    this.passStart = { at: Date.now(), bytes: progress.bytesCopied, objects: progress.objectsCopied, toCopyBytes: deltaBytes };
    this.copiedInPass = { objects: 0, bytes: 0 };
    this.save();
    if (deadline !== null && Date.now() >= deadline) throw new Abort('the freeze budget ran out before the final copy');
    const copied = await copier.copy(toCopy, onCopied);
    failures.push(...copied.failures);
    const deleted = await copier.deleteAtDestination(diff.delete);
    failures.push(...deleted.failures);
    progress.objectsCopied = this.passStart.objects + this.copiedInPass.objects;
    progress.bytesCopied = this.passStart.bytes + this.copiedInPass.bytes;
    progress.objectsDeleted += diff.delete.length - deleted.failures.length;
    progress.objectsInSync = diff.inSync.objects + (toCopy.length - copied.failures.length);
    progress.etaSeconds = null;
    this.save();
    return { diff, source, failures, delta: toCopy.length + diff.delete.length, deltaBytes, ms: Date.now() - started, listMs };
  }

  // ---------------------------------------------------------------- routing generations

  /** What nginx serves for this migration's route now, from the deployed sidecar. */
  private deployedRouting(): MigrationRouting {
    const path = join(this.settings.nginxDir, 'vhosts', `${this.doc.virtualHost}.meta.json`);
    try {
      const read = readVirtualHostSidecar(JSON.parse(readFileSync(path, 'utf8')));
      if (!read.ok) return 'source';
      const route = read.value.routes.find((r) => r.bucket === this.doc.bucket);
      return route?.migration && route.migration.name === this.name ? route.migration.routing : 'source';
    } catch {
      return 'source';
    }
  }

  /**
   * One generation through the normal apply path, with the record asking for `routing`. Only this
   * virtual host's files may change: manifest changes nobody applied yet are refused, not carried.
   */
  private async applyRouting(routing: MigrationRouting): Promise<void> {
    this.doc.routing = routing;
    this.save();
    const started = Date.now();
    const vhost = this.doc.virtualHost;
    const result = await applyGateway(this.settings, {
      manifests: this.hooks.manifests,
      planFile: null,
      dryRun: false,
      overwriteDrift: new Set(),
      maxDelete: 0,
      allowEmpty: false,
      confirm: null,
      emit: () => undefined,
      command: `${this.hooks.command} (migration ${this.name}: ${routing})`,
      refresh: false,
      onlyPaths: new Set([`vhosts/${vhost}.conf`, `vhosts/${vhost}.meta.json`]),
    });
    this.applyMs = Date.now() - started;
    const deployed = this.deployedRouting();
    this.doc.routingLive = deployed;
    this.save();
    const generation = result.outcome?.generation;
    this.log('info', `routing ${routing}${generation ? ` served as generation ${generation}` : ' (no file change)'} in ${this.applyMs} ms`);
  }

  private async retryApply(routing: MigrationRouting): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.applyRouting(routing);
        return;
      } catch (e) {
        this.doc.lastError = messageOf(e);
        this.doc.errorAt = new Date().toISOString();
        this.save();
        this.log('warn', `routing ${routing} not applied (attempt ${attempt}): ${messageOf(e)}; retrying`);
        await this.sleep(Math.min(30_000, 1000 * 2 ** Math.min(attempt, 5)));
        this.checkStop();
      }
    }
  }

  /** When the final delta must be verified by: the freeze end, less the time for the cutover. */
  private verifyDeadline(): number {
    const end = (this.doc.freezeUntil ?? 0) * 1000;
    return end - CUTOVER_MARGIN_SECONDS * 1000 - Math.max(SWITCH_RESERVE_FLOOR_MS, this.applyMs);
  }

  /** Back to copying with writes on the source (from write_routing, verifying or a failed switch). */
  private async abortFreeze(reason: string, recordLive = true): Promise<void> {
    this.doc.routing = 'source';
    this.doc.freezeUntil = null;
    this.doc.phase = 'copying';
    this.save();
    if (recordLive) await this.retryApply('source');
    const record = this.doc.freezes.at(-1);
    if (record && record.endedAt === null) {
      const at = new Date().toISOString();
      record.endedAt = at;
      record.windowMs = Date.parse(at) - Date.parse(record.startedAt);
      record.outcome = 'aborted';
      record.reason = reason;
    }
    this.store.markSnapshot(this.name, null);
    this.nextFreezeNotBefore = Date.now() + Math.max(this.doc.freezeBudgetSeconds * 1000, 5000);
    this.setPhase('copying', `freeze abandoned (${reason}); writes go to ${this.doc.from} again`);
  }

  // ---------------------------------------------------------------- errors, cancel

  /** A failure worth retrying (a pool down, a timeout): recorded, then the same phase again later. */
  private async retryLater(e: unknown): Promise<void> {
    if (!(e instanceof PoolAccessError) && !(e instanceof UserError) && !(e instanceof Abort) && !isNetworkError(e)) throw e;
    this.doc.lastError = messageOf(e);
    this.doc.errorAt = new Date().toISOString();
    this.save();
    this.log('warn', `${this.doc.phase}: ${messageOf(e)}; retrying in 5 s`);
    this.clients?.source.close();
    this.clients?.destination.close();
    this.clients = null;
    this.access = null;
    await this.sleep(5000);
  }

  /** A condition no retry fixes: phase error, the route on the source, an operator decides. */
  private fail(message: string): void {
    this.doc.lastError = message;
    this.doc.errorAt = new Date().toISOString();
    this.setPhase('error', message);
  }

  /**
   * `orch migrate cancel`: writes go back to the source, so nothing acknowledged becomes
   * unreachable (nothing was written to the destination through the gateway before the cutover).
   * Once the cutover served reads from the destination, cancelling is refused: the migration ends.
   */
  private async cancel(): Promise<DriveResult> {
    if (this.doc.phase === 'switching') {
      this.log('warn', 'cancel asked during the cutover: too late, the destination already serves; finishing the migration');
      rmSync(cancelFlagPath(this.settings.stateDir, this.name), { force: true });
      this.doc.cancelRequested = false;
      this.save();
      await this.switchOver();
      return { doc: this.doc, outcome: 'done' };
    }
    if (this.doc.routingLive !== 'source' || this.deployedRouting() !== 'source') await this.retryApply('source');
    const at = new Date().toISOString();
    const record = this.doc.freezes.at(-1);
    if (record && record.endedAt === null) Object.assign(record, { endedAt: at, windowMs: Date.parse(at) - Date.parse(record.startedAt), outcome: 'aborted', reason: 'cancelled' });
    this.doc.routing = 'source';
    this.doc.freezeUntil = null;
    this.doc.finishedAt = at;
    this.doc.cancelRequested = false;
    this.setPhase('cancelled', `cancelled; bucket ${this.doc.bucket} stays on ${this.doc.from}; what was copied stays on ${this.doc.to}`);
    this.store.dropMigrationWork(this.name);
    rmSync(cancelFlagPath(this.settings.stateDir, this.name), { force: true });
    return { doc: this.doc, outcome: 'cancelled' };
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.hooks.signal.aborted) return resolve();
      const t = setTimeout(done, ms);
      function done() {
        clearTimeout(t);
        resolve();
      }
      this.hooks.signal.addEventListener('abort', done, { once: true });
    });
  }
}

interface PassResult {
  diff: ObjectDiff;
  /** The source listing the pass worked from. */
  source: ListedObject[];
  failures: CopyFailure[];
  /** Objects copied or deleted by the pass. */
  delta: number;
  deltaBytes: number;
  ms: number;
  /** Of which listing both sides. */
  listMs: number;
}

function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function isNetworkError(e: unknown): boolean {
  const code = (e as { code?: string })?.code;
  return typeof code === 'string' && /^(E[A-Z]+|ECONN.*|ETIMEDOUT)$/.test(code);
}

function isoOf(epochSeconds: number | null): string {
  return epochSeconds === null ? 'never' : new Date(epochSeconds * 1000).toISOString();
}
