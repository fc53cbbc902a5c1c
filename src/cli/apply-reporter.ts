import { Listr } from 'listr2';
import { APPLY_STEPS, STEP_TITLES, type ApplyEvent, type ApplyStep } from '../domain/apply/apply-events.js';
import type { Style } from './style.js';
import { safeLine } from './views/safe-text.js';

/** Receives the engine's progress events and shows them; `finish` settles whatever is pending. */
export interface ApplyReporter {
  emit(event: ApplyEvent): void;
  finish(error?: unknown): Promise<void>;
  /** Every event seen, in order (for --json output). */
  readonly events: ApplyEvent[];
}

/** Steps after the confirmation prompt: shown as a listr2 task list on a terminal. */
const EXEC_STEPS: readonly ApplyStep[] = APPLY_STEPS.filter((s) => s !== 'recover' && s !== 'plan');

interface Settled {
  skip?: string;
  message?: string;
}
interface Deferred {
  promise: Promise<Settled>;
  resolve: (s: Settled) => void;
  reject: (e: Error) => void;
  settled: boolean;
}

function deferred(): Deferred {
  let resolve!: (s: Settled) => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<Settled>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  const d: Deferred = {
    promise,
    resolve: (s) => {
      if (!d.settled) {
        d.settled = true;
        resolve(s);
      }
    },
    reject: (e) => {
      if (!d.settled) {
        d.settled = true;
        reject(e);
      }
    },
    settled: false,
  };
  promise.catch(() => {});
  return d;
}

/** listr2 task list driven by events (terminal). */
export function listrReporter(): ApplyReporter {
  const events: ApplyEvent[] = [];
  const pending = new Map<ApplyStep, Deferred>(EXEC_STEPS.map((s) => [s, deferred()]));
  let running: Promise<unknown> | null = null;
  const start = () => {
    const listr = new Listr(
      EXEC_STEPS.map((step) => ({
        title: STEP_TITLES[step],
        task: async (_ctx: unknown, task: { title: string; skip: (m?: string) => void }) => {
          const r = await pending.get(step)!.promise;
          if (r.skip !== undefined) task.skip(`${STEP_TITLES[step]} (skipped: ${r.skip})`);
          else if (r.message) task.title = `${STEP_TITLES[step]}: ${r.message}`;
        },
      })),
      { concurrent: false, exitOnError: true, rendererOptions: { collapseErrors: false } },
    );
    running = listr.run().catch(() => {});
  };
  return {
    events,
    emit(e) {
      events.push(e);
      if (!EXEC_STEPS.includes(e.step)) return;
      if (!running) start();
      const d = pending.get(e.step)!;
      if (e.status === 'done') d.resolve({ message: describe(e) });
      else if (e.status === 'skip') d.resolve({ skip: e.message ?? '' });
      else if (e.status === 'fail') d.reject(new Error(firstLine(e.message ?? 'failed')));
    },
    async finish(error) {
      for (const d of pending.values()) {
        if (error) d.reject(new Error('not run'));
        else d.resolve({ skip: 'not needed' });
      }
      if (running) await running;
    },
  };
}

/** One line per finished step (not a terminal, or --json on stderr). */
export function lineReporter(write: (line: string) => void, style: Style): ApplyReporter {
  const events: ApplyEvent[] = [];
  return {
    events,
    emit(e) {
      events.push(e);
      if (e.status === 'start') return;
      const mark = e.status === 'done' ? style.green('ok  ') : e.status === 'skip' ? style.dim('skip') : style.red('FAIL');
      const detail = e.status === 'fail' ? firstLine(e.message ?? '') : describe(e);
      write(`${mark} ${STEP_TITLES[e.step]}${detail ? ` (${detail})` : ''}`);
    },
    async finish() {},
  };
}

function describe(e: ApplyEvent): string {
  const parts = [safeLine(e.message ?? ''), e.durationMs !== undefined ? `${(e.durationMs / 1000).toFixed(2)}s` : ''].filter(Boolean);
  return parts.join(', ');
}

/** The first line of a message, terminal-safe: nginx's messages quote manifest text (a name with U+2028, an ANSI escape). */
function firstLine(s: string): string {
  return safeLine(s.split('\n')[0] ?? s);
}
