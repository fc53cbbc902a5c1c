import type { ApplyEvent } from './apply-events.js';
import type { JournalOp, JournalPhase } from './journal.js';

/**
 * The apply sequence as pure decisions: stage -> validate the staged tree as a whole -> (buckets)
 * -> journaled promote -> validate live -> reload -> confirm -> commit -> backup, and the rollback
 * when a live step fails. `startApply` and `nextApplyStep` take what the previous effects observed
 * and return the next state and the effects to perform; a thin loop (src/use-cases/apply/apply-tree.ts)
 * performs them through the ports. Fault points are effects too: the loop hands them to the fault
 * hook, which only a test build honours.
 *
 * Invariants the decisions keep:
 * - nothing live is touched before the staged tree passed `nginx -t` (and the buckets step);
 * - the journal is written before the first rename, and its phase only moves forward;
 * - on a live failure every file is restored before the failure is reported, and nginx is reloaded
 *   onto the restored files when a reload was sent;
 * - the state is committed only after nginx is confirmed serving the new generation; a failed
 *   commit leaves the journal (phase `reloaded`), so the next writer rolls forward and replays it.
 */

export interface ApplySequenceInput {
  generation: number;
  /** Every rename and delete, in promotion order (the status file last). */
  ops: readonly JournalOp[];
  /** How many files the staged tree holds. */
  stagedFiles: number;
  dryRun: boolean;
  /** A step between the staged test and the promotion (creating the buckets new routes need). */
  beforePromote: boolean;
  /** Confirm the reload on the status location; null when it cannot be (reload: none, status off). */
  confirm: { listen: string; token: string; timeoutSeconds: number } | null;
}

export interface ApplyCounts {
  generation: number | null;
  dryRun: boolean;
  filesWritten: number;
  filesDeleted: number;
  nginxTests: number;
  reloads: number;
  timings: { stagedTestMs: number; liveTestMs: number; reloadMs: number; confirmMs: number };
}

export type ApplyFailure =
  | { kind: 'staged-rejected'; output: string }
  | { kind: 'live-rejected'; output: string }
  | { kind: 'reload-not-confirmed'; detail: string }
  | { kind: 'error'; error: unknown };

export type ApplyState =
  | { at: 'staging' }
  | { at: 'testing-staged' }
  | { at: 'creating-buckets' }
  | { at: 'promoting'; index: number }
  | { at: 'testing-live' }
  | { at: 'reloading' }
  | { at: 'confirming'; reloadMs: number }
  | { at: 'committing' }
  | { at: 'backing-up' }
  | { at: 'done' }
  | { at: 'failed'; failure: ApplyFailure };

export type ApplyEffect =
  | { kind: 'emit'; event: ApplyEvent }
  | { kind: 'fault'; point: string }
  /** Stage the complete new tree (and keep its contents in the content store). */
  | { kind: 'stage' }
  | { kind: 'test-staged' }
  | { kind: 'unstage' }
  | { kind: 'create-buckets' }
  /** Keep the previous content of every file the ops replace or delete (for restoring it). */
  | { kind: 'keep-previous' }
  | { kind: 'write-journal'; phase: JournalPhase }
  | { kind: 'promote'; index: number }
  /** Make the renames durable (fsync of the directories). */
  | { kind: 'sync' }
  | { kind: 'test-live' }
  | { kind: 'reload' }
  | { kind: 'confirm' }
  | { kind: 'restore' }
  | { kind: 'remove-journal' }
  | { kind: 'audit-failure'; details: string }
  | { kind: 'commit' }
  | { kind: 'housekeeping' };

/** What the last effect of a step observed. */
export type ApplyObservation =
  | { kind: 'done' }
  | { kind: 'tested'; ok: boolean; output: string; durationMs: number }
  | { kind: 'buckets'; message: string | null }
  | { kind: 'reloaded'; ok: boolean; output: string; durationMs: number }
  | { kind: 'confirmed'; confirmed: boolean; lastSeen: string | null; waitedMs: number }
  | { kind: 'failed'; error: unknown };

export interface ApplyStepResult {
  state: ApplyState;
  counts: ApplyCounts;
  /** Performed in order; the observation of the last one is passed to the next decision. */
  effects: ApplyEffect[];
}

const emit = (event: ApplyEvent): ApplyEffect => ({ kind: 'emit', event });
const fault = (point: string): ApplyEffect => ({ kind: 'fault', point });

export function isFinished(state: ApplyState): state is { at: 'done' } | { at: 'failed'; failure: ApplyFailure } {
  return state.at === 'done' || state.at === 'failed';
}

export function startApply(input: ApplySequenceInput): ApplyStepResult {
  const counts: ApplyCounts = {
    generation: null,
    dryRun: input.dryRun,
    filesWritten: 0,
    filesDeleted: 0,
    nginxTests: 0,
    reloads: 0,
    timings: { stagedTestMs: 0, liveTestMs: 0, reloadMs: 0, confirmMs: 0 },
  };
  return { state: { at: 'staging' }, counts, effects: [emit({ step: 'stage', status: 'start' }), { kind: 'stage' }] };
}

/** The next state and effects, from the current state and what its effects observed. */
export function nextApplyStep(input: ApplySequenceInput, current: ApplyStepResult, observed: ApplyObservation): ApplyStepResult {
  const { state } = current;
  const counts: ApplyCounts = { ...current.counts, timings: { ...current.counts.timings } };
  const go = (next: ApplyState, effects: ApplyEffect[]): ApplyStepResult => ({ state: next, counts, effects });
  const fail = (failure: ApplyFailure, effects: ApplyEffect[] = []): ApplyStepResult => go({ at: 'failed', failure }, effects);

  if (isFinished(state)) return go(state, []);
  if (observed.kind === 'failed') {
    // An effect threw. Nothing is undone here: when files were promoted, the journal stays and the
    // next writer's recovery finishes or undoes the apply, exactly as after a crash.
    const message = observed.error instanceof Error ? observed.error.message : String(observed.error);
    return fail(
      { kind: 'error', error: observed.error },
      state.at === 'creating-buckets' ? [emit({ step: 'buckets', status: 'fail', message })] : [],
    );
  }

  switch (state.at) {
    case 'staging':
      return go({ at: 'testing-staged' }, [
        emit({ step: 'stage', status: 'done', message: `${input.stagedFiles} files` }),
        fault('after-stage'),
        emit({ step: 'validate-staged', status: 'start' }),
        { kind: 'test-staged' },
      ]);

    case 'testing-staged': {
      const test = expect(observed, 'tested');
      counts.nginxTests++;
      counts.timings.stagedTestMs = test.durationMs;
      if (!test.ok) {
        return fail({ kind: 'staged-rejected', output: test.output }, [
          emit({ step: 'validate-staged', status: 'fail', message: test.output }),
          { kind: 'unstage' },
        ]);
      }
      const validated = [
        emit({ step: 'validate-staged', status: 'done', durationMs: test.durationMs }),
        { kind: 'unstage' } as const,
        fault('after-staged-validate'),
      ];
      if (input.dryRun) {
        const skipped = (['buckets', 'promote', 'validate-live', 'reload', 'commit', 'backup'] as const).map((step) =>
          emit({ step, status: 'skip', message: 'dry run' }),
        );
        return go({ at: 'done' }, [...validated, ...skipped]);
      }
      if (input.beforePromote)
        return go({ at: 'creating-buckets' }, [...validated, emit({ step: 'buckets', status: 'start' }), { kind: 'create-buckets' }]);
      return startPromotion(input, counts, [...validated, emit({ step: 'buckets', status: 'skip', message: 'none to create' })]);
    }

    case 'creating-buckets': {
      const { message } = expect(observed, 'buckets');
      return startPromotion(input, counts, [
        emit({ step: 'buckets', status: message === null ? 'skip' : 'done', message: message ?? 'none to create' }),
        fault('after-buckets'),
      ]);
    }

    case 'promoting': {
      const op = input.ops[state.index]!;
      if (op.action === 'write') counts.filesWritten++;
      else counts.filesDeleted++;
      const renamed = fault(`after-rename-${state.index + 1}`);
      if (state.index + 1 < input.ops.length)
        return go({ at: 'promoting', index: state.index + 1 }, [renamed, { kind: 'promote', index: state.index + 1 }]);
      return go({ at: 'testing-live' }, [renamed, ...afterPromotion(counts)]);
    }

    case 'testing-live': {
      const test = expect(observed, 'tested');
      counts.nginxTests++;
      counts.timings.liveTestMs = test.durationMs;
      if (!test.ok) {
        return fail({ kind: 'live-rejected', output: test.output }, [
          emit({ step: 'validate-live', status: 'fail', message: test.output }),
          { kind: 'restore' },
          { kind: 'remove-journal' },
          { kind: 'audit-failure', details: 'live nginx -t failed; files rolled back' },
        ]);
      }
      return go({ at: 'reloading' }, [
        { kind: 'write-journal', phase: 'validated' },
        emit({ step: 'validate-live', status: 'done', durationMs: test.durationMs }),
        fault('after-live-validate'),
        emit({ step: 'reload', status: 'start' }),
        { kind: 'write-journal', phase: 'reloading' },
        { kind: 'reload' },
      ]);
    }

    case 'reloading': {
      const reload = expect(observed, 'reloaded');
      counts.reloads++;
      counts.timings.reloadMs = reload.durationMs;
      if (reload.ok && input.confirm)
        return go({ at: 'confirming', reloadMs: reload.durationMs }, [fault('after-reload'), { kind: 'confirm' }]);
      if (reload.ok) return reloadConfirmed(counts, reload.durationMs, [fault('after-reload')]);
      return reloadFailed(counts, reload.output, [fault('after-reload')]);
    }

    case 'confirming': {
      const c = expect(observed, 'confirmed');
      counts.timings.confirmMs = c.waitedMs;
      if (c.confirmed) return reloadConfirmed(counts, state.reloadMs + c.waitedMs, []);
      const { listen, token, timeoutSeconds } = input.confirm!;
      const detail = c.lastSeen
        ? `nginx still serves generation "${c.lastSeen}" after ${timeoutSeconds}s, not "${token}"`
        : `nothing answered on the status address ${listen} within ${timeoutSeconds}s`;
      return reloadFailed(counts, detail, []);
    }

    case 'committing':
      counts.generation = input.generation;
      return go({ at: 'backing-up' }, [
        fault('after-commit'),
        { kind: 'remove-journal' },
        emit({ step: 'commit', status: 'done', message: `generation ${input.generation}` }),
        emit({ step: 'backup', status: 'start' }),
        { kind: 'housekeeping' },
      ]);

    case 'backing-up':
      return go({ at: 'done' }, [emit({ step: 'backup', status: 'done' })]);
  }
}

function startPromotion(input: ApplySequenceInput, counts: ApplyCounts, before: ApplyEffect[]): ApplyStepResult {
  const journal: ApplyEffect[] = [
    { kind: 'keep-previous' },
    emit({ step: 'promote', status: 'start' }),
    { kind: 'write-journal', phase: 'prepared' },
    fault('after-journal'),
  ];
  if (input.ops.length === 0) return { state: { at: 'testing-live' }, counts, effects: [...before, ...journal, ...afterPromotion(counts)] };
  return { state: { at: 'promoting', index: 0 }, counts, effects: [...before, ...journal, { kind: 'promote', index: 0 }] };
}

function afterPromotion(counts: ApplyCounts): ApplyEffect[] {
  return [
    { kind: 'sync' },
    { kind: 'write-journal', phase: 'renamed' },
    emit({ step: 'promote', status: 'done', message: `${counts.filesWritten} written, ${counts.filesDeleted} deleted` }),
    fault('after-renames'),
    emit({ step: 'validate-live', status: 'start' }),
    { kind: 'test-live' },
  ];
}

function reloadConfirmed(counts: ApplyCounts, durationMs: number, before: ApplyEffect[]): ApplyStepResult {
  return {
    state: { at: 'committing' },
    counts,
    effects: [
      ...before,
      { kind: 'write-journal', phase: 'reloaded' },
      emit({ step: 'reload', status: 'done', durationMs }),
      fault('after-confirm'),
      fault('before-commit'),
      emit({ step: 'commit', status: 'start' }),
      { kind: 'commit' },
    ],
  };
}

/** The reload was not confirmed: restore the previous files, reload nginx onto them, report. */
function reloadFailed(counts: ApplyCounts, detail: string, before: ApplyEffect[]): ApplyStepResult {
  counts.reloads++;
  return {
    state: { at: 'failed', failure: { kind: 'reload-not-confirmed', detail } },
    counts,
    effects: [
      ...before,
      emit({ step: 'reload', status: 'fail', message: detail }),
      { kind: 'restore' },
      { kind: 'reload' },
      { kind: 'remove-journal' },
      { kind: 'audit-failure', details: `reload not confirmed: ${detail}` },
    ],
  };
}

function expect<K extends ApplyObservation['kind']>(observed: ApplyObservation, kind: K): Extract<ApplyObservation, { kind: K }> {
  if (observed.kind !== kind) throw new Error(`apply sequence: expected a "${kind}" observation, got "${observed.kind}"`);
  return observed as Extract<ApplyObservation, { kind: K }>;
}
