import { isRetryableFailure, messageOf } from './migration-errors.js';
import type { FreezeRecord, MigrationPhase, MigrationRecord } from './migration-record.js';
import type { CopyRecord, ListedObject, TransferFailure } from './object-diff.js';
import { FREEZE_MAX_DELTA_OBJECTS, freezeFits, verifyDeadline } from './freeze-rules.js';
import { baselineAfterEarlier, baselineOf, lateWrites } from './object-diff.js';
import type { MigrationRouting } from './routing.js';

/**
 * The migration phase machine: every decision of the migration engine, as a pure function
 * `decide(state, observation, now) -> { state, effects, next }`. The driver
 * (src/use-cases/migrations/driver.ts) is a thin loop: it performs `next` (an action: list and copy,
 * apply a routing, wait for nginx's old workers...) through the ports, turns what happened into the
 * next observation, performs the effects (persist the record, log, audit...), and asks again. Time
 * comes in as `now` (epoch ms); refusals, waits and "blocked because" are data, never thrown.
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
 * copying goes on. A crash at any point resumes from the record (the `resume` observation).
 */

/** Final-delta rounds (pass, then a check listing) inside one freeze. */
export const VERIFY_ROUNDS = 5;
/** Wait before retrying a phase after a failure worth retrying. */
export const RETRY_LATER_MS = 5000;
/** Wait after a pass with failed objects. */
export const FAILED_PASS_WAIT_MS = 1000;
/** Wait after a freeze generation that could not be applied. */
export const FREEZE_FAILED_WAIT_MS = 2000;
/** After an abandoned freeze, clients get at least this long of accepted writes (or the freeze budget, if longer). */
export const MIN_UNFROZEN_MS = 5000;
/** An object that fails this many copy passes in a row stops the migration (phase error) instead of looping. */
export const STUCK_OBJECT_PASSES = 5;

/** Backoff of a routing generation that must be applied (writes back to the source, the destination). */
export function applyRetryDelayMs(attempt: number): number {
  return Math.min(30_000, 1000 * 2 ** Math.min(attempt, 5));
}

/** What one driver process knows beyond the record: lost on a crash, on purpose (a new driver measures again). */
export interface DriverMemory {
  /** Measured duration of a routing generation (apply), for the freeze's time budget. */
  applyMs: number;
  /** After an abandoned freeze, no new freeze before this (epoch ms). */
  nextFreezeNotBefore: number;
  /** Passes since the last note that the delta would not fit the freeze (logged now and then, not every pass). */
  tooSlowNoted: number;
  /** Final-delta rounds done in the current freeze. */
  verifyRound: number;
  /** A cancel came during the switch: the driver ends once the switch is over. */
  endAfterSwitch: boolean;
  /** The driver was stopped (its signal): only putting writes back on the source remains. */
  stopping: boolean;
  /** Objects that failed in the last copy passes: key -> passes in a row (object failures, not a whole pool's). */
  failingPasses: Readonly<Record<string, number>>;
  /**
   * When the previous copy pass began listing (epoch ms), for the write rate of the freeze
   * decision (freeze-rules.ts); null before the first pass and after an abandoned freeze.
   */
  lastPassStartedAt: number | null;
}

export interface EngineState {
  record: MigrationRecord;
  memory: DriverMemory;
}

export function initialMemory(): DriverMemory {
  return {
    applyMs: 0,
    nextFreezeNotBefore: 0,
    tooSlowNoted: 0,
    verifyRound: 0,
    endAfterSwitch: false,
    stopping: false,
    failingPasses: {},
    lastPassStartedAt: null,
  };
}

/** What a copy pass did (performed by the driver: list both sides, diff, compare, copy, delete). */
export interface PassSummary {
  copied: number;
  compared: number;
  deleted: number;
  inSyncObjects: number;
  /** The source listing the pass worked from. */
  source: ListedObject[];
  failures: TransferFailure[];
  /** Objects copied, compared or deleted by the pass. */
  delta: number;
  deltaBytes: number;
  ms: number;
  /** Of which listing both sides. */
  listMs: number;
  /** When the pass began listing the source (epoch ms). */
  startedAt: number;
}

export interface DrainSummary {
  drained: boolean;
  waitedMs: number;
  remaining: number;
  problem: string | null;
}

/** What the driver does after a routing generation was applied (or failed). */
export type AfterApply =
  | { kind: 'resumed' }
  | { kind: 'freeze-served' }
  | { kind: 'cutover-served' }
  | { kind: 'switched' }
  | { kind: 'cancelled' }
  | { kind: 'freeze-abandoned'; reason: string; waitMs: number; freezeUntil: number | null };

/** The next thing the driver does, through the ports. */
export type Action =
  /** Look at the world: the stop signal, the cancel flag, a free slot, what nginx serves (`deployed`, when cancelling). */
  | { kind: 'observe' }
  /** pending: open the pools, check the buckets, create the destination's, list both sides, read the baseline. */
  | { kind: 'prepare' }
  /** One copy pass; `deadline` (epoch ms) bounds a final pass inside the freeze. */
  | { kind: 'pass'; deadline: number | null }
  /** A fresh listing of the destination diffed against the frozen source listing. */
  | { kind: 'check'; source: ListedObject[] }
  /** One generation through the normal apply path with the record asking for `routing`; `afterMs` first. */
  | { kind: 'apply'; routing: MigrationRouting; retry: boolean; attempt: number; afterMs: number; then: AfterApply }
  | { kind: 'drain'; deadline: number }
  /** switching: list the source and the destination, read the snapshot and the copy records. */
  | { kind: 'list-late-writes' }
  | { kind: 'copy-late-writes'; copy: ListedObject[]; delete: string[] }
  | { kind: 'wait'; ms: number };

export type DriveOutcome = 'done' | 'cancelled' | 'error' | 'waiting' | 'stopped';

export type Next = Action | { kind: 'end'; outcome: DriveOutcome } | { kind: 'throw'; error: unknown };

/** What happened: the answer to the previous action (the first one is `resume`). */
export type Observation =
  /** A driver starts: the record as stored, what nginx serves for its route. */
  | { kind: 'resume'; deployed: MigrationRouting }
  | { kind: 'observed'; cancelRequested: boolean; slotFree: boolean; deployed: MigrationRouting | null }
  /** The driver's signal aborted (checked before and after every action). */
  | { kind: 'stopped' }
  | {
      kind: 'prepared';
      copyEngine: string;
      sourceHasBucket: boolean;
      created: boolean;
      destination: ListedObject[];
      sourceKeys: string[];
      /** sync mode only (null otherwise). */
      sourceHasObjects: boolean | null;
      baselineWritten: boolean;
      /**
       * What the first migration to this pool and bucket found there (the destination baseline
       * file), when an earlier one left it: cancelled, failed, or under another name. Null: none.
       */
      earlier: { migration: string; at: string; objects: ReadonlyMap<string, string> } | null;
    }
  /** The action threw; `copyEngine` when pools were opened before it did. */
  | { kind: 'failed'; action: Action['kind']; error: unknown; copyEngine?: string }
  | { kind: 'passed'; pass: PassSummary }
  | { kind: 'checked'; source: ListedObject[]; remaining: number }
  | {
      kind: 'applied';
      routing: MigrationRouting;
      deployed: MigrationRouting;
      generation: number | null;
      ms: number;
      attempt: number;
      then: AfterApply;
    }
  | { kind: 'apply-failed'; routing: MigrationRouting; error: unknown; attempt: number; retry: boolean; then: AfterApply }
  | { kind: 'drained'; drain: DrainSummary }
  | {
      kind: 'late-listed';
      snapshot: ListedObject[] | null;
      source: ListedObject[];
      destination: ListedObject[];
      records: ReadonlyMap<string, CopyRecord>;
    }
  | { kind: 'late-copied'; failures: TransferFailure[] }
  | { kind: 'waited' };

/** What the driver does with the decision, in order, before `next`. */
export type Effect =
  /** Write the record (state file first, then the database row), stamped with the time. */
  | { kind: 'persist' }
  | { kind: 'log'; level: 'info' | 'warn' | 'error'; message: string }
  | { kind: 'audit'; action: string; details: string }
  /** A fault-injection point for the crash tests (the test hook decides what happens). */
  | { kind: 'fault'; point: string }
  | { kind: 'write-baseline'; baseline: ReadonlyMap<string, string> }
  /** What this pool held before the first migration to it: kept for later attempts (any name) until one is done. */
  | { kind: 'write-destination-baseline'; pool: string; bucket: string; objects: ReadonlyMap<string, string> }
  /**
   * Done: the bucket lives on `to` now (its destination baseline is forgotten), and everything left
   * on `from` is orphaned source data, never pre-existing for a later migration back to it.
   */
  | { kind: 'hand-over-destination'; from: string; to: string; bucket: string }
  /** The verified source listing, kept as the snapshot late writes are told apart by. */
  | { kind: 'keep-snapshot'; objects: ListedObject[]; at: string }
  | { kind: 'forget-snapshot' }
  /** The migration's copy records and snapshot are no longer needed. */
  | { kind: 'drop-work' }
  | { kind: 'clear-cancel' }
  /** Close the pool clients (a retry opens them again). */
  | { kind: 'close-pools' };

export interface Decision {
  state: EngineState;
  effects: Effect[];
  next: Next;
}

const OBSERVE: Action = { kind: 'observe' };

export function isoOf(epochMs: number): string {
  return new Date(epochMs).toISOString();
}

function isoOfSeconds(epochSeconds: number | null): string {
  return epochSeconds === null ? 'never' : isoOf(epochSeconds * 1000);
}

// ------------------------------------------------------------------------------------------------

/** A decision under construction: a copy of the state (the input is never mutated) and the effects so far. */
class Step {
  readonly record: MigrationRecord;
  readonly memory: DriverMemory;
  readonly effects: Effect[] = [];

  constructor(
    state: EngineState,
    readonly now: number,
  ) {
    this.record = structuredClone(state.record);
    this.memory = { ...state.memory };
  }

  get at(): string {
    return isoOf(this.now);
  }

  to(next: Next): Decision {
    return { state: { record: this.record, memory: this.memory }, effects: this.effects, next };
  }

  persist(): void {
    this.effects.push({ kind: 'persist' });
  }

  log(level: 'info' | 'warn' | 'error', message: string): void {
    this.effects.push({ kind: 'log', level, message });
  }

  setPhase(phase: MigrationPhase, message: string): void {
    const before = this.record.phase;
    this.record.phase = phase;
    this.persist();
    this.effects.push({ kind: 'audit', action: `migration-${phase}`, details: `${before} -> ${phase}: ${message}` });
    this.log(phase === 'error' ? 'error' : 'info', `${before} -> ${phase}: ${message}`);
  }

  /** A condition no retry fixes: phase error, the route on the source, an operator decides. */
  fail(message: string): Decision {
    this.record.lastError = message;
    this.record.errorAt = this.at;
    this.setPhase('error', message);
    return this.to(OBSERVE);
  }

  /** The record asks for `routing`, then one generation through the apply path. */
  apply(routing: MigrationRouting, opts: { retry: boolean; then: AfterApply; attempt?: number; afterMs?: number }): Decision {
    this.record.routing = routing;
    this.persist();
    return this.to({ kind: 'apply', routing, retry: opts.retry, attempt: opts.attempt ?? 1, afterMs: opts.afterMs ?? 0, then: opts.then });
  }

  /**
   * Closes the open freeze record, if any. Its end is when nginx accepted writes again: now, or the
   * freeze's deadline when that came first (nginx ends a freeze by itself, e.g. while no driver ran).
   */
  endFreeze(
    outcome: 'switched' | 'aborted',
    reason: string | null,
    freezeUntil: number | null = this.record.freezeUntil,
  ): FreezeRecord | undefined {
    const record = this.record.freezes.at(-1);
    if (record && record.endedAt === null) {
      const end = freezeUntil === null ? this.now : Math.max(Date.parse(record.startedAt), Math.min(this.now, freezeUntil * 1000));
      record.endedAt = isoOf(end);
      record.windowMs = Date.parse(record.endedAt) - Date.parse(record.startedAt);
      record.outcome = outcome;
      if (outcome === 'aborted') record.reason = reason;
    }
    return record;
  }

  /** Back to copying with writes on the source (from write_routing, verifying or a failed switch). */
  abortFreeze(reason: string, opts: { recordLive?: boolean; waitMs?: number } = {}): Decision {
    const then: AfterApply = { kind: 'freeze-abandoned', reason, waitMs: opts.waitMs ?? 0, freezeUntil: this.record.freezeUntil };
    this.record.routing = 'source';
    this.record.freezeUntil = null;
    this.record.phase = 'copying';
    this.persist();
    if (opts.recordLive ?? true) return this.apply('source', { retry: true, then });
    return this.continueAfter(then);
  }

  /** What follows a routing generation that was applied. */
  continueAfter(then: AfterApply): Decision {
    switch (then.kind) {
      case 'resumed':
        return this.to(OBSERVE);
      case 'freeze-served': {
        this.record.freezes.push({ startedAt: this.at, endedAt: null, windowMs: null, outcome: null, reason: null });
        this.persist();
        this.effects.push({ kind: 'fault', point: 'freeze:served' });
        return this.to({ kind: 'drain', deadline: verifyDeadline(this.record, this.memory) });
      }
      case 'cutover-served':
        if (this.record.routingLive !== 'cutover') return this.abortFreeze('the cutover came too late in the freeze and was not served');
        return this.lateWritesNext();
      case 'switched':
        return this.finishDone();
      case 'cancelled':
        return this.finishCancelled();
      case 'freeze-abandoned': {
        this.endFreeze('aborted', then.reason, then.freezeUntil);
        this.effects.push({ kind: 'forget-snapshot' });
        this.memory.nextFreezeNotBefore = this.now + Math.max(this.record.freezeBudgetSeconds * 1000, MIN_UNFROZEN_MS);
        // The next pass's fixes include the frozen time's (none): no write rate from it.
        this.memory.lastPassStartedAt = null;
        this.setPhase('copying', `freeze abandoned (${then.reason}); writes go to ${this.record.from} again`);
        if (this.memory.stopping) return this.to({ kind: 'end', outcome: 'stopped' });
        return this.to(then.waitMs > 0 ? { kind: 'wait', ms: then.waitMs } : OBSERVE);
      }
    }
  }

  lateWritesNext(): Decision {
    this.effects.push({ kind: 'fault', point: 'switch:cutover' });
    return this.to({ kind: 'list-late-writes' });
  }

  /** switching, once writes may go to the destination: done; the source data stays, orphaned. */
  finishDone(): Decision {
    const r = this.record;
    const freeze = this.endFreeze('switched', null);
    r.routing = 'destination';
    r.freezeUntil = null;
    r.finishedAt = this.at;
    r.orphanedSource = { pool: r.from, prefix: `${r.bucket}/`, at: this.at };
    const window = freeze?.windowMs != null ? `; writes were refused for ${(freeze.windowMs / 1000).toFixed(1)} s` : '';
    this.setPhase(
      'done',
      `bucket ${r.bucket} is served by ${r.to}${window}; the source data stays on ${r.from} (orphaned, for the operator to delete)`,
    );
    this.effects.push(
      { kind: 'drop-work' },
      { kind: 'clear-cancel' },
      { kind: 'hand-over-destination', from: r.from, to: r.to, bucket: r.bucket },
    );
    return this.to(OBSERVE);
  }

  finishCancelled(): Decision {
    const r = this.record;
    this.endFreeze('aborted', 'cancelled');
    r.routing = 'source';
    r.freezeUntil = null;
    r.finishedAt = this.at;
    r.cancelRequested = false;
    this.setPhase('cancelled', `cancelled; bucket ${r.bucket} stays on ${r.from}; what was copied stays on ${r.to}`);
    this.effects.push({ kind: 'drop-work' }, { kind: 'clear-cancel' });
    return this.to({ kind: 'end', outcome: 'cancelled' });
  }

  /** The work of the current phase. */
  phaseWork(slotFree: boolean): Decision {
    const r = this.record;
    switch (r.phase) {
      case 'pending':
        return slotFree ? this.to({ kind: 'prepare' }) : this.to({ kind: 'end', outcome: 'waiting' });
      case 'copying':
        return this.to({ kind: 'pass', deadline: null });
      case 'write_routing':
        if (r.routingLive !== 'freeze') return this.apply('freeze', { retry: false, then: { kind: 'freeze-served' } });
        return this.to({ kind: 'drain', deadline: verifyDeadline(r, this.memory) });
      case 'verifying':
        this.memory.verifyRound = 0;
        return this.verifyRound();
      case 'switching':
        if (r.routingLive === 'cutover') return this.lateWritesNext();
        if (r.routingLive === 'destination') return this.finishDone();
        return this.apply('cutover', { retry: false, then: { kind: 'cutover-served' } });
      case 'done':
        return this.to({ kind: 'end', outcome: 'done' });
      case 'cancelled':
        return this.to({ kind: 'end', outcome: 'cancelled' });
      case 'error':
        return this.to({ kind: 'end', outcome: 'error' });
    }
  }

  verifyRound(): Decision {
    const deadline = verifyDeadline(this.record, this.memory);
    if (this.memory.verifyRound >= VERIFY_ROUNDS || this.now >= deadline) return this.abortFreeze(this.budgetMessage());
    this.memory.verifyRound += 1;
    return this.to({ kind: 'pass', deadline });
  }

  budgetMessage(): string {
    return `the final delta did not finish inside the freeze budget (${this.record.freezeBudgetSeconds} s)`;
  }

  /** The final delta failed: out of time (at the deadline), or an object or request failed. */
  verifyFailed(message: string): Decision {
    const timedOut = this.now >= verifyDeadline(this.record, this.memory) - 50;
    return this.abortFreeze(timedOut ? this.budgetMessage() : `the final delta failed: ${message}`);
  }

  /** The destination equals the frozen source: the snapshot is kept and reads switch. */
  verified(source: ListedObject[]): Decision {
    if (this.now >= verifyDeadline(this.record, this.memory)) return this.abortFreeze(this.budgetMessage());
    const r = this.record;
    this.effects.push({ kind: 'fault', point: 'verify:copied' }, { kind: 'keep-snapshot', objects: source, at: this.at });
    r.routing = 'cutover';
    const bytes = source.reduce((n, o) => n + o.size, 0);
    r.progress = {
      ...r.progress,
      objectsTotal: source.length,
      bytesTotal: bytes,
      objectsInSync: source.length,
      bytesInSync: bytes,
      etaSeconds: 0,
    };
    this.setPhase('switching', `the destination holds all ${source.length} objects: reads switch to ${r.to}`);
    return this.to(OBSERVE);
  }
}

/** The phase machine: one decision from the state, what was observed, and the time (epoch ms). */
export function decide(state: EngineState, observation: Observation, now: number): Decision {
  const s = new Step(state, now);
  const r = s.record;
  switch (observation.kind) {
    case 'resume':
      return resume(s, observation.deployed);

    case 'stopped':
      if (s.memory.stopping) return s.to({ kind: 'end', outcome: 'stopped' });
      s.memory.stopping = true;
      // Stopping mid-freeze puts writes back on the source: a stopped driver never leaves them refused.
      if (r.phase === 'write_routing' || r.phase === 'verifying') return s.abortFreeze('the driver was stopped');
      return s.to({ kind: 'end', outcome: 'stopped' });

    case 'observed': {
      if (s.memory.endAfterSwitch && r.phase !== 'switching') return s.to({ kind: 'end', outcome: 'done' });
      if (observation.cancelRequested) return cancel(s, observation.deployed);
      s.effects.push({ kind: 'fault', point: `phase:${r.phase}` });
      return s.phaseWork(observation.slotFree);
    }

    case 'waited':
      return s.to(OBSERVE);

    case 'prepared': {
      const o = observation;
      s.log('info', `copy engine: ${o.copyEngine}`);
      if (!o.sourceHasBucket) return s.fail(`bucket ${r.bucket} does not exist on the source pool ${r.from}`);
      if (o.created) s.log('info', `created bucket ${r.bucket} on ${r.to}`);
      if (r.mode === 'sync') {
        if (o.sourceHasObjects === false) return s.fail(`sync mode refuses an empty source: ${r.bucket} has no object on ${r.from}`);
        if (o.destination.length > 0)
          return s.fail(`sync mode refuses a destination that is not empty: ${r.bucket} has ${o.destination.length} objects on ${r.to}`);
      }
      // A baseline is written once: a restarted pending migration keeps the first one.
      if (!o.baselineWritten) {
        const found = baselineOf(r.mode, o.destination, o.sourceKeys);
        const baseline = baselineAfterEarlier(o.earlier?.objects ?? null, found);
        if (o.earlier === null) s.effects.push({ kind: 'write-destination-baseline', pool: r.to, bucket: r.bucket, objects: baseline });
        s.effects.push({ kind: 'write-baseline', baseline });
        if (o.earlier !== null && found.size > baseline.size)
          s.log(
            'info',
            `${found.size - baseline.size} objects on ${r.to} the source does not have were not there when migration ${o.earlier.migration} started (${o.earlier.at}): an earlier attempt may have copied them, so they are deleted, never kept`,
          );
        if (baseline.size > 0)
          s.log('info', `${baseline.size} objects were already on ${r.to}: copy mode keeps those the source does not have`);
      }
      s.setPhase('copying', `copying ${r.bucket} from ${r.from} to ${r.to} (${r.mode} mode)`);
      return s.to(OBSERVE);
    }

    case 'failed': {
      const o = observation;
      if (o.copyEngine !== undefined) s.log('info', `copy engine: ${o.copyEngine}`);
      if (r.phase === 'verifying' && (o.action === 'pass' || o.action === 'check')) return s.verifyFailed(messageOf(o.error));
      if ((o.action === 'prepare' || o.action === 'pass') && isRetryableFailure(o.error)) {
        // A failure worth retrying (a pool down, a timeout): recorded, then the same phase again later.
        r.lastError = messageOf(o.error);
        r.errorAt = s.at;
        s.persist();
        s.log('warn', `${r.phase}: ${messageOf(o.error)}; retrying in ${RETRY_LATER_MS / 1000} s`);
        s.effects.push({ kind: 'close-pools' });
        return s.to({ kind: 'wait', ms: RETRY_LATER_MS });
      }
      return s.to({ kind: 'throw', error: o.error });
    }

    case 'passed':
      return r.phase === 'verifying' ? verifyPassed(s, observation.pass) : copyPassed(s, observation.pass);

    case 'checked':
      if (observation.remaining === 0) return s.verified(observation.source);
      return s.verifyRound();

    case 'applied': {
      const o = observation;
      s.memory.applyMs = o.ms;
      r.routingLive = o.deployed;
      s.persist();
      s.log('info', `routing ${o.routing}${o.generation ? ` served as generation ${o.generation}` : ' (no file change)'} in ${o.ms} ms`);
      return s.continueAfter(o.then);
    }

    case 'apply-failed':
      return applyFailed(s, observation);

    case 'drained': {
      const d = observation.drain;
      if (!d.drained) {
        const why =
          d.problem ??
          `${d.remaining} nginx worker${d.remaining === 1 ? '' : 's'} of the previous configuration still finishing requests after ${(d.waitedMs / 1000).toFixed(1)} s`;
        return s.abortFreeze(`old workers did not finish in time: ${why}`);
      }
      s.log('info', `old nginx workers gone after ${d.waitedMs} ms`);
      s.setPhase('verifying', 'copying the final delta while writes are refused');
      return s.to(OBSERVE);
    }

    case 'late-listed': {
      const o = observation;
      if (o.snapshot === null) {
        s.log(
          'warn',
          'no verified snapshot in the state (database rebuilt?): late writes to the source cannot be told apart; checking the destination against the source instead',
        );
      }
      const late = lateWrites(o);
      if (late.late.length + late.lateDeletes.length === 0) {
        s.log('info', 'no write reached the source after the snapshot');
        return s.apply('destination', { retry: true, then: { kind: 'switched' } });
      }
      s.log(
        'warn',
        `${late.late.length} writes and ${late.lateDeletes.length} deletes reached the source after the snapshot: copying ${late.copy.length}, deleting ${late.delete.length} at the destination`,
      );
      return s.to({ kind: 'copy-late-writes', copy: late.copy, delete: late.delete });
    }

    case 'late-copied': {
      const f = observation.failures;
      if (f.length > 0) s.log('error', `late writes not carried over: ${f.map((x) => `${x.key}: ${x.message}`).join('; ')}`);
      return s.apply('destination', { retry: true, then: { kind: 'switched' } });
    }
  }
}

/** After a crash (or a stop): the record and what nginx serves are brought back in line. */
function resume(s: Step, deployed: MigrationRouting): Decision {
  const r = s.record;
  if (r.phase === 'done') return s.to({ kind: 'end', outcome: 'done' });
  if (r.phase === 'cancelled') return s.to({ kind: 'end', outcome: 'cancelled' });
  if (r.phase === 'error') {
    r.lastError = null;
    s.setPhase(r.progress.pass > 0 ? 'copying' : 'pending', 'resumed by an operator');
  }
  const phase = r.phase;
  if (phase === 'write_routing' || phase === 'verifying') {
    s.log(
      'warn',
      `resuming in phase ${phase} (the deployed configuration routes it as ${deployed}): the freeze is abandoned and copying goes on`,
    );
    return s.abortFreeze('the previous driver stopped during the freeze');
  }
  if (phase === 'switching') {
    if (deployed === 'cutover' || deployed === 'destination') {
      r.routingLive = deployed;
      s.persist();
      s.log('info', `resuming in phase switching: the deployed configuration routes it as ${deployed}`);
      return s.to(OBSERVE);
    }
    s.log(
      'warn',
      `resuming in phase switching, but the cutover never went live (the deployed configuration routes it as ${deployed}): back to copying`,
    );
    return s.abortFreeze('the cutover never went live');
  }
  // A routing left behind by a stopped freeze: serve the source again.
  if (phase === 'copying' && deployed !== 'source') return s.apply('source', { retry: false, then: { kind: 'resumed' } });
  return s.to(OBSERVE);
}

/**
 * `orch migrate cancel`: writes go back to the source, so nothing acknowledged becomes
 * unreachable (nothing was written to the destination through the gateway before the cutover).
 * Once the cutover served reads from the destination, cancelling is refused: the migration ends.
 */
function cancel(s: Step, deployed: MigrationRouting | null): Decision {
  const r = s.record;
  if (r.phase === 'switching') {
    s.log('warn', 'cancel asked during the cutover: too late, the destination already serves; finishing the migration');
    s.effects.push({ kind: 'clear-cancel' });
    r.cancelRequested = false;
    s.persist();
    s.memory.endAfterSwitch = true;
    return s.phaseWork(true);
  }
  if (r.routingLive !== 'source' || (deployed !== null && deployed !== 'source'))
    return s.apply('source', { retry: true, then: { kind: 'cancelled' } });
  return s.finishCancelled();
}

/** copying: one pass done; freezes when the delta is small (and clients had their unfrozen time). */
function copyPassed(s: Step, pass: PassSummary): Decision {
  const r = s.record;
  r.progress = { ...r.progress, lastPassDelta: pass.delta };
  s.persist();
  s.effects.push({ kind: 'fault', point: 'copy:pass' });
  const p = r.progress;
  s.log(
    'info',
    `pass ${p.pass}: ${pass.copied} copied, ${pass.compared} compared, ${pass.deleted} deleted, ${pass.inSyncObjects} already in sync, ${pass.failures.length} failed (${(pass.ms / 1000).toFixed(1)} s, listing ${(pass.listMs / 1000).toFixed(1)} s)`,
  );
  const previousPassStartedAt = s.memory.lastPassStartedAt;
  s.memory.lastPassStartedAt = pass.startedAt;
  s.memory.failingPasses = failureStreaks(s.memory.failingPasses, pass.failures);
  const stuck = pass.failures.find((f) => (s.memory.failingPasses[f.key] ?? 0) >= STUCK_OBJECT_PASSES);
  if (stuck) {
    s.memory.failingPasses = {};
    return s.fail(
      `object ${stuck.key} failed ${STUCK_OBJECT_PASSES} copy passes in a row (${stuck.message}); writes stay on ${r.from}. ` +
        `Fix the cause (the migration's log has each pass), then run 'orch migrate run ${r.name}' to go on, or 'orch migrate cancel ${r.name}'`,
    );
  }
  if (pass.failures.length > 0) {
    s.log(
      'warn',
      `pass ${p.pass}: ${pass.failures.length} objects failed, e.g. ${pass.failures
        .slice(0, 3)
        .map((f) => `${f.key}: ${f.message}`)
        .join('; ')}`,
    );
    return s.to({ kind: 'wait', ms: FAILED_PASS_WAIT_MS });
  }
  const fit = freezeFits(r, s.memory, pass, previousPassStartedAt, s.now);
  if (!fit.fits) {
    if (pass.delta <= FREEZE_MAX_DELTA_OBJECTS && s.memory.tooSlowNoted++ % 10 === 0) {
      s.log('info', `not freezing yet: ${fit.reason}; copying on${fit.budgetBound ? ' (a larger freezeBudget freezes sooner)' : ''}`);
    }
    return s.to(OBSERVE);
  }
  if (s.now < s.memory.nextFreezeNotBefore) return s.to({ kind: 'wait', ms: Math.min(1000, s.memory.nextFreezeNotBefore - s.now) });
  // copying -> write_routing: the freeze generation.
  r.freezeUntil = Math.floor(s.now / 1000) + r.freezeBudgetSeconds;
  r.routing = 'freeze';
  s.setPhase(
    'write_routing',
    `freezing writes until ${isoOfSeconds(r.freezeUntil)} (budget ${r.freezeBudgetSeconds} s): the final delta should take about ${(fit.estimateMs / 1000).toFixed(1)} s (${fit.projection.basis}) of the ${(fit.availableMs / 1000).toFixed(1)} s it leaves`,
  );
  return s.to(OBSERVE);
}

/**
 * Passes in a row each key failed, after this pass: keys that failed again count one more, keys
 * that did not are forgotten. Failures that only say a whole pool could not be reached ("not
 * copied: ...") are not the object's: a pool outage is retried however long it lasts.
 */
export function failureStreaks(before: Readonly<Record<string, number>>, failures: readonly TransferFailure[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const f of failures) {
    if (/^not (copied|compared|deleted): /.test(f.message)) continue;
    out[f.key] = (before[f.key] ?? 0) + 1;
  }
  return out;
}

/** verifying: a final-delta pass done inside the freeze. */
function verifyPassed(s: Step, pass: PassSummary): Decision {
  if (pass.failures.length > 0) {
    const f = pass.failures[0]!;
    return s.verifyFailed(`${pass.failures.length} objects failed in the final delta (${f.key}: ${f.message})`);
  }
  // The source is frozen (and old workers gone): its listing stands. Verified when the pass had
  // nothing to do, or when a fresh listing of the destination needs nothing against it.
  if (pass.delta === 0 && pass.compared === 0) return s.verified(pass.source);
  return s.to({ kind: 'check', source: pass.source });
}

function applyFailed(s: Step, o: Extract<Observation, { kind: 'apply-failed' }>): Decision {
  const r = s.record;
  const message = messageOf(o.error);
  if (o.retry) {
    r.lastError = message;
    r.errorAt = s.at;
    s.persist();
    s.log('warn', `routing ${o.routing} not applied (attempt ${o.attempt}): ${message}; retrying`);
    if (s.memory.stopping) {
      const until = o.then.kind === 'freeze-abandoned' ? o.then.freezeUntil : r.freezeUntil;
      s.log(
        'error',
        `could not put writes back on the source while stopping: ${message} (nginx ends the freeze by itself at ${isoOfSeconds(until)})`,
      );
      return s.to({ kind: 'end', outcome: 'stopped' });
    }
    return s.apply(o.routing, { retry: true, then: o.then, attempt: o.attempt + 1, afterMs: applyRetryDelayMs(o.attempt) });
  }
  switch (o.then.kind) {
    case 'freeze-served':
      s.log('warn', `the freeze could not be applied: ${message}`);
      return s.abortFreeze(`the freeze generation failed: ${message}`, { recordLive: false, waitMs: FREEZE_FAILED_WAIT_MS });
    case 'cutover-served':
      return s.abortFreeze(`the cutover generation failed: ${message}`);
    default:
      return s.to({ kind: 'throw', error: o.error });
  }
}
