// Fault points: the apply engine and the migration engine name the points where a crash must be
// survivable (`after-stage`, `after-rename-1`, `phase:copying` ...). The shipped CLI passes a hook
// that does nothing; only the test entry (test/helpers/faulty-cli.mjs) installs one that kills the
// process there, to prove crash safety.

export type FaultHook = (point: string) => void;
