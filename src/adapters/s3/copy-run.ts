import { setMaxListeners } from 'node:events';
import type { PoolAccessError } from '../../domain/buckets/pool-access-error.js';

/** The AbortError a copy call rejects with when its caller aborted (the caller's reason as its cause). */
export function abortErrorOf(signal: AbortSignal): Error {
  const r: unknown = signal.reason;
  if (r instanceof Error && r.name === 'AbortError') return r;
  const e = new DOMException('The copy was aborted', 'AbortError');
  if (r !== undefined) Object.defineProperty(e, 'cause', { value: r });
  return e;
}

/**
 * One call's workers and its stop conditions: the caller's abort signal, a fatal error (onCopied
 * threw), or a pool-wide error (no more work started, what was started finishes).
 */
export class CopyRun {
  private readonly controller = new AbortController();
  readonly signal = this.controller.signal;
  poolError: PoolAccessError | null = null;
  private fatal: { error: unknown } | null = null;
  private readonly onAbort = () => this.controller.abort(this.outer!.reason);

  constructor(private readonly outer: AbortSignal | undefined) {
    // Every transfer in flight listens to this signal (its request, the body being read).
    setMaxListeners(0, this.signal);
    if (outer?.aborted) this.controller.abort(outer.reason);
    else outer?.addEventListener('abort', this.onAbort, { once: true });
  }

  get aborted(): boolean {
    return this.signal.aborted;
  }

  get stopped(): boolean {
    return this.signal.aborted || this.poolError !== null;
  }

  stopOnPoolError(e: PoolAccessError): void {
    this.poolError ??= e;
  }

  /** Stops everything; the call rejects with this error once its workers are done. */
  fail(e: unknown): void {
    if (this.fatal || this.signal.aborted) return;
    this.fatal = { error: e };
    this.controller.abort(e);
  }

  async workers(n: number, work: () => Promise<void>): Promise<void> {
    await Promise.all(
      Array.from({ length: n }, async () => {
        try {
          await work();
        } catch (e) {
          this.fail(e); // a bug: stop, reject with it
        }
      }),
    );
  }

  /** After the workers: rejects with the fatal error, or an AbortError when aborted. */
  finish(): void {
    this.outer?.removeEventListener('abort', this.onAbort);
    if (this.fatal) throw this.fatal.error;
    if (this.outer?.aborted) throw abortErrorOf(this.outer);
  }
}
