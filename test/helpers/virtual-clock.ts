import type { Clock } from '../../src/ports/clock.js';

/**
 * A clock for unit tests of the engines: time moves only when the test advances it. sleep()
 * resolves when the clock has been advanced past its deadline (or rejects on abort).
 */
export class VirtualClock implements Clock {
  private sleepers: Array<{ at: number; resolve: () => void }> = [];

  constructor(private t = Date.UTC(2026, 0, 1)) {}

  now(): number {
    return this.t;
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      const entry = { at: this.t + Math.max(0, ms), resolve };
      this.sleepers.push(entry);
      signal?.addEventListener(
        'abort',
        () => {
          this.sleepers = this.sleepers.filter((s) => s !== entry);
          reject(signal.reason);
        },
        { once: true },
      );
    });
  }

  /** Moves time forward by `ms`, waking every sleeper whose deadline has passed, in order. */
  async advance(ms: number): Promise<void> {
    const target = this.t + ms;
    for (;;) {
      const due = this.sleepers.filter((s) => s.at <= target).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.t = Math.max(this.t, due.at);
      this.sleepers = this.sleepers.filter((s) => s !== due);
      due.resolve();
      await Promise.resolve();
    }
    this.t = target;
  }

  /** Sleepers waiting now. */
  get pending(): number {
    return this.sleepers.length;
  }
}
