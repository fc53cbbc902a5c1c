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
import { decideLegacyRecovery, decideSwitchRecovery, legacyRecoveryNeedsProbe } from '../../src/domain/apply/recovery.js';
import type { JournalOp } from '../../src/domain/apply/journal.js';
import { applyRefusal } from '../../src/domain/apply/apply-guards.js';
import type { Plan } from '../../src/domain/plan/plan-types.js';

/** The apply sequence's decisions, walked with scripted observations: no I/O, no time. */

const input = (over: Partial<ApplySequenceInput> = {}): ApplySequenceInput => ({
  generation: 5,
  writes: 3,
  deletes: 1,
  stagedFiles: 4,
  dryRun: false,
  beforePromote: false,
  convert: false,
  reloadConfigured: true,
  confirm: { listen: '127.0.0.1:9999', token: '5 abc', previousToken: '4 old', timeoutSeconds: 2 },
  ...over,
});

type Script = Partial<Record<ApplyEffect['kind'], (effect: ApplyEffect) => ApplyObservation>>;
const ok: Script = {
  'test': () => ({ kind: 'tested', ok: true, output: 'ok', durationMs: 10 }),
  'reload': () => ({ kind: 'reloaded', ok: true, output: '', durationMs: 3 }),
  'reload-back': () => ({ kind: 'reloaded', ok: true, output: '', durationMs: 3 }),
  'confirm': () => ({ kind: 'confirmed', confirmed: true, lastSeen: '5 abc', waitedMs: 250 }),
  'confirm-previous': () => ({ kind: 'confirmed', confirmed: true, lastSeen: '4 old', waitedMs: 240 }),
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
      if (observed.kind === 'failed') break;
    }
    if (isFinished(step.state)) return { last: step, effects };
    step = nextApplyStep(inp, step, observed);
  }
  throw new Error('the sequence did not finish');
}

const kinds = (effects: ApplyEffect[]) =>
  effects.filter((e) => e.kind !== 'emit' && e.kind !== 'fault').map((e) => (e.kind === 'write-journal' ? `journal:${e.phase}` : e.kind));
const faults = (effects: ApplyEffect[]) => effects.flatMap((e) => (e.kind === 'fault' ? [e.point] : []));
const events = (effects: ApplyEffect[]) => effects.flatMap((e) => (e.kind === 'emit' ? [`${e.event.step}:${e.event.status}`] : []));
const fail =
  (message: string): (() => ApplyObservation) =>
  () => ({ kind: 'failed', error: new Error(message) });

describe('apply sequence: pure decisions', () => {
  it('success: build, ONE nginx -t, journal, ONE switch, reload, confirm, commit, backup', () => {
    const { last, effects } = walk(input());
    expect(last.state).toEqual({ at: 'done' });
    expect(kinds(effects)).toEqual([
      'stage',
      'test',
      'journal:prepared',
      'switch',
      'reload',
      'confirm',
      'journal:reloaded',
      'commit',
      'remove-journal',
      'housekeeping',
    ]);
    expect(faults(effects)).toEqual([
      'after-stage',
      'after-validate',
      'after-journal',
      'after-switch',
      'after-reload',
      'after-confirm',
      'before-commit',
      'after-commit',
    ]);
    expect(events(effects)).toEqual([
      'stage:start',
      'stage:done',
      'validate:start',
      'validate:done',
      'buckets:skip',
      'switch:start',
      'switch:done',
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
      filesWritten: 3,
      filesDeleted: 1,
      nginxTests: 1,
      reloads: 1,
      timings: { testMs: 10, reloadMs: 3, confirmMs: 250 },
      warnings: [],
    });
    const reloadDone = effects.find((e) => e.kind === 'emit' && e.event.step === 'reload' && e.event.status === 'done');
    expect(reloadDone).toMatchObject({ event: { durationMs: 253 } });
  });

  it('an old layout is converted after the validation and the buckets, before the journal', () => {
    const { effects } = walk(input({ convert: true, beforePromote: true }));
    expect(kinds(effects).slice(0, 6)).toEqual(['stage', 'test', 'create-buckets', 'convert', 'journal:prepared', 'switch']);
    expect(faults(effects).slice(0, 5)).toEqual(['after-stage', 'after-validate', 'after-buckets', 'after-convert', 'after-journal']);
  });

  it('a bucket that cannot be created stops the apply before anything live is touched; what it built is discarded', () => {
    const { last, effects } = walk(input({ beforePromote: true }), { 'create-buckets': fail('AccessDenied') });
    expect(last.state).toMatchObject({ at: 'failed', failure: { kind: 'error', switched: false } });
    expect(kinds(effects)).toEqual(['stage', 'test', 'create-buckets', 'discard']);
    expect(events(effects)).toContain('buckets:fail');
  });

  it('nginx -t rejects the new generation: discarded, nothing live touched, no journal', () => {
    const { last, effects } = walk(input(), { test: () => ({ kind: 'tested', ok: false, output: 'emerg', durationMs: 4 }) });
    expect(last.state).toEqual({ at: 'failed', failure: { kind: 'rejected', output: 'emerg' } });
    expect(kinds(effects)).toEqual(['stage', 'test', 'discard']);
    expect(last.counts.nginxTests).toBe(1);
  });

  it.each(['stage', 'convert', 'write-journal', 'switch'] as const)('%s fails (ENOSPC): before the switch, discarded', (kind) => {
    const { last, effects } = walk(input({ convert: true }), { [kind]: fail('ENOSPC') });
    expect(last.state).toMatchObject({ at: 'failed', failure: { kind: 'error', switched: false, back: null } });
    expect(kinds(effects).at(-1)).toBe('discard');
    expect(kinds(effects)).not.toContain('switch-back');
  });

  it('dry run: build and test only, discarded, every later step skipped', () => {
    const { last, effects } = walk(input({ dryRun: true }));
    expect(last.state).toEqual({ at: 'done' });
    expect(kinds(effects)).toEqual(['stage', 'test', 'discard']);
    expect(events(effects).slice(4)).toEqual(['buckets:skip', 'switch:skip', 'reload:skip', 'commit:skip', 'backup:skip']);
    expect(last.counts).toMatchObject({ generation: null, dryRun: true, nginxTests: 1 });
  });

  it('reload not confirmed within the timeout: switch back, reload onto the previous generation, wait for it, clean up', () => {
    const { last, effects } = walk(input(), {
      confirm: () => ({ kind: 'confirmed', confirmed: false, lastSeen: '4 old', waitedMs: 2000 }),
    });
    expect(last.state).toEqual({
      at: 'failed',
      failure: {
        kind: 'reload-not-confirmed',
        detail: 'nginx still serves generation "4 old" after 2s, not "5 abc"',
        back: { kind: 'done' },
      },
    });
    expect(kinds(effects).slice(-8)).toEqual([
      'reload',
      'confirm',
      'switch-back',
      'reload-back',
      'confirm-previous',
      'remove-journal',
      'discard',
      'audit-failure',
    ]);
    expect(kinds(effects)).not.toContain('commit');
    expect(last.counts.reloads).toBe(2);
  });

  it('nothing answering on the status address is not a confirmation either', () => {
    const { last } = walk(input(), { confirm: () => ({ kind: 'confirmed', confirmed: false, lastSeen: null, waitedMs: 2000 }) });
    expect(last.state).toMatchObject({ failure: { detail: 'nothing answered on the status address 127.0.0.1:9999 within 2s' } });
  });

  it('a reload command that fails is switched back with its output', () => {
    const { last, effects } = walk(input(), { reload: () => ({ kind: 'reloaded', ok: false, output: 'invalid PID', durationMs: 2 }) });
    expect(last.state).toMatchObject({ at: 'failed', failure: { kind: 'reload-not-confirmed', detail: 'invalid PID' } });
    expect(kinds(effects)).not.toContain('confirm');
    expect(kinds(effects).slice(-6)).toEqual([
      'switch-back',
      'reload-back',
      'confirm-previous',
      'remove-journal',
      'discard',
      'audit-failure',
    ]);
  });

  it('without a status location (or reload: none) the reload is not confirmed by probing', () => {
    const { last, effects } = walk(input({ confirm: null }));
    expect(last.state).toEqual({ at: 'done' });
    expect(kinds(effects)).not.toContain('confirm');
  });

  it('commit fails (state directory full): switched back, nginx back on the previous generation, nothing left', () => {
    const { last, effects } = walk(input(), { commit: fail('ENOSPC') });
    expect(last.state).toMatchObject({ at: 'failed', failure: { kind: 'error', switched: true, back: { kind: 'done' } } });
    expect(kinds(effects).slice(-7)).toEqual([
      'commit',
      'switch-back',
      'reload-back',
      'confirm-previous',
      'remove-journal',
      'discard',
      'audit-failure',
    ]);
  });

  it('after the switch, nginx cannot go back (it keeps the new generation): switched forward again, journal kept', () => {
    const { last, effects } = walk(input(), {
      'commit': fail('ENOSPC'),
      'confirm-previous': () => ({ kind: 'confirmed', confirmed: false, lastSeen: '5 abc', waitedMs: 2000 }),
    });
    expect(last.state).toMatchObject({ at: 'failed', failure: { kind: 'error', switched: true, back: { kind: 'nginx-stuck' } } });
    expect(kinds(effects).slice(-2)).toEqual(['confirm-previous', 'switch-forward']);
    expect(kinds(effects)).not.toContain('remove-journal');
  });

  it('the switch back itself fails: the journal stays for the next writer', () => {
    const { last, effects } = walk(input(), {
      'confirm': () => ({ kind: 'confirmed', confirmed: false, lastSeen: null, waitedMs: 2000 }),
      'switch-back': fail('EIO'),
    });
    expect(last.state).toMatchObject({ at: 'failed', failure: { kind: 'reload-not-confirmed', back: { kind: 'failed' } } });
    expect(kinds(effects).at(-1)).toBe('switch-back');
  });

  it('a backup that cannot be written after the commit is a warning: the apply is complete', () => {
    const { last, effects } = walk(input(), { housekeeping: fail('ENOSPC: no space left on device') });
    expect(last.state).toEqual({ at: 'done' });
    expect(last.counts.generation).toBe(5);
    expect(last.counts.warnings).toEqual(['the database backup was not written: ENOSPC: no space left on device']);
    expect(events(effects).at(-1)).toBe('backup:fail');
  });

  it('reload: none: no confirmation, no reload back on failure', () => {
    const { effects } = walk(input({ reloadConfigured: false, confirm: null }), { commit: fail('ENOSPC') });
    expect(kinds(effects).slice(-4)).toEqual(['switch-back', 'remove-journal', 'discard', 'audit-failure']);
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
    // phase, switched, nginx answers the new token, -> action, switch back, reload
    ['prepared', false, false, 'rolled-back', false, false],
    ['prepared', false, null, 'rolled-back', false, false],
    ['prepared', false, true, 'rolled-back', false, true],
    ['prepared', true, false, 'rolled-back', true, true],
    ['prepared', true, null, 'rolled-back', true, true],
    ['prepared', true, true, 'rolled-forward', false, false],
    ['reloaded', true, false, 'rolled-forward', false, false],
    ['reloaded', true, null, 'rolled-forward', false, false],
  ] as const)(
    'phase %s, switched %s, nginx serves the new generation %s: %s (switch back %s, reload %s)',
    (phase, switched, servesNew, action, switchBack, reload) => {
      expect(decideSwitchRecovery({ phase, switched, servesNew, reloadConfigured: true })).toEqual({ action, switchBack, reload });
    },
  );

  it('reload: none never reloads', () => {
    expect(decideSwitchRecovery({ phase: 'prepared', switched: true, servesNew: null, reloadConfigured: false })).toEqual({
      action: 'rolled-back',
      switchBack: true,
      reload: false,
    });
  });

  it.each([
    ['prepared', false, 'rolled-back', false],
    ['renamed', false, 'rolled-back', true],
    ['validated', false, 'rolled-back', true],
    ['reloading', false, 'rolled-back', true],
    ['reloading', true, 'rolled-forward', false],
    ['renamed', true, 'rolled-forward', false],
    ['reloaded', false, 'rolled-forward', false],
    ['committed', false, 'rolled-forward', false],
  ] as const)('an older orch journal: phase %s, nginx serving its generation %s: %s (reload %s)', (phase, serves, action, reload) => {
    expect(decideLegacyRecovery(phase, serves)).toEqual({ action, reload });
  });

  it('an older orch journal: nginx is asked only when the phase does not settle it and the status file is the last op', () => {
    const ops: JournalOp[] = [
      { path: 'pools/a.conf', action: 'write', beforeSha256: null, afterSha256: 'a1' },
      { path: 'vhosts/old.conf', action: 'delete', beforeSha256: 'o0', afterSha256: null },
      { path: 'vhosts/_orch-status.conf', action: 'write', beforeSha256: 's0', afterSha256: 's1' },
    ];
    const status = 'vhosts/_orch-status.conf';
    expect(legacyRecoveryNeedsProbe('reloading', ops, status, true)).toBe(true);
    expect(legacyRecoveryNeedsProbe('reloading', ops, status, false)).toBe(false);
    expect(legacyRecoveryNeedsProbe('reloaded', ops, status, true)).toBe(false);
    expect(legacyRecoveryNeedsProbe('renamed', ops.slice(0, 2), status, true)).toBe(false);
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
