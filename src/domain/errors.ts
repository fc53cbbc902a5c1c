import type { Diagnostic } from './diagnostics.js';

/**
 * One error family for the whole tool. The CLI layer (src/cli/run-command.ts) is the only place
 * that turns these into output and exit codes.
 *
 * - UserError: the operator's input or environment is wrong; printed without a stack trace.
 * - BugError: an invariant broke; printed with a stack trace and a hint to report it.
 */
export const ExitCode = {
  ok: 0,
  error: 1,
  changesPresent: 2,
  lockHeld: 3,
  stalePlan: 4,
  nginxValidationFailed: 5,
  reloadNotConfirmed: 6,
  cancelled: 130,
} as const;
export type ExitCodeValue = (typeof ExitCode)[keyof typeof ExitCode];

export abstract class OrchError extends Error {
  abstract readonly code: string;
  readonly exitCode: ExitCodeValue = ExitCode.error;
  readonly hint?: string;
  constructor(message: string, options?: { hint?: string; cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    if (options?.hint) this.hint = options.hint;
  }
}

export class UserError extends OrchError {
  readonly code: string;
  override readonly exitCode: ExitCodeValue;
  constructor(code: string, message: string, options?: { hint?: string; cause?: unknown; exitCode?: ExitCodeValue }) {
    super(message, options);
    this.code = code;
    this.exitCode = options?.exitCode ?? ExitCode.error;
  }
}

/** Input did not validate: carries every diagnostic found, not just the first. */
export class ValidationError extends UserError {
  readonly diagnostics: Diagnostic[];
  constructor(diagnostics: Diagnostic[], message?: string, options?: { exitCode?: ExitCodeValue; code?: string }) {
    const errors = diagnostics.filter((d) => d.severity === 'error').length;
    super(
      options?.code ?? 'validation.failed',
      message ?? `${errors} error${errors === 1 ? '' : 's'} in the manifests; nothing was written.`,
      { exitCode: options?.exitCode ?? ExitCode.error },
    );
    this.diagnostics = diagnostics;
  }
}

/** Another orch writer holds the writer lock (promise 4); `holder` names it when known. */
export class LockHeldError extends UserError {
  constructor(
    message: string,
    readonly holder: { pid: number; command: string; host: string; since: string } | null,
    options?: { hint?: string },
  ) {
    super('lock.held', message, { ...options, exitCode: ExitCode.lockHeld });
  }
}

/** The state database cannot be opened as an orch database (corrupt, truncated, another file). */
export class CorruptStateError extends UserError {
  constructor(
    readonly path: string,
    cause: unknown,
  ) {
    super('state.corrupt', `The state database ${path} is corrupt or not an orch database (${(cause as Error).message}).`, {
      hint: "The database is a cache of the files on disk: run 'orch rebuild-db --force' to rebuild it (the damaged file is kept as a backup).",
      cause,
    });
  }
}

export class CancelledError extends OrchError {
  readonly code = 'cancelled';
  override readonly exitCode = ExitCode.cancelled;
}

export class BugError extends OrchError {
  readonly code = 'bug';
}

export function isOrchError(e: unknown): e is OrchError {
  return e instanceof OrchError;
}

export function isLockHeld(e: unknown): e is LockHeldError {
  return e instanceof LockHeldError;
}

export function isCorruptState(e: unknown): e is CorruptStateError {
  return e instanceof CorruptStateError;
}
