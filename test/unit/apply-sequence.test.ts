import { describe, expect, it } from 'vitest';
import {
  isFinished,
  nextApplyStep,
  startApply,
  type ApplyEffect,
  type ApplyObservation,
  type ApplySequenceInput,
  type ApplyStepResult,
} from '../../src/domain/apply/apply-sequence.js';
import { nextConfirmStep, RELOAD_SETTLE_MS, startConfirm } from '../../src/domain/apply/confirm-reload.js';
import { decideRecovery, recoveryNeedsProbe } from '../../src/domain/apply/recovery.js';
import { PHASE_ORDER, type JournalOp } from '../../src/domain/apply/journal.js';
import { applyRefusal } from '../../src/domain/apply/apply-guards.js';
import type { Plan } from '../../src/domain/plan/plan-types.js';

/** The apply sequence's decisions, walked with scripted observations: no I/O, no time. */

const ops: JournalOp[] = [
  { path: 'pools/a.conf', action: 'write', beforeSha256: null, afterSha256: 'a1' },
  { path: 'vhosts/old.conf', action: 'delete', beforeSha256: 'o0', afterSha256: null },
  { path: 'vhosts/_orch-status.conf', action: 'write', beforeSha256: 's0', afterSha256: 's1' },
];
const input = (over: Partial<ApplySequenceInput> = {}): ApplySequenceInput => ({
  generation: 5,
  ops,
  stagedFiles: 4,
  dryRun: false,
  beforePromote: false,
  confirm: { listen: '127.0.0.1:9999', token: '5 abc', timeoutSeconds: 2 },
  ...over,
});

type Script = Partial<Record<ApplyEffect['kind'], (effect: ApplyEffect) => ApplyObservation>>;
const ok: Script = {
  'test-staged': () => ({ kind: 'tested', ok: true, output: 'ok', durationMs: 10 }),
  'test-live': () => ({ kind: 'tested', ok: true, output: 'ok', durationMs: 8 }),
  'reload': () => ({ kind: 'reloaded', ok: true, output: '', durationMs: 3 }),
  'confirm': () => ({ kind: 'confirmed', confirmed: true, lastSeen: '5 abc', waitedMs: 250 }),
  'create-buckets': () => ({ kind: 'buckets', message: 'created photos on hot' }),
};

/** Walks the sequence to its end; every effect is recorded, the last one of a step is observed. */
function walk(inp: ApplySequenceInput, script: Script = {}): { last: ApplyStepResult; effects: ApplyEffect[] } {
  const s = { ...ok, ...script };
  const effects: ApplyEffect[] = [];
  let step = startApply(inp);
  for (let i = 0; i < 100; i++) {
    let observed: ApplyObservation = { kind: 'done' };
    for (const e of step.effects) {
      effects.push(e);
      observed = s[e.kind]?.(e) ?? { kind: 'done' };
    }
    if (isFinished(step.state)) return { last: step, effects };
    step = nextApplyStep(inp, step, observed);
  }
  throw new Error('the sequence did not finish');
}

const kinds = (effects: ApplyEffect[]) =>
  effects
    .filter((e) => e.kind !== 'emit' && e.kind !== 'fault')
    .map((e) => (e.kind === 'write-journal' ? `journal:${e.phase}` : e.kind === 'promote' ? `promote:${e.index}` : e.kind));
const faults = (effects: ApplyEffect[]) => effects.flatMap((e) => (e.kind === 'fault' ? [e.point] : []));
const events = (effects: ApplyEffect[]) => effects.flatMap((e) => (e.kind === 'emit' ? [`${e.event.step}:${e.event.status}`] : []));

describe('apply sequence: pure decisions', () => {
  it('success: stage, test, journal, promote each op, test live, reload, confirm, commit, backup', () => {
    const { last, effects } = walk(input());
    expect(last.state).toEqual({ at: 'done' });
    expect(kinds(effects)).toEqual([
      'stage',
      'test-staged',
      'unstage',
      'keep-previous',
      'journal:prepared',
      'promote:0',
      'promote:1',
      'promote:2',
      'sync',
      'journal:renamed',
      'test-live',
      'journal:validated',
      'journal:reloading',
      'reload',
      'confirm',
      'journal:reloaded',
      'commit',
      'remove-journal',
      'housekeeping',
    ]);
    expect(faults(effects)).toEqual([
      'after-stage',
      'after-staged-validate',
      'after-journal',
      'after-rename-1',
      'after-rename-2',
      'after-rename-3',
      'after-renames',
      'after-live-validate',
      'after-reload',
      'after-confirm',
      'before-commit',
      'after-commit',
    ]);
    expect(events(effects)).toEqual([
      'stage:start',
      'stage:done',
      'validate-staged:start',
      'validate-staged:done',
      'buckets:skip',
      'promote:start',
      'promote:done',
      'validate-live:start',
      'validate-live:done',
      'reload:start',
      'reload:done',
      'commit:start',
      'commit:done',
      'backup:start',
      'backup:done',
    ]);
    expect(last.counts).toEqual({
      generation: 5,
      dryRun: false,
      filesWritten: 2,
      filesDeleted: 1,
      nginxTests: 2,
      reloads: 1,
      timings: { stagedTestMs: 10, liveTestMs: 8, reloadMs: 3, confirmMs: 250 },
    });
    const promoteDone = effects.find((e) => e.kind === 'emit' && e.event.step === 'promote' && e.event.status === 'done');
    expect(promoteDone).toMatchObject({ event: { message: '2 written, 1 deleted' } });
    const reloadDone = effects.find((e) => e.kind === 'emit' && e.event.step === 'reload' && e.event.status === 'done');
    expect(reloadDone).toMatchObject({ event: { durationMs: 253 } });
  });

  it('the buckets step runs after the staged test and before the journal', () => {
    const { last, effects } = walk(input({ beforePromote: true }));
    expect(last.state.at).toBe('done');
    expect(kinds(effects).slice(0, 5)).toEqual(['stage', 'test-staged', 'unstage', 'create-buckets', 'keep-previous']);
    expect(faults(effects).slice(0, 4)).toEqual(['after-stage', 'after-staged-validate', 'after-buckets', 'after-journal']);
    expect(events(effects)).toContain('buckets:done');
  });

  it('a bucket that cannot be created stops the apply before anything live is touched', () => {
    const { last, effects } = walk(input({ beforePromote: true }), {
      'create-buckets': () => ({ kind: 'failed', error: new Error('AccessDenied') }),
    });
    expect(last.state).toMatchObject({ at: 'failed', failure: { kind: 'error' } });
    expect(kinds(effects)).toEqual(['stage', 'test-staged', 'unstage', 'create-buckets']);
    expect(effects.at(-1)).toEqual({ kind: 'emit', event: { step: 'buckets', status: 'fail', message: 'AccessDenied' } });
  });

  it('staged nginx -t fails: nothing live is touched, no journal', () => {
    const { last, effects } = walk(input(), { 'test-staged': () => ({ kind: 'tested', ok: false, output: 'emerg', durationMs: 4 }) });
    expect(last.state).toEqual({ at: 'failed', failure: { kind: 'staged-rejected', output: 'emerg' } });
    expect(kinds(effects)).toEqual(['stage', 'test-staged', 'unstage']);
    expect(last.counts.nginxTests).toBe(1);
  });

  it('dry run: stage and test only, every later step skipped', () => {
    const { last, effects } = walk(input({ dryRun: true }));
    expect(last.state).toEqual({ at: 'done' });
    expect(kinds(effects)).toEqual(['stage', 'test-staged', 'unstage']);
    expect(events(effects).slice(4)).toEqual([
      'buckets:skip',
      'promote:skip',
      'validate-live:skip',
      'reload:skip',
      'commit:skip',
      'backup:skip',
    ]);
    expect(last.counts).toMatchObject({ generation: null, dryRun: true, nginxTests: 1 });
  });

  it('live nginx -t fails: every file restored, the journal removed, the failure audited; no reload', () => {
    const { last, effects } = walk(input(), {
      'test-live': () => ({ kind: 'tested', ok: false, output: 'host not found', durationMs: 4 }),
    });
    expect(last.state).toEqual({ at: 'failed', failure: { kind: 'live-rejected', output: 'host not found' } });
    expect(kinds(effects).slice(-4)).toEqual(['test-live', 'restore', 'remove-journal', 'audit-failure']);
    expect(kinds(effects)).not.toContain('reload');
  });

  it('reload not confirmed within the timeout: restore, reload the old files, report what nginx serves', () => {
    const { last, effects } = walk(input(), {
      confirm: () => ({ kind: 'confirmed', confirmed: false, lastSeen: '4 old', waitedMs: 2000 }),
    });
    expect(last.state).toEqual({
      at: 'failed',
      failure: { kind: 'reload-not-confirmed', detail: 'nginx still serves generation "4 old" after 2s, not "5 abc"' },
    });
    expect(kinds(effects).slice(-6)).toEqual(['reload', 'confirm', 'restore', 'reload', 'remove-journal', 'audit-failure']);
    expect(kinds(effects)).not.toContain('commit');
    expect(last.counts.reloads).toBe(2);
  });

  it('nothing answering on the status address is not a confirmation either', () => {
    const { last } = walk(input(), { confirm: () => ({ kind: 'confirmed', confirmed: false, lastSeen: null, waitedMs: 2000 }) });
    expect(last.state).toMatchObject({ failure: { detail: 'nothing answered on the status address 127.0.0.1:9999 within 2s' } });
  });

  it('a reload command that fails is rolled back with its output', () => {
    const { last, effects } = walk(input(), { reload: () => ({ kind: 'reloaded', ok: false, output: 'invalid PID', durationMs: 2 }) });
    expect(last.state).toEqual({ at: 'failed', failure: { kind: 'reload-not-confirmed', detail: 'invalid PID' } });
    expect(kinds(effects)).not.toContain('confirm');
    expect(kinds(effects).slice(-4)).toEqual(['restore', 'reload', 'remove-journal', 'audit-failure']);
  });

  it('without a status location (or reload: none) the reload is not confirmed by probing', () => {
    const { last, effects } = walk(input({ confirm: null }));
    expect(last.state).toEqual({ at: 'done' });
    expect(kinds(effects)).not.toContain('confirm');
  });

  it('commit fails: the journal stays (phase reloaded) for the next writer to roll forward', () => {
    const { last, effects } = walk(input(), { commit: () => ({ kind: 'failed', error: new Error('database is locked') }) });
    expect(last.state).toMatchObject({ at: 'failed', failure: { kind: 'error' } });
    expect(kinds(effects).slice(-2)).toEqual(['journal:reloaded', 'commit']);
    expect(kinds(effects)).not.toContain('remove-journal');
  });

  it('an effect that throws mid-promotion stops there; the journal stays for recovery', () => {
    const { last, effects } = walk(input(), {
      promote: (e) => (e.kind === 'promote' && e.index === 1 ? { kind: 'failed', error: new Error('ENOSPC') } : { kind: 'done' }),
    });
    expect(last.state).toMatchObject({ at: 'failed', failure: { kind: 'error' } });
    expect(kinds(effects).slice(-2)).toEqual(['promote:0', 'promote:1']);
    expect(kinds(effects)).not.toContain('restore');
  });

  it('the journal phase only moves forward', () => {
    const phases = walk(input()).effects.flatMap((e) => (e.kind === 'write-journal' ? [PHASE_ORDER.indexOf(e.phase)] : []));
    expect(phases).toEqual([...phases].sort((a, b) => a - b));
  });

  it('no ops (nothing to rename): straight from the journal to the live test', () => {
    const { last, effects } = walk(input({ ops: [] }));
    expect(last.state.at).toBe('done');
    expect(kinds(effects).filter((k) => k.startsWith('promote'))).toEqual([]);
  });
});

describe('reload confirmation: pure decisions', () => {
  it('confirms once the token was served for the settle window', () => {
    let s = startConfirm('5 abc', 1000, 2);
    let step = nextConfirmStep(s, '4 old', 1000);
    expect(step.decision).toEqual({ kind: 'probe-after', ms: 25 });
    s = step.state;
    step = nextConfirmStep(s, '5 abc', 1100);
    expect(step.decision).toEqual({ kind: 'probe-after', ms: 10 });
    step = nextConfirmStep(step.state, '5 abc', 1100 + RELOAD_SETTLE_MS);
    expect(step.decision).toEqual({ kind: 'confirmed', lastSeen: '5 abc', waitedMs: 100 + RELOAD_SETTLE_MS });
  });

  it('an old answer in the window restarts it', () => {
    let step = nextConfirmStep(startConfirm('5 abc', 0, 2), '5 abc', 0);
    step = nextConfirmStep(step.state, '4 old', 150);
    expect(step.state.servedSince).toBe(null);
    step = nextConfirmStep(step.state, '5 abc', 160);
    step = nextConfirmStep(step.state, '5 abc', 300);
    expect(step.decision.kind).toBe('probe-after');
  });

  it('times out: not confirmed, unless the token is being served at the deadline', () => {
    expect(nextConfirmStep(startConfirm('5 abc', 0, 2), '4 old', 2000).decision).toEqual({
      kind: 'not-confirmed',
      lastSeen: '4 old',
      waitedMs: 2000,
    });
    expect(nextConfirmStep(startConfirm('5 abc', 0, 2), null, 2000).decision).toEqual({
      kind: 'not-confirmed',
      lastSeen: null,
      waitedMs: 2000,
    });
    expect(nextConfirmStep(startConfirm('5 abc', 0, 2), '5 abc', 2000).decision.kind).toBe('confirmed');
  });
});

describe('journal recovery: pure decisions', () => {
  it.each([
    ['prepared', false, 'rolled-back', false],
    ['renamed', false, 'rolled-back', true],
    ['validated', false, 'rolled-back', true],
    ['reloading', false, 'rolled-back', true],
    ['reloading', true, 'rolled-forward', false],
    ['renamed', true, 'rolled-forward', false],
    ['reloaded', false, 'rolled-forward', false],
    ['committed', false, 'rolled-forward', false],
  ] as const)('phase %s, nginx serving the journal generation %s: %s (reload %s)', (phase, serves, action, reload) => {
    expect(decideRecovery(phase, serves)).toEqual({ action, reload });
  });

  it('asks nginx only when the phase does not settle it and the status file is the last op', () => {
    const status = 'vhosts/_orch-status.conf';
    expect(recoveryNeedsProbe('reloading', ops, status, true)).toBe(true);
    expect(recoveryNeedsProbe('reloading', ops, status, false)).toBe(false);
    expect(recoveryNeedsProbe('reloaded', ops, status, true)).toBe(false);
    expect(recoveryNeedsProbe('renamed', ops.slice(0, 2), status, true)).toBe(false);
  });
});

describe('apply guards: refusals as data', () => {
  const plan = (over: { drift?: Plan['drift']; deletes?: number; desired?: number }): Plan =>
    ({
      drift: over.drift ?? [],
      changes: [
        { action: 'update', resource: { kind: 'VirtualHost', name: 'a' }, files: [{ path: 'vhosts/a.conf' }] },
        ...Array.from({ length: over.deletes ?? 0 }, (_, i) => ({
          action: 'delete',
          resource: { kind: 'Pool', name: `p${i}` },
          files: [{ path: `pools/p${i}.conf` }],
        })),
      ],
      desired: { files: Array.from({ length: over.desired ?? 1 }, () => ({})) },
    }) as unknown as Plan;
  const policy = { overwriteDrift: new Set<string>(), maxDelete: 2, allowEmpty: false };

  it('none: null', () => {
    expect(applyRefusal(plan({}), policy)).toBe(null);
  });

  it('drift on a file the apply would overwrite, unless that file (or all) may be overwritten', () => {
    const drifted = plan({ drift: [{ kind: 'modified', path: 'vhosts/a.conf' }] as Plan['drift'] });
    expect(applyRefusal(drifted, policy)).toMatchObject({ guard: 'drift', code: 'apply.drift', subjects: ['vhosts/a.conf'] });
    expect(applyRefusal(drifted, { ...policy, overwriteDrift: new Set(['vhosts/a.conf']) })).toBe(null);
    expect(applyRefusal(drifted, { ...policy, overwriteDrift: 'all' })).toBe(null);
    expect(applyRefusal(plan({ drift: [{ kind: 'modified', path: 'vhosts/b.conf' }] as Plan['drift'] }), policy)).toBe(null);
  });

  it('more deletions than max-delete', () => {
    expect(applyRefusal(plan({ deletes: 3 }), policy)).toMatchObject({
      guard: 'max-delete',
      message: 'This apply would delete 3 resources (Pool/p0, Pool/p1, Pool/p2), more than --max-delete 2.',
    });
    expect(applyRefusal(plan({ deletes: 2 }), policy)).toBe(null);
  });

  it('deleting every managed file needs --allow-empty', () => {
    expect(applyRefusal(plan({ deletes: 1, desired: 0 }), policy)).toMatchObject({ guard: 'empty', code: 'apply.empty' });
    expect(applyRefusal(plan({ deletes: 1, desired: 0 }), { ...policy, allowEmpty: true })).toBe(null);
  });
});
