import type { ApplyEvent } from './apply-events.js';
import type { JournalPhase } from './journal.js';

/**
 * The apply sequence as pure decisions: build the new generation directory -> validate it once with
 * nginx's main configuration -> (buckets) -> (convert an old layout) -> journal -> switch (one
 * rename) -> reload -> confirm -> commit -> backup, and switching back when a step after the switch
 * fails. `startApply` and `nextApplyStep` take what the previous effects observed and return the
 * next state and the effects to perform; a thin loop (src/use-cases/apply/apply-tree.ts) performs
 * them through the ports. Fault points are effects too: the loop hands them to the fault hook,
 * which only a test build honours.
 *
 * Invariants the decisions keep:
 * - nothing live is touched before the new generation passed `nginx -t` (and the buckets step);
 *   the live tree is one generation at every instant: the switch is one rename(2);
 * - the journal is written before the switch;
 * - a failure before the switch removes what the apply made (generation directory, journal,
 *   staging) and reports that nothing live changed;
 * - a failure after the switch switches back (the same single rename), reloads nginx onto the
 *   previous generation and waits for it, then removes what the apply made; only when nginx cannot
 *   go back (it keeps serving the new generation) does it switch forward again and leave the
 *   journal, so the next writer records what nginx serves;
 * - the state is committed only after nginx is confirmed serving the new generation.
 */

export interface ApplySequenceInput {
  generation: number;
  /** Files the new generation writes (its status file included) and deletes, for the counts. */
  writes: number;
  deletes: number;
  /** How many files the new generation holds. */
  stagedFiles: number;
  dryRun: boolean;
  /** A step between the validation and the switch (creating the buckets new routes need). */
  beforePromote: boolean;
  /** The managed directory still has real pools/ and vhosts/ directories: convert before switching. */
  convert: boolean;
  /** A reload method is configured (not `reload: none`). */
  reloadConfigured: boolean;
  /** Confirm the reload on the status location; null when it cannot be (reload: none, status off). */
  confirm: { listen: string; token: string; previousToken: string | null; timeoutSeconds: number } | null;
}

export interface ApplyCounts {
  generation: number | null;
  dryRun: boolean;
  filesWritten: number;
  filesDeleted: number;
  nginxTests: number;
  reloads: number;
  timings: { testMs: number; reloadMs: number; confirmMs: number };
  /** What went wrong after the apply was complete (a backup that could not be written). */
  warnings: string[];
}

export type ApplyFailure =
  | { kind: 'rejected'; output: string }
  | { kind: 'reload-not-confirmed'; detail: string; back: RollbackResult }
  | { kind: 'error'; error: unknown; switched: boolean; back: RollbackResult | null };

/**
 * How switching back went: `done` (nginx serves the previous generation again, or nothing to wait
 * for), `nginx-stuck` (nginx kept the new generation: switched forward again, journal kept),
 * `unconfirmed` (switched back, nginx did not answer the previous generation in time), `failed`
 * (the switch back itself failed: journal kept for the next writer).
 */
export type RollbackResult = { kind: 'done' | 'unconfirmed' | 'nginx-stuck' } | { kind: 'failed'; error: unknown };

export type ApplyState =
  | { at: 'staging' }
  | { at: 'testing' }
  | { at: 'creating-buckets' }
  | { at: 'switching' }
  | { at: 'reloading' }
  | { at: 'confirming'; reloadMs: number }
  | { at: 'committing' }
  | { at: 'backing-up' }
  | { at: 'switching-back'; cause: { kind: 'reload-not-confirmed'; detail: string } | { kind: 'error'; error: unknown } }
  | { at: 'switching-forward'; cause: ApplyFailure }
  | { at: 'done' }
  | { at: 'failed'; failure: ApplyFailure };

export type ApplyEffect =
  | { kind: 'emit'; event: ApplyEvent }
  | { kind: 'fault'; point: string }
  /** Build the new generation directory (not live) and keep its new contents in the content store. */
  | { kind: 'stage' }
  /** `nginx -t` of nginx's main configuration with the managed includes pointed at the new generation. */
  | { kind: 'test' }
  /** Remove what this apply made and nobody uses: the new generation, the journal, the staging. Never throws. */
  | { kind: 'discard' }
  | { kind: 'create-buckets' }
  /** Turn real pools/ and vhosts/ directories into the generation layout (same content, no change for nginx). */
  | { kind: 'convert' }
  | { kind: 'write-journal'; phase: JournalPhase }
  /** One rename: `current` names the new generation. */
  | { kind: 'switch' }
  | { kind: 'reload' }
  | { kind: 'confirm' }
  /** One rename: `current` names the previous generation again. */
  | { kind: 'switch-back' }
  /** Reload onto the previous generation (best effort: never throws). */
  | { kind: 'reload-back' }
  /** Wait until nginx answers the previous generation's token (never throws). */
  | { kind: 'confirm-previous' }
  /** nginx could not go back: `current` names the new generation again (what nginx serves). */
  | { kind: 'switch-forward' }
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
const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

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
    timings: { testMs: 0, reloadMs: 0, confirmMs: 0 },
    warnings: [],
  };
  return { state: { at: 'staging' }, counts, effects: [emit({ step: 'stage', status: 'start' }), { kind: 'stage' }] };
}

/** The next state and effects, from the current state and what its effects observed. */
export function nextApplyStep(input: ApplySequenceInput, current: ApplyStepResult, observed: ApplyObservation): ApplyStepResult {
  const { state } = current;
  const counts: ApplyCounts = { ...current.counts, timings: { ...current.counts.timings }, warnings: [...current.counts.warnings] };
  const go = (next: ApplyState, effects: ApplyEffect[]): ApplyStepResult => ({ state: next, counts, effects });
  const fail = (failure: ApplyFailure, effects: ApplyEffect[] = []): ApplyStepResult => go({ at: 'failed', failure }, effects);

  if (isFinished(state)) return go(state, []);

  if (observed.kind === 'failed') {
    switch (state.at) {
      case 'switching-back':
        // The switch back itself failed: the journal stays, the next writer finishes or undoes it.
        return fail(failureAfterSwitch(state.cause, { kind: 'failed', error: observed.error }));
      case 'switching-forward':
        return fail(state.cause);
      case 'backing-up':
        // The generation is live and committed: a backup that could not be written is a warning.
        counts.warnings.push(`the database backup was not written: ${messageOf(observed.error)}`);
        return go({ at: 'done' }, [emit({ step: 'backup', status: 'fail', message: messageOf(observed.error) })]);
      case 'reloading':
      case 'confirming':
      case 'committing':
        return switchBack(input, counts, { kind: 'error', error: observed.error }, [
          emit({ step: stepOf(state.at), status: 'fail', message: messageOf(observed.error) }),
        ]);
      default: {
        // Before the switch (a failed switch did not happen: rename is atomic): nothing live changed.
        const step = stepOf(state.at);
        return fail({ kind: 'error', error: observed.error, switched: false, back: null }, [
          emit({ step, status: 'fail', message: messageOf(observed.error) }),
          { kind: 'discard' },
        ]);
      }
    }
  }

  switch (state.at) {
    case 'staging':
      return go({ at: 'testing' }, [
        emit({ step: 'stage', status: 'done', message: `${input.stagedFiles} files, ${input.writes} written` }),
        fault('after-stage'),
        emit({ step: 'validate', status: 'start' }),
        { kind: 'test' },
      ]);

    case 'testing': {
      const test = expect(observed, 'tested');
      counts.nginxTests++;
      counts.timings.testMs = test.durationMs;
      if (!test.ok) {
        return fail({ kind: 'rejected', output: test.output }, [
          emit({ step: 'validate', status: 'fail', message: test.output }),
          { kind: 'discard' },
        ]);
      }
      const validated = [emit({ step: 'validate', status: 'done', durationMs: test.durationMs }), fault('after-validate')];
      if (input.dryRun) {
        const skipped = (['buckets', 'switch', 'reload', 'commit', 'backup'] as const).map((step) =>
          emit({ step, status: 'skip', message: 'dry run' }),
        );
        return go({ at: 'done' }, [...validated, { kind: 'discard' }, ...skipped]);
      }
      if (input.beforePromote)
        return go({ at: 'creating-buckets' }, [...validated, emit({ step: 'buckets', status: 'start' }), { kind: 'create-buckets' }]);
      return startSwitch(input, counts, [...validated, emit({ step: 'buckets', status: 'skip', message: 'none to create' })]);
    }

    case 'creating-buckets': {
      const { message } = expect(observed, 'buckets');
      return startSwitch(input, counts, [
        emit({ step: 'buckets', status: message === null ? 'skip' : 'done', message: message ?? 'none to create' }),
        fault('after-buckets'),
      ]);
    }

    case 'switching':
      counts.filesWritten = input.writes;
      counts.filesDeleted = input.deletes;
      return go({ at: 'reloading' }, [
        fault('after-switch'),
        emit({ step: 'switch', status: 'done', message: `generation ${input.generation}` }),
        emit({ step: 'reload', status: 'start' }),
        { kind: 'reload' },
      ]);

    case 'reloading': {
      const reload = expect(observed, 'reloaded');
      counts.reloads++;
      counts.timings.reloadMs = reload.durationMs;
      if (reload.ok && input.confirm)
        return go({ at: 'confirming', reloadMs: reload.durationMs }, [fault('after-reload'), { kind: 'confirm' }]);
      if (reload.ok) return reloadConfirmed(counts, reload.durationMs, [fault('after-reload')]);
      return switchBack(input, counts, { kind: 'reload-not-confirmed', detail: reload.output }, [
        fault('after-reload'),
        emit({ step: 'reload', status: 'fail', message: reload.output }),
      ]);
    }

    case 'confirming': {
      const c = expect(observed, 'confirmed');
      counts.timings.confirmMs = c.waitedMs;
      if (c.confirmed) return reloadConfirmed(counts, state.reloadMs + c.waitedMs, []);
      const { listen, token, timeoutSeconds } = input.confirm!;
      const detail = c.lastSeen
        ? `nginx still serves generation "${c.lastSeen}" after ${timeoutSeconds}s, not "${token}"`
        : `nothing answered on the status address ${listen} within ${timeoutSeconds}s`;
      return switchBack(input, counts, { kind: 'reload-not-confirmed', detail }, [
        emit({ step: 'reload', status: 'fail', message: detail }),
      ]);
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

    case 'switching-back': {
      const back = rollbackOf(input, observed);
      const failure = failureAfterSwitch(state.cause, back);
      if (back.kind === 'nginx-stuck') {
        // nginx kept the new generation and cannot load the previous one: the files follow nginx,
        // and the journal stays so that the next writer records the generation nginx serves.
        return go({ at: 'switching-forward', cause: failure }, [{ kind: 'switch-forward' }]);
      }
      return fail(failure, [
        { kind: 'remove-journal' },
        { kind: 'discard' },
        { kind: 'audit-failure', details: auditDetails(state.cause, back) },
      ]);
    }

    case 'switching-forward':
      return fail(state.cause);
  }
}

function stepOf(at: ApplyState['at']): ApplyEvent['step'] {
  switch (at) {
    case 'staging':
      return 'stage';
    case 'testing':
      return 'validate';
    case 'creating-buckets':
      return 'buckets';
    case 'switching':
      return 'switch';
    case 'reloading':
    case 'confirming':
      return 'reload';
    case 'committing':
      return 'commit';
    default:
      return 'backup';
  }
}

function startSwitch(input: ApplySequenceInput, counts: ApplyCounts, before: ApplyEffect[]): ApplyStepResult {
  return {
    state: { at: 'switching' },
    counts,
    effects: [
      ...before,
      emit({ step: 'switch', status: 'start' }),
      ...(input.convert ? [{ kind: 'convert' } as const, fault('after-convert')] : []),
      { kind: 'write-journal', phase: 'prepared' },
      fault('after-journal'),
      { kind: 'switch' },
    ],
  };
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

/** A step after the switch failed: switch back, reload onto the previous generation, wait for it. */
function switchBack(
  input: ApplySequenceInput,
  counts: ApplyCounts,
  cause: Extract<ApplyState, { at: 'switching-back' }>['cause'],
  before: ApplyEffect[],
): ApplyStepResult {
  if (input.reloadConfigured) counts.reloads++;
  return {
    state: { at: 'switching-back', cause },
    counts,
    effects: [
      ...before,
      { kind: 'switch-back' },
      fault('after-switch-back'),
      ...(input.reloadConfigured ? [{ kind: 'reload-back' } as const] : []),
      ...(input.reloadConfigured && input.confirm?.previousToken ? [{ kind: 'confirm-previous' } as const] : []),
    ],
  };
}

function rollbackOf(input: ApplySequenceInput, observed: ApplyObservation): RollbackResult {
  // Nothing to confirm with (no status token before this apply): done only if the reload was accepted.
  if (observed.kind === 'reloaded') return observed.ok ? { kind: 'done' } : { kind: 'unconfirmed' };
  if (observed.kind !== 'confirmed') return { kind: 'done' };
  if (observed.confirmed) return { kind: 'done' };
  return observed.lastSeen !== null && observed.lastSeen === input.confirm?.token ? { kind: 'nginx-stuck' } : { kind: 'unconfirmed' };
}

function failureAfterSwitch(cause: Extract<ApplyState, { at: 'switching-back' }>['cause'], back: RollbackResult): ApplyFailure {
  return cause.kind === 'reload-not-confirmed'
    ? { kind: 'reload-not-confirmed', detail: cause.detail, back }
    : { kind: 'error', error: cause.error, switched: true, back };
}

function auditDetails(cause: Extract<ApplyState, { at: 'switching-back' }>['cause'], back: RollbackResult): string {
  const why =
    cause.kind === 'reload-not-confirmed' ? `reload not confirmed: ${cause.detail}` : `failed after the switch: ${messageOf(cause.error)}`;
  return `${why}; switched back to the previous generation${back.kind === 'unconfirmed' ? ' (nginx did not confirm it)' : ''}`;
}

function expect<K extends ApplyObservation['kind']>(observed: ApplyObservation, kind: K): Extract<ApplyObservation, { kind: K }> {
  if (observed.kind !== kind) throw new Error(`apply sequence: expected a "${kind}" observation, got "${observed.kind}"`);
  return observed as Extract<ApplyObservation, { kind: K }>;
}
