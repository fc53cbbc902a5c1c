import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * The splice relay: a Node-API addon of orch's own (native/splice_relay.c, Linux), built by
 * `npm install` (scripts/build-native.mjs). It moves a body from one socket into another with
 * splice(2) on a thread of its own; the copier uses it for streamed objects (object-copier.ts).
 * Where it is not built (not Linux, no compiler), or where the composition root turns it off
 * (`ORCH_SPLICE=0`, read there and nowhere else), copies take the Node path: the same requests and
 * bytes, about five times the CPU.
 */

interface Binding {
  relay(
    srcFd: number,
    dstFd: number,
    length: number,
    idleMs: number,
    done: (code: string | null, message: string | null, moved: number, errno: number) => void,
  ): object;
  cancel(handle: object): void;
}

/** Where node-gyp puts the addon, from the package root. */
const ADDON = 'src/adapters/s3/native/build/Release/orch_splice.node';

let loaded: { binding: Binding | null; reason: string } | undefined;

function load(): { binding: Binding | null; reason: string } {
  if (process.platform !== 'linux') return { binding: null, reason: `not built on ${process.platform} (Linux only)` };
  // This module runs from src/adapters/s3/, dist/adapters/s3/ or dist/bundle/ (see scripts/bundle.mjs).
  const candidates = ['../../../', '../../'].map((up) => fileURLToPath(new URL(up + ADDON, import.meta.url)));
  const path = candidates.find((p) => existsSync(p));
  if (!path) return { binding: null, reason: 'not built (npm install builds it; needs make, g++ and python3)' };
  try {
    const binding = createRequire(import.meta.url)(path) as Binding;
    if (typeof binding.relay !== 'function' || typeof binding.cancel !== 'function')
      return { binding: null, reason: `${path} is not orch's splice relay` };
    return { binding, reason: 'built' };
  } catch (e) {
    return { binding: null, reason: `cannot be loaded: ${(e as Error).message.split('\n')[0]}` };
  }
}

function binding(): Binding | null {
  return (loaded ??= load()).binding;
}

/** Whether copies can use the relay, and why not. */
export function spliceAvailability(): { available: boolean; reason: string } {
  const { binding, reason } = (loaded ??= load());
  return { available: binding !== null, reason };
}

/** The copy path of streamed objects in words, for the migration's log. */
export function describeCopyEngine({ available, reason }: { available: boolean; reason: string } = spliceAvailability()): string {
  return available
    ? 'objects of 16-128 MiB go socket to socket by the splice relay'
    : `objects of 16-128 MiB go through Node's HTTP client (the splice relay is ${reason})`;
}

/** For tests: forget what was loaded (and a refusal seen), so the addon is loaded again. */
export function resetSpliceForTests(): void {
  loaded = undefined;
}

/**
 * How a relay ended early: `EOF` (the source ended), `TIMEOUT`, `CANCELLED`, `SOURCE` or
 * `DESTINATION` (reading or writing that socket failed), `ERRNO` (the relay's own pipe or poll).
 */
export class SpliceError extends Error {
  override readonly name = 'SpliceError';
  constructor(
    readonly code: 'EOF' | 'TIMEOUT' | 'CANCELLED' | 'SOURCE' | 'DESTINATION' | 'ERRNO',
    message: string,
    /** Bytes written to the destination before it ended. */
    readonly moved: number,
    /** errno of the system call that failed (0 when none did). */
    readonly errno = 0,
  ) {
    super(message);
  }

  /**
   * The system refused splice(2) itself before a byte moved (a seccomp filter: EPERM; a kernel or
   * socket without it: EINVAL, ENOSYS, EOPNOTSUPP): no relay will work in this process.
   */
  get refused(): boolean {
    return (
      this.moved === 0 &&
      (this.code === 'SOURCE' || this.code === 'DESTINATION' || this.code === 'ERRNO') &&
      [1, 22, 38, 95].includes(this.errno)
    );
  }
}

/**
 * Turns the relay off for the rest of the process, after the system refused splice(2) (see
 * SpliceError.refused): copies go through Node's HTTP client from then on.
 */
export function disableSplice(why: string): void {
  loaded = { binding: null, reason: `refused by this system (${why})` };
}

export interface RunningRelay {
  /** Settles once the relay no longer uses either descriptor: the bytes moved, or a SpliceError. */
  readonly done: Promise<number>;
  /** Stops the relay (done then rejects with CANCELLED, unless it had already finished). */
  cancel(): void;
}

/**
 * Moves `length` bytes from `srcFd` into `dstFd` (both connected, non-blocking sockets that nothing
 * else reads or writes meanwhile, and that stay open until `done` settles). `idleMs`: no byte
 * moved for that long ends it with TIMEOUT.
 */
export function startRelay(srcFd: number, dstFd: number, length: number, idleMs: number): RunningRelay {
  const b = binding();
  if (!b) throw new Error(`the splice relay is ${spliceAvailability().reason}`);
  let handle: object | null = null;
  let settled = false;
  const done = new Promise<number>((resolve, reject) => {
    handle = b.relay(srcFd, dstFd, length, Math.max(1, Math.min(2 ** 31 - 1, Math.round(idleMs))), (code, message, moved, errno) => {
      settled = true;
      if (code === null) resolve(moved);
      else reject(new SpliceError(code as SpliceError['code'], message ?? code, moved, errno));
    });
  });
  return {
    done,
    cancel: () => {
      if (handle && !settled) b.cancel(handle);
    },
  };
}
