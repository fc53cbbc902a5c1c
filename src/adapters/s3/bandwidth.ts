/**
 * A token bucket over bytes, shared by every transfer of one copier: `take(n)` resolves when n more
 * bytes may be read without the total exceeding `rate` bytes per second plus a small burst.
 *
 * Implemented as a virtual schedule (GCRA): each take books the next n/rate seconds after the
 * previous booking (or now, when the bucket has been idle) and waits until the start of its booking
 * minus the burst allowance. The bucket starts empty: n bytes taken at once from a fresh bucket wait
 * (n - burst) / rate seconds, so over any interval the bytes taken are at most
 * `rate * interval + burst`. Concurrent takers are served in call order.
 *
 * Callers take before they read (a whole object or part, whose size they know), so no socket sits
 * idle while its transfer waits for tokens: a slow limit never trips a socket inactivity timeout.
 */
export class TokenBucket {
  /** Seconds of idle credit allowed (the burst), as a time span. */
  private readonly burstMs: number;
  /** When the bytes booked so far are all paid for (ms, on `now()`'s clock). */
  private bookedUntil: number;
  private readonly now: () => number;

  constructor(
    readonly bytesPerSecond: number,
    opts: { burstBytes?: number; now?: () => number } = {},
  ) {
    if (!(bytesPerSecond > 0) || !Number.isFinite(bytesPerSecond))
      throw new RangeError(`bandwidth limit must be a positive number of bytes per second, not ${bytesPerSecond}`);
    this.now = opts.now ?? (() => performance.now());
    const burst = opts.burstBytes ?? Math.max(64 * 1024, bytesPerSecond / 20);
    this.burstMs = (burst / bytesPerSecond) * 1000;
    this.bookedUntil = this.now();
  }

  /** How long a take of n bytes would wait now (ms), without booking it. */
  delayFor(n: number): number {
    const now = this.now();
    const start = Math.max(this.bookedUntil, now - this.burstMs);
    return Math.max(0, start + (n / this.bytesPerSecond) * 1000 - this.burstMs - now);
  }

  /** Books n bytes and waits until they may be read; rejects with the signal's reason when aborted. */
  async take(n: number, signal?: AbortSignal): Promise<void> {
    if (n <= 0) return;
    signal?.throwIfAborted();
    const now = this.now();
    // Idle time earns at most the burst: never start the booking earlier than now - burst.
    const start = Math.max(this.bookedUntil, now - this.burstMs);
    this.bookedUntil = start + (n / this.bytesPerSecond) * 1000;
    const wait = this.bookedUntil - this.burstMs - now;
    if (wait > 0) await abortableSleep(wait, signal);
  }
}

export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
