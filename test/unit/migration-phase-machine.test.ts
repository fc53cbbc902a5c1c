import { describe, expect, it } from 'vitest';
import { PoolAccessError } from '../../src/domain/buckets/pool-access-error.js';
import { FreezeBudgetSpent, isRetryableFailure, isTransientNetworkError } from '../../src/domain/migrations/migration-errors.js';
import { newMigrationRecord, type MigrationRecord } from '../../src/domain/migrations/migration-record.js';
import type { ListedObject } from '../../src/domain/migrations/object-diff.js';
import {
  applyRetryDelayMs,
  decide,
  initialMemory,
  type Decision,
  type DriverMemory,
  type Effect,
  type EngineState,
  type Observation,
  type PassSummary,
} from '../../src/domain/migrations/phase-machine.js';
import { verifyDeadline } from '../../src/domain/migrations/freeze-rules.js';
import { lateWrites } from '../../src/domain/migrations/object-diff.js';
import { desiredMigration } from '../helpers/desired-builders.js';

/**
 * The migration phase machine, transition by transition: each row is (record, driver memory,
 * observation, time) -> (phase, next action, effects, record fields). Time is a parameter: the
 * rows are the virtual clock.
 */

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const iso = (ms: number) => new Date(ms).toISOString();

function record(over: Partial<MigrationRecord> = {}): MigrationRecord {
  const r = newMigrationRecord(desiredMigration(), new Date(T0 - 60_000));
  return { ...r, ...over, progress: { ...r.progress, ...(over.progress ?? {}) } };
}

function state(over: Partial<MigrationRecord> = {}, memory: Partial<DriverMemory> = {}): EngineState {
  return { record: record(over), memory: { ...initialMemory(), ...memory } };
}

/** A freeze served at T0 (freezeUntil T0 + 10 s), as write_routing / verifying / switching have it. */
function frozen(phase: MigrationRecord['phase'], over: Partial<MigrationRecord> = {}): Partial<MigrationRecord> {
  return {
    phase,
    routing: phase === 'switching' ? 'cutover' : 'freeze',
    routingLive: 'freeze',
    freezeUntil: T0 / 1000 + 10,
    freezes: [{ startedAt: iso(T0), endedAt: null, windowMs: null, outcome: null, reason: null }],
    progress: { ...record().progress, pass: 3 },
    ...over,
  };
}

const obj = (key: string, etag = `e-${key}`, size = 10): ListedObject => ({ key, etag, size });

function pass(over: Partial<PassSummary> = {}): PassSummary {
  return {
    copied: 0,
    compared: 0,
    deleted: 0,
    inSyncObjects: 5,
    source: [obj('a')],
    failures: [],
    delta: 0,
    deltaBytes: 0,
    ms: 200,
    listMs: 50,
    startedAt: T0 - 200,
    ...over,
  };
}

const kinds = (d: Decision) => d.effects.map((e) => e.kind);
const logs = (d: Decision) =>
  d.effects.filter((e): e is Extract<Effect, { kind: 'log' }> => e.kind === 'log').map((e) => `${e.level} ${e.message}`);
const faults = (d: Decision) => d.effects.filter((e): e is Extract<Effect, { kind: 'fault' }> => e.kind === 'fault').map((e) => e.point);

interface Row {
  name: string;
  state: EngineState;
  observation: Observation;
  now?: number;
  /** The phase after the decision. */
  phase: MigrationRecord['phase'];
  /** The next action (or end/throw), matched partially. */
  next: Record<string, unknown>;
  /** Effect kinds that must be there, in this order (others may be between). */
  effects?: Effect['kind'][];
  /** Log lines that must be there (`level message`, matched as substrings). */
  logs?: string[];
  record?: Partial<MigrationRecord>;
  memory?: Partial<DriverMemory>;
  check?: (d: Decision) => void;
}

const deadline = verifyDeadline({ freezeUntil: T0 / 1000 + 10 }, { applyMs: 0 });
const abandoned = (reason: string) => ({
  kind: 'apply',
  routing: 'source',
  retry: true,
  attempt: 1,
  then: { kind: 'freeze-abandoned', reason, waitMs: 0 },
});

const rows: Row[] = [
  // ------------------------------------------------------------------ a driver starts (crash resume: the record says phase X, nothing observed yet)
  {
    name: 'resume: done ends done',
    state: state({ phase: 'done' }),
    observation: { kind: 'resume', deployed: 'destination' },
    phase: 'done',
    next: { kind: 'end', outcome: 'done' },
    effects: [],
  },
  {
    name: 'resume: cancelled ends cancelled',
    state: state({ phase: 'cancelled' }),
    observation: { kind: 'resume', deployed: 'source' },
    phase: 'cancelled',
    next: { kind: 'end', outcome: 'cancelled' },
  },
  {
    name: 'resume: error before any pass goes back to pending (an operator runs it again)',
    state: state({ phase: 'error', lastError: 'bucket missing' }),
    observation: { kind: 'resume', deployed: 'source' },
    phase: 'pending',
    next: { kind: 'observe' },
    effects: ['persist', 'audit', 'log'],
    logs: ['info error -> pending: resumed by an operator'],
    record: { lastError: null },
  },
  {
    name: 'resume: error after passes goes back to copying, and a freeze left behind is undone',
    state: state({ phase: 'error', progress: { ...record().progress, pass: 2 } }),
    observation: { kind: 'resume', deployed: 'freeze' },
    phase: 'copying',
    next: { kind: 'apply', routing: 'source', retry: false, then: { kind: 'resumed' } },
  },
  {
    name: 'resume in write_routing: the freeze is abandoned, writes go back to the source',
    state: state(frozen('write_routing')),
    observation: { kind: 'resume', deployed: 'freeze' },
    phase: 'copying',
    next: abandoned('the previous driver stopped during the freeze'),
    logs: [
      'warn resuming in phase write_routing (the deployed configuration routes it as freeze): the freeze is abandoned and copying goes on',
    ],
    record: { routing: 'source', freezeUntil: null },
  },
  {
    name: 'resume in verifying: the freeze is abandoned',
    state: state(frozen('verifying')),
    observation: { kind: 'resume', deployed: 'freeze' },
    phase: 'copying',
    next: abandoned('the previous driver stopped during the freeze'),
  },
  {
    name: 'resume in switching with the cutover served: goes on switching',
    state: state(frozen('switching', { routingLive: 'freeze' })),
    observation: { kind: 'resume', deployed: 'cutover' },
    phase: 'switching',
    next: { kind: 'observe' },
    record: { routingLive: 'cutover' },
    logs: ['info resuming in phase switching: the deployed configuration routes it as cutover'],
  },
  {
    name: 'resume in switching, the cutover never served: back to copying',
    state: state(frozen('switching')),
    observation: { kind: 'resume', deployed: 'freeze' },
    phase: 'copying',
    next: abandoned('the cutover never went live'),
    logs: [
      'warn resuming in phase switching, but the cutover never went live (the deployed configuration routes it as freeze): back to copying',
    ],
  },
  {
    name: 'resume in copying with a routing left behind: the source is served again (a failure is not retried)',
    state: state({ phase: 'copying', routingLive: 'freeze' }),
    observation: { kind: 'resume', deployed: 'freeze' },
    phase: 'copying',
    next: { kind: 'apply', routing: 'source', retry: false, then: { kind: 'resumed' } },
    record: { routing: 'source' },
  },
  {
    name: 'resume in copying on the source: observe',
    state: state({ phase: 'copying' }),
    observation: { kind: 'resume', deployed: 'source' },
    phase: 'copying',
    next: { kind: 'observe' },
    effects: [],
  },
  {
    name: 'resume in pending: observe',
    state: state(),
    observation: { kind: 'resume', deployed: 'source' },
    phase: 'pending',
    next: { kind: 'observe' },
  },

  // ------------------------------------------------------------------ each phase's work
  {
    name: 'pending without a free slot: waiting',
    state: state(),
    observation: { kind: 'observed', cancelRequested: false, slotFree: false, deployed: null },
    phase: 'pending',
    next: { kind: 'end', outcome: 'waiting' },
  },
  {
    name: 'pending with a slot: prepare (fault point phase:pending first)',
    state: state(),
    observation: { kind: 'observed', cancelRequested: false, slotFree: true, deployed: null },
    phase: 'pending',
    next: { kind: 'prepare' },
    check: (d) => expect(faults(d)).toEqual(['phase:pending']),
  },
  {
    name: 'copying: a pass without deadline',
    state: state({ phase: 'copying' }),
    observation: { kind: 'observed', cancelRequested: false, slotFree: true, deployed: null },
    phase: 'copying',
    next: { kind: 'pass', deadline: null },
  },
  {
    name: 'write_routing, freeze not served yet: the freeze generation (not retried)',
    state: state(frozen('write_routing', { routingLive: 'source', freezes: [] })),
    observation: { kind: 'observed', cancelRequested: false, slotFree: true, deployed: null },
    phase: 'write_routing',
    next: { kind: 'apply', routing: 'freeze', retry: false, then: { kind: 'freeze-served' } },
    effects: ['fault', 'persist'],
  },
  {
    name: "write_routing, freeze served: wait for nginx's old workers until the verify deadline",
    state: state(frozen('write_routing')),
    observation: { kind: 'observed', cancelRequested: false, slotFree: true, deployed: null },
    phase: 'write_routing',
    next: { kind: 'drain', deadline },
  },
  {
    name: 'verifying: the first final-delta pass, bounded by the deadline',
    state: state(frozen('verifying'), { verifyRound: 3 }),
    observation: { kind: 'observed', cancelRequested: false, slotFree: true, deployed: null },
    now: T0 + 1000,
    phase: 'verifying',
    next: { kind: 'pass', deadline },
    memory: { verifyRound: 1 },
  },
  {
    name: 'verifying past the deadline (the freeze deadline): abandoned',
    state: state(frozen('verifying')),
    observation: { kind: 'observed', cancelRequested: false, slotFree: true, deployed: null },
    now: deadline,
    phase: 'copying',
    next: abandoned('the final delta did not finish inside the freeze budget (10 s)'),
  },
  {
    name: 'switching, the cutover not served yet: the cutover generation (not retried)',
    state: state(frozen('switching')),
    observation: { kind: 'observed', cancelRequested: false, slotFree: true, deployed: null },
    phase: 'switching',
    next: { kind: 'apply', routing: 'cutover', retry: false, then: { kind: 'cutover-served' } },
  },
  {
    name: 'switching with the cutover served: late writes listed (fault point switch:cutover)',
    state: state(frozen('switching', { routingLive: 'cutover' })),
    observation: { kind: 'observed', cancelRequested: false, slotFree: true, deployed: null },
    phase: 'switching',
    next: { kind: 'list-late-writes' },
    check: (d) => expect(faults(d)).toEqual(['phase:switching', 'switch:cutover']),
  },
  {
    name: 'switching with the destination served: done',
    state: state(frozen('switching', { routingLive: 'destination' })),
    observation: { kind: 'observed', cancelRequested: false, slotFree: true, deployed: null },
    now: T0 + 4000,
    phase: 'done',
    next: { kind: 'observe' },
    effects: ['persist', 'audit', 'log', 'drop-work', 'clear-cancel'],
    record: {
      routing: 'destination',
      freezeUntil: null,
      finishedAt: iso(T0 + 4000),
      orphanedSource: { pool: 'old', prefix: 'photos/', at: iso(T0 + 4000) },
    },
  },
  {
    name: 'done: ends done',
    state: state({ phase: 'done' }),
    observation: { kind: 'observed', cancelRequested: false, slotFree: true, deployed: null },
    phase: 'done',
    next: { kind: 'end', outcome: 'done' },
  },
  {
    name: 'error: ends error (an operator decides)',
    state: state({ phase: 'error' }),
    observation: { kind: 'observed', cancelRequested: false, slotFree: true, deployed: null },
    phase: 'error',
    next: { kind: 'end', outcome: 'error' },
  },
  {
    name: 'waited: observe again',
    state: state({ phase: 'copying' }),
    observation: { kind: 'waited' },
    phase: 'copying',
    next: { kind: 'observe' },
  },

  // ------------------------------------------------------------------ cancel in each phase
  {
    name: 'cancel in pending, the source served: cancelled at once',
    state: state({ cancelRequested: true }),
    observation: { kind: 'observed', cancelRequested: true, slotFree: false, deployed: 'source' },
    now: T0 + 5,
    phase: 'cancelled',
    next: { kind: 'end', outcome: 'cancelled' },
    effects: ['persist', 'audit', 'log', 'drop-work', 'clear-cancel'],
    logs: ['info pending -> cancelled: cancelled; bucket photos stays on old; what was copied stays on new'],
    record: { cancelRequested: false, finishedAt: iso(T0 + 5), routing: 'source' },
  },
  {
    name: 'cancel in copying while nginx still serves another routing: the source first (retried until it is)',
    state: state({ phase: 'copying' }),
    observation: { kind: 'observed', cancelRequested: true, slotFree: true, deployed: 'freeze' },
    phase: 'copying',
    next: { kind: 'apply', routing: 'source', retry: true, then: { kind: 'cancelled' } },
  },
  {
    name: 'cancel in write_routing: the source first',
    state: state(frozen('write_routing')),
    observation: { kind: 'observed', cancelRequested: true, slotFree: true, deployed: 'freeze' },
    phase: 'write_routing',
    next: { kind: 'apply', routing: 'source', retry: true, then: { kind: 'cancelled' } },
  },
  {
    name: 'cancel in verifying: the source first',
    state: state(frozen('verifying')),
    observation: { kind: 'observed', cancelRequested: true, slotFree: true, deployed: 'freeze' },
    phase: 'verifying',
    next: { kind: 'apply', routing: 'source', retry: true, then: { kind: 'cancelled' } },
  },
  {
    name: 'cancel in verifying, once the source is served: cancelled, the freeze record closed as cancelled',
    state: state(frozen('verifying', { routing: 'source' })),
    observation: {
      kind: 'applied',
      routing: 'source',
      deployed: 'source',
      generation: 9,
      ms: 300,
      attempt: 1,
      then: { kind: 'cancelled' },
    },
    now: T0 + 2500,
    phase: 'cancelled',
    next: { kind: 'end', outcome: 'cancelled' },
    check: (d) =>
      expect(d.state.record.freezes[0]).toEqual({
        startedAt: iso(T0),
        endedAt: iso(T0 + 2500),
        windowMs: 2500,
        outcome: 'aborted',
        reason: 'cancelled',
      }),
  },
  {
    name: 'cancel in switching: too late, the switch finishes',
    state: state(frozen('switching', { routingLive: 'cutover', cancelRequested: true })),
    observation: { kind: 'observed', cancelRequested: true, slotFree: true, deployed: 'cutover' },
    phase: 'switching',
    next: { kind: 'list-late-writes' },
    effects: ['log', 'clear-cancel', 'persist'],
    logs: ['warn cancel asked during the cutover: too late, the destination already serves; finishing the migration'],
    record: { cancelRequested: false },
    memory: { endAfterSwitch: true },
  },
  {
    name: 'after a cancel during the switch: the driver ends once the switch is over',
    state: state({ phase: 'done' }, { endAfterSwitch: true }),
    observation: { kind: 'observed', cancelRequested: false, slotFree: true, deployed: null },
    phase: 'done',
    next: { kind: 'end', outcome: 'done' },
  },

  // ------------------------------------------------------------------ the driver's signal
  {
    name: 'stopped while copying: ends stopped',
    state: state({ phase: 'copying' }),
    observation: { kind: 'stopped' },
    phase: 'copying',
    next: { kind: 'end', outcome: 'stopped' },
  },
  {
    name: 'stopped during the freeze: writes go back to the source first',
    state: state(frozen('write_routing')),
    observation: { kind: 'stopped' },
    phase: 'copying',
    next: abandoned('the driver was stopped'),
    memory: { stopping: true },
  },
  {
    name: 'stopped, the source served again: the freeze is closed and the driver ends',
    state: state(frozen('verifying', { phase: 'copying', routing: 'source', freezeUntil: null }), { stopping: true }),
    observation: {
      kind: 'applied',
      routing: 'source',
      deployed: 'source',
      generation: 4,
      ms: 100,
      attempt: 1,
      then: { kind: 'freeze-abandoned', reason: 'the driver was stopped', waitMs: 0, freezeUntil: T0 / 1000 + 10 },
    },
    phase: 'copying',
    next: { kind: 'end', outcome: 'stopped' },
    logs: ['info copying -> copying: freeze abandoned (the driver was stopped); writes go to old again'],
  },
  {
    name: 'a freeze abandoned after its deadline (the driver was killed, resumed later): its window ends where nginx ended it',
    state: state(frozen('verifying', { phase: 'copying', routing: 'source', freezeUntil: null })),
    observation: {
      kind: 'applied',
      routing: 'source',
      deployed: 'source',
      generation: 4,
      ms: 100,
      attempt: 1,
      then: { kind: 'freeze-abandoned', reason: 'the previous driver stopped during the freeze', waitMs: 0, freezeUntil: T0 / 1000 + 10 },
    },
    now: T0 + 18_437,
    phase: 'copying',
    next: { kind: 'observe' },
    check: (d) =>
      expect(d.state.record.freezes[0]).toEqual({
        startedAt: iso(T0),
        endedAt: iso(T0 + 10_000),
        windowMs: 10_000,
        outcome: 'aborted',
        reason: 'the previous driver stopped during the freeze',
      }),
  },
  {
    name: 'stopped, and the source cannot be applied: said, nginx ends the freeze by itself',
    state: state({ phase: 'copying' }, { stopping: true }),
    observation: {
      kind: 'apply-failed',
      routing: 'source',
      error: new Error('nginx -t failed'),
      attempt: 1,
      retry: true,
      then: { kind: 'freeze-abandoned', reason: 'the driver was stopped', waitMs: 0, freezeUntil: T0 / 1000 + 10 },
    },
    phase: 'copying',
    next: { kind: 'end', outcome: 'stopped' },
    logs: [
      `error could not put writes back on the source while stopping: nginx -t failed (nginx ends the freeze by itself at ${iso(T0 + 10_000)})`,
    ],
  },
  {
    name: 'stopped again while stopping: ends',
    state: state({ phase: 'copying' }, { stopping: true }),
    observation: { kind: 'stopped' },
    phase: 'copying',
    next: { kind: 'end', outcome: 'stopped' },
  },

  // ------------------------------------------------------------------ pending -> copying
  {
    name: 'prepared, the source has no such bucket: error (no retry fixes it)',
    state: state(),
    observation: {
      kind: 'prepared',
      copyEngine: 'x',
      sourceHasBucket: false,
      created: false,
      destination: [],
      sourceKeys: [],
      sourceHasObjects: null,
      baselineWritten: true,
      earlier: null,
    },
    now: T0 + 7,
    phase: 'error',
    next: { kind: 'observe' },
    logs: ['info copy engine: x', 'error pending -> error: bucket photos does not exist on the source pool old'],
    record: { lastError: 'bucket photos does not exist on the source pool old', errorAt: iso(T0 + 7) },
  },
  {
    name: 'prepared in copy mode: the baseline keeps what only the destination has',
    state: state(),
    observation: {
      kind: 'prepared',
      copyEngine: 'x',
      sourceHasBucket: true,
      created: true,
      destination: [obj('both'), obj('only-dst')],
      sourceKeys: ['both', 'src'],
      sourceHasObjects: null,
      baselineWritten: false,
      earlier: null,
    },
    phase: 'copying',
    next: { kind: 'observe' },
    effects: ['log', 'log', 'write-destination-baseline', 'write-baseline', 'log', 'persist', 'audit', 'log'],
    logs: [
      'info created bucket photos on new',
      'info 1 objects were already on new: copy mode keeps those the source does not have',
      'info pending -> copying: copying photos from old to new (copy mode)',
    ],
    check: (d) => {
      expect(d.effects.find((e) => e.kind === 'write-baseline')).toEqual({
        kind: 'write-baseline',
        baseline: new Map([['only-dst', 'e-only-dst']]),
      });
      // The first attempt to this pool: what it found is kept for any later attempt.
      expect(d.effects.find((e) => e.kind === 'write-destination-baseline')).toEqual({
        kind: 'write-destination-baseline',
        pool: 'new',
        bucket: 'photos',
        objects: new Map([['only-dst', 'e-only-dst']]),
      });
    },
  },
  {
    name: 'prepared after an earlier attempt to this pool: only what that first attempt found (same ETag) is kept, never its copies',
    state: state(),
    observation: {
      kind: 'prepared',
      copyEngine: 'x',
      sourceHasBucket: true,
      created: false,
      // copied-then-deleted: an earlier attempt's copy of an object since deleted at the source;
      // changed: was there before, but an earlier attempt overwrote it (the source had it then).
      destination: [obj('pre'), obj('copied-then-deleted'), obj('changed', 'e-new')],
      sourceKeys: ['src'],
      sourceHasObjects: null,
      baselineWritten: false,
      earlier: {
        migration: 'first-try',
        at: iso(T0 - 3_600_000),
        objects: new Map([
          ['pre', 'e-pre'],
          ['changed', 'e-old'],
        ]),
      },
    },
    phase: 'copying',
    next: { kind: 'observe' },
    logs: [
      'info 2 objects on new the source does not have were not there when migration first-try started (2026-01-01T11:00:00.000Z): an earlier attempt may have copied them, so they are deleted, never kept',
      'info 1 objects were already on new: copy mode keeps those the source does not have',
    ],
    check: (d) => {
      expect(d.effects.find((e) => e.kind === 'write-baseline')).toEqual({ kind: 'write-baseline', baseline: new Map([['pre', 'e-pre']]) });
      // The first attempt's record stays as it is.
      expect(d.effects.some((e) => e.kind === 'write-destination-baseline')).toBe(false);
    },
  },
  {
    name: 'prepared, a baseline already written: kept (a restarted pending migration keeps the first)',
    state: state(),
    observation: {
      kind: 'prepared',
      copyEngine: 'x',
      sourceHasBucket: true,
      created: false,
      destination: [obj('d')],
      sourceKeys: [],
      sourceHasObjects: null,
      baselineWritten: true,
      earlier: null,
    },
    phase: 'copying',
    next: { kind: 'observe' },
    check: (d) => expect(kinds(d)).not.toContain('write-baseline'),
  },
  {
    name: 'prepared in sync mode, empty source: refused',
    state: state({ mode: 'sync' }),
    observation: {
      kind: 'prepared',
      copyEngine: 'x',
      sourceHasBucket: true,
      created: false,
      destination: [],
      sourceKeys: [],
      sourceHasObjects: false,
      baselineWritten: false,
      earlier: null,
    },
    phase: 'error',
    next: { kind: 'observe' },
    record: { lastError: 'sync mode refuses an empty source: photos has no object on old' },
  },
  {
    name: 'prepared in sync mode, a destination that is not empty: refused',
    state: state({ mode: 'sync' }),
    observation: {
      kind: 'prepared',
      copyEngine: 'x',
      sourceHasBucket: true,
      created: false,
      destination: [obj('x')],
      sourceKeys: ['a'],
      sourceHasObjects: true,
      baselineWritten: false,
      earlier: null,
    },
    phase: 'error',
    next: { kind: 'observe' },
    record: { lastError: 'sync mode refuses a destination that is not empty: photos has 1 objects on new' },
  },
  {
    name: 'prepared in sync mode: an empty baseline',
    state: state({ mode: 'sync' }),
    observation: {
      kind: 'prepared',
      copyEngine: 'x',
      sourceHasBucket: true,
      created: false,
      destination: [],
      sourceKeys: ['a'],
      sourceHasObjects: true,
      baselineWritten: false,
      earlier: null,
    },
    phase: 'copying',
    next: { kind: 'observe' },
    check: (d) => expect(d.effects.find((e) => e.kind === 'write-baseline')).toEqual({ kind: 'write-baseline', baseline: new Map() }),
  },

  // ------------------------------------------------------------------ errors that retry, errors that stop
  {
    name: 'pools unreachable while preparing: retried in 5 s, pools closed',
    state: state(),
    observation: { kind: 'failed', action: 'prepare', error: new PoolAccessError('old', 'unreachable', 'pool old: every member failed') },
    now: T0 + 9,
    phase: 'pending',
    next: { kind: 'wait', ms: 5000 },
    effects: ['persist', 'log', 'close-pools'],
    logs: ['warn pending: pool old: every member failed; retrying in 5 s'],
    record: { lastError: 'pool old: every member failed', errorAt: iso(T0 + 9) },
  },
  {
    name: 'a pass cut by the network: retried in 5 s; the copy engine line when pools were opened',
    state: state({ phase: 'copying' }),
    observation: {
      kind: 'failed',
      action: 'pass',
      error: Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET', errno: -104, syscall: 'read' }),
      copyEngine: 'x',
    },
    phase: 'copying',
    next: { kind: 'wait', ms: 5000 },
    logs: ['info copy engine: x', 'warn copying: read ECONNRESET; retrying in 5 s'],
  },
  {
    name: 'a bug in a pass stops the driver (thrown to the caller)',
    state: state({ phase: 'copying' }),
    observation: { kind: 'failed', action: 'pass', error: new TypeError('x is undefined') },
    phase: 'copying',
    next: { kind: 'throw' },
    effects: [],
  },
  {
    name: "a failure waiting for nginx's workers stops the driver",
    state: state(frozen('write_routing')),
    observation: { kind: 'failed', action: 'drain', error: new PoolAccessError('old', 'error', 'no') },
    phase: 'write_routing',
    next: { kind: 'throw' },
  },
  {
    name: 'the final delta failed before the deadline: freeze abandoned with the reason',
    state: state(frozen('verifying')),
    observation: { kind: 'failed', action: 'pass', error: new Error('boom') },
    now: T0 + 1000,
    phase: 'copying',
    next: abandoned('the final delta failed: boom'),
  },
  {
    name: 'the final delta failed at the deadline: abandoned for the budget',
    state: state(frozen('verifying')),
    observation: { kind: 'failed', action: 'check', error: new FreezeBudgetSpent() },
    now: deadline - 50,
    phase: 'copying',
    next: abandoned('the final delta did not finish inside the freeze budget (10 s)'),
  },

  // ------------------------------------------------------------------ copy passes and the freeze decision
  {
    name: 'a pass with failed objects: logged, copying again after a second',
    state: state({ phase: 'copying', progress: { ...record().progress, pass: 2 } }),
    observation: { kind: 'passed', pass: pass({ copied: 3, delta: 3, failures: [{ key: 'k', message: 'PUT 500' }] }) },
    phase: 'copying',
    next: { kind: 'wait', ms: 1000 },
    logs: [
      'info pass 2: 3 copied, 0 compared, 0 deleted, 5 already in sync, 1 failed (0.2 s, listing 0.1 s)',
      'warn pass 2: 1 objects failed, e.g. k: PUT 500',
    ],
    record: { progress: { ...record().progress, pass: 2, lastPassDelta: 3 } },
    check: (d) => expect(faults(d)).toEqual(['copy:pass']),
  },
  {
    name: 'an object failing a 4th pass in a row: counted, copying again',
    state: state({ phase: 'copying', progress: { ...record().progress, pass: 9 } }, { failingPasses: { k: 3, gone: 2 } }),
    observation: { kind: 'passed', pass: pass({ delta: 1, failures: [{ key: 'k', message: 'compare: HTTP 400 InvalidArgument' }] }) },
    phase: 'copying',
    next: { kind: 'wait', ms: 1000 },
    memory: { failingPasses: { k: 4 } },
  },
  {
    name: 'an object failing its 5th pass in a row: phase error naming it, why, and what to do (no endless loop)',
    state: state({ phase: 'copying', progress: { ...record().progress, pass: 9 } }, { failingPasses: { k: 4 } }),
    observation: { kind: 'passed', pass: pass({ delta: 1, failures: [{ key: 'k', message: 'compare: HTTP 400 InvalidArgument' }] }) },
    phase: 'error',
    next: { kind: 'observe' },
    effects: ['persist', 'audit', 'log'],
    check: (d) => {
      expect(d.state.record.lastError).toBe(
        "object k failed 5 copy passes in a row (compare: HTTP 400 InvalidArgument); writes stay on old. Fix the cause (the migration's log has each pass), then run 'orch migrate run m' to go on, or 'orch migrate cancel m'",
      );
      expect(d.state.record.errorAt).toBe(iso(T0));
      expect(d.state.record.routing).toBe('source');
    },
  },
  {
    name: "a whole pool's failures ('not copied: ...') never make an object stuck",
    state: state({ phase: 'copying' }, { failingPasses: { k: 4 } }),
    observation: { kind: 'passed', pass: pass({ delta: 1, failures: [{ key: 'k', message: 'not copied: pool new is unreachable' }] }) },
    phase: 'copying',
    next: { kind: 'wait', ms: 1000 },
    memory: { failingPasses: {} },
  },
  {
    name: 'a pass with a large delta: copying on',
    state: state({ phase: 'copying' }),
    observation: { kind: 'passed', pass: pass({ delta: 1001 }) },
    phase: 'copying',
    next: { kind: 'observe' },
    logs: [],
    check: (d) => expect(logs(d)).toHaveLength(1),
  },
  {
    name: 'a small delta that fits the budget: copying -> write_routing, writes frozen until now + budget',
    state: state({ phase: 'copying' }),
    observation: { kind: 'passed', pass: pass({ delta: 4, deltaBytes: 1000 }) },
    now: T0 + 1500,
    phase: 'write_routing',
    next: { kind: 'observe' },
    record: { freezeUntil: Math.floor((T0 + 1500) / 1000) + 10, routing: 'freeze' },
    logs: [`info copying -> write_routing: freezing writes until ${iso((Math.floor((T0 + 1500) / 1000) + 10) * 1000)} (budget 10 s)`],
  },
  {
    name: 'a small delta, but clients have not had their unfrozen time since the last freeze: wait',
    state: state({ phase: 'copying' }, { nextFreezeNotBefore: T0 + 300 }),
    observation: { kind: 'passed', pass: pass({ delta: 0 }) },
    now: T0,
    phase: 'copying',
    next: { kind: 'wait', ms: 300 },
  },
  {
    name: 'a small delta too slow for the freeze: noted (every tenth pass), copying on',
    state: state({ phase: 'copying' }),
    observation: { kind: 'passed', pass: pass({ delta: 10, ms: 5000, listMs: 2000 }) },
    phase: 'copying',
    next: { kind: 'observe' },
    logs: [
      'info not freezing yet: the final delta would take about 7.0 s (this whole pass plus a verifying listing: no write rate measured yet), more than the 5.5 s a 10 s freeze leaves; copying on (a larger freezeBudget freezes sooner)',
    ],
    memory: { tooSlowNoted: 1 },
  },
  {
    // The bench's case (issue 18): a 20 s pass under load fixed 400 objects written since the
    // previous pass listed 22 s before; frozen now, the final delta has the ~20 objects a second
    // written since this pass listed (21 s and the 1 s generation: 400 * 21 / 22 = 382)... too many.
    name: 'a busy bucket: the projected final delta (writes since this pass listed) does not fit, the real reason logged',
    state: state({ phase: 'copying' }, { lastPassStartedAt: T0 - 42_000 }),
    observation: { kind: 'passed', pass: pass({ delta: 400, deltaBytes: 400 * 4096, ms: 20_000, listMs: 1000, startedAt: T0 - 20_000 }) },
    now: T0,
    phase: 'copying',
    next: { kind: 'observe' },
    logs: [
      'info not freezing yet: the final delta would take about 20.1 s (two listings of 1.0 s, about 382 objects written since this pass listed (18.2 a second measured) at 48 ms each), more than the 5.5 s a 10 s freeze leaves; copying on (a larger freezeBudget freezes sooner)',
    ],
    memory: { lastPassStartedAt: T0 - 20_000, tooSlowNoted: 1 },
  },
  {
    // A bucket whose passes shorten: this 6 s pass (0.5 s listing) fixed 30 objects written over the
    // 20 s since the previous pass listed (1.5 a second); frozen now, the final delta has those
    // written in the 6 s since this pass listed and the 1 s generation: 11 objects at 183 ms, 2.0 s,
    // and two listings. The whole pass again plus a listing (6.5 s) would not fit the 5.5 s.
    name: 'passes shortening: the projected final delta fits although the whole pass would not, frozen, the projection logged',
    state: state({ phase: 'copying' }, { lastPassStartedAt: T0 - 26_000 }),
    observation: { kind: 'passed', pass: pass({ delta: 30, deltaBytes: 30 * 4096, ms: 6000, listMs: 500, startedAt: T0 - 6000 }) },
    now: T0,
    phase: 'write_routing',
    next: { kind: 'observe' },
    record: { freezeUntil: T0 / 1000 + 10, routing: 'freeze' },
    logs: [
      'the final delta should take about 3.0 s (two listings of 0.5 s, about 11 objects written since this pass listed (1.5 a second measured) at 183 ms each) of the 5.5 s it leaves',
    ],
    memory: { lastPassStartedAt: T0 - 6000 },
  },
  {
    name: 'a small delta too slow, not the tenth pass: not noted again',
    state: state({ phase: 'copying' }, { tooSlowNoted: 1 }),
    observation: { kind: 'passed', pass: pass({ delta: 10, ms: 5000, listMs: 2000 }) },
    phase: 'copying',
    next: { kind: 'observe' },
    memory: { tooSlowNoted: 2 },
    check: (d) => expect(logs(d)).toHaveLength(1),
  },
  {
    name: 'few objects but too many bytes at the measured rate: copying on',
    state: state({ phase: 'copying', progress: { ...record().progress, rateBytesPerSecond: 1000 } }),
    observation: { kind: 'passed', pass: pass({ delta: 1, deltaBytes: 3000 }) },
    phase: 'copying',
    next: { kind: 'observe' },
    // The reason logged is the real one (the bytes), not the time estimate, which fits.
    logs: [
      'info not freezing yet: its 3000 bytes would take about 3.0 s at the measured 1000 bytes/s, more than a quarter of a 10 s freeze',
    ],
  },

  // ------------------------------------------------------------------ write_routing -> verifying -> switching
  {
    name: 'the freeze served: its record opened, then the drain (fault point freeze:served)',
    state: state(frozen('write_routing', { routingLive: 'source', freezes: [] })),
    observation: {
      kind: 'applied',
      routing: 'freeze',
      deployed: 'freeze',
      generation: 7,
      ms: 120,
      attempt: 1,
      then: { kind: 'freeze-served' },
    },
    now: T0 + 200,
    phase: 'write_routing',
    next: { kind: 'drain', deadline: verifyDeadline({ freezeUntil: T0 / 1000 + 10 }, { applyMs: 120 }) },
    logs: ['info routing freeze served as generation 7 in 120 ms'],
    record: { routingLive: 'freeze', freezes: [{ startedAt: iso(T0 + 200), endedAt: null, windowMs: null, outcome: null, reason: null }] },
    memory: { applyMs: 120 },
    check: (d) => expect(faults(d)).toEqual(['freeze:served']),
  },
  {
    name: 'the freeze generation failed: back to copying without a generation, after 2 s',
    state: state(frozen('write_routing', { routingLive: 'source', freezes: [] })),
    observation: {
      kind: 'apply-failed',
      routing: 'freeze',
      error: new Error('nginx -t'),
      attempt: 1,
      retry: false,
      then: { kind: 'freeze-served' },
    },
    phase: 'copying',
    next: { kind: 'wait', ms: 2000 },
    logs: [
      'warn the freeze could not be applied: nginx -t',
      'info copying -> copying: freeze abandoned (the freeze generation failed: nginx -t); writes go to old again',
    ],
    check: (d) => expect(d.next.kind).not.toBe('apply'),
  },
  {
    name: 'old workers gone: write_routing -> verifying',
    state: state(frozen('write_routing')),
    observation: { kind: 'drained', drain: { drained: true, waitedMs: 40, remaining: 0, problem: null } },
    phase: 'verifying',
    next: { kind: 'observe' },
    logs: ['info old nginx workers gone after 40 ms', 'info write_routing -> verifying: copying the final delta while writes are refused'],
  },
  {
    name: 'old workers still there at the deadline: abandoned',
    state: state(frozen('write_routing')),
    observation: { kind: 'drained', drain: { drained: false, waitedMs: 1500, remaining: 2, problem: null } },
    phase: 'copying',
    next: abandoned(
      'old workers did not finish in time: 2 nginx workers of the previous configuration still finishing requests after 1.5 s',
    ),
  },
  {
    name: 'no nginx master found: abandoned with the problem',
    state: state(frozen('write_routing')),
    observation: { kind: 'drained', drain: { drained: false, waitedMs: 0, remaining: 0, problem: 'cannot find the nginx master' } },
    phase: 'copying',
    next: abandoned('old workers did not finish in time: cannot find the nginx master'),
  },
  {
    name: 'a final pass with nothing to do: verified, the snapshot kept, verifying -> switching (fault point verify:copied)',
    state: state(frozen('verifying')),
    observation: { kind: 'passed', pass: pass({ source: [obj('a', 'x', 3), obj('b', 'y', 4)] }) },
    now: T0 + 1000,
    phase: 'switching',
    next: { kind: 'observe' },
    effects: ['fault', 'keep-snapshot', 'persist', 'audit', 'log'],
    record: {
      routing: 'cutover',
      progress: { ...record().progress, pass: 3, objectsTotal: 2, bytesTotal: 7, objectsInSync: 2, bytesInSync: 7, etaSeconds: 0 },
    },
    logs: ['info verifying -> switching: the destination holds all 2 objects: reads switch to new'],
  },
  {
    name: 'a final pass that copied: a check listing of the destination',
    state: state(frozen('verifying')),
    observation: { kind: 'passed', pass: pass({ delta: 2, copied: 2 }) },
    now: T0 + 1000,
    phase: 'verifying',
    next: { kind: 'check', source: [obj('a')] },
  },
  {
    name: 'a final pass with failed objects: abandoned',
    state: state(frozen('verifying')),
    observation: { kind: 'passed', pass: pass({ delta: 1, failures: [{ key: 'k', message: 'PUT 500' }] }) },
    now: T0 + 1000,
    phase: 'copying',
    next: abandoned('the final delta failed: 1 objects failed in the final delta (k: PUT 500)'),
  },
  {
    name: 'verified, but past the deadline: abandoned',
    state: state(frozen('verifying')),
    observation: { kind: 'passed', pass: pass() },
    now: deadline,
    phase: 'copying',
    next: abandoned('the final delta did not finish inside the freeze budget (10 s)'),
  },
  {
    name: 'the check finds nothing to do: verified',
    state: state(frozen('verifying')),
    observation: { kind: 'checked', source: [obj('a')], remaining: 0 },
    now: T0 + 1000,
    phase: 'switching',
    next: { kind: 'observe' },
  },
  {
    name: 'the check finds work: another round',
    state: state(frozen('verifying'), { verifyRound: 1 }),
    observation: { kind: 'checked', source: [obj('a')], remaining: 3 },
    now: T0 + 1000,
    phase: 'verifying',
    next: { kind: 'pass', deadline },
    memory: { verifyRound: 2 },
  },
  {
    name: 'five rounds without a verified destination: abandoned',
    state: state(frozen('verifying'), { verifyRound: 5 }),
    observation: { kind: 'checked', source: [obj('a')], remaining: 3 },
    now: T0 + 1000,
    phase: 'copying',
    next: abandoned('the final delta did not finish inside the freeze budget (10 s)'),
  },
  {
    name: 'the cutover served: late writes (fault point switch:cutover)',
    state: state(frozen('switching')),
    observation: {
      kind: 'applied',
      routing: 'cutover',
      deployed: 'cutover',
      generation: 8,
      ms: 100,
      attempt: 1,
      then: { kind: 'cutover-served' },
    },
    phase: 'switching',
    next: { kind: 'list-late-writes' },
    record: { routingLive: 'cutover' },
  },
  {
    name: 'the cutover applied too late to be served: abandoned',
    state: state(frozen('switching')),
    observation: {
      kind: 'applied',
      routing: 'cutover',
      deployed: 'freeze',
      generation: 8,
      ms: 100,
      attempt: 1,
      then: { kind: 'cutover-served' },
    },
    phase: 'copying',
    next: abandoned('the cutover came too late in the freeze and was not served'),
  },
  {
    name: 'the cutover generation failed: abandoned',
    state: state(frozen('switching')),
    observation: {
      kind: 'apply-failed',
      routing: 'cutover',
      error: new Error('reload not confirmed'),
      attempt: 1,
      retry: false,
      then: { kind: 'cutover-served' },
    },
    phase: 'copying',
    next: abandoned('the cutover generation failed: reload not confirmed'),
  },
  {
    name: 'no late write: the destination generation, retried until it is served',
    state: state(frozen('switching', { routingLive: 'cutover' })),
    observation: { kind: 'late-listed', snapshot: [obj('a')], source: [obj('a')], destination: [obj('a')], records: new Map() },
    phase: 'switching',
    next: { kind: 'apply', routing: 'destination', retry: true, then: { kind: 'switched' } },
    logs: ['info no write reached the source after the snapshot'],
  },
  {
    name: 'late writes and deletes on the source: carried over unless a client wrote the destination since',
    state: state(frozen('switching', { routingLive: 'cutover' })),
    observation: {
      kind: 'late-listed',
      snapshot: [obj('a'), obj('gone'), obj('changed'), obj('both')],
      source: [obj('a'), obj('changed', 'e2'), obj('new'), obj('both', 'e3')],
      destination: [obj('a'), obj('gone'), obj('changed'), obj('both', 'client')],
      records: new Map(),
    },
    phase: 'switching',
    next: { kind: 'copy-late-writes', copy: [obj('changed', 'e2'), obj('new')], delete: ['gone'] },
    logs: ['warn 3 writes and 1 deletes reached the source after the snapshot: copying 2, deleting 1 at the destination'],
  },
  {
    name: 'no snapshot (database rebuilt): said, the source stands in',
    state: state(frozen('switching', { routingLive: 'cutover' })),
    observation: { kind: 'late-listed', snapshot: null, source: [obj('a')], destination: [], records: new Map() },
    phase: 'switching',
    next: { kind: 'apply', routing: 'destination' },
    logs: ['warn no verified snapshot in the state (database rebuilt?)'],
  },
  {
    name: 'late writes not carried over: logged, the switch goes on',
    state: state(frozen('switching', { routingLive: 'cutover' })),
    observation: { kind: 'late-copied', failures: [{ key: 'k', message: 'PUT 503' }] },
    phase: 'switching',
    next: { kind: 'apply', routing: 'destination', retry: true },
    logs: ['error late writes not carried over: k: PUT 503'],
  },
  {
    name: 'the destination served: done, the freeze closed as switched, the source orphaned',
    state: state(frozen('switching', { routingLive: 'cutover', routing: 'destination' })),
    observation: {
      kind: 'applied',
      routing: 'destination',
      deployed: 'destination',
      generation: 9,
      ms: 100,
      attempt: 1,
      then: { kind: 'switched' },
    },
    now: T0 + 3200,
    phase: 'done',
    next: { kind: 'observe' },
    logs: [
      'info switching -> done: bucket photos is served by new; writes were refused for 3.2 s; the source data stays on old (orphaned, for the operator to delete)',
    ],
    record: { routing: 'destination', routingLive: 'destination', orphanedSource: { pool: 'old', prefix: 'photos/', at: iso(T0 + 3200) } },
    check: (d) =>
      expect(d.state.record.freezes[0]).toMatchObject({ endedAt: iso(T0 + 3200), windowMs: 3200, outcome: 'switched', reason: null }),
  },
  {
    name: 'writes back on the source after an abandoned freeze: copying, no new freeze for the budget, no write rate from before it',
    state: state(frozen('verifying', { phase: 'copying', routing: 'source', freezeUntil: null }), { lastPassStartedAt: T0 - 30_000 }),
    observation: {
      kind: 'applied',
      routing: 'source',
      deployed: 'source',
      generation: 5,
      ms: 100,
      attempt: 1,
      then: { kind: 'freeze-abandoned', reason: 'r', waitMs: 0, freezeUntil: null },
    },
    now: T0 + 1000,
    phase: 'copying',
    next: { kind: 'observe' },
    effects: ['persist', 'log', 'forget-snapshot', 'persist', 'audit', 'log'],
    memory: { nextFreezeNotBefore: T0 + 1000 + 10_000, lastPassStartedAt: null },
    check: (d) =>
      expect(d.state.record.freezes[0]).toMatchObject({ endedAt: iso(T0 + 1000), windowMs: 1000, outcome: 'aborted', reason: 'r' }),
  },
  {
    name: 'the source served again after a crash in copying: observe',
    state: state({ phase: 'copying', routing: 'source', routingLive: 'freeze' }),
    observation: {
      kind: 'applied',
      routing: 'source',
      deployed: 'source',
      generation: null,
      ms: 50,
      attempt: 1,
      then: { kind: 'resumed' },
    },
    phase: 'copying',
    next: { kind: 'observe' },
    logs: ['info routing source (no file change) in 50 ms'],
  },
  {
    name: 'the source could not be served after a crash: thrown to the caller',
    state: state({ phase: 'copying', routingLive: 'freeze' }),
    observation: {
      kind: 'apply-failed',
      routing: 'source',
      error: new Error('nginx -t'),
      attempt: 1,
      retry: false,
      then: { kind: 'resumed' },
    },
    phase: 'copying',
    next: { kind: 'throw' },
  },
  {
    name: 'a routing that must be served failed: recorded, retried with backoff',
    state: state({ phase: 'copying' }),
    observation: {
      kind: 'apply-failed',
      routing: 'source',
      error: new Error('lock held'),
      attempt: 1,
      retry: true,
      then: { kind: 'cancelled' },
    },
    now: T0 + 11,
    phase: 'copying',
    next: { kind: 'apply', routing: 'source', retry: true, attempt: 2, afterMs: 2000, then: { kind: 'cancelled' } },
    logs: ['warn routing source not applied (attempt 1): lock held; retrying'],
    record: { lastError: 'lock held', errorAt: iso(T0 + 11) },
  },
];

describe('the migration phase machine, transition by transition', () => {
  it.each(rows.map((r) => [r.name, r] as const))('%s', (_name, row) => {
    const before = structuredClone(row.state);
    const d = decide(row.state, row.observation, row.now ?? T0);
    // Pure: the input is not changed.
    expect(row.state).toEqual(before);
    expect(d.state.record.phase).toBe(row.phase);
    expect(d.next).toMatchObject(row.next);
    if (row.effects) {
      const got = kinds(d);
      if (row.effects.length === 0) expect(got.filter((k) => k !== 'fault')).toEqual([]);
      let at = 0;
      for (const k of row.effects) {
        const i = got.indexOf(k, at);
        expect(i, `effect ${k} in order in ${got.join(', ')}`).toBeGreaterThanOrEqual(0);
        at = i + 1;
      }
    }
    for (const line of row.logs ?? [])
      expect(
        logs(d).some((l) => l.includes(line)),
        `${line}\n in ${logs(d).join('\n')}`,
      ).toBe(true);
    if (row.record) expect(d.state.record).toMatchObject(row.record);
    if (row.memory) expect(d.state.memory).toMatchObject(row.memory);
    row.check?.(d);
    // Every phase change is persisted, audited and logged; an abandoned freeze is persisted as copying
    // at once, and audited ("freeze abandoned") once writes are back on the source.
    if (d.state.record.phase !== row.state.record.phase) {
      const abandoning = d.next.kind === 'apply' && d.next.then.kind === 'freeze-abandoned';
      expect(kinds(d)).toEqual(expect.arrayContaining(abandoning ? ['persist'] : ['persist', 'audit', 'log']));
    }
  });

  it('covers every phase as a starting point and every observation kind', () => {
    const phases = new Set(rows.map((r) => r.state.record.phase));
    expect([...phases].sort()).toEqual(['cancelled', 'copying', 'done', 'error', 'pending', 'switching', 'verifying', 'write_routing']);
    const observations = new Set(rows.map((r) => r.observation.kind));
    expect([...observations].sort()).toEqual(
      [
        'applied',
        'apply-failed',
        'checked',
        'drained',
        'failed',
        'late-copied',
        'late-listed',
        'passed',
        'prepared',
        'resume',
        'stopped',
        'waited',
        'observed',
      ].sort(),
    );
  });

  it('backs off routing retries up to 30 s', () => {
    expect([1, 2, 3, 4, 5, 6, 9].map(applyRetryDelayMs)).toEqual([2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
  });
});

describe('failures told apart by type', () => {
  it('retries pool access, the freeze budget and network errors; not bugs', () => {
    expect(isRetryableFailure(new PoolAccessError('p', 'unreachable', 'm'))).toBe(true);
    expect(isRetryableFailure(new FreezeBudgetSpent())).toBe(true);
    expect(isRetryableFailure(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isRetryableFailure(Object.assign(new Error('x'), { code: 'EMFILE', errno: -24, syscall: 'socket' }))).toBe(true);
    expect(isRetryableFailure(new TypeError('x'))).toBe(false);
    expect(isRetryableFailure(Object.assign(new Error('x'), { code: 'ERR_INVALID_ARG_TYPE' }))).toBe(false);
    expect(isTransientNetworkError('ECONNRESET')).toBe(false);
  });
});

describe('late writes', () => {
  it('a write orch copied (its record matches the destination) is carried over again; one a client made is not', () => {
    const out = lateWrites({
      snapshot: [obj('k', 'v1')],
      source: [obj('k', 'v2')],
      destination: [obj('k', 'd1')],
      records: new Map([['k', { key: 'k', srcEtag: 'v1', srcSize: 10, dstEtag: 'd1' }]]),
    });
    expect(out.copy).toEqual([obj('k', 'v2')]);
    expect(
      lateWrites({ snapshot: [obj('k', 'v1')], source: [obj('k', 'v2')], destination: [obj('k', 'client')], records: new Map() }).copy,
    ).toEqual([]);
  });
});
