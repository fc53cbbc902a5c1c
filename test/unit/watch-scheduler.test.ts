import { describe, expect, it } from 'vitest';
import {
  backoffDelay,
  debounce,
  Scheduler,
  timersOf,
  type Job,
  type JobResult,
  type Timers,
  type Trigger,
} from '../../src/use-cases/watch/scheduler.js';
import { VirtualClock } from '../helpers/virtual-clock.js';

/** Virtual time: timers fire only when the test advances the clock. */
class FakeTimers implements Timers {
  t = 1_000_000;
  private seq = 0;
  private readonly due = new Map<number, { at: number; fn: () => void }>();
  now() {
    return this.t;
  }
  setTimeout(fn: () => void, ms: number) {
    const id = ++this.seq;
    this.due.set(id, { at: this.t + ms, fn });
    return id;
  }
  clearTimeout(h: unknown) {
    this.due.delete(h as number);
  }
  /** Advances the clock by `ms`, firing due timers in order (and letting promises settle between). */
  async advance(ms: number) {
    const end = this.t + ms;
    for (;;) {
      await flush();
      const next = [...this.due.entries()].filter(([, d]) => d.at <= end).sort((a, b) => a[1].at - b[1].at)[0];
      if (!next) break;
      this.due.delete(next[0]);
      this.t = next[1].at;
      next[1].fn();
    }
    this.t = end;
    await flush();
  }
  get pending() {
    return this.due.size;
  }
}

const flush = async () => {
  for (let i = 0; i < 10; i++) await Promise.resolve();
};

/** A job runner whose jobs finish when the test says so. */
function controlledRunner() {
  const calls: Array<{ job: Job; triggers: Trigger[] }> = [];
  let release: ((r: JobResult) => void) | null = null;
  const run = (job: Job, triggers: Trigger[]) => {
    calls.push({ job, triggers });
    return new Promise<JobResult>((r) => (release = r));
  };
  const finish = async (r: JobResult = {}) => {
    const f = release;
    release = null;
    if (!f) throw new Error('no job is running');
    f(r);
    await flush();
  };
  return {
    calls,
    run,
    finish,
    get running() {
      return release !== null;
    },
  };
}

describe('watch scheduler', () => {
  it('runs one job at a time and folds every trigger that arrives during a run into ONE re-run', async () => {
    const timers = new FakeTimers();
    const r = controlledRunner();
    const s = new Scheduler({ run: r.run, timers });
    s.trigger('startup');
    await flush();
    expect(r.calls).toEqual([{ job: 'reconcile', triggers: ['startup'] }]);
    // 30 triggers while the first reconcile runs.
    for (let i = 0; i < 10; i++) {
      s.trigger('manifest-change');
      s.trigger('drift-interval');
      s.trigger('sighup');
    }
    expect(r.calls).toHaveLength(1);
    expect(s.pendingTriggers()).toEqual([{ job: 'reconcile', triggers: ['manifest-change', 'drift-interval', 'sighup'] }]);
    await r.finish();
    expect(r.calls).toHaveLength(2);
    expect(r.calls[1]).toEqual({ job: 'reconcile', triggers: ['manifest-change', 'drift-interval', 'sighup'] });
    expect(s.pendingTriggers()).toEqual([]);
    await r.finish();
    expect(r.calls).toHaveLength(2);
    expect(s.runningJob).toBeNull();
  });

  it('runs a reconcile before a pending bucket sync or backup, never two jobs at once', async () => {
    const timers = new FakeTimers();
    const r = controlledRunner();
    const s = new Scheduler({ run: r.run, timers });
    s.trigger('backup-interval', 'backup');
    await flush();
    s.trigger('bucket-sync-interval', 'bucket-sync');
    s.trigger('manifest-change');
    expect(r.calls.map((c) => c.job)).toEqual(['backup']);
    await r.finish();
    await r.finish();
    await r.finish();
    expect(r.calls.map((c) => c.job)).toEqual(['backup', 'reconcile', 'bucket-sync']);
  });

  it('retries a failed reconcile with exponential backoff capped at 60 s, and resets after a success', async () => {
    const timers = new FakeTimers();
    const r = controlledRunner();
    const delays: number[] = [];
    const s = new Scheduler({ run: r.run, timers, random: () => 0, onRetryScheduled: (d) => delays.push(d) });
    s.trigger('startup');
    await flush();
    for (let i = 0; i < 8; i++) {
      await r.finish({ failed: true });
      expect(r.running).toBe(false);
      const wait = delays.at(-1)!;
      // Not before the backoff is over...
      await timers.advance(wait - 1);
      expect(r.calls).toHaveLength(i + 1);
      // ...and exactly then.
      await timers.advance(1);
      expect(r.calls).toHaveLength(i + 2);
      expect(r.calls.at(-1)!.triggers).toEqual(['retry']);
    }
    expect(delays).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000]);
    expect(s.consecutiveFailures).toBe(8);
    await r.finish({});
    expect(s.consecutiveFailures).toBe(0);
    expect(s.nextRetryAt).toBeNull();
  });

  it('lets new input (a manifest change, SIGHUP) skip the backoff, but not an interval tick', async () => {
    const timers = new FakeTimers();
    const r = controlledRunner();
    const s = new Scheduler({ run: r.run, timers, random: () => 0 });
    s.trigger('startup');
    await flush();
    await r.finish({ failed: true });
    // The retry waits for its backoff (1 s).
    expect(r.running).toBe(false);
    expect(r.calls).toHaveLength(1);
    s.trigger('drift-interval');
    await flush();
    expect(r.calls).toHaveLength(1);
    s.trigger('manifest-change');
    await flush();
    expect(r.calls).toHaveLength(2);
    expect(r.calls[1]!.triggers.sort()).toEqual(['drift-interval', 'manifest-change', 'retry']);
  });

  it('puts a job off without counting a failure when asked to come back later (lock busy)', async () => {
    const timers = new FakeTimers();
    const r = controlledRunner();
    const s = new Scheduler({ run: r.run, timers });
    s.trigger('startup');
    await flush();
    await r.finish({ againAfterMs: 1000 });
    expect(s.consecutiveFailures).toBe(0);
    await timers.advance(999);
    expect(r.calls).toHaveLength(1);
    await timers.advance(1);
    expect(r.calls[1]).toEqual({ job: 'reconcile', triggers: ['lock-busy'] });
  });

  it('stop() starts nothing new and resolves when the job in flight has finished', async () => {
    const timers = new FakeTimers();
    const r = controlledRunner();
    const s = new Scheduler({ run: r.run, timers });
    s.trigger('startup');
    await flush();
    s.trigger('manifest-change');
    let stopped = false;
    const p = s.stop().then(() => (stopped = true));
    await flush();
    expect(stopped).toBe(false);
    await r.finish();
    await p;
    expect(stopped).toBe(true);
    s.trigger('sighup');
    await flush();
    expect(r.calls).toHaveLength(1);
  });

  it('a job that throws is reported and counted as a failed reconcile; the loop keeps going', async () => {
    const timers = new FakeTimers();
    const crashes: unknown[] = [];
    let n = 0;
    const s = new Scheduler({
      timers,
      random: () => 0,
      run: async () => {
        if (++n === 1) throw new Error('boom');
        return {};
      },
      onCrash: (_job, e) => crashes.push(e),
    });
    s.trigger('startup');
    await flush();
    expect(crashes).toHaveLength(1);
    expect(s.consecutiveFailures).toBe(1);
    await timers.advance(1000);
    expect(n).toBe(2);
    expect(s.consecutiveFailures).toBe(0);
  });

  it('backoffDelay spreads retries by the jitter fraction', () => {
    const p = { initialMs: 1000, maxMs: 60_000, jitter: 0.1 };
    expect(backoffDelay(1, p, () => 0)).toBe(1000);
    expect(backoffDelay(1, p, () => 1)).toBe(900);
    expect(backoffDelay(20, p, () => 0)).toBe(60_000);
  });
});

describe('debounce', () => {
  it('fires once, wait ms after the last call of a burst', async () => {
    const timers = new FakeTimers();
    let fired = 0;
    const d = debounce(() => fired++, 500, 5000, timers);
    for (let i = 0; i < 50; i++) {
      d.call();
      await timers.advance(20);
    }
    expect(fired).toBe(0);
    // The last call was 20 ms ago: it fires 480 ms from now, not before.
    await timers.advance(479);
    expect(fired).toBe(0);
    await timers.advance(1);
    expect(fired).toBe(1);
    await timers.advance(10_000);
    expect(fired).toBe(1);
  });

  it('fires at the latest maxWait after the first call while calls keep coming', async () => {
    const timers = new FakeTimers();
    const at: number[] = [];
    const start = timers.now();
    const d = debounce(() => at.push(timers.now() - start), 500, 2000, timers);
    for (let i = 0; i < 60; i++) {
      d.call();
      await timers.advance(100);
    }
    // Calls every 100 ms for 6 s: fires every 2 s instead of never.
    expect(at).toEqual([2000, 4000, 6000]);
    d.cancel();
    await timers.advance(1000);
    expect(at).toHaveLength(3);
  });
});

describe("timersOf (the daemon's timers on its Clock port)", () => {
  it('a timer fires when the clock passes its deadline, not before; a cleared one never does', async () => {
    const clock = new VirtualClock();
    const timers = timersOf(clock);
    const fired: string[] = [];
    timers.setTimeout(() => fired.push('a'), 1000);
    const b = timers.setTimeout(() => fired.push('b'), 500);
    timers.clearTimeout(b);
    expect(timers.now()).toBe(clock.now());
    await clock.advance(999);
    await flush();
    expect(fired).toEqual([]);
    await clock.advance(1);
    await flush();
    expect(fired).toEqual(['a']);
    expect(clock.pending).toBe(0);
  });

  it("runs the scheduler's backoff and the debounce on virtual time", async () => {
    const clock = new VirtualClock();
    const timers = timersOf(clock);
    let fired = 0;
    const d = debounce(() => fired++, 500, 5000, timers);
    d.call();
    await clock.advance(300);
    d.call();
    await clock.advance(499);
    await flush();
    expect(fired).toBe(0);
    await clock.advance(1);
    await flush();
    expect(fired).toBe(1);

    const r = controlledRunner();
    const s = new Scheduler({ run: r.run, timers, random: () => 0 });
    s.trigger('startup');
    await flush();
    await r.finish({ failed: true });
    expect(s.nextRetryAt).toBe(clock.now() + 1000);
    await clock.advance(999);
    await flush();
    expect(r.calls).toHaveLength(1);
    await clock.advance(1);
    await flush();
    expect(r.calls.map((c) => c.triggers)).toEqual([['startup'], ['retry']]);
    await r.finish();
    await s.stop();
  });
});
