import type { PoolStorage } from '../../ports/pool-storage.js';
import { isLockHeld, UserError } from '../../domain/errors.js';
import { FreezeBudgetSpent } from '../../domain/migrations/migration-errors.js';
import { COPYING_PHASES, type MigrationRecord } from '../../domain/migrations/migration-record.js';
import {
  diffObjects,
  type CopyRecord,
  type ListedObject,
  type ObjectDiff,
  type TransferFailure,
} from '../../domain/migrations/object-diff.js';
import {
  decide,
  initialMemory,
  isoOf,
  type Action,
  type EngineState,
  type Effect,
  type Observation,
  type DriveOutcome,
} from '../../domain/migrations/phase-machine.js';
import {
  progressAfterPass,
  progressAtPassStart,
  progressWhileCopying,
  type PassStart,
} from '../../domain/migrations/migration-progress.js';
import type { MigrationRouting } from '../../domain/migrations/routing.js';
import type { HeldLock } from '../../ports/writer-lock.js';
import type { StateStore } from '../../ports/state-store.js';
import type { BucketTransfer } from '../../ports/object-transfer.js';
import type { PoolAccess } from '../buckets/pool-access.js';
import { checkManagedDir } from '../state/open-state.js';
import { loadMigrationRecord, loadMigrationRecords, saveMigrationRecord } from './migration-records.js';
import type { MigrationPorts } from './migration-ports.js';

/**
 * The migration engine's driver: a thin loop around the phase machine
 * (src/domain/migrations/phase-machine.ts). It performs the machine's actions through the ports
 * (pools, object transfer, routing generations, nginx's worker drain, the clock), turns what
 * happened into the next observation, and performs the machine's effects (the record persisted to
 * its state file and row, the migration's log, the audit log). Every decision is the machine's;
 * what is here is I/O and bookkeeping of progress while objects copy.
 */
export interface DriverHooks {
  signal: AbortSignal;
  /** Where the engine reports what it does (also written to the migration's own log). */
  log?: (level: 'info' | 'warn' | 'error', message: string) => void;
  /** The record after every change (phase, progress). */
  onUpdate?: (record: MigrationRecord) => void;
  command: string;
  /** Fault injection for tests: called with `phase:<name>` at each phase start, and at the machine's fault points. */
  fault?: (point: string) => void;
}

export interface DriveResult {
  record: MigrationRecord;
  /** `waiting`: pending, no slot free (maxParallelMigrations); `stopped`: the signal aborted it. */
  outcome: DriveOutcome;
}

const PROGRESS_SAVE_MS = 1000;

export async function driveMigration(ports: MigrationPorts, name: string, hooks: DriverHooks): Promise<DriveResult> {
  let lock: HeldLock;
  try {
    lock = await ports.locks.of(name).acquire(`${hooks.command} (migration ${name})`, 0);
  } catch (e) {
    if (isLockHeld(e)) {
      const h = e.holder;
      const holder = h ? `Holder: pid ${h.pid} (${h.command}) on ${h.host}, since ${h.since}.` : e.message;
      throw new UserError('migrate.busy', `Migration ${name} is already being driven by another orch process. ${holder}`, {
        hint: "Follow it with 'orch migrations', or stop that process first.",
      });
    }
    throw e;
  }
  try {
    const store = ports.state.open();
    try {
      checkManagedDir(store, ports.settings);
      if (store.getMeta('nginx_dir') === null) store.setMeta('nginx_dir', ports.settings.nginxDir);
      return await new Driver(ports, store, name, hooks).run();
    } finally {
      store.close();
    }
  } finally {
    lock.release();
  }
}

export function unknownMigration(name: string): UserError {
  return new UserError('migrate.unknown', `There is no migration named ${name} in the state.`, {
    hint: "'orch migrations' lists them; a Migration manifest becomes one when 'orch apply' starts it.",
  });
}

class Driver {
  private state!: EngineState;
  private access: PoolAccess | null = null;
  private clients: { source: PoolStorage; destination: PoolStorage } | null = null;
  private lastSave = 0;
  private passStart: PassStart = { at: 0, bytes: 0, objects: 0, toCopyBytes: 0 };
  private copiedInPass = { objects: 0, bytes: 0 };
  /** The current transfer's counts from comparing (not copies), and whether it is comparing now. */
  private progressOffset = { objects: 0, bytes: 0 };
  private comparing = false;

  constructor(
    private readonly ports: MigrationPorts,
    private readonly store: StateStore,
    private readonly name: string,
    private readonly hooks: DriverHooks,
  ) {}

  private get record(): MigrationRecord {
    return this.state.record;
  }

  private now(): number {
    return this.ports.clock.now();
  }

  async run(): Promise<DriveResult> {
    const record = loadMigrationRecord(this.store, this.name);
    if (!record) throw unknownMigration(this.name);
    this.state = { record, memory: initialMemory() };
    let observation: Observation = { kind: 'resume', deployed: this.deployedRouting() };
    try {
      for (;;) {
        const decision = decide(this.state, observation, this.now());
        this.state = decision.state;
        for (const effect of decision.effects) this.perform(effect);
        const next = decision.next;
        if (next.kind === 'end') return { record: this.record, outcome: next.outcome };
        if (next.kind === 'throw') throw next.error;
        observation = await this.act(next);
      }
    } finally {
      this.closePools();
    }
  }

  // ---------------------------------------------------------------- effects

  private perform(effect: Effect): void {
    switch (effect.kind) {
      case 'persist':
        return this.save();
      case 'log':
        this.store.appendMigrationLog(this.name, effect.level, effect.message);
        this.hooks.log?.(effect.level, effect.message);
        return;
      case 'audit':
        this.store.audit([
          { command: this.hooks.command, action: effect.action, subject: `Migration/${this.name}`, details: effect.details },
        ]);
        return;
      case 'fault':
        this.hooks.fault?.(effect.point);
        return;
      case 'write-baseline':
        this.ports.files.writeBaseline(this.name, effect.baseline);
        return;
      case 'keep-snapshot':
        this.store.replaceSnapshot(this.name, effect.objects);
        this.store.markSnapshot(this.name, effect.at);
        return;
      case 'write-destination-baseline':
        this.ports.files.writeDestinationBaseline(effect.pool, effect.bucket, {
          migration: this.name,
          at: isoOf(this.now()),
          objects: effect.objects,
        });
        return;
      case 'hand-over-destination':
        this.ports.files.removeDestinationBaseline(effect.to, effect.bucket);
        this.ports.files.writeDestinationBaseline(effect.from, effect.bucket, {
          migration: this.name,
          at: isoOf(this.now()),
          objects: new Map(),
        });
        return;
      case 'forget-snapshot':
        this.store.markSnapshot(this.name, null);
        return;
      case 'drop-work':
        this.store.dropMigrationWork(this.name);
        return;
      case 'clear-cancel':
        this.ports.files.clearCancel(this.name);
        return;
      case 'close-pools':
        this.closePools();
        this.access = null;
        return;
    }
  }

  private save(): void {
    saveMigrationRecord(this.store, this.ports.files, this.record, isoOf(this.now()));
    this.lastSave = this.now();
    this.hooks.onUpdate?.(this.record);
  }

  // ---------------------------------------------------------------- actions

  /** Performs one action; the stop signal is looked at before and after (not while stopping, nor after an apply, whose result counts). */
  private async act(action: Action): Promise<Observation> {
    const stopping = this.state.memory.stopping;
    const stopped = () => !stopping && this.hooks.signal.aborted;
    if (stopped()) return { kind: 'stopped' };
    if (action.kind === 'apply') return this.applyRouting(action);
    try {
      const observation = await this.observe(action);
      return stopped() ? { kind: 'stopped' } : observation;
    } catch (e) {
      return stopped() ? { kind: 'stopped' } : { kind: 'failed', action: action.kind, error: e };
    }
  }

  private async observe(action: Exclude<Action, { kind: 'apply' }>): Promise<Observation> {
    switch (action.kind) {
      case 'observe': {
        const cancelRequested = this.record.cancelRequested || this.ports.files.cancelRequested(this.name);
        return {
          kind: 'observed',
          cancelRequested,
          slotFree: this.record.phase === 'pending' ? this.slotFree() : true,
          deployed: cancelRequested ? this.deployedRouting() : null,
        };
      }
      case 'wait':
        await this.ports.clock.sleep(action.ms, this.hooks.signal);
        return { kind: 'waited' };
      case 'prepare':
        return this.prepare();
      case 'pass':
        return { kind: 'passed', pass: await this.pass(action.deadline) };
      case 'check': {
        const check = await this.diffNow(action.source);
        return {
          kind: 'checked',
          source: check.source,
          remaining: check.diff.copy.length + check.diff.compare.length + check.diff.delete.length,
        };
      }
      case 'drain':
        return { kind: 'drained', drain: await this.ports.drain.waitForOldWorkers(action.deadline, this.hooks.signal) };
      case 'list-late-writes': {
        const snapshot = this.store.snapshot(this.name);
        const { source, destination } = await this.pools();
        const [now, dest] = await Promise.all([
          this.ports.transfer.list(source, this.record.bucket),
          this.ports.transfer.list(destination, this.record.bucket),
        ]);
        return { kind: 'late-listed', snapshot, source: now, destination: dest, records: this.store.copyRecords(this.name) };
      }
      case 'copy-late-writes': {
        const transfer = await this.transfer(this.hooks.signal);
        const { failures } = await transfer.copy(action.copy, (r) => this.store.putCopyRecords(this.name, [r]));
        const deleted = await transfer.deleteAtDestination(action.delete);
        return { kind: 'late-copied', failures: [...failures, ...deleted.failures] };
      }
    }
  }

  /** pending: the pools, the buckets, the copy-mode baseline's inputs. */
  private async prepare(): Promise<Observation> {
    const { source, destination } = await this.pools();
    const copyEngine = this.ports.transfer.describe();
    const r = this.record;
    try {
      if (!(await source.listBuckets()).includes(r.bucket)) {
        return {
          kind: 'prepared',
          copyEngine,
          sourceHasBucket: false,
          created: false,
          destination: [],
          sourceKeys: [],
          sourceHasObjects: null,
          baselineWritten: true,
          earlier: null,
        };
      }
      const created = (await destination.createBucket(r.bucket)) === 'created';
      const existing = await this.ports.transfer.list(destination, r.bucket);
      const sourceKeys = (await this.ports.transfer.list(source, r.bucket)).map((o) => o.key);
      const sourceHasObjects = r.mode === 'sync' ? await source.hasObjects(r.bucket) : null;
      const baselineWritten = this.ports.files.readBaseline(this.name) !== null;
      const earlier = baselineWritten ? null : this.ports.files.readDestinationBaseline(r.to, r.bucket);
      return {
        kind: 'prepared',
        copyEngine,
        sourceHasBucket: true,
        created,
        destination: existing,
        sourceKeys,
        sourceHasObjects,
        baselineWritten,
        earlier,
      };
    } catch (e) {
      if (this.hooks.signal.aborted) throw e;
      return { kind: 'failed', action: 'prepare', error: e, copyEngine };
    }
  }

  private async applyRouting(action: Extract<Action, { kind: 'apply' }>): Promise<Observation> {
    const { routing, attempt, retry, then } = action;
    if (action.afterMs > 0 && !this.state.memory.stopping) {
      try {
        await this.ports.clock.sleep(action.afterMs, this.hooks.signal);
      } catch {
        return { kind: 'stopped' };
      }
    }
    const started = this.now();
    try {
      const { generation } = await this.ports.applyRouting(
        this.record,
        routing,
        `${this.hooks.command} (migration ${this.name}: ${routing})`,
      );
      return { kind: 'applied', routing, deployed: this.deployedRouting(), generation, ms: this.now() - started, attempt, then };
    } catch (e) {
      return { kind: 'apply-failed', routing, error: e, attempt, retry, then };
    }
  }

  /** Migrations that copy (not pending, not finished) count against maxParallelMigrations. */
  private slotFree(): boolean {
    const running = loadMigrationRecords(this.store).filter((m) => m.name !== this.name && COPYING_PHASES.has(m.phase)).length;
    return running < this.ports.settings.maxParallelMigrations;
  }

  /** What nginx serves for this migration's route now, from the deployed sidecar. */
  private deployedRouting(): MigrationRouting {
    return this.ports.sidecars.migrationRouting(this.record.virtualHost, this.record.bucket, this.name);
  }

  // ---------------------------------------------------------------- pools and copies

  private async pools(): Promise<{ source: PoolStorage; destination: PoolStorage }> {
    if (this.clients) return this.clients;
    const access = (this.access ??= this.ports.poolAccess());
    const overrides = { concurrency: Math.max(this.record.concurrency * 2, 8) };
    const source = await access.open(this.record.from, overrides);
    let destination: PoolStorage;
    try {
      destination = await access.open(this.record.to, overrides);
    } catch (e) {
      source.close();
      throw e;
    }
    this.clients = { source, destination };
    return this.clients;
  }

  private closePools(): void {
    this.clients?.source.close();
    this.clients?.destination.close();
    this.clients = null;
  }

  private async transfer(signal: AbortSignal): Promise<BucketTransfer> {
    const { source, destination } = await this.pools();
    this.progressOffset = { objects: 0, bytes: 0 };
    return this.ports.transfer.between(source, destination, this.record.bucket, {
      concurrency: this.record.concurrency,
      bandwidthLimit: this.record.bandwidthLimit,
      signal,
      onProgress: (p) => this.onCopyProgress(p),
    });
  }

  private onCopyProgress(progress: { objects: number; bytes: number }): void {
    // A transfer counts what it compared too: that is not copied (and comes before passStart is set).
    if (this.comparing) {
      this.progressOffset = progress;
      return;
    }
    const p = { objects: progress.objects - this.progressOffset.objects, bytes: progress.bytes - this.progressOffset.bytes };
    this.copiedInPass = p;
    this.record.progress = progressWhileCopying(this.record.progress, this.passStart, p, this.now());
    if (this.now() - this.lastSave >= PROGRESS_SAVE_MS) this.save();
  }

  /** Lists both sides (or only the destination, against a source listing still valid) and diffs them. */
  private async diffNow(frozenSource?: ListedObject[]): Promise<{ diff: ObjectDiff; source: ListedObject[] }> {
    const { source, destination } = await this.pools();
    const bucket = this.record.bucket;
    const [src, dst] = await Promise.all([
      frozenSource ?? this.ports.transfer.list(source, bucket),
      this.ports.transfer.list(destination, bucket),
    ]);
    const baseline = this.ports.files.readBaseline(this.name) ?? new Map<string, string>();
    const diff = diffObjects({
      source: src,
      destination: dst,
      records: this.store.copyRecords(this.name),
      baseline,
      mode: this.record.mode,
    });
    return { diff, source: src };
  }

  /** A signal that aborts at `deadline` (epoch ms, on the engine's clock) or with the driver's. */
  private until(deadline: number): { signal: AbortSignal; done: () => void } {
    const timer = new AbortController();
    const cut = new AbortController();
    this.ports.clock.sleep(Math.max(1, deadline - this.now()), timer.signal).then(
      () => cut.abort(new FreezeBudgetSpent()),
      () => undefined,
    );
    // Joined by hand, not AbortSignal.any: the listener on the driver's signal (which lives as
    // long as the migration) is removed when the pass is over, not whenever the GC gets to it.
    const outer = this.hooks.signal;
    const onAbort = () => cut.abort(outer.reason);
    if (outer.aborted) onAbort();
    else outer.addEventListener('abort', onAbort, { once: true });
    return {
      signal: cut.signal,
      done: () => {
        timer.abort();
        outer.removeEventListener('abort', onAbort);
      },
    };
  }

  /** One pass: list both sides, compare, copy, delete. `deadline` (epoch ms) bounds a final pass. */
  private async pass(deadline: number | null) {
    const started = this.now();
    const bounded = deadline === null ? null : this.until(deadline);
    try {
      const signal = bounded?.signal ?? this.hooks.signal;
      const { diff, source } = await this.diffNow();
      const listMs = this.now() - started;
      if (this.hooks.signal.aborted) throw this.hooks.signal.reason;
      const r = this.record;
      r.progress = progressAtPassStart(r.progress, {
        sourceObjects: diff.source.objects,
        sourceBytes: diff.source.bytes,
        inSyncObjects: diff.inSync.objects,
        inSyncBytes: diff.inSync.bytes,
      });
      const transfer = await this.transfer(signal);
      const failures: TransferFailure[] = [];
      // In the freeze (writes refused, nginx's old workers gone) the source cannot change: what is
      // read now is final, whatever second its Last-Modified says (see CopyRecord.settled).
      const frozen = r.phase === 'verifying';
      const settle = (c: CopyRecord): CopyRecord => (frozen ? { ...c, settled: true } : c);
      const onCopied = (c: CopyRecord) => this.store.putCopyRecords(this.name, [settle(c)]);

      // Same size, ETags not comparable: hash both sides; same bytes, metadata unknown: HEAD. Equal ones are recorded, others copied.
      let toCopy = diff.copy;
      if (diff.compare.length > 0) {
        this.comparing = true;
        const compared = await transfer.compare(diff.compare).finally(() => (this.comparing = false));
        this.store.putCopyRecords(this.name, compared.equal.map(settle));
        failures.push(...compared.failures);
        toCopy = [...toCopy, ...compared.different].sort((a, b) => (a.key < b.key ? -1 : 1));
      }
      const deltaBytes = toCopy.reduce((n, o) => n + o.size, 0);
      this.passStart = { at: this.now(), bytes: r.progress.bytesCopied, objects: r.progress.objectsCopied, toCopyBytes: deltaBytes };
      this.copiedInPass = { objects: 0, bytes: 0 };
      this.save();
      if (deadline !== null && this.now() >= deadline) throw new FreezeBudgetSpent();
      const copied = await transfer.copy(toCopy, onCopied);
      failures.push(...copied.failures);
      const deleted = await transfer.deleteAtDestination(diff.delete);
      failures.push(...deleted.failures);
      r.progress = progressAfterPass(r.progress, this.passStart, {
        copied: this.copiedInPass,
        inSyncObjects: diff.inSync.objects,
        toCopy: toCopy.length,
        copyFailures: copied.failures.length,
        toDelete: diff.delete.length,
        deleteFailures: deleted.failures.length,
      });
      this.save();
      return {
        copied: diff.copy.length,
        compared: diff.compare.length,
        deleted: diff.delete.length,
        inSyncObjects: diff.inSync.objects,
        source,
        failures,
        delta: toCopy.length + diff.delete.length,
        deltaBytes,
        ms: this.now() - started,
        listMs,
        startedAt: started,
      };
    } finally {
      bounded?.done();
    }
  }
}
