// Time as the use cases and engines see it: the system clock in production, a virtual clock in
// unit tests of the engines (test/helpers/virtual-clock.ts).

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Resolves after `ms` milliseconds, or rejects with the signal's reason when it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}
