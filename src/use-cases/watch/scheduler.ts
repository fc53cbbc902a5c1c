import type { Clock } from '../../ports/clock.js';

/**
 * The daemon's one worker. Triggers only *schedule* work; the worker runs one job at a time, and
 * every trigger that arrives while a job runs folds into ONE more run of that job (level-triggered:
 * a reconcile always computes the whole plan from what is on disk now, so one run covers any
 * number of triggers). Failed reconciles are retried with exponential backoff; new input (a
 * manifest change, SIGHUP) does not wait for the backoff.
 */
export const TRIGGERS = [
  'startup',
  'manifest-change',
  'drift-interval',
  'bucket-sync-interval',
  'backup-interval',
  'sighup',
  'retry',
  'lock-busy',
  'bucket-missing',
] as const;
export type Trigger = (typeof TRIGGERS)[number];

export const JOBS = ['reconcile', 'bucket-sync', 'backup'] as const;
export type Job = (typeof JOBS)[number];

export interface JobResult {
  /** A reconcile that failed in a way a retry may fix (nginx down, lock timeout, S3 error): back off. */
  failed?: boolean;
  /** Run the same job again after this delay, without counting a failure (lock busy). */
  againAfterMs?: number;
}

export interface Timers {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Timers on a Clock: a timer is a sleep that its clearTimeout aborts. */
export function timersOf(clock: Clock): Timers {
  return {
    now: () => clock.now(),
    setTimeout(fn, ms) {
      const cancel = new AbortController();
      clock.sleep(ms, cancel.signal).then(fn, () => undefined);
      return cancel;
    },
    clearTimeout: (h) => (h as AbortController).abort(),
  };
}

export interface BackoffPolicy {
  initialMs: number;
  maxMs: number;
  /** 0..1: the delay is spread by up to this fraction, so that many daemons do not retry in step. */
  jitter: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 1000, maxMs: 60_000, jitter: 0.1 };

/** Delay before retry number `failures` (1 = after the first failure): 1 s, 2 s, 4 s ... capped. */
export function backoffDelay(failures: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const base = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.max(0, failures - 1));
  return Math.round(base * (1 - policy.jitter * random()));
}

/** New input: runs at once even while a failed reconcile waits for its retry. */
const BYPASS_BACKOFF: ReadonlySet<Trigger> = new Set(['startup', 'manifest-change', 'sighup']);

export interface SchedulerOptions {
  run(job: Job, triggers: Trigger[]): Promise<JobResult>;
  /** The daemon gives timersOf(its clock); tests give virtual timers. */
  timers: Timers;
  backoff?: BackoffPolicy;
  random?: () => number;
  /** Called when a job threw (a bug: jobs report their errors in their result). */
  onCrash?: (job: Job, error: unknown) => void;
  /** Called when a failed reconcile is scheduled for a retry. */
  onRetryScheduled?: (delayMs: number, failures: number) => void;
}

export class Scheduler {
  private readonly pending = new Map<Job, Set<Trigger>>();
  private readonly timers: Timers;
  private readonly backoff: BackoffPolicy;
  private running: Promise<void> | null = null;
  private current: Job | null = null;
  private stopped = false;
  private failures = 0;
  private retryAt = 0;
  private retryTimer: unknown = null;
  private readonly againTimers = new Map<Job, unknown>();

  constructor(private readonly opts: SchedulerOptions) {
    this.timers = opts.timers;
    this.backoff = opts.backoff ?? DEFAULT_BACKOFF;
  }

  /** Schedules `job`; folds into the pending run when one is already scheduled or running. */
  trigger(trigger: Trigger, job: Job = 'reconcile'): void {
    if (this.stopped) return;
    let set = this.pending.get(job);
    if (!set) this.pending.set(job, (set = new Set()));
    set.add(trigger);
    if (job === 'reconcile' && BYPASS_BACKOFF.has(trigger) && this.retryAt > this.timers.now()) {
      this.retryAt = 0;
      this.clearRetryTimer();
    }
    this.kick();
  }

  /** What is waiting for the next run, per job. */
  pendingTriggers(): Array<{ job: Job; triggers: Trigger[] }> {
    return JOBS.filter((j) => (this.pending.get(j)?.size ?? 0) > 0).map((job) => ({ job, triggers: [...this.pending.get(job)!] }));
  }

  get runningJob(): Job | null {
    return this.current;
  }

  get consecutiveFailures(): number {
    return this.failures;
  }

  /** When the next retry of a failed reconcile is due (ms since the epoch), or null. */
  get nextRetryAt(): number | null {
    return this.retryAt > this.timers.now() ? this.retryAt : null;
  }

  /** No new job starts; resolves when the job in flight (if any) has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.clearRetryTimer();
    for (const t of this.againTimers.values()) this.timers.clearTimeout(t);
    this.againTimers.clear();
    this.pending.clear();
    await this.running;
  }

  /** Resolves when nothing runs and nothing runnable is pending (tests). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  private clearRetryTimer(): void {
    if (this.retryTimer !== null) this.timers.clearTimeout(this.retryTimer);
    this.retryTimer = null;
  }

  private nextJob(): Job | null {
    for (const job of JOBS) {
      if ((this.pending.get(job)?.size ?? 0) === 0) continue;
      if (job === 'reconcile' && this.retryAt > this.timers.now()) continue;
      return job;
    }
    return null;
  }

  private kick(): void {
    if (this.running || this.stopped) return;
    if (this.nextJob() === null) {
      this.armRetryTimer();
      return;
    }
    this.running = this.loop().finally(() => {
      this.running = null;
      this.current = null;
      if (!this.stopped) this.kick();
    });
  }

  /** A reconcile is pending but waits for its backoff: wake up when it is due. */
  private armRetryTimer(): void {
    if (this.retryTimer !== null || (this.pending.get('reconcile')?.size ?? 0) === 0) return;
    const wait = this.retryAt - this.timers.now();
    if (wait <= 0) return;
    this.retryTimer = this.timers.setTimeout(() => {
      this.retryTimer = null;
      this.kick();
    }, wait);
  }

  private async loop(): Promise<void> {
    for (;;) {
      if (this.stopped) return;
      const job = this.nextJob();
      if (job === null) return;
      const triggers = [...this.pending.get(job)!];
      this.pending.delete(job);
      this.current = job;
      let result: JobResult;
      try {
        result = await this.opts.run(job, triggers);
      } catch (e) {
        this.opts.onCrash?.(job, e);
        result = { failed: job === 'reconcile' };
      }
      this.current = null;
      if (this.stopped) return;
      if (job === 'reconcile') {
        if (result.failed) {
          this.failures++;
          const delay = backoffDelay(this.failures, this.backoff, this.opts.random);
          this.retryAt = this.timers.now() + delay;
          this.addPending('reconcile', 'retry');
          this.opts.onRetryScheduled?.(delay, this.failures);
        } else {
          this.failures = 0;
          this.retryAt = 0;
        }
      }
      if (result.againAfterMs !== undefined && !result.failed) this.again(job, result.againAfterMs);
    }
  }

  private addPending(job: Job, trigger: Trigger): void {
    let set = this.pending.get(job);
    if (!set) this.pending.set(job, (set = new Set()));
    set.add(trigger);
  }

  private again(job: Job, ms: number): void {
    const old = this.againTimers.get(job);
    if (old !== undefined) this.timers.clearTimeout(old);
    this.againTimers.set(
      job,
      this.timers.setTimeout(() => {
        this.againTimers.delete(job);
        this.trigger(job === 'reconcile' ? 'lock-busy' : job === 'bucket-sync' ? 'bucket-sync-interval' : 'backup-interval', job);
      }, ms),
    );
  }
}

/**
 * Trailing-edge debounce: fires `wait` ms after the last call, but at the latest `maxWait` ms after
 * the first call of a burst (a git checkout that keeps writing does not postpone the reconcile
 * for ever).
 */
export function debounce(fire: () => void, wait: number, maxWait: number, timers: Timers): { call(): void; cancel(): void } {
  let timer: unknown = null;
  let first = 0;
  const run = () => {
    timer = null;
    first = 0;
    fire();
  };
  return {
    call() {
      const now = timers.now();
      if (first === 0) first = now;
      if (timer !== null) timers.clearTimeout(timer);
      const due = Math.min(wait, Math.max(0, first + maxWait - now));
      timer = timers.setTimeout(run, due);
    },
    cancel() {
      if (timer !== null) timers.clearTimeout(timer);
      timer = null;
      first = 0;
    },
  };
}
