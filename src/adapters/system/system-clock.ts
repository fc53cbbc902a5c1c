import { setTimeout as delay } from 'node:timers/promises';
import type { Clock } from '../../ports/clock.js';

/** The machine's clock. */
export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, signal) => delay(ms, undefined, signal ? { signal } : undefined),
};
